//! SMTP over TLS: STARTTLS when the URL carries credentials, smtps:// from the
//! first byte, a private CA through SMTP_CA_FILE, and credentials never sent
//! where TLS is missing or untrusted.

use std::time::Duration;

use authql::config::Secret;

use crate::helpers::{PASSWORD, TestApp, spawn_app_on};
use crate::smtp::{MailSink, Security, TestCa};
use crate::smtp_session;

/// A server mailing through `sink` at `scheme://mailer:password@…`, trusting `ca` if given.
async fn app_mailing_through(sink: MailSink, scheme: &str, ca: Option<&TestCa>) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.map(|ca| {
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, &ca.pem).unwrap();
        path
    });
    let url = format!(
        "{scheme}://{}:{}@127.0.0.1:{}",
        smtp_session::USER,
        smtp_session::PASSWORD,
        sink.port
    );
    let app = spawn_app_on(sink, |c| {
        c.mail.smtp_url = Some(Secret::new(url));
        c.mail.ca_file = ca_file;
    })
    .await;
    (app, dir)
}

#[tokio::test]
async fn credentials_switch_on_starttls_and_the_mail_goes_through_it() {
    let ca = TestCa::new();
    let sink = MailSink::start_secure(&ca, Security::StartTls).await;
    let (app, _dir) = app_mailing_through(sink, "smtp", Some(&ca)).await;
    app.signup("starttls@example.com", PASSWORD).await;
    let mail = app.mail.wait_for("starttls@example.com").await;
    assert!(mail.tls, "sent after STARTTLS");
    assert_eq!(mail.user.as_deref(), Some(smtp_session::USER));
    assert_eq!(mail.subject(), "Confirm your email address");
}

#[tokio::test]
async fn smtps_is_tls_from_the_first_byte() {
    let ca = TestCa::new();
    let sink = MailSink::start_secure(&ca, Security::Implicit).await;
    let (app, _dir) = app_mailing_through(sink, "smtps", Some(&ca)).await;
    app.signup("smtps@example.com", PASSWORD).await;
    let mail = app.mail.wait_for("smtps@example.com").await;
    assert!(mail.tls);
    assert_eq!(mail.user.as_deref(), Some(smtp_session::USER));
}

/// Waits until the outbox records a failed attempt.
async fn until_a_send_fails(app: &TestApp) {
    for _ in 0..200 {
        if app.outbox_failures().await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no failed attempt recorded");
}

#[tokio::test]
async fn an_untrusted_certificate_stops_the_send_and_the_mail_waits() {
    let sink = MailSink::start_secure(&TestCa::new(), Security::StartTls).await;
    let (app, _dir) = app_mailing_through(sink, "smtp", None).await;
    app.signup("untrusted@example.com", PASSWORD).await;
    until_a_send_fails(&app).await;
    assert!(app.mail.all().is_empty());
    let leaked = "SELECT COUNT(*) AS n FROM mail_outbox WHERE last_error LIKE '%sink-password%'";
    assert_eq!(app.scalar(leaked).await, 0, "the stored error names no password");
}

#[tokio::test]
async fn credentials_are_never_sent_to_a_server_without_starttls() {
    // This relay offers no STARTTLS but would take the password in clear text:
    // authql must not fall back to that.
    let sink = MailSink::start_secure(&TestCa::new(), Security::CleartextAuth).await;
    let (app, _dir) = app_mailing_through(sink, "smtp", None).await;
    app.signup("plain@example.com", PASSWORD).await;
    until_a_send_fails(&app).await;
    assert!(app.mail.all().is_empty());
}
