//! Hooks the app's backend answers: the sign-up hook can refuse (nothing is
//! written), the access-token hook adds claims kept for the session's
//! refreshes but cannot replace authql's own, and a hook that hangs or
//! fails is cut off under its documented policy.

use std::time::Duration;

use authql::config::Config;
use authql::config::integrations::OnFailure;
use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{LOGIN, PASSWORD, SIGNUP, code, spawn_app_with};
use crate::jwks::verify_with_jwks;
use crate::webhook_receiver::Receiver;

/// The HOOK_SECRET of these tests.
pub const SECRET: &str = "whsec_aG9vay1zZWNyZXQtb2YtdGhlLWhvb2stdGVzdHMtMDEyMzQ1";

pub fn hooks(config: &mut Config, signup: Option<&Receiver>, token: Option<&Receiver>) {
    config.hooks.before_signup = signup.map(|r| r.url().parse().unwrap());
    config.hooks.access_token = token.map(|r| r.url().parse().unwrap());
    config.hooks.key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    config.hooks.timeout = Duration::from_millis(500);
}

fn signup_input(email: &str) -> Value {
    json!({ "input": { "email": email, "password": PASSWORD, "displayName": "Ann" } })
}

#[tokio::test]
async fn the_signup_hook_can_refuse_and_then_nothing_is_written() {
    let hook = Receiver::start().await;
    hook.respond_with(|asked| {
        let email = asked["data"]["email"].as_str().unwrap_or_default();
        if email.ends_with("@example.org") {
            (200, json!({ "allow": true }))
        } else {
            (
                200,
                json!({ "allow": false, "message": "Only example.org addresses may sign up." }),
            )
        }
    });
    let app = spawn_app_with(|c| hooks(c, Some(&hook), None)).await;

    let refused = app.gql(SIGNUP, signup_input("ann@example.com")).await;
    assert_eq!(code(&refused), Some("FORBIDDEN"), "{refused}");
    assert_eq!(
        refused["errors"][0]["message"],
        "Only example.org addresses may sign up."
    );
    assert_eq!(app.count("users").await, 0, "nothing written");
    assert_eq!(app.count("mail_outbox").await, 0, "nothing mailed");

    let allowed = app.gql(SIGNUP, signup_input("bob@example.org")).await;
    assert_eq!(allowed["data"]["signup"]["confirmationRequired"], true, "{allowed}");
    app.press_confirm(&app.mail.wait_for("bob@example.org").await.link())
        .await;
    // A taken address asks the hook alike, and answers alike.
    let again = app.gql(SIGNUP, signup_input("bob@example.org")).await;
    assert_eq!(again, allowed, "a taken address answers as a free one");

    let asked = hook.hits();
    assert_eq!(asked.len(), 3, "asked for every sign-up, taken or not");
    for hit in &asked {
        assert!(hit.signed_by(SECRET), "signed with HOOK_SECRET: {}", hit.signature);
        assert!(!hit.body.contains(PASSWORD), "never the password: {}", hit.body);
        let body = hit.json();
        assert_eq!(body["type"], "user.before_signup", "{body}");
        assert_eq!(body["data"]["provider"], "password", "{body}");
        assert_eq!(body["data"]["displayName"], "Ann", "{body}");
    }
}

#[tokio::test]
async fn a_hanging_signup_hook_is_cut_at_its_timeout_under_its_policy() {
    let hook = Receiver::start().await;
    hook.slow_down(Duration::from_secs(30));
    let deny = spawn_app_with(|c| hooks(c, Some(&hook), None)).await;
    let r = deny.gql(SIGNUP, signup_input("ann@example.org")).await;
    assert_eq!(code(&r), Some("SERVICE_UNAVAILABLE"), "deny by default: {r}");
    assert_eq!(deny.count("users").await, 0);

    let allow = spawn_app_with(|c| {
        hooks(c, Some(&hook), None);
        c.hooks.signup_on_failure = OnFailure::Allow;
    })
    .await;
    let r = allow.gql(SIGNUP, signup_input("ann@example.org")).await;
    assert_eq!(
        r["data"]["signup"]["confirmationRequired"], true,
        "allow: the sign-up goes ahead: {r}"
    );
    assert_eq!(hook.hits().len(), 2, "each was asked");

    // An answer that is not one counts as a failure too.
    hook.slow_down(Duration::ZERO);
    hook.respond_with(|_| (200, json!({ "yes": "please" })));
    let r = deny.gql(SIGNUP, signup_input("bob@example.org")).await;
    assert_eq!(code(&r), Some("SERVICE_UNAVAILABLE"), "{r}");
    hook.respond_with(|_| (500, json!({ "allow": true })));
    let r = deny.gql(SIGNUP, signup_input("bob@example.org")).await;
    assert_eq!(code(&r), Some("SERVICE_UNAVAILABLE"), "{r}");
    assert_eq!(deny.count("users").await, 0);
}

