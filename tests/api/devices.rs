//! Known devices: a login that presents its device credential is counted in
//! that device's own bucket, so flooding an account does not lock its owner out.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code, spawn_app_with};

const WRONG: &str = "Not-The-Password-At-All-9";
const LOGIN: &str =
    "mutation($input: LoginInput!) { login(input: $input) { mfaRequired auth { accessToken deviceToken } } }";
const DEVICES: &str = "{ devices { id createdAt lastUsedAt userAgent } }";
const LOCKOUT_MAILS: &str =
    "SELECT COUNT(*) AS n FROM mail_outbox WHERE subject = 'Someone is trying to sign in to your account'";

async fn behind_proxy(tweak: impl FnOnce(&mut authql::config::Config)) -> TestApp {
    spawn_app_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        // Each test address has its own user agent; new-device notices would be noise here.
        c.new_device_notices = false;
        tweak(c);
    })
    .await
}

/// A login from `ip`, presenting `device` if given.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str, device: Option<&str>) -> Value {
    let body = json!({ "query": LOGIN, "variables": { "input": { "email": email, "password": password, "deviceToken": device } } });
    let agent = format!("test-browser from {ip}");
    app.post_with(&[("x-forwarded-for", ip), ("user-agent", &agent)], &body)
        .await
}

fn device_token(answer: &Value) -> String {
    answer["data"]["login"]["auth"]["deviceToken"]
        .as_str()
        .unwrap_or_else(|| panic!("a device token in {answer}"))
        .to_owned()
}

#[tokio::test]
async fn a_known_device_signs_in_while_its_account_is_flooded_and_the_owner_is_told_once() {
    let app = behind_proxy(|_| {}).await;
    let owner = "owner@example.com";
    app.confirmed_user(owner).await;
    let device = device_token(&login_from(&app, "198.51.100.1", owner, PASSWORD, None).await);

    // An attacker spends the rest of the account's bucket (ten) from elsewhere.
    for n in 0..9 {
        let answer = login_from(&app, &format!("203.0.113.{n}"), owner, WRONG, None).await;
        assert_eq!(code(&answer), Some("INVALID_CREDENTIALS"), "{answer}");
    }
    for n in 9..15 {
        let answer = login_from(&app, &format!("203.0.113.{n}"), owner, WRONG, None).await;
        assert_eq!(code(&answer), Some("RATE_LIMITED"), "{answer}");
    }

    // The owner's known device still gets in, from another address; its credential is renewed.
    let spared = login_from(&app, "198.51.100.2", owner, PASSWORD, Some(&device)).await;
    let renewed = device_token(&spared);
    assert_ne!(renewed, device, "each login renews the device credential");
    // Without it, the owner waits like everyone else.
    let unknown = login_from(&app, "198.51.100.3", owner, PASSWORD, None).await;
    assert_eq!(code(&unknown), Some("RATE_LIMITED"), "{unknown}");
    // A credential of another account spares nothing.
    app.confirmed_user("other@example.com").await;
    let other = device_token(&login_from(&app, "198.51.100.4", "other@example.com", PASSWORD, None).await);
    let borrowed = login_from(&app, "198.51.100.5", owner, PASSWORD, Some(&other)).await;
    assert_eq!(code(&borrowed), Some("RATE_LIMITED"), "{borrowed}");

    // The owner hears of it once, however long the flood goes on.
    let notice = app.mail.wait_for_nth(owner, 2).await;
    assert_eq!(notice.subject(), "Someone is trying to sign in to your account");
    assert!(notice.text().contains("devices you used before"), "{}", notice.text());
    assert!(!notice.text().contains(WRONG));
    for n in 20..25 {
        login_from(&app, &format!("203.0.113.{n}"), owner, WRONG, None).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.scalar(LOCKOUT_MAILS).await, 1);
    let access = spared["data"]["login"]["auth"]["accessToken"].as_str().unwrap();
    let kinds = app.event_kinds(access).await;
    assert_eq!(kinds.iter().filter(|k| *k == "LOGIN_LIMITED").count(), 1, "{kinds:?}");
}

