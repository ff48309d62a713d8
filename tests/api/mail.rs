//! Mail goes through the outbox: nothing is lost while SMTP is down.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{PASSWORD, spawn_app_on};
use crate::scripted_relay::{ScriptedRelay, message_id};
use crate::smtp::MailSink;

#[tokio::test]
async fn signup_succeeds_while_smtp_is_down_and_the_mail_arrives_once_it_is_back() {
    // Reserve a port, then free it: nothing listens there yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = MailSink::unreachable(port);
    let app = spawn_app_on(down, |_| {}).await;

    let r = app.signup("offline@example.com", PASSWORD).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");

    // The worker tries and fails at least once while nothing listens.
    let attempted = async {
        loop {
            if app.outbox_failures().await > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), attempted)
        .await
        .expect("a failed attempt is recorded");

    let sink = MailSink::start_on(port).await;
    let mail = sink.wait_for("offline@example.com").await;
    assert_eq!(mail.subject(), "Confirm your email address");
    // The link still works: the token was stored with the mail, not lost with the failure.
    let resp = app.http.post(mail.link()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(app.login_tokens("offline@example.com", PASSWORD).await.access.len() > 20);
}

#[tokio::test]
async fn mails_are_well_formed_with_text_and_html_parts() {
    let app = crate::helpers::spawn_app().await;
    app.signup("formed@example.com", PASSWORD).await;
    let mail = app.mail.wait_for("formed@example.com").await;
    let raw = String::from_utf8_lossy(&mail.raw).to_string();
    for header in [
        "From: ",
        "To: ",
        "Subject: ",
        "Date: ",
        "Message-ID: ",
        "MIME-Version: 1.0",
        "multipart/alternative",
    ] {
        assert!(raw.contains(header), "{header} in\n{raw}");
    }
    assert!(mail.text().contains(&mail.link()));
    assert!(mail.html().contains("<a href="));
    // Sent mail keeps nothing of its body: it held a live token. (The sink
    // may see the mail before the worker records the send.)
    for _ in 0..100 {
        if app.outbox_bodies_left().await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the sent mail's body is still stored");
}

/// An SMTP server that greets its first client and then never answers again;
/// later clients reach `sink` through it.
async fn stalls_first_client(sink: &MailSink) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let sink_port = sink.port;
    tokio::spawn(async move {
        let (mut stalled, _) = listener.accept().await.unwrap();
        stalled.write_all(b"220 stalling ESMTP\r\n").await.unwrap();
        // Hold the connection open, reading what comes and answering nothing.
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while matches!(stalled.read(&mut buf).await, Ok(n) if n > 0) {}
        });
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut upstream = tokio::net::TcpStream::connect(("127.0.0.1", sink_port)).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_server_that_stops_answering_mid_conversation_only_delays_the_mail() {
    let sink = MailSink::start().await;
    let url = stalls_first_client(&sink).await;
    let app = spawn_app_on(sink, |c| {
        c.mail.smtp_url = Some(authql::config::Secret::new(url));
        c.mail.send_timeout = std::time::Duration::from_secs(1);
    })
    .await;

    app.signup("stalled@example.com", PASSWORD).await;
    let mail = app.mail.wait_for("stalled@example.com").await;
    assert_eq!(mail.subject(), "Confirm your email address");
    assert_eq!(app.outbox_failures().await, 1, "the stalled attempt counts as failed");
}

#[tokio::test]
async fn a_mail_refused_once_goes_out_again_under_the_same_message_id() {
    // Refuses the first message with a temporary failure, accepts the rest.
    let relay = ScriptedRelay::start(|n| {
        Some(if n == 1 {
            b"451 4.3.0 try again later\r\n"
        } else {
            b"250 queued\r\n"
        })
    })
    .await;
    let app = spawn_app_on(MailSink::start().await, |c| {
        c.mail.smtp_url = Some(authql::config::Secret::new(relay.url.clone()));
        c.mail.retry_base = std::time::Duration::from_millis(100);
        c.mail.poll_interval = std::time::Duration::from_millis(100);
    })
    .await;
    app.signup("twice@example.com", PASSWORD).await;
    for _ in 0..200 {
        if relay.taken().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = relay.taken();
    assert_eq!(seen.len(), 2, "refused once, then accepted");
    assert!(message_id(&seen[0]).is_some(), "{}", seen[0]);
    assert_eq!(
        message_id(&seen[0]),
        message_id(&seen[1]),
        "a retry is the same mail to a receiver that deduplicates"
    );
    assert_eq!(app.outbox_failures().await, 1);
}
