//! A mail whose sending instance is killed (SIGKILL) after the relay took
//! the message but before it answered: another instance sends it once the
//! claim runs out (twice the send timeout and 5 s), under the same
//! Message-ID, so the receiver can drop the double.

use std::time::Duration;

use serde_json::json;

use crate::db::TestDb;
use crate::scripted_relay::{ScriptedRelay, message_id};
use crate::server::{SIGNUP, Server};
use crate::smtp::MailSink;
use crate::{PASSWORD, SECRET_KEY, authql};

fn instance(dir: &std::path::Path, db: &TestDb, smtp_url: &str) -> std::process::Command {
    let mut cmd = authql(dir);
    cmd.env("DATABASE_URL", &db.url)
        .env("SECRET_KEY", SECRET_KEY)
        .env("PUBLIC_URL", "http://auth.test")
        .env("RATE_LIMITS", "false")
        .env("SMTP_URL", smtp_url)
        .env("MAIL_POLL_INTERVAL", "200ms")
        .env("MAIL_SEND_TIMEOUT", "2s");
    cmd
}

#[tokio::test]
async fn a_mail_whose_sender_is_killed_mid_send_goes_out_from_another_instance_under_its_message_id() {
    let db = TestDb::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Takes the message, never answers it.
    let relay = ScriptedRelay::start(|_| None).await;
    let a = Server::start(instance(dir_a.path(), &db, &relay.url));
    let r = a
        .gql(SIGNUP, json!({ "e": "kim@example.com", "p": PASSWORD }), None)
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let first = loop {
        if let Some(message) = relay.taken().first().cloned() {
            break message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay was never sent the mail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(message_id(&first).is_some(), "a Message-ID:\n{first}");
    a.signal("KILL");

    let sink = MailSink::start().await;
    let b = Server::start(instance(dir_b.path(), &db, &sink.url()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let again = loop {
        if let Some(mail) = sink.all().into_iter().next() {
            break mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no other instance sent the mail within 30 s:\n{}",
            b.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(Some(again.message_id()), message_id(&first), "the same Message-ID");
    // Sent once by the second instance: its claim holds while it sends.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.all().len(), 1, "sent once");
    drop(b);
}
