//! Rate limits: per account and per IP, counted per operation, the same for known and unknown accounts.

use serde_json::{Value, json};

use crate::helpers::{LOGIN, PASSWORD, SIGNUP, TestApp, code, spawn_app, spawn_app_with};

const WRONG: &str = "Not-The-Password-At-All-9";

fn codes(answer: &Value) -> Vec<String> {
    answer["errors"].as_array().map_or(vec![], |errors| {
        errors
            .iter()
            .map(|e| e["extensions"]["code"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

async fn post_from(app: &TestApp, forwarded_for: &str, body: Value) -> Value {
    app.post_with(&[("x-forwarded-for", forwarded_for)], &body).await
}

#[tokio::test]
async fn password_guesses_are_limited_per_account_alike_for_known_and_unknown() {
    let app = spawn_app().await;
    app.confirmed_user("known@example.com").await;
    for email in ["known@example.com", "unknown@example.com"] {
        for _ in 0..10 {
            assert_eq!(code(&app.login(email, WRONG).await), Some("INVALID_CREDENTIALS"));
        }
        let limited = app.login(email, WRONG).await;
        assert_eq!(code(&limited), Some("RATE_LIMITED"), "{limited}");
        let retry = limited["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        // Even the right password waits: the limit comes before the check.
        assert_eq!(code(&app.login(email, PASSWORD).await), Some("RATE_LIMITED"));
    }
    // Another account from the same address is not affected.
    app.confirmed_user("other@example.com").await;
    assert!(app.login("other@example.com", PASSWORD).await["data"]["login"]["auth"].is_object());
}

#[tokio::test]
async fn aliases_cannot_multiply_attempts() {
    let app = spawn_app().await;
    let fields: String = (0..12)
        .map(|i| {
            format!("a{i}: login(input: {{ email: \"x@example.com\", password: \"{WRONG}\" }}) {{ mfaRequired }} ")
        })
        .collect();
    let answer = app.gql(&format!("mutation {{ {fields} }}"), json!({})).await;
    let codes = codes(&answer);
    assert_eq!(
        codes.iter().filter(|c| *c == "INVALID_CREDENTIALS").count(),
        10,
        "{codes:?}"
    );
    assert_eq!(codes.iter().filter(|c| *c == "RATE_LIMITED").count(), 2, "{codes:?}");
}

#[tokio::test]
async fn mail_requests_are_limited_per_address() {
    let app = spawn_app().await;
    let forgot = "mutation($e: String!) { forgotPassword(email: $e) }";
    for email in ["a@example.com", "b@example.com"] {
        for _ in 0..3 {
            assert_eq!(
                app.gql(forgot, json!({ "e": email })).await["data"]["forgotPassword"],
                true
            );
        }
        assert_eq!(
            code(&app.gql(forgot, json!({ "e": email })).await),
            Some("RATE_LIMITED")
        );
    }
}

#[tokio::test]
async fn addresses_come_from_trusted_proxies_only() {
    let behind_proxy = spawn_app_with(|c| c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let signup = |i: usize| json!({ "query": SIGNUP, "variables": { "input": { "email": format!("u{i}@example.com"), "password": PASSWORD } } });
    for i in 0..20 {
        let r = post_from(&behind_proxy, "203.0.113.1", signup(i)).await;
        assert!(r.get("errors").is_none(), "{r}");
    }
    assert_eq!(
        code(&post_from(&behind_proxy, "203.0.113.1", signup(20)).await),
        Some("RATE_LIMITED")
    );
    let r = post_from(&behind_proxy, "203.0.113.2", signup(21)).await;
    assert!(
        r.get("errors").is_none(),
        "another client behind the proxy has its own bucket: {r}"
    );

    // Without a trusted proxy, a forged header changes nothing.
    let direct = spawn_app().await;
    for i in 0..20 {
        post_from(&direct, &format!("198.51.100.{i}"), signup(i)).await;
    }
    assert_eq!(
        code(&post_from(&direct, "198.51.100.99", signup(99)).await),
        Some("RATE_LIMITED")
    );
}

#[tokio::test]
async fn limits_can_be_switched_off() {
    let app = spawn_app_with(|c| c.limits.enabled = false).await;
    for _ in 0..15 {
        let r = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "x@example.com", "password": WRONG } }),
            )
            .await;
        assert_eq!(code(&r), Some("INVALID_CREDENTIALS"));
    }
}

/// Guessing by email and by username of one account counts once, not twice.
#[tokio::test]
async fn email_and_username_guesses_share_one_account_bucket() {
    let app = spawn_app().await;
    let r = app
        .gql(
            SIGNUP,
            json!({ "input": { "email": "both@example.com", "password": PASSWORD, "username": "both_names" } }),
        )
        .await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
    let link = app.mail.wait_for("both@example.com").await.link();
    app.press_confirm(&link).await;
    let by_username = |password: &str| json!({ "query": LOGIN, "variables": { "input": { "username": "both_names", "password": password } } });
    for i in 0..10 {
        let r = if i % 2 == 0 {
            post_from(&app, &format!("192.0.2.{i}"), by_username(WRONG)).await
        } else {
            app.login("both@example.com", WRONG).await
        };
        assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{i}: {r}");
    }
    assert_eq!(
        code(&app.login("both@example.com", PASSWORD).await),
        Some("RATE_LIMITED")
    );
    assert_eq!(
        code(&post_from(&app, "192.0.2.99", by_username(PASSWORD)).await),
        Some("RATE_LIMITED")
    );
}

/// One IPv6 host holds a whole /64: it is one client.
#[tokio::test]
async fn an_ipv6_64_is_one_client() {
    let app = spawn_app_with(|c| c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let signup = |i: usize| json!({ "query": SIGNUP, "variables": { "input": { "email": format!("v6-{i}@example.com"), "password": PASSWORD } } });
    for i in 0..20 {
        let r = post_from(&app, &format!("2001:db8:1:2::{i:x}"), signup(i)).await;
        assert!(r.get("errors").is_none(), "{r}");
    }
    let same_64 = post_from(&app, "2001:db8:1:2:ffff:ffff:ffff:ffff", signup(20)).await;
    assert_eq!(code(&same_64), Some("RATE_LIMITED"));
    let next_64 = post_from(&app, "2001:db8:1:3::1", signup(21)).await;
    assert!(
        next_64.get("errors").is_none(),
        "another /64 is another client: {next_64}"
    );
}

/// Sign-ups mail the address (a confirmation link, or "this address is
/// registered"): they count in the client's mail bucket for that address
/// like forgotPassword, and alike whether or not the address is registered.
#[tokio::test]
async fn sign_ups_count_in_the_clients_mail_limit_for_the_address() {
    let app = spawn_app_with(|c| c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    app.confirmed_user("taken@example.com").await;
    let signup =
        |email: &str| json!({ "query": SIGNUP, "variables": { "input": { "email": email, "password": PASSWORD } } });
    for email in ["taken@example.com", "free@example.com"] {
        for _ in 0..3 {
            let r = post_from(&app, "203.0.113.1", signup(email)).await;
            assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
        }
        let r = post_from(&app, "203.0.113.1", signup(email)).await;
        assert_eq!(code(&r), Some("RATE_LIMITED"), "{email}: {r}");
        let r = post_from(&app, "203.0.113.2", signup(email)).await;
        assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "another client: {r}");
    }
    let forgot = json!({ "query": "mutation($e: String!) { forgotPassword(email: $e) }", "variables": { "e": "free@example.com" } });
    assert_eq!(
        code(&post_from(&app, "203.0.113.1", forgot).await),
        Some("RATE_LIMITED")
    );
}

/// Anonymous callers can empty an address's mail bucket with forgotPassword;
/// the signed-in owner's step-up code comes from a bucket only they spend.
#[tokio::test]
async fn the_owner_gets_codes_whatever_strangers_did_to_the_address() {
    let app = spawn_app().await;
    let owner = app.user_with_tokens("owner@example.com").await;
    let forgot = "mutation($e: String!) { forgotPassword(email: $e) }";
    let mut limited = false;
    for _ in 0..5 {
        limited |= code(&app.gql(forgot, json!({ "e": "owner@example.com" })).await) == Some("RATE_LIMITED");
    }
    assert!(limited, "the address's bucket is empty");
    let before = app.mail.to("owner@example.com").len();
    let sent = app.gql_as(&owner.access, "mutation { sendOtp }", json!({})).await;
    assert_eq!(sent["data"]["sendOtp"], true, "{sent}");
    let code_mail = app.mail.wait_for_nth("owner@example.com", before + 1).await;
    assert!(code_mail.text().chars().filter(char::is_ascii_digit).count() >= 6);
}

/// A stranger's requests for an address spend that client's bucket for it,
/// not the owner's: the owner still gets their own mail from their client.
#[tokio::test]
async fn strangers_cannot_spend_the_owners_mail_quota() {
    let app = spawn_app_with(|c| c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let owner = "mine@example.com";
    let signup = json!({ "query": SIGNUP, "variables": { "input": { "email": owner, "password": PASSWORD } } });
    let r = post_from(&app, "198.51.100.7", signup).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
    let forgot = json!({ "query": "mutation($e: String!) { forgotPassword(email: $e) }", "variables": { "e": owner } });
    for _ in 0..2 {
        let r = post_from(&app, "203.0.113.66", forgot.clone()).await;
        assert_eq!(r["data"]["forgotPassword"], true, "{r}");
    }
    let resend =
        json!({ "query": "mutation($e: String!) { resendConfirmation(email: $e) }", "variables": { "e": owner } });
    let r = post_from(&app, "198.51.100.7", resend).await;
    assert_eq!(r["data"]["resendConfirmation"], true, "{r}");
    // The sign-up's link, two reset links, and the owner's new link.
    app.mail.wait_for_nth(owner, 4).await;
    let links = app.mail.to(owner);
    let confirmations = links.iter().filter(|m| m.subject() == links[0].subject()).count();
    assert_eq!(confirmations, 2, "the owner's resent link arrived");
}

/// MAIL_DAILY bounds what one address receives in a day, from however many
/// clients; past it the answer is the same and nothing is sent.
#[tokio::test]
async fn the_twenty_first_mail_of_a_day_to_one_address_is_not_sent() {
    let app = spawn_app_with(|c| c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let target = "flooded@example.com";
    let signup = json!({ "query": SIGNUP, "variables": { "input": { "email": target, "password": PASSWORD } } });
    // Sign-ups of an address nobody confirmed each mail it a new link, before the answer.
    for n in 0..21 {
        let r = post_from(&app, &format!("203.0.113.{}", n / 3), signup.clone()).await;
        assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "#{n}: {r}");
    }
    let mailed = format!("SELECT COUNT(*) AS n FROM mail_outbox WHERE recipient = '{target}'");
    assert_eq!(app.scalar(&mailed).await, 20);
    let forgot =
        json!({ "query": "mutation($e: String!) { forgotPassword(email: $e) }", "variables": { "e": target } });
    let r = post_from(&app, "203.0.113.99", forgot).await;
    assert_eq!(r["data"]["forgotPassword"], true, "no signal to the sender: {r}");
    // Other addresses are not affected.
    let r = post_from(
        &app,
        "203.0.113.99",
        json!({ "query": SIGNUP, "variables": { "input": { "email": "calm@example.com", "password": PASSWORD } } }),
    )
    .await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
}
