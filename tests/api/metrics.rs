//! `/metrics` in the Prometheus text format: logins, mail, GraphQL fields,
//! routes; labels bounded; a management listener with METRICS_ADDR, the
//! public one only with METRICS_PUBLIC; gauges sampled, never counted per scrape.

use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};

async fn scrape(http: &reqwest::Client, url: &str) -> String {
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    resp.text().await.unwrap()
}

/// The value of the sample `name` with exactly `labels` (as written), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_logins_mail_and_fields_with_bounded_labels() {
    let app = spawn_app_with(|c| c.metrics_public = true).await;
    app.confirmed_user("counted@example.com").await;
    assert!(app.login("counted@example.com", PASSWORD).await["data"]["login"]["auth"].is_object());
    app.login("counted@example.com", "Wrong-Horse-Battery-Staple-42").await;
    // A client's own operation name and aliases must never become labels.
    app.gql(
        "query Chosen_By_Client_77 { anAliasNobodyKnows: __typename }",
        json!({}),
    )
    .await;

    let text = scrape(&app.http, &app.url("/metrics")).await;
    assert!(
        sample(&text, "authql_logins_total{outcome=\"success\"}").unwrap() >= 1.0,
        "{text}"
    );
    assert!(sample(&text, "authql_logins_total{outcome=\"wrong_password\"}").unwrap() >= 1.0);
    assert!(sample(&text, "authql_mails_sent_total").unwrap() >= 1.0);
    assert!(
        text.contains("authql_mails_queued_total{kind=\"confirmemail\"}"),
        "{text}"
    );
    assert!(text.contains("authql_graphql_operations_total{field=\"login\",outcome=\"ok\"}"));
    assert!(text.contains("authql_http_requests_total{route=\"/graphql\",status=\"200\"}"));
    assert!(text.contains("authql_http_request_duration_seconds_bucket{route=\"/graphql\""));
    assert!(text.contains("authql_build_info{version="));
    assert!(sample(&text, "authql_sessions_active").is_some(), "{text}");
    assert!(text.contains("authql_db_connections{state=\"idle\"}"));
    assert!(text.contains("authql_mail_outbox_depth"));
    assert!(!text.contains("Chosen_By_Client_77") && !text.contains("anAliasNobodyKnows"));
}

#[tokio::test]
async fn with_metrics_addr_metrics_leave_the_public_listener() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|c| c.metrics_addr = Some(format!("127.0.0.1:{port}").parse().unwrap())).await;
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let internal = format!("http://127.0.0.1:{port}/metrics");
    for _ in 0..50 {
        if let Ok(resp) = app.http.get(&internal).send().await {
            assert_eq!(resp.status(), 200);
            assert!(resp.text().await.unwrap().contains("authql_build_info"));
            // Probes can use the management port too; nothing else is there.
            let ready = app
                .http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 200);
            let graphql = app
                .http
                .get(format!("http://127.0.0.1:{port}/graphql"))
                .send()
                .await
                .unwrap();
            assert_eq!(graphql.status(), 404);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing served metrics at METRICS_ADDR");
}

#[tokio::test]
async fn metrics_public_serves_them_on_the_public_port_too() {
    let app = spawn_app_with(|c| c.metrics_public = true).await;
    let text = scrape(&app.http, &app.url("/metrics")).await;
    assert!(text.contains("authql_build_info{version="), "{text}");
}

/// Scrapes publish the gauges a job sampled from the database: however
/// often anyone scrapes, no scrape counts rows.
#[tokio::test]
async fn a_scrape_reads_sampled_gauges_and_counts_nothing() {
    let app = spawn_app_with(|c| c.metrics_public = true).await;
    app.user_with_tokens("sampled@example.com").await;
    let text = scrape(&app.http, &app.url("/metrics")).await;
    assert_eq!(
        sample(&text, "authql_sessions_active"),
        Some(0.0),
        "the sample taken at start, before the login: {text}"
    );
    authql::jobs::refresh_gauges(&app.state).await.unwrap();
    let text = scrape(&app.http, &app.url("/metrics")).await;
    assert_eq!(sample(&text, "authql_sessions_active"), Some(1.0), "{text}");
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_port_by_default() {
    let app = spawn_app().await;
    app.login("nobody@example.com", PASSWORD).await;
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.unwrap();
    assert!(!body.contains("authql_"), "{body}");
}
