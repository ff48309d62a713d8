//! Breached passwords: new passwords are checked with the k-anonymity range
//! protocol of Pwned Passwords against a range server on loopback that
//! answers in the real format (uppercase suffixes, CRLF, padding lines with
//! a count of 0); a server that is down or hangs never blocks a sign-up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::HeaderMap;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Path};
use poem::{EndpointExt, Route, Server, get, handler};
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::helpers::{PASSWORD, SIGNUP, TestApp, code, spawn_app_with};

/// Strong by zxcvbn's measure, and in the range server's list.
const BREACHED: &str = "Purple-Elephant-Dances-Quietly-7";
/// Also strong; its suffix is in the answer only as padding (count 0).
const PADDED: &str = "Tangerine-Violin-Harbor-Whisper-3";

fn sha1_hex(password: &str) -> String {
    Sha1::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// What the range server was asked: the path, and whether padding was requested.
type Asked = Arc<Mutex<Vec<(String, bool)>>>;

#[handler]
fn range(Path(prefix): Path<String>, headers: &HeaderMap, asked: Data<&Asked>) -> String {
    let padding = headers.get("add-padding").is_some_and(|v| v == "true");
    asked.lock().unwrap().push((prefix.clone(), padding));
    let mut lines = vec![
        "0018A45C4D1DEF81644B54AB7F969B88D65:1".to_owned(),
        "00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2".to_owned(),
    ];
    for (password, count) in [(BREACHED, 3_861_493), (PADDED, 0)] {
        let hash = sha1_hex(password);
        if hash[..5] == prefix {
            lines.push(format!("{}:{count}", &hash[5..]));
        }
    }
    lines.push("FFFFF0B4D5D9A1C9E5D1F9D4C5B1A2E3F40:0".to_owned());
    lines.join("\r\n")
}

/// A range server on loopback; returns its base URL and what it was asked.
async fn range_server() -> (String, Asked) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://127.0.0.1:{}/range/", listener.local_addr().unwrap().port());
    let asked = Asked::default();
    let app = Route::new().at("/range/:prefix", get(range)).data(asked.clone());
    tokio::spawn(Server::new_with_acceptor(TcpAcceptor::from_std(listener).unwrap()).run(app));
    (url, asked)
}

async fn signup(app: &TestApp, email: &str, password: &str) -> serde_json::Value {
    app.gql(SIGNUP, json!({ "input": { "email": email, "password": password } }))
        .await
}

#[tokio::test]
async fn a_breached_password_is_refused_where_passwords_are_set_and_only_a_prefix_leaves() {
    let (url, asked) = range_server().await;
    let app = spawn_app_with(|c| c.password.breach_check_url = Some(url.parse().unwrap())).await;

    let refused = signup(&app, "ann@example.com", BREACHED).await;
    assert_eq!(code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["field"], "password", "{refused}");
    assert!(
        refused["errors"][0]["message"].as_str().unwrap().contains("breach"),
        "{refused}"
    );
    assert_eq!(app.count("users").await, 0, "nothing half-written");
    // Padding lines (count 0) are not breaches.
    assert_eq!(
        signup(&app, "bob@example.com", PADDED).await["data"]["signup"]["confirmationRequired"],
        true
    );

    // Only five hex characters of the hash left, and padding was asked for.
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.contains(&(sha1_hex(BREACHED)[..5].to_owned(), true)), "{asked:?}");
    assert!(
        asked.iter().all(|(prefix, padding)| prefix.len() == 5 && *padding),
        "{asked:?}"
    );

    // changePassword and resetPassword check too.
    let owner = app.user_with_tokens("cy@example.com").await;
    let change = app
        .gql_as(
            &owner.access,
            "mutation($p: String!) { changePassword(input: { currentPassword: \"Correct-Horse-Battery-Staple-42\", newPassword: $p }) }",
            json!({ "p": BREACHED }),
        )
        .await;
    assert_eq!(code(&change), Some("BAD_USER_INPUT"), "{change}");
    assert_eq!(change["errors"][0]["extensions"]["field"], "newPassword", "{change}");
    app.gql("mutation { forgotPassword(email: \"cy@example.com\") }", json!({}))
        .await;
    let token = app.mail.wait_for_nth("cy@example.com", 2).await.token();
    let reset = app
        .gql(
            "mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) }",
            json!({ "t": token, "p": BREACHED }),
        )
        .await;
    assert_eq!(code(&reset), Some("BAD_USER_INPUT"), "{reset}");
    assert_eq!(reset["errors"][0]["extensions"]["field"], "newPassword", "{reset}");
    // The old password still works: nothing was changed.
    assert!(app.login("cy@example.com", PASSWORD).await["data"]["login"]["auth"].is_object());
}

#[tokio::test]
async fn a_range_server_that_is_down_or_hangs_does_not_block_sign_up() {
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://127.0.0.1:{}/range/", closed.local_addr().unwrap().port());
    drop(closed);
    let app = spawn_app_with(|c| c.password.breach_check_url = Some(down.parse().unwrap())).await;
    assert_eq!(
        signup(&app, "ann@example.com", BREACHED).await["data"]["signup"]["confirmationRequired"],
        true
    );

    // This one accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/range/", hanging.local_addr().unwrap().port());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });
    let app = spawn_app_with(|c| {
        c.password.breach_check_url = Some(url.parse().unwrap());
        c.password.breach_check_timeout = Duration::from_millis(300);
    })
    .await;
    assert_eq!(
        signup(&app, "bob@example.com", BREACHED).await["data"]["signup"]["confirmationRequired"],
        true
    );
}

#[tokio::test]
async fn a_blocklisted_word_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("blocklist.txt");
    std::fs::write(
        &list,
        "# words our users must not build passwords on\nAcmeCorp\n\nrocketship\n",
    )
    .unwrap();
    let app = spawn_app_with(|c| c.password.blocklist = authql::config::values::load_blocklist(&list).unwrap()).await;
    let refused = signup(&app, "ann@example.com", "My-ACMECORP-Login-Phrase-2026").await;
    assert_eq!(code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["field"], "password", "{refused}");
    assert_eq!(
        signup(&app, "bob@example.com", PASSWORD).await["data"]["signup"]["confirmationRequired"],
        true
    );
}
