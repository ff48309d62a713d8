//! A graphql-ws socket passes the same checks as an HTTP request on every
//! operation: a socket is never trusted beyond what its credential proves now.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::admin::admin;
use crate::helpers::{PASSWORD, TestApp, Tokens, code, spawn_app, spawn_app_with};
use crate::session_events::{Socket, connect, json_of, next, send};

const EVENTS: &str = "subscription { sessionEvents { kind sessionId } }";

/// A socket authenticated with `access` and acknowledged.
async fn open(app: &TestApp, access: &str) -> Socket {
    let mut socket = connect(app).await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {access}") } });
    send(&mut socket, init).await;
    assert_eq!(json_of(next(&mut socket).await)["type"], "connection_ack");
    socket
}

/// Runs `query` as operation `id` and returns its first answer frame.
async fn run(socket: &mut Socket, id: &str, query: &str) -> Value {
    subscribe(socket, id, query).await;
    loop {
        let frame = json_of(next(socket).await);
        if frame["id"] == id {
            return frame;
        }
    }
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
}

/// Every text frame until the server closes the socket, and the close code.
async fn frames_until_close(socket: &mut Socket) -> (Vec<Value>, CloseCode) {
    let mut frames = Vec::new();
    loop {
        match next(socket).await {
            Message::Close(Some(frame)) => return (frames, frame.code),
            Message::Close(None) => panic!("closed without a code after {frames:?}"),
            text => frames.push(json_of(text)),
        }
    }
}

/// The frames show `sessionEvents` (operation "events") told SESSION_ENDED, then completed.
fn told_session_ended(frames: &[Value]) {
    let told = frames
        .iter()
        .position(|f| f["id"] == "events" && f["payload"]["data"]["sessionEvents"]["kind"] == "SESSION_ENDED");
    let completed = frames
        .iter()
        .position(|f| f["id"] == "events" && f["type"] == "complete");
    assert!(
        matches!((told, completed), (Some(t), Some(c)) if t < c),
        "SESSION_ENDED, then complete: {frames:?}"
    );
}

fn data_of(frame: &Value) -> &Value {
    &frame["payload"]["data"]
}

