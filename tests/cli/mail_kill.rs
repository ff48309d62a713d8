//! A mail whose sending instance is killed (SIGKILL) after the relay took
//! the message but before it answered: another instance sends it once the
//! claim runs out (twice the send timeout and 5 s), under the same
//! Message-ID, so the receiver can drop the double.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::db::TestDb;
use crate::server::{SIGNUP, Server};
use crate::smtp::MailSink;
use crate::{PASSWORD, SECRET_KEY, authql};

/// An SMTP relay that takes a whole message and then never answers it.
struct StallingRelay {
    port: u16,
    taken: Arc<Mutex<Vec<String>>>,
}

impl StallingRelay {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let taken = Arc::new(Mutex::new(Vec::new()));
        let keep = taken.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(take_and_stall(stream, keep.clone()));
            }
        });
        Self { port, taken }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

async fn take_and_stall(stream: tokio::net::TcpStream, taken: Arc<Mutex<Vec<String>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 stalling ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "DATA" => b"354 go on\r\n",
            "QUIT" => return,
            _ => b"250 ok\r\n",
        };
        let _ = write.write_all(answer).await;
        if verb == "DATA" {
            let mut message = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                message.push_str(&line);
                message.push('\n');
            }
            taken.lock().unwrap().push(message);
            // Never answers: the sender waits until it is killed.
            std::future::pending::<()>().await;
        }
    }
}

fn message_id(message: &str) -> Option<String> {
    message
        .lines()
        .find_map(|l| {
            l.strip_prefix("Message-ID: ")
                .or_else(|| l.strip_prefix("Message-Id: "))
        })
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
}

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
    let relay = StallingRelay::start().await;
    let a = Server::start(instance(dir_a.path(), &db, &relay.url()));
    let r = a
        .gql(SIGNUP, json!({ "e": "kim@example.com", "p": PASSWORD }), None)
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let first = loop {
        if let Some(message) = relay.taken.lock().unwrap().first().cloned() {
            break message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay was never sent the mail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first_id = message_id(&first).unwrap_or_else(|| panic!("a Message-ID:\n{first}"));
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
    assert_eq!(again.message_id(), first_id, "the same Message-ID");
    // Sent once by the second instance: its claim holds while it sends.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.all().len(), 1, "sent once");
    drop(b);
}
