//! Cookie mode: a browser app's refresh token travels only as an HttpOnly
//! cookie, and a cookie authenticates a mutation only in a JSON request
//! from an allowed origin.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code, spawn_app_with};

const APP_ORIGIN: &str = "http://app.example.test";
const LOGIN: &str =
    "mutation($input: LoginInput!) { login(input: $input) { auth { accessToken refreshToken deviceToken } } }";
const REFRESH: &str = "mutation { refreshToken { accessToken refreshToken deviceToken } }";

async fn cookie_app(tweak: impl FnOnce(&mut authql::config::Config)) -> TestApp {
    spawn_app_with(|c| {
        c.http.cors_origins = vec![APP_ORIGIN.to_owned()];
        c.tokens.reuse_grace = Duration::ZERO;
        tweak(c);
    })
    .await
}

/// A request as the app's page makes it: JSON, from its origin, asking for
/// cookie mode, with `cookie` if given. Returns the Set-Cookie headers and
/// the body as text (to search it for tokens) and as JSON.
async fn from_app(
    app: &TestApp,
    query: &str,
    variables: Value,
    cookie: Option<&str>,
    bearer: Option<&str>,
) -> (Vec<String>, String, Value) {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("origin", APP_ORIGIN)
        .header("x-authql-token-transport", "cookie")
        .body(json!({ "query": query, "variables": variables }).to_string());
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    let resp = req.send().await.unwrap();
    let cookies = set_cookies(resp.headers());
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap();
    (cookies, text, value)
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of the `authql_rt` cookie among `cookies`.
fn refresh_cookie(cookies: &[String]) -> String {
    let set = cookies
        .iter()
        .find(|c| c.starts_with("authql_rt="))
        .unwrap_or_else(|| panic!("a refresh cookie in {cookies:?}"));
    set["authql_rt=".len()..].split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_refresh_token_travels_only_in_its_cookie() {
    let app = cookie_app(|_| {}).await;
    app.confirmed_user("ann@example.com").await;
    let input = json!({ "input": { "email": "ann@example.com", "password": PASSWORD } });
    let (cookies, text, login) = from_app(&app, LOGIN, input.clone(), None, None).await;
    let first = refresh_cookie(&cookies);
    let auth = &login["data"]["login"]["auth"];
    assert!(auth["accessToken"].is_string(), "{login}");
    assert_eq!(auth["refreshToken"], Value::Null, "{login}");
    assert_eq!(auth["deviceToken"], Value::Null, "{login}");
    assert!(!text.contains(&first), "the refresh token is not in the body");
    let ttl = app.state.config.tokens.refresh_ttl.as_secs();
    assert!(
        cookies.contains(&format!(
            "authql_rt={first}; HttpOnly; SameSite=Strict; Path=/graphql; Max-Age={ttl}"
        )),
        "{cookies:?}"
    );
    assert!(cookies.iter().any(|c| c.starts_with("authql_device=")), "{cookies:?}");

    // Refreshing reads the cookie and answers with the next one in a cookie.
    let (cookies, text, refreshed) =
        from_app(&app, REFRESH, json!({}), Some(&format!("authql_rt={first}")), None).await;
    let second = refresh_cookie(&cookies);
    assert_ne!(second, first);
    assert!(!text.contains(&second));
    let access = refreshed["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(refreshed["data"]["refreshToken"]["refreshToken"], Value::Null);
    assert!(app.me(&access).await["data"]["me"].is_object());

    // The spent cookie presented again is a theft: the session ends.
    let (_, _, reused) = from_app(&app, REFRESH, json!({}), Some(&format!("authql_rt={first}")), None).await;
    assert_eq!(code(&reused), Some("INVALID_TOKEN"), "{reused}");
    assert_eq!(code(&app.me(&access).await), Some("UNAUTHENTICATED"));

    // Logout clears the cookie.
    let (cookies, _, login) = from_app(&app, LOGIN, input, None, None).await;
    let access = login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = refresh_cookie(&cookies);
    let (cookies, _, out) = from_app(&app, "mutation { logout }", json!({}), None, Some(&access)).await;
    assert_eq!(out["data"]["logout"], true);
    assert!(
        cookies.contains(&"authql_rt=; HttpOnly; SameSite=Strict; Path=/graphql; Max-Age=0".to_owned()),
        "{cookies:?}"
    );
    let (_, _, after) = from_app(&app, REFRESH, json!({}), Some(&format!("authql_rt={token}")), None).await;
    assert_eq!(code(&after), Some("INVALID_TOKEN"), "{after}");
}

#[tokio::test]
async fn a_cookie_does_not_authenticate_a_cross_site_request() {
    let app = cookie_app(|_| {}).await;
    app.confirmed_user("ann@example.com").await;
    let input = json!({ "input": { "email": "ann@example.com", "password": PASSWORD } });
    let (cookies, _, _) = from_app(&app, LOGIN, input, None, None).await;
    let cookie = format!("authql_rt={}", refresh_cookie(&cookies));
    let body = json!({ "query": REFRESH }).to_string();
    let attempt = |origin: Option<&'static str>, content_type: &'static str| {
        let mut req = app
            .http
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .header("cookie", cookie.clone())
            .body(body.clone());
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    for (origin, content_type) in [
        (Some("http://evil.example.test"), "application/json"),
        (None, "application/json"),
        // A form or a simple fetch: no preflight.
        (Some(APP_ORIGIN), "text/plain"),
        (Some(APP_ORIGIN), "application/x-www-form-urlencoded"),
    ] {
        let resp = attempt(origin, content_type).await.unwrap();
        let status = resp.status();
        assert!(set_cookies(resp.headers()).is_empty(), "{origin:?} {content_type}");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("accessToken\":\""), "{origin:?} {content_type}: {text}");
        if content_type == "application/json" {
            // A foreign origin is turned away by CORS before GraphQL; none at all, by the cookie rule.
            let refused = status == reqwest::StatusCode::FORBIDDEN
                || code(&serde_json::from_str(&text).unwrap_or_default()) == Some("FORBIDDEN");
            assert!(refused, "{origin:?}: {status} {text}");
        }
    }
    // Nothing was spent: the app's own request still works.
    let (cookies, _, ok) = from_app(&app, REFRESH, json!({}), Some(&cookie), None).await;
    assert!(ok["data"]["refreshToken"]["accessToken"].is_string(), "{ok}");
    assert!(!cookies.is_empty());
    // Credentials are allowed for the app's origin only.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", APP_ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-authql-token-transport",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-credentials"], "true");
    assert_eq!(preflight.headers()["access-control-allow-origin"], APP_ORIGIN);
    let foreign = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", "http://evil.example.test")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn body_mode_keeps_tokens_in_the_json_and_ignores_cookies() {
    let app = cookie_app(|c| c.http.token_transport = authql::config::TokenTransport::Body).await;
    app.confirmed_user("ann@example.com").await;
    let input = json!({ "input": { "email": "ann@example.com", "password": PASSWORD } });
    let (cookies, _, login) = from_app(&app, LOGIN, input, None, None).await;
    assert!(login["data"]["login"]["auth"]["refreshToken"].is_string(), "{login}");
    assert!(!cookies.iter().any(|c| c.starts_with("authql_rt=")), "{cookies:?}");
    let token = login["data"]["login"]["auth"]["refreshToken"].as_str().unwrap();
    let (_, _, refreshed) = from_app(&app, REFRESH, json!({}), Some(&format!("authql_rt={token}")), None).await;
    assert_eq!(code(&refreshed), Some("BAD_USER_INPUT"), "{refreshed}");
    assert_eq!(refreshed["errors"][0]["extensions"]["field"], "refreshToken");
}

/// Behind https (PUBLIC_URL), the cookie is `__Host-authql_rt`: Secure, and
/// `Path=/`, which that prefix demands; the device cookie is `__Secure-`.
#[tokio::test]
async fn over_https_the_refresh_cookie_is_host_bound_and_secure() {
    let app = cookie_app(|c| c.public_url = url::Url::parse("https://auth.example.test").unwrap()).await;
    // The mailed link names PUBLIC_URL, which nothing serves here: confirm with its token.
    app.signup("ann@example.com", PASSWORD).await;
    let token = app.mail.wait_for("ann@example.com").await.token();
    let confirmed = app
        .gql(
            "mutation($t: String!) { confirmEmail(token: $t) }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(confirmed["data"]["confirmEmail"], true, "{confirmed}");
    let input = json!({ "input": { "email": "ann@example.com", "password": PASSWORD } });
    let (cookies, _, _) = from_app(&app, LOGIN, input, None, None).await;
    let ttl = app.state.config.tokens.refresh_ttl.as_secs();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("__Host-authql_rt="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    let token = refresh["__Host-authql_rt=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        refresh,
        &format!("__Host-authql_rt={token}; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age={ttl}")
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Secure-authql_device=") && c.contains("; Secure") && c.contains("Path=/graphql")),
        "{cookies:?}"
    );
    // The plain name is not read over https: only the prefixed one authenticates.
    let (_, _, plain) = from_app(&app, REFRESH, json!({}), Some(&format!("authql_rt={token}")), None).await;
    assert_eq!(code(&plain), Some("BAD_USER_INPUT"), "{plain}");
    let (_, _, ok) = from_app(
        &app,
        REFRESH,
        json!({}),
        Some(&format!("__Host-authql_rt={token}")),
        None,
    )
    .await;
    assert!(ok["data"]["refreshToken"]["accessToken"].is_string(), "{ok}");
}
