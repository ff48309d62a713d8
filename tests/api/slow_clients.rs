//! Clients that hold connections without finishing their requests: a head
//! or a body trickled a byte at a time is cut off at REQUEST_TIMEOUT, and one
//! client holds at most MAX_CONNECTIONS_PER_CLIENT connections, so a handful
//! of slow or silent sockets cannot take the listener from everyone else.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

async fn raw(app: &TestApp) -> TcpStream {
    let addr = app.address.trim_start_matches("http://");
    TcpStream::connect(addr).await.unwrap()
}

/// Writes `head`, then one byte of `trickle` every 100 ms; whether the
/// server closed the connection before `trickle` ran out (about 10 s).
async fn closed_while_trickling(stream: &mut TcpStream, head: &[u8], trickle: u8) -> bool {
    stream.write_all(head).await.unwrap();
    let mut buf = [0u8; 1024];
    for _ in 0..100 {
        if stream.write_all(&[trickle]).await.is_err() {
            return true;
        }
        // An answer (408) is followed by the close; nothing yet, trickle on.
        let read = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return true;
        }
    }
    false
}

fn short_timeout(config: &mut authql::config::Config) {
    config.http.request_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn a_request_head_trickled_a_byte_at_a_time_is_cut_off() {
    let app = spawn_app_with(short_timeout).await;
    let mut stream = raw(&app).await;
    let head = b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    assert!(
        closed_while_trickling(&mut stream, head, b'a').await,
        "still open after 10 s"
    );
}

#[tokio::test]
async fn a_body_trickled_a_byte_at_a_time_is_cut_off() {
    let app = spawn_app_with(short_timeout).await;
    let mut stream = raw(&app).await;
    let head = b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"query\":\"";
    assert!(
        closed_while_trickling(&mut stream, head, b' ').await,
        "still open after 10 s"
    );
    // Others are served meanwhile and after.
    assert!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

#[tokio::test]
async fn one_client_holds_a_bounded_number_of_connections() {
    let app = spawn_app_with(|c| c.http.max_connections_per_client = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(raw(&app).await);
    }
    // The fifth is closed at once, unanswered.
    let mut fifth = raw(&app).await;
    let _ = fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), fifth.read(&mut buf))
        .await
        .expect("closed, not left hanging");
    assert!(matches!(read, Ok(0) | Err(_)), "the fifth was served: {read:?}");
    // Once one closes, a new connection is served.
    drop(held.pop());
    for _ in 0..50 {
        let mut next = raw(&app).await;
        let _ = next
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await;
        let mut answer = String::new();
        let _ = next.read_to_string(&mut answer).await;
        if answer.starts_with("HTTP/1.1 200") {
            return;
        }
        // The server has not yet seen the close.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no connection was served after one closed");
}