#[tokio::test]
async fn the_token_hook_adds_claims_for_the_session_but_cannot_replace_sub_or_role() {
    let hook = Receiver::start().await;
    hook.respond_with(|_| {
        (
            200,
            json!({ "claims": {
                "tenant": "acme",
                "scopes": ["read", "write"],
                "sub": "someone-else",
                "role": "ADMIN",
                "app_metadata": { "plan": "free-forever" },
                "exp": 4_102_444_800_i64,
            } }),
        )
    });
    let app = spawn_app_with(|c| hooks(c, None, Some(&hook))).await;
    app.confirmed_user("ann@example.com").await;
    let login = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "ann@example.com", "password": PASSWORD } }),
        )
        .await;
    let access = login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = login["data"]["login"]["auth"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = app.me(&access).await["data"]["me"]["id"].as_str().unwrap().to_owned();

    let claims = verify_with_jwks(&app, &access).await;
    assert_eq!(claims["tenant"], "acme", "{claims}");
    assert_eq!(claims["scopes"], json!(["read", "write"]), "{claims}");
    assert_eq!(claims["sub"], id.as_str(), "sub stays authql's: {claims}");
    assert_eq!(claims["role"], "USER", "role stays authql's: {claims}");
    assert_eq!(claims["app_metadata"], json!({}), "{claims}");
    assert!(claims["exp"].as_i64().unwrap() < 4_102_444_800, "{claims}");

    let asked = hook.hits();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].signed_by(SECRET));
    let body = asked[0].json();
    assert_eq!(body["type"], "session.access_token", "{body}");
    assert_eq!(
        body["data"]["claims"]["sub"],
        id.as_str(),
        "the claims about to be signed: {body}"
    );
    assert_eq!(body["data"]["email"], "ann@example.com");

    // Refreshes copy the claims without asking the hook again.
    let refreshed = app.refresh(&refresh).await;
    let again = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    let claims = verify_with_jwks(&app, again).await;
    assert_eq!(claims["tenant"], "acme", "{claims}");
    assert_eq!(claims["role"], "USER");
    assert_eq!(hook.hits().len(), 1, "a refresh never waits on the hook");
    assert!(app.me(again).await["errors"].is_null());
}

#[tokio::test]
async fn a_failing_token_hook_signs_in_without_claims_or_refuses_under_deny() {
    let hook = Receiver::start().await;
    hook.respond_with(|_| (500, json!({ "claims": { "tenant": "acme" } })));
    let allow = spawn_app_with(|c| hooks(c, None, Some(&hook))).await;
    let tokens = allow.user_with_tokens("ann@example.com").await;
    let claims = verify_with_jwks(&allow, &tokens.access).await;
    assert!(
        claims.get("tenant").is_none(),
        "allowed, without extra claims: {claims}"
    );

    hook.respond_with(|_| (200, json!({ "claims": { "blob": "x".repeat(2000) } })));
    let deny = spawn_app_with(|c| {
        hooks(c, None, Some(&hook));
        c.hooks.token_on_failure = OnFailure::Deny;
    })
    .await;
    deny.confirmed_user("bob@example.com").await;
    let refused = deny.login("bob@example.com", PASSWORD).await;
    assert_eq!(
        code(&refused),
        Some("SERVICE_UNAVAILABLE"),
        "over 1 KiB of claims fails: {refused}"
    );
    assert_eq!(
        deny.scalar("SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL")
            .await,
        0,
        "no session is left open"
    );
}

