//! `/metrics` in the Prometheus text format: logins, mail, GraphQL fields,
//! routes; labels bounded; an internal listener with METRICS_ADDR.

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
    let app = spawn_app().await;
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
    assert!(sample(&text, "authql_sessions_active").unwrap() >= 1.0);
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
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing served metrics at METRICS_ADDR");
}
