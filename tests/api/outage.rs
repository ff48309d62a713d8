//! A database outage answers SERVICE_UNAVAILABLE, and service resumes when the database is back.
//!
//! The outage is made by a TCP proxy this test owns between authql and the
//! database server, so it needs TEST_DATABASE_URL (PostgreSQL or MariaDB);
//! with SQLite there is no connection to cut.

use std::time::{Duration, Instant};

use crate::db::TestDb;
use crate::helpers::{PASSWORD, TestApp, code, spawn_app_on_db};
use crate::proxy::Proxy;
use crate::smtp::MailSink;

/// An app whose database connections go through a proxy the test can cut;
/// `None` on SQLite, where there is no connection to cut.
async fn app_behind_proxy() -> Option<(TestApp, Proxy)> {
    let db = TestDb::create().await;
    if db.url.starts_with("sqlite:") {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL or MariaDB)");
        return None;
    }
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port_or_known_default().unwrap());
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    let app = spawn_app_on_db(MailSink::start().await, db, url.to_string(), |_| {}).await;
    Some((app, proxy))
}

#[tokio::test]
async fn a_database_outage_is_service_unavailable_and_passes() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    let tokens = app.user_with_tokens("outage@example.com").await;

    proxy.cut();
    tokio::time::sleep(authql::sessions::cache::TTL + Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(code(&app.me(&tokens.access).await), Some("SERVICE_UNAVAILABLE"));
    assert_eq!(
        code(&app.login("outage@example.com", PASSWORD).await),
        Some("SERVICE_UNAVAILABLE")
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(ready["checks"]["database"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "answers come, if slowly: {:?}",
        started.elapsed()
    );

    proxy.restore();
    assert_eq!(
        app.me(&tokens.access).await["data"]["me"]["email"],
        "outage@example.com"
    );
    // Checks are kept for a second: a later round sees the database back.
    for _ in 0..50 {
        if app.http.get(app.url("/readyz")).send().await.unwrap().status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never ready again after the database came back");
}

#[tokio::test]
async fn a_reset_asked_for_during_a_short_outage_is_still_mailed() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        return;
    };
    app.confirmed_user("brief@example.com").await;

    proxy.cut();
    let r = app
        .gql(
            "mutation { forgotPassword(email: \"brief@example.com\") }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r["data"]["forgotPassword"], true, "{r}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    let mail = app.mail.wait_for_nth("brief@example.com", 2).await;
    assert_eq!(mail.subject(), "Reset your password");
}