#[tokio::test]
async fn a_provider_sign_up_asks_the_signup_hook_and_a_sign_in_does_not() {
    let hook = Receiver::start().await;
    hook.respond_with(|asked| {
        let allow = asked["data"]["email"] != "mallory@example.com";
        (200, json!({ "allow": allow, "message": "Not you, Mallory." }))
    });
    let provider = crate::oidc_provider::Provider::start().await;
    let app = crate::oauth::app_with_config(&provider, |_| {}, |c| hooks(c, Some(&hook), None)).await;

    provider.sign_in_as("mallory-1", "mallory@example.com", true);
    assert_eq!(crate::oauth::sign_in(&app).await, Err("FORBIDDEN".to_owned()));
    assert_eq!(app.count("users").await, 0, "no account made");
    let asked = hook.hits();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].json()["data"]["provider"], "test");
    assert_eq!(asked[0].json()["data"]["email"], "mallory@example.com");

    provider.sign_in_as("alice-1", "alice@example.com", true);
    assert!(crate::oauth::sign_in(&app).await.is_ok(), "allowed");
    assert_eq!(app.count("users").await, 1);
    // Signing in again to the account it made is no sign-up.
    assert!(crate::oauth::sign_in(&app).await.is_ok());
    assert_eq!(hook.hits().len(), 2, "asked for the two sign-ups only");
}

/// A passkey sign-up asks the sign-up hook at its start, before anyone
/// touches an authenticator, with `provider: "passkey"`.
#[tokio::test]
async fn a_passkey_sign_up_asks_the_signup_hook_at_its_start() {
    let hook = Receiver::start().await;
    hook.respond_with(|_| (200, json!({ "allow": false, "message": "Not today." })));
    let app = spawn_app_with(|c| {
        hooks(c, Some(&hook), None);
        c.webauthn = crate::passkeys::passkey_config();
    })
    .await;
    let r = app
        .gql(
            crate::passkey_signup::START_SIGNUP,
            json!({ "i": { "email": "pia@example.com" } }),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
    assert_eq!(r["errors"][0]["message"], "Not today.");
    assert_eq!(app.count("passkey_ceremonies").await, 0, "no ceremony started");
    let asked = hook.hits();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].json()["data"]["provider"], "passkey", "{}", asked[0].body);
}

/// App metadata and a token hook's claims, each at its cap, still make a
/// token authql accepts: the caps are what an access token may carry.
#[tokio::test]
async fn a_token_with_metadata_and_hook_claims_at_their_caps_is_accepted() {
    let hook = Receiver::start().await;
    // About a kilobyte of claims, just under the hook's cap.
    hook.respond_with(|_| (200, json!({ "claims": { "perms": "p".repeat(1000) } })));
    let app = spawn_app_with(|c| hooks(c, None, Some(&hook))).await;
    let root = crate::admin::admin(&app).await.access;
    let ann = app.user_with_tokens("ann@example.com").await;
    let id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // About two kilobytes of metadata, just under its cap.
    let metadata = json!({ "notes": "m".repeat(2030) });
    let set = app
        .gql_as(
            &root,
            "mutation($id: ID!, $m: JSON!) { setAppMetadata(id: $id, metadata: $m) { id } }",
            json!({ "id": id, "m": metadata }),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    // The metadata is in place before the sign-in asks the hook.
    let signed_in = app.login_tokens("ann@example.com", PASSWORD).await;
    let refreshed = app.refresh(&signed_in.refresh).await;
    let access = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    let claims = verify_with_jwks(&app, access).await;
    assert_eq!(claims["perms"].as_str().map(str::len), Some(1000), "both at their caps");
    assert!(access.len() > 4096, "a large token: {} bytes", access.len());
    let me = app.me(access).await;
    assert_eq!(me["data"]["me"]["id"], id.as_str(), "the token is accepted: {me}");
}

/// Without confirmation a sign-up signs in at once; when the token hook
/// then fails under `deny`, the account is made all the same and the answer
/// says so (no tokens: the app logs in), rather than an error that leaves a
/// retry to find the address taken.
#[tokio::test]
async fn a_sign_up_whose_token_hook_fails_under_deny_is_made_without_tokens() {
    let hook = Receiver::start().await;
    hook.respond_with(|_| (500, json!({})));
    let app = spawn_app_with(|c| {
        hooks(c, None, Some(&hook));
        c.hooks.token_on_failure = OnFailure::Deny;
        c.require_email_confirmation = false;
    })
    .await;
    let r = app.gql(SIGNUP, signup_input("cid@example.com")).await;
    assert!(r["errors"].is_null(), "the account is made: {r}");
    assert_eq!(r["data"]["signup"]["confirmationRequired"], false, "{r}");
    assert!(
        r["data"]["signup"]["auth"].is_null(),
        "no tokens while the hook fails: {r}"
    );
    assert_eq!(app.count("users").await, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL")
            .await,
        0,
        "no session is left open"
    );
    hook.respond_with(|_| (200, json!({ "claims": {} })));
    assert!(app.login("cid@example.com", PASSWORD).await["data"]["login"]["auth"].is_object());
}
