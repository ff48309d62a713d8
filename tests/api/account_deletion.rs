//! Deleting one's own account: with its password when it has one, with a
//! recent proof of identity (the step-up rule) when it has none.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, code, spawn_app};
use crate::oidc_provider::{CLIENT_ID, Provider};

const DELETE_WITH: &str = "mutation($p: String) { deleteAccount(password: $p) }";
const DELETE: &str = "mutation { deleteAccount }";

/// authql with `provider` configured as `test`.
async fn app_with(provider: &Provider) -> TestApp {
    crate::oauth::app_with_settings(provider, |_| {}).await
}

/// The access token of a sign-in with the provider to the account of
/// `email`, made by the first such sign-in without a password. `nonce`
/// makes each ID token a new one (each is accepted once).
async fn provider_only(app: &TestApp, provider: &Provider, email: &str, nonce: &str) -> String {
    let token = provider.id_token_for(&format!("sub-{email}"), email, CLIENT_ID, Some(nonce));
    let r = app
        .gql(
            "mutation($t: String!) { signInWithIdToken(provider: \"test\", idToken: $t) { auth { accessToken } } }",
            json!({ "t": token }),
        )
        .await;
    r["data"]["signInWithIdToken"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

#[tokio::test]
async fn an_account_without_a_password_deletes_itself_with_a_recent_proof() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;

    let access = provider_only(&app, &provider, "pia@example.com", "first").await;
    crate::account_security::age_sessions(&app, "pia@example.com").await;
    let r = app.gql_as(&access, DELETE, json!({})).await;
    assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "an old session is no proof: {r}");
    assert_eq!(app.count("users").await, 1);

    let access = provider_only(&app, &provider, "pia@example.com", "second").await;
    let r = app.gql_as(&access, DELETE, json!({})).await;
    assert_eq!(r["data"]["deleteAccount"], true, "a fresh sign-in is: {r}");
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn an_account_with_a_password_must_give_it() {
    let app = spawn_app().await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let r = app.gql_as(&ann.access, DELETE, json!({})).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "password", "{r}");
    let r = app
        .gql_as(&ann.access, DELETE_WITH, json!({ "p": "not-the-password" }))
        .await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{r}");
    assert_eq!(app.count("users").await, 1);
    let r = app.gql_as(&ann.access, DELETE_WITH, json!({ "p": PASSWORD })).await;
    assert_eq!(r["data"]["deleteAccount"], true, "{r}");
    assert_eq!(app.count("users").await, 0);
}
