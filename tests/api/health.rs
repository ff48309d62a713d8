//! Health checks: `/readyz` is answered from one check a second, and turns
//! 503 at once when the server begins to shut down.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn ready(app: &TestApp) -> (u16, Value) {
    let resp = app.http.get(app.url("/readyz")).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn two_readiness_checks_within_a_second_reach_smtp_once() {
    let app = spawn_app().await;
    let before = app.mail.probes();
    let (status, body) = ready(&app).await;
    assert_eq!((status, &body["checks"]["smtp"]), (200, &Value::from("ok")), "{body}");
    let after_one = app.mail.probes();
    assert!(after_one > before, "the first check reaches SMTP");
    let (status, again) = ready(&app).await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(app.mail.probes(), after_one, "the second is answered from the first");
}

#[tokio::test]
async fn a_stopping_instance_is_unready_at_once_though_the_last_check_said_ready() {
    let app = spawn_app_with(|c| c.shutdown_drain = std::time::Duration::from_secs(30)).await;
    assert_eq!(ready(&app).await.0, 200);
    app.begin_shutdown();
    // The next answer, well within the second the last check is kept for.
    let (status, body) = ready(&app).await;
    assert_eq!((status, body), (503, serde_json::json!({ "status": "stopping" })));
    let alive = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), 200, "still serving during SHUTDOWN_DRAIN");
}

#[tokio::test]
async fn a_stopping_instance_closes_its_websockets_with_going_away() {
    use crate::session_events::{connect, json_of, next, send};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let app = spawn_app_with(|c| c.shutdown_drain = std::time::Duration::ZERO).await;
    let tokens = app.user_with_tokens("leaving@example.com").await;
    let mut socket = connect(&app).await;
    let init = serde_json::json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", tokens.access) } });
    send(&mut socket, init).await;
    assert_eq!(json_of(next(&mut socket).await)["type"], "connection_ack");
    let query = "subscription { sessionEvents { kind } }";
    send(
        &mut socket,
        serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;

    app.begin_shutdown();
    // Going Away: a graphql-ws client reconnects, to another instance.
    match next(&mut socket).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away, "{frame:?}"),
        other => panic!("expected the connection closed with 1001, got {other:?}"),
    }
}