#[tokio::test]
async fn a_stolen_device_credential_spends_only_its_own_bucket() {
    let app = behind_proxy(|c| c.limits.device_max_failures = 50).await;
    let owner = "owner@example.com";
    app.confirmed_user(owner).await;
    let device = device_token(&login_from(&app, "198.51.100.1", owner, PASSWORD, None).await);
    for n in 0..10 {
        let answer = login_from(&app, &format!("203.0.113.{n}"), owner, WRONG, Some(&device)).await;
        assert_eq!(code(&answer), Some("INVALID_CREDENTIALS"), "{answer}");
    }
    let answer = login_from(&app, "203.0.113.99", owner, WRONG, Some(&device)).await;
    assert_eq!(
        code(&answer),
        Some("RATE_LIMITED"),
        "the device's bucket is empty: {answer}"
    );
    // The account's own bucket was not touched: after the owner's first
    // login, nine of its ten are still left.
    for n in 0..9 {
        let answer = login_from(&app, &format!("192.0.2.{n}"), owner, WRONG, None).await;
        assert_eq!(code(&answer), Some("INVALID_CREDENTIALS"), "{answer}");
    }
}

#[tokio::test]
async fn a_device_credential_that_keeps_failing_is_revoked() {
    let app = behind_proxy(|c| c.limits.device_max_failures = 5).await;
    let owner = "owner@example.com";
    app.confirmed_user(owner).await;
    let first = login_from(&app, "198.51.100.1", owner, PASSWORD, None).await;
    let device = device_token(&first);
    let access = first["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.gql_as(&access, DEVICES, json!({})).await["data"]["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for n in 0..5 {
        let answer = login_from(&app, &format!("203.0.113.{n}"), owner, WRONG, Some(&device)).await;
        assert_eq!(code(&answer), Some("INVALID_CREDENTIALS"), "{answer}");
    }
    // Failures are recorded after the answer (so it takes as long as any other): wait for it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let devices = app.gql_as(&access, DEVICES, json!({})).await;
        if devices["data"]["devices"] == json!([]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revoked after five failures: {devices}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(app.event_kinds(&access).await.iter().any(|k| k == "DEVICE_REVOKED"));
    // The revoked credential now spares nothing: the account's bucket counts.
    for n in 0..10 {
        login_from(&app, &format!("192.0.2.{n}"), owner, WRONG, None).await;
    }
    let answer = login_from(&app, "198.51.100.1", owner, PASSWORD, Some(&device)).await;
    assert_eq!(code(&answer), Some("RATE_LIMITED"), "{answer}");
}

#[tokio::test]
async fn devices_are_listed_forgotten_and_all_forgotten_by_a_password_reset() {
    let app = behind_proxy(|_| {}).await;
    let owner = "owner@example.com";
    app.confirmed_user(owner).await;
    let first = login_from(&app, "198.51.100.1", owner, PASSWORD, None).await;
    let access = first["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let device = device_token(&first);
    // Logging in again with the credential keeps one device; without it adds one.
    login_from(&app, "198.51.100.1", owner, PASSWORD, Some(&device)).await;
    login_from(&app, "198.51.100.2", owner, PASSWORD, None).await;
    let listed = app.gql_as(&access, DEVICES, json!({})).await;
    let devices = listed["data"]["devices"].as_array().unwrap().clone();
    assert_eq!(devices.len(), 2, "{listed}");
    assert!(devices.iter().all(|d| d["lastUsedAt"].is_string()), "{listed}");
    assert_eq!(
        devices[0]["userAgent"], "test-browser from 198.51.100.2",
        "newest first: {listed}"
    );

    // Forgetting: nobody else's, and an unknown id is false.
    let forget = "mutation($id: ID!) { forgetDevice(id: $id) }";
    let other = app.user_with_tokens("other@example.com").await;
    let id = devices[1]["id"].as_str().unwrap();
    assert_eq!(
        app.gql_as(&other.access, forget, json!({ "id": id })).await["data"]["forgetDevice"],
        false
    );
    assert_eq!(
        app.gql_as(&access, forget, json!({ "id": "not-an-id" })).await["data"]["forgetDevice"],
        false
    );
    assert_eq!(
        app.gql_as(&access, forget, json!({ "id": id })).await["data"]["forgetDevice"],
        true
    );
    assert_eq!(
        app.gql_as(&access, DEVICES, json!({})).await["data"]["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(code(&app.gql(DEVICES, json!({})).await), Some("UNAUTHENTICATED"));

    // A password reset forgets every device.
    app.gql("mutation { forgotPassword(email: \"owner@example.com\") }", json!({}))
        .await;
    let reset = app.mail.wait_for_nth(owner, 2).await.token();
    let answer = app
        .gql(
            "mutation($t: String!) { resetPassword(input: { token: $t, newPassword: \"Another-Long-Passphrase-77\" }) }",
            json!({ "t": reset }),
        )
        .await;
    assert_eq!(answer["data"]["resetPassword"], true, "{answer}");
    assert_eq!(app.count("devices").await, 1, "only the other account's device is left");
}

/// Browsers get the credential as an HttpOnly, SameSite=Strict cookie on
/// /graphql too, and present it without the app's help.
#[tokio::test]
async fn a_browser_keeps_its_device_credential_in_a_cookie() {
    let app = behind_proxy(|_| {}).await;
    let owner = "owner@example.com";
    app.confirmed_user(owner).await;
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login = |password: &'static str| {
        let body = json!({ "query": LOGIN, "variables": { "input": { "email": owner, "password": password } } });
        browser
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", "198.51.100.7")
            .body(body.to_string())
            .send()
    };
    let first = login(PASSWORD).await.unwrap();
    let set_cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    let answer: Value = first.json().await.unwrap();
    let token = device_token(&answer);
    assert_eq!(
        set_cookie,
        format!("authql_device={token}; HttpOnly; SameSite=Strict; Path=/graphql; Max-Age=31536000"),
        "no Secure over plain HTTP"
    );

    for n in 0..9 {
        login_from(&app, &format!("203.0.113.{n}"), owner, WRONG, None).await;
    }
    assert_eq!(
        code(&login_from(&app, "203.0.113.77", owner, PASSWORD, None).await),
        Some("RATE_LIMITED")
    );
    let spared: Value = login(PASSWORD).await.unwrap().json().await.unwrap();
    assert!(
        spared["data"]["login"]["auth"].is_object(),
        "the cookie spared it: {spared}"
    );
}

/// A login that presents its device credential is from a known device, even
/// when its user agent changed (a browser update): no "new sign-in" mail.
#[tokio::test]
async fn a_known_device_with_a_new_user_agent_is_no_news() {
    let app = behind_proxy(|c| c.new_device_notices = true).await;
    let owner = "owner@example.com";
    app.confirmed_user(owner).await;
    let new_sign_in = "SELECT COUNT(*) AS n FROM mail_outbox WHERE subject = 'New sign-in to your account'";
    let device = device_token(&login_from(&app, "198.51.100.1", owner, PASSWORD, None).await);
    // Another address means another user agent here (see login_from).
    let renewed = login_from(&app, "198.51.100.2", owner, PASSWORD, Some(&device)).await;
    assert!(renewed["data"]["login"]["auth"].is_object(), "{renewed}");
    assert_eq!(
        app.scalar(new_sign_in).await,
        0,
        "the device credential says it is known"
    );
    login_from(&app, "198.51.100.3", owner, PASSWORD, None).await;
    assert_eq!(
        app.scalar(new_sign_in).await,
        1,
        "a new agent without a credential is news"
    );
}
