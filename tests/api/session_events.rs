//! The `sessionEvents` subscription over the graphql-ws protocol
//! (graphql-transport-ws): authenticated at connection init, told when its
//! session ends elsewhere.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_beside};

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(app: &TestApp) -> Socket {
    let url = app.url("/graphql").replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.unwrap();
}

/// The next text or close frame (pings are answered by the library), within 10 s.
pub async fn next(socket: &mut Socket) -> Message {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the connection is open")
            .unwrap();
        if frame.is_text() || frame.is_close() {
            return frame;
        }
    }
}

pub fn json_of(frame: Message) -> Value {
    serde_json::from_str(frame.to_text().unwrap()).unwrap()
}

#[tokio::test]
async fn an_app_hears_when_its_session_ends_elsewhere() {
    let app = spawn_app().await;
    let watched = app.user_with_tokens("ann@example.com").await;
    let elsewhere = app.login_tokens("ann@example.com", PASSWORD).await;

    let mut socket = connect(&app).await;
    let init =
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", watched.access) } });
    send(&mut socket, init).await;
    assert_eq!(json_of(next(&mut socket).await)["type"], "connection_ack");
    let query = "subscription { sessionEvents { kind sessionId at } }";
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;

    // Nothing happens while the session lives.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ended = app.gql_as(&elsewhere.access, "mutation { logoutAll }", json!({})).await;
    assert_eq!(ended["data"]["logoutAll"], 2, "{ended}");
    let event = json_of(next(&mut socket).await);
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["id"], "1");
    let payload = &event["payload"]["data"]["sessionEvents"];
    assert_eq!(payload["kind"], "SESSION_ENDED", "{event}");
    let sessions = app.scalar("SELECT COUNT(*) AS n FROM sessions").await;
    assert_eq!(sessions, 2);
    assert!(payload["sessionId"].is_string() && payload["at"].is_string(), "{event}");
    // The stream is over after its one event.
    assert_eq!(json_of(next(&mut socket).await)["type"], "complete");
}

#[tokio::test]
async fn a_connection_without_a_valid_token_cannot_subscribe() {
    let app = spawn_app().await;
    for payload in [json!({}), json!({ "authorization": "Bearer not-a-token" })] {
        let mut socket = connect(&app).await;
        send(&mut socket, json!({ "type": "connection_init", "payload": payload })).await;
        match next(&mut socket).await {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Library(4403), "{frame:?}"),
            other => panic!("expected the connection closed with 4403, got {other:?}"),
        }
    }
    // Subscribing before connection_init is refused too (graphql-ws: 4401).
    let mut socket = connect(&app).await;
    let query = "subscription { sessionEvents { kind } }";
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    match next(&mut socket).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Library(4401), "{frame:?}"),
        other => panic!("expected the connection closed with 4401, got {other:?}"),
    }
}

#[tokio::test]
async fn an_account_holds_a_bounded_number_of_watchers() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("ann@example.com").await;
    let mut socket = connect(&app).await;
    let init =
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", tokens.access) } });
    send(&mut socket, init).await;
    assert_eq!(json_of(next(&mut socket).await)["type"], "connection_ack");
    let query = "subscription { sessionEvents { kind } }";
    for id in 1..=9 {
        send(
            &mut socket,
            json!({ "id": id.to_string(), "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
    }
    // Streams start in no set order: one of the nine, whichever came last, is one too many.
    let refused = json_of(next(&mut socket).await);
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    let refused_id = refused["id"].as_str().unwrap().to_owned();
    // Ending one gives its place back.
    let ended = if refused_id == "1" { "2" } else { "1" };
    send(&mut socket, json!({ "id": ended, "type": "complete" })).await;
    send(
        &mut socket,
        json!({ "id": "10", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.gql_as(&tokens.access, "mutation { logout }", json!({})).await;
    let mut told = Vec::new();
    while told.len() < 8 {
        let frame = json_of(next(&mut socket).await);
        if frame["type"] == "next" {
            assert_eq!(
                frame["payload"]["data"]["sessionEvents"]["kind"], "SESSION_ENDED",
                "{frame}"
            );
            told.push(frame["id"].as_str().unwrap().to_owned());
        }
    }
    assert!(told.contains(&"10".to_owned()), "{told:?}");
}

#[tokio::test]
async fn a_session_ended_on_another_instance_is_told_too() {
    let first = spawn_app().await;
    // One deployment: the same issuer, so a token of one instance is good at the other.
    let issuer = first.state.config.public_url.clone();
    let second = spawn_app_beside(&first, |c| c.public_url = issuer).await;
    let watched = first.user_with_tokens("ann@example.com").await;
    let mut socket = connect(&second).await;
    let init =
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", watched.access) } });
    send(&mut socket, init).await;
    assert_eq!(json_of(next(&mut socket).await)["type"], "connection_ack");
    let query = "subscription { sessionEvents { kind } }";
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Logged out on the first instance; the second hears of it through the database.
    first.gql_as(&watched.access, "mutation { logout }", json!({})).await;
    let event = json_of(next(&mut socket).await);
    assert_eq!(
        event["payload"]["data"]["sessionEvents"]["kind"], "SESSION_ENDED",
        "{event}"
    );
}
