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
    app_behind_proxy_with(|_| {}).await
}

pub(crate) async fn app_behind_proxy_with(tweak: impl FnOnce(&mut authql::config::Config)) -> Option<(TestApp, Proxy)> {
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
    let app = spawn_app_on_db(MailSink::start().await, db, url.to_string(), tweak).await;
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

/// Sixteen refresh chains while the database is cut and restored: every
/// answer is a rotation or SERVICE_UNAVAILABLE (never INTERNAL), the chains
/// go on after the database is back without a restart, and each chain's last
/// answered token still works, so no answered rotation was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_cut_under_rotations_answers_unavailable_and_loses_no_answered_one() {
    // Sixteen chains from one address would spend its refresh bucket.
    let Some((app, proxy)) = app_behind_proxy_with(|c| c.limits.enabled = false).await else {
        return;
    };
    let mut chains = Vec::new();
    for i in 0..16 {
        let tokens = app.user_with_tokens(&format!("load{i}@example.com")).await;
        chains.push(std::sync::Arc::new(std::sync::Mutex::new(tokens.refresh)));
    }
    let app = std::sync::Arc::new(app);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for chain in &chains {
        let (chain, app, stop) = (chain.clone(), app.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut unavailable, mut rotated) = (0u32, 0u32);
            while !stop.is_cancelled() {
                let token = chain.lock().unwrap().clone();
                let r = app.refresh(&token).await;
                match r["data"]["refreshToken"]["refreshToken"].as_str() {
                    Some(next) => {
                        *chain.lock().unwrap() = next.to_owned();
                        rotated += 1;
                    }
                    None => {
                        assert_eq!(code(&r), Some("SERVICE_UNAVAILABLE"), "{r}");
                        unavailable += 1;
                    }
                }
            }
            (rotated, unavailable)
        }));
    }
    all_move(&chains).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    all_move(&chains).await;
    stop.cancel();
    let mut unavailable = 0;
    for task in tasks {
        unavailable += task.await.unwrap().1;
    }
    assert!(unavailable > 0, "the cut was seen");
    for (i, chain) in chains.iter().enumerate() {
        let token = chain.lock().unwrap().clone();
        let r = app.refresh(&token).await;
        assert!(r["data"]["refreshToken"]["refreshToken"].is_string(), "chain {i}: {r}");
    }
}

/// Waits until every chain has rotated at least once more.
async fn all_move(chains: &[std::sync::Arc<std::sync::Mutex<String>>]) {
    let start: Vec<String> = chains.iter().map(|c| c.lock().unwrap().clone()).collect();
    for _ in 0..600 {
        if chains.iter().zip(&start).all(|(c, s)| *c.lock().unwrap() != *s) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the chains did not move");
}
