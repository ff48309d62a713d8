//! A database outage answers SERVICE_UNAVAILABLE, and service resumes when the database is back.
//!
//! The outage is made by a TCP proxy this test owns between authql and the
//! database server, so it needs TEST_DATABASE_URL (PostgreSQL or MariaDB);
//! with SQLite there is no connection to cut.

use std::time::{Duration, Instant};

use crate::db::TestDb;
use crate::helpers::{PASSWORD, code, spawn_app_on_db};
use crate::proxy::Proxy;
use crate::smtp::MailSink;

#[tokio::test]
async fn a_database_outage_is_service_unavailable_and_passes() {
    let db = TestDb::create().await;
    if db.url.starts_with("sqlite:") {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL or MariaDB)");
        return;
    }
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port_or_known_default().unwrap());
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    let app = spawn_app_on_db(MailSink::start().await, db, url.to_string(), |_| {}).await;
    let tokens = app.user_with_tokens("outage@example.com").await;

    proxy.cut();
    tokio::time::sleep(authql::sessions::cache::TTL + Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(code(&app.me(&tokens.access).await), Some("SERVICE_UNAVAILABLE"));
    assert_eq!(
        code(&app.login("outage@example.com", PASSWORD).await),
        Some("SERVICE_UNAVAILABLE")
    );
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 503);
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
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);
}