fn error_code(frame: &Value) -> Option<&str> {
    frame["payload"]["errors"][0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn after_logout_all_a_socket_runs_nothing_and_closes_for_good() {
    let app = spawn_app().await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let mut socket = open(&app, &ann.access).await;
    subscribe(&mut socket, "events", EVENTS).await;
    let me = run(&mut socket, "me", "{ me { email } }").await;
    assert_eq!(data_of(&me)["me"]["email"], "ann@example.com", "{me}");

    let ended = app.gql_as(&ann.access, "mutation { logoutAll }", json!({})).await;
    assert_eq!(ended["data"]["logoutAll"], 1, "{ended}");
    // A thief holding the socket tries to change the account at once.
    subscribe(
        &mut socket,
        "change",
        "mutation { updateProfile(input: { displayName: \"Mallory\" }) { displayName } }",
    )
    .await;
    let (frames, close) = frames_until_close(&mut socket).await;
    for frame in frames.iter().filter(|f| f["id"] == "change") {
        assert!(
            data_of(frame).is_null() || data_of(frame)["updateProfile"].is_null(),
            "{frame}"
        );
        if frame["type"] == "next" {
            assert_eq!(error_code(frame), Some("UNAUTHENTICATED"), "{frame}");
        }
    }
    told_session_ended(&frames);
    assert_eq!(close, CloseCode::Library(4401), "the session is over: no reconnecting");
    let renamed = app
        .scalar("SELECT COUNT(*) AS n FROM users WHERE display_name = 'Mallory'")
        .await;
    assert_eq!(renamed, 0, "nothing changed through the socket");
}

#[tokio::test]
async fn a_socket_whose_access_token_expired_closes_with_4403_and_reconnects_with_a_fresh_one() {
    let app = spawn_app_with(|c| c.tokens.access_ttl = Duration::from_secs(2)).await;
    app.confirmed_user("ann@example.com").await;
    let login = app.login("ann@example.com", PASSWORD).await;
    let ann = Tokens::from_auth(&login["data"]["login"]["auth"]);
    let mut socket = open(&app, &ann.access).await;
    let me = run(&mut socket, "me", "{ me { email } }").await;
    assert_eq!(data_of(&me)["me"]["email"], "ann@example.com", "{me}");

    let (frames, close) = frames_until_close(&mut socket).await;
    assert_eq!(close, CloseCode::Library(4403), "expired, not ended: {frames:?}");
    // The session lives on: the client retries with a fresh token and goes on.
    let refreshed = app.refresh(&ann.refresh).await;
    let fresh = Tokens::from_auth(&refreshed["data"]["refreshToken"]);
    let mut socket = open(&app, &fresh.access).await;
    let me = run(&mut socket, "me", "{ me { email } }").await;
    assert_eq!(data_of(&me)["me"]["email"], "ann@example.com", "{me}");
}

#[tokio::test]
async fn a_switched_off_account_is_told_and_its_socket_closed() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let me = app.me(&ann.access).await;
    let ann_id = me["data"]["me"]["id"].as_str().unwrap().to_owned();
    let mut socket = open(&app, &ann.access).await;
    subscribe(&mut socket, "events", EVENTS).await;
    let me = run(&mut socket, "me", "{ me { email } }").await;
    assert_eq!(data_of(&me)["me"]["email"], "ann@example.com", "{me}");

    let off = app
        .gql_as(
            &root.access,
            "mutation($id: ID!) { setUserActive(id: $id, active: false) { active } }",
            json!({ "id": ann_id }),
        )
        .await;
    assert_eq!(off["data"]["setUserActive"]["active"], false, "{off}");
    subscribe(&mut socket, "me-again", "{ me { email } }").await;
    let (frames, close) = frames_until_close(&mut socket).await;
    for frame in frames.iter().filter(|f| f["id"] == "me-again" && f["type"] == "next") {
        assert_eq!(error_code(frame), Some("UNAUTHENTICATED"), "{frame}");
    }
    told_session_ended(&frames);
    assert_eq!(close, CloseCode::Library(4401));
}

#[tokio::test]
async fn a_demoted_administrator_loses_admin_operations_on_an_open_socket() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let root_id = app.me(&root.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bea = app.user_with_tokens("bea@example.com").await;
    let bea_id = app.me(&bea.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let set_role = "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { role } }";
    let promoted = app
        .gql_as(&root.access, set_role, json!({ "id": bea_id, "role": "ADMIN" }))
        .await;
    assert_eq!(promoted["data"]["setUserRole"]["role"], "ADMIN", "{promoted}");
    let bea = app.login_tokens("bea@example.com", PASSWORD).await;
    let mut socket = open(&app, &bea.access).await;
    let listed = run(&mut socket, "list", "{ users { totalCount } }").await;
    assert_eq!(data_of(&listed)["users"]["totalCount"], 2, "{listed}");

    let demoted = app
        .gql_as(&root.access, set_role, json!({ "id": bea_id, "role": "USER" }))
        .await;
    assert_eq!(demoted["data"]["setUserRole"]["role"], "USER", "{demoted}");
    let restore = format!("mutation {{ setUserRole(id: \"{bea_id}\", role: ADMIN) {{ role }} }}");
    let restored = run(&mut socket, "restore", &restore).await;
    assert_eq!(error_code(&restored), Some("FORBIDDEN"), "{restored}");
    let revenge = format!("mutation {{ setUserRole(id: \"{root_id}\", role: USER) {{ role }} }}");
    let revenged = run(&mut socket, "revenge", &revenge).await;
    assert_eq!(error_code(&revenged), Some("FORBIDDEN"), "{revenged}");
    // The socket stays for the rest.
    let me = run(&mut socket, "me", "{ me { role } }").await;
    assert_eq!(data_of(&me)["me"]["role"], "USER", "{me}");
    let roles = app.scalar("SELECT COUNT(*) AS n FROM users WHERE role = 'ADMIN'").await;
    assert_eq!(roles, 1, "only root is an administrator");
    assert!(code(&app.me(&root.access).await).is_none());
}

/// A message larger than MAX_BODY_BYTES is refused as an HTTP body of that
/// size is: the socket closes (1009, too big) and nothing of it runs.
#[tokio::test]
async fn a_socket_message_over_max_body_bytes_closes_the_socket_unrun() {
    let app = spawn_app_with(|c| c.http.max_body_bytes = 64 * 1024).await;
    let user = app.user_with_tokens("big@example.com").await;
    let mut socket = open(&app, &user.access).await;
    let padding = " ".repeat(96 * 1024);
    subscribe(&mut socket, "big", &format!("{{ me {{ email }} {padding} }}")).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(Message::Text(text))) => panic!("it ran: {text}"),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the socket closes");
    assert_eq!(closed, Some(CloseCode::Size), "closed as too big");
}

/// graphql-ws clients send nothing by default while they wait for events,
/// and a socket that hears nothing from its client for 30 s is dropped as
/// dead: the server pings, the client's automatic pong keeps it open.
#[tokio::test]
async fn an_idle_subscription_is_kept_open_by_the_servers_pings() {
    let app = spawn_app().await;
    let user = app.user_with_tokens("idle@example.com").await;
    let mut socket = open(&app, &user.access).await;
    subscribe(&mut socket, "events", EVENTS).await;
    let mut pinged = false;
    let until = tokio::time::Instant::now() + Duration::from_secs(40);
    while let Ok(frame) = tokio::time::timeout_at(until, socket.next()).await {
        match frame {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(frame["type"], "ping", "{frame}");
                pinged = true;
                send(&mut socket, json!({ "type": "pong" })).await;
            }
            Some(Ok(Message::Close(frame))) => panic!("closed while idle: {frame:?}"),
            Some(Ok(_)) => {}
            other => panic!("the connection broke: {other:?}"),
        }
    }
    assert!(pinged, "the server pinged");
    // Still open and working.
    let r = run(&mut socket, "me", "{ me { email } }").await;
    assert_eq!(data_of(&r)["me"]["email"], "idle@example.com", "{r}");
}
