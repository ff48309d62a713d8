//! REQUIRE_MFA: accounts that must have a second factor and have none sign
//! in, but can do nothing else until they enrol one.

use authql::config::RequireMfa;
use serde_json::{Value, json};

use crate::admin::admin;
use crate::helpers::{TestApp, Tokens, code, spawn_app_with};

const ENROL_FIRST: &str = "turn on two-step verification first";

fn refused_until_enrolled(r: &Value) {
    assert_eq!(code(r), Some("FORBIDDEN"), "{r}");
    let message = r["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(ENROL_FIRST), "the message says what to do: {message}");
}

/// Enrols TOTP for `tokens`' account, as an authenticator app would.
async fn enrol(app: &TestApp, tokens: &Tokens, email: &str) {
    let setup = app
        .gql_as(&tokens.access, "mutation { setupMfa { secret } }", json!({}))
        .await;
    let secret = setup["data"]["setupMfa"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("enrolling is allowed: {setup}"));
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .with_account_name(email.to_owned())
        .build()
        .unwrap();
    let enabled = app
        .gql_as(
            &tokens.access,
            "mutation($c: String!) { enableMfa(code: $c) { codes } }",
            json!({ "c": totp.generate_current().to_string() }),
        )
        .await;
    assert!(enabled["data"]["enableMfa"]["codes"].is_array(), "{enabled}");
}

#[tokio::test]
async fn by_default_an_administrator_without_a_second_factor_must_enrol_before_anything_else() {
    let app = spawn_app_with(|c| c.mfa.require = RequireMfa::Admins).await;
    let root = admin(&app).await;
    refused_until_enrolled(&app.gql_as(&root.access, "{ users { totalCount } }", json!({})).await);
    refused_until_enrolled(&app.gql_as(&root.access, "{ sessions { id } }", json!({})).await);
    let me = app.me(&root.access).await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN", "me is allowed: {me}");
    // Users are not concerned.
    let ann = app.user_with_tokens("ann@example.com").await;
    assert!(code(&app.gql_as(&ann.access, "{ sessions { id } }", json!({})).await).is_none());

    enrol(&app, &root, "root@example.com").await;
    let users = app.gql_as(&root.access, "{ users { totalCount } }", json!({})).await;
    assert_eq!(users["data"]["users"]["totalCount"], 2, "{users}");
    // The owner's panic buttons always work.
    let out = app.gql_as(&root.access, "mutation { logoutAll }", json!({})).await;
    assert_eq!(out["data"]["logoutAll"], 1, "{out}");
}

#[tokio::test]
async fn with_all_every_account_must_enrol_and_logout_still_works() {
    let app = spawn_app_with(|c| c.mfa.require = RequireMfa::All).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    refused_until_enrolled(
        &app.gql_as(
            &ann.access,
            "mutation { updateProfile(input: { displayName: \"Ann\" }) { displayName } }",
            json!({}),
        )
        .await,
    );
    let out = app.gql_as(&ann.access, "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");

    let ann = app.login_tokens("ann@example.com", crate::helpers::PASSWORD).await;
    enrol(&app, &ann, "ann@example.com").await;
    let r = app
        .gql_as(
            &ann.access,
            "mutation { updateProfile(input: { displayName: \"Ann\" }) { displayName } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["updateProfile"]["displayName"], "Ann", "{r}");
}

#[tokio::test]
async fn off_asks_nothing() {
    let app = spawn_app_with(|c| c.mfa.require = RequireMfa::Off).await;
    let root = admin(&app).await;
    let users = app.gql_as(&root.access, "{ users { totalCount } }", json!({})).await;
    assert_eq!(users["data"]["users"]["totalCount"], 1, "{users}");
}
