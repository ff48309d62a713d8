//! A login code that leaves authql (to an app's `redirect_to`, or to
//! FRONTEND_URL) is bound to the app with PKCE (S256): whoever intercepts it
//! (another app with the same custom scheme, a page that drives a victim's
//! browser) cannot redeem it without the verifier only the app holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{TestApp, code};
use crate::oauth::app_with_config;
use crate::oidc_provider::Provider;

const APP_TARGET: &str = "com.example.app:/oauth";
const EXCHANGE: &str = "mutation($c: String!, $v: String) { exchangeLoginCode(code: $c, codeVerifier: $v) { auth { accessToken user { email } } } }";

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A verifier as an app makes it: 32 random bytes, base64url (43 characters).
fn new_verifier() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Follows a flow from `start` (a path with its query) by hand, through
/// authql and the provider, to where it leaves them: the query it ends with.
async fn walk(app: &TestApp, issuer: &str, start: &str) -> Vec<(String, String)> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut at = app.url(start);
    for _ in 0..6 {
        let r = browser.get(&at).send().await.unwrap();
        assert!(r.status().as_u16() < 500, "never a 500: {}", r.status());
        let Some(location) = r.headers().get("location") else {
            break;
        };
        at = location.to_str().unwrap().to_owned();
        if !at.starts_with(&app.address) && !at.starts_with(issuer) {
            break;
        }
    }
    url::Url::parse(&at)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The test provider's issuer, as authql was configured with it.
fn provider_issuer(app: &TestApp) -> String {
    app.state.config.oauth.providers[0].issuer.to_string()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn app(provider: &Provider, frontend: bool) -> TestApp {
    app_with_config(
        provider,
        |_| {},
        move |c| {
            c.oauth.redirect_uris = vec![APP_TARGET.to_owned()];
            if frontend {
                c.frontend_url = Some("http://127.0.0.1:9/app".parse().unwrap());
            }
        },
    )
    .await
}

/// A login code that came back to the app, started with `verifier`'s challenge.
async fn code_for(app: &TestApp, verifier: &str) -> String {
    let query = format!(
        "/auth/test?redirect_to={APP_TARGET}&code_challenge={}&code_challenge_method=S256",
        challenge_of(verifier)
    );
    let end = walk(app, &provider_issuer(app), &query).await;
    get(&end, "code")
        .unwrap_or_else(|| panic!("no code: {end:?}"))
        .to_owned()
}

async fn exchange(app: &TestApp, code: &str, verifier: Option<&str>) -> Value {
    app.gql(EXCHANGE, json!({ "c": code, "v": verifier })).await
}

fn signed_in(r: &Value) -> bool {
    r["data"]["exchangeLoginCode"]["auth"]["accessToken"].is_string()
}

#[tokio::test]
async fn an_intercepted_login_code_is_worthless_without_the_apps_verifier() {
    let provider = Provider::start().await;
    let app = app(&provider, false).await;
    provider.sign_in_as("pat-1", "pat@example.com", true);
    let verifier = new_verifier();

    // The interceptor has the code, not the verifier.
    let stolen = code_for(&app, &verifier).await;
    let r = exchange(&app, &stolen, None).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "without a verifier: {r}");
    let r = exchange(&app, &stolen, Some(&new_verifier())).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "with a verifier of its own: {r}");
    // A code is used once, whoever presents it: a failed exchange spends it.
    let r = exchange(&app, &stolen, Some(&verifier)).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "spent by the failed exchange: {r}");

    let guessed = code_for(&app, &verifier).await;
    let r = exchange(&app, &guessed, Some(&format!("{verifier}x"))).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "a wrong verifier: {r}");
    assert_eq!(
        code(&exchange(&app, &guessed, Some(&verifier)).await),
        Some("INVALID_TOKEN")
    );

    let own = code_for(&app, &verifier).await;
    let r = exchange(&app, &own, Some(&verifier)).await;
    assert!(signed_in(&r), "the app with its verifier: {r}");
    assert_eq!(
        r["data"]["exchangeLoginCode"]["auth"]["user"]["email"],
        "pat@example.com"
    );
    for junk in [
        "",
        "short",
        &"~".repeat(129),
        "not a verifier at all, with spaces in it......",
    ] {
        let fresh = code_for(&app, &verifier).await;
        let r = exchange(&app, &fresh, Some(junk)).await;
        assert_eq!(code(&r), Some("INVALID_TOKEN"), "{junk:?}: {r}");
    }
}

#[tokio::test]
async fn a_flow_back_to_an_app_without_an_s256_challenge_issues_no_code() {
    let provider = Provider::start().await;
    let app = app(&provider, false).await;
    provider.sign_in_as("quinn-1", "quinn@example.com", true);
    let challenge = challenge_of(&new_verifier());
    for query in [
        format!("/auth/test?redirect_to={APP_TARGET}"),
        format!("/auth/test?redirect_to={APP_TARGET}&code_challenge={challenge}"),
        format!("/auth/test?redirect_to={APP_TARGET}&code_challenge={challenge}&code_challenge_method=plain"),
        format!("/auth/test?redirect_to={APP_TARGET}&code_challenge=too-short&code_challenge_method=S256"),
        format!("/auth/test?redirect_to={APP_TARGET}&code_challenge_method=S256"),
    ] {
        let end = walk(&app, &provider_issuer(&app), &query).await;
        assert_eq!(get(&end, "error"), Some("BAD_USER_INPUT"), "{query}: {end:?}");
        assert_eq!(get(&end, "code"), None, "{query}");
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM one_time_tokens WHERE purpose = 'login_code'")
            .await,
        0,
        "no code was issued"
    );
}

#[tokio::test]
async fn with_a_frontend_even_the_default_target_needs_a_challenge() {
    let provider = Provider::start().await;
    let app = app(&provider, true).await;
    provider.sign_in_as("rhea-1", "rhea@example.com", true);
    let end = walk(&app, &provider_issuer(&app), "/auth/test").await;
    assert_eq!(get(&end, "error"), Some("BAD_USER_INPUT"), "{end:?}");
    let verifier = new_verifier();
    let end = walk(
        &app,
        &provider_issuer(&app),
        &format!(
            "/auth/test?code_challenge={}&code_challenge_method=S256",
            challenge_of(&verifier)
        ),
    )
    .await;
    let login_code = get(&end, "code").unwrap_or_else(|| panic!("{end:?}"));
    assert!(signed_in(&exchange(&app, login_code, Some(&verifier)).await));
}
