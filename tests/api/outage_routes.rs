//! The plain HTTP routes during a database cut: the confirmation link, the
//! OAuth callback, the avatar image and `/readyz` answer 503 (or their error
//! page with 503), never a 500 or a hang, and work again once the database
//! is back, without a restart. The cut is made by the proxy of
//! `tests/api/outage.rs`, so this needs PostgreSQL or MariaDB.

use std::time::Duration;

use image::ImageFormat;
use reqwest::{Client, Response, StatusCode};

use crate::avatar::{picture, upload};
use crate::helpers::{PASSWORD, TestApp};
use crate::oauth::{provider_config, sign_in};
use crate::oidc_provider::Provider;
use crate::outage::app_behind_proxy_with;

/// A request that hangs fails the test instead of stalling it: the bound is
/// far above the pool's acquire timeout, which is what ends a wait on a cut.
const BOUND: Duration = Duration::from_secs(60);

/// A browser that keeps cookies and lets the test follow each redirect.
fn stepping_browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(BOUND)
        .build()
        .unwrap()
}

async fn follow(browser: &Client, from: &Response) -> Response {
    let location = from.headers()["location"].to_str().unwrap();
    browser.get(location).send().await.unwrap()
}

/// The status of `/readyz` once it stops reporting `not`; checks are kept
/// for a second, so a later round sees the change.
async fn readiness_other_than(app: &TestApp, not: StatusCode) -> StatusCode {
    for _ in 0..100 {
        let status = app.http.get(app.url("/readyz")).send().await.unwrap().status();
        if status != not {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz stayed {not}");
}

#[tokio::test]
async fn plain_routes_answer_503_during_a_database_cut_and_serve_again_after_it() {
    let provider = Provider::start().await;
    let test_provider = provider_config(&provider);
    let Some((app, proxy)) = app_behind_proxy_with(move |c| {
        c.oauth.providers = vec![test_provider];
        c.oauth.timeout = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    let r = app.signup("pending@example.com", PASSWORD).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
    let link = app.mail.wait_for("pending@example.com").await.link();
    let me = app.user_with_tokens("face@example.com").await;
    let r = upload(&app, Some(&me.access), picture(ImageFormat::Png, 64, 64)).await;
    let avatar = r["data"]["uploadAvatar"]["avatarUrl"]
        .as_str()
        .expect("uploaded")
        .to_owned();
    provider.sign_in_as("cut-subject", "oauth-cut@example.com", true);
    // The flow starts before the cut, so the callback is what meets it.
    let browser = stepping_browser();
    let to_provider = browser.get(app.url("/auth/test")).send().await.unwrap();
    let to_callback = follow(&browser, &to_provider).await;
    assert!(
        to_callback.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/auth/test/callback"),
        "{:?}",
        to_callback.headers()
    );

    proxy.cut();
    let http = Client::builder().timeout(BOUND).build().unwrap();
    // Opening the link changes nothing, so it needs no database.
    assert_eq!(http.get(&link).send().await.unwrap().status(), StatusCode::OK);
    let pressed = http.post(&link).send().await.unwrap();
    assert_eq!(pressed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(pressed.text().await.unwrap().contains("Try again later"));
    let callback = follow(&browser, &to_callback).await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let to_outcome = url::Url::parse(callback.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        to_outcome
            .query_pairs()
            .any(|(k, v)| k == "error" && v == "SERVICE_UNAVAILABLE"),
        "{to_outcome}"
    );
    let page = follow(&browser, &callback).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", page.url());
    assert_eq!(
        http.get(&avatar).send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        readiness_other_than(&app, StatusCode::OK).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    proxy.restore();
    let pressed = http.post(&link).send().await.unwrap();
    assert_eq!(pressed.status(), StatusCode::OK, "{}", pressed.text().await.unwrap());
    assert_eq!(http.get(&avatar).send().await.unwrap().status(), StatusCode::OK);
    assert!(sign_in(&app).await.is_ok(), "a sign-in with the provider works again");
    assert_eq!(
        readiness_other_than(&app, StatusCode::SERVICE_UNAVAILABLE).await,
        StatusCode::OK
    );
}
