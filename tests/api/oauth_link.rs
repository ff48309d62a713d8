//! Linking an identity completes in the app, by the account that asked:
//! the flow that `linkIdentity` starts ends with a link code that only that
//! account's `completeLinkIdentity` redeems, so a link address sent to
//! someone else links nothing of theirs.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code};
use crate::oauth::{app_with, browser, signed_in_user};
use crate::oidc_provider::Provider;

const LINK: &str = "mutation { linkIdentity(provider: \"test\") }";
const LINK_TO: &str = "mutation($r: String) { linkIdentity(provider: \"test\", redirectTo: $r) }";
pub const COMPLETE: &str = "mutation($c: String!) { completeLinkIdentity(code: $c) { provider email linkedAt } }";

/// The address `linkIdentity` gives the account of `access`.
async fn link_address(app: &TestApp, access: &str) -> String {
    let r = app.gql_as(access, LINK, json!({})).await;
    r["data"]["linkIdentity"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

/// Opens `address` in a browser: the query of where the flow ends.
async fn open(address: &str) -> Vec<(String, String)> {
    let end = browser().get(address).send().await.unwrap();
    assert!(end.status().as_u16() < 500, "{}", end.status());
    end.url()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn providers(app: &TestApp, access: &str) -> Value {
    app.gql_as(access, "{ me { providers } }", json!({})).await["data"]["me"]["providers"].clone()
}

#[tokio::test]
async fn a_link_address_sent_to_someone_else_links_nothing_of_theirs() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let mallory = app.user_with_tokens("mallory@example.com").await;
    let mallory_id = app.me(&mallory.access).await["data"]["me"]["id"].clone();
    let victim = app.user_with_tokens("victor@example.com").await;
    let address = link_address(&app, &mallory.access).await;

    // Victor opens Mallory's address; his browser is signed in at the provider as him.
    provider.sign_in_as("victor-at-provider", "victor@example.com", true);
    let end = open(&address).await;
    let link_code = param(&end, "link_code");
    if let Some(link_code) = &link_code {
        // Victor's app, signed in as Victor, finishes what it finds.
        let r = app.gql_as(&victim.access, COMPLETE, json!({ "c": link_code })).await;
        assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
        // Spent by that attempt: not even Mallory can use it now.
        let r = app.gql_as(&mallory.access, COMPLETE, json!({ "c": link_code })).await;
        assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
        let r = app.gql(COMPLETE, json!({ "c": link_code })).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    }
    assert_eq!(
        providers(&app, &mallory.access).await,
        json!(["password"]),
        "nothing linked to Mallory"
    );
    assert_ne!(
        signed_in_user(&app).await["id"],
        mallory_id,
        "Victor's provider account does not sign in to Mallory's account"
    );
    assert!(link_code.is_some(), "the flow ends with a link code: {end:?}");
}

#[tokio::test]
async fn the_owner_completes_a_link_once_and_a_stamp_change_makes_the_code_stale() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let me = app.user_with_tokens("mia@example.com").await;
    provider.sign_in_as("mia-elsewhere", "mia.work@example.org", true);

    let stale = param(&open(&link_address(&app, &me.access).await).await, "link_code").expect("a link code");
    let r = app
        .gql_as(
            &me.access,
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "Another-Horse-Battery-Staple-43" } }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let r = app.gql_as(&me.access, COMPLETE, json!({ "c": stale })).await;
    assert_eq!(
        code(&r),
        Some("INVALID_TOKEN"),
        "issued before the password change: {r}"
    );

    let code_now = param(&open(&link_address(&app, &me.access).await).await, "link_code").expect("a link code");
    let r = app.gql_as(&me.access, COMPLETE, json!({ "c": code_now })).await;
    assert_eq!(r["data"]["completeLinkIdentity"]["provider"], "test", "{r}");
    assert_eq!(r["data"]["completeLinkIdentity"]["email"], "mia.work@example.org");
    assert_eq!(
        code(&app.gql_as(&me.access, COMPLETE, json!({ "c": code_now })).await),
        Some("INVALID_TOKEN"),
        "a link code works once"
    );
    assert_eq!(providers(&app, &me.access).await, json!(["password", "test"]));
}

#[tokio::test]
async fn a_link_ends_where_the_app_asked_if_it_is_allowed() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let me = app.user_with_tokens("nell@example.com").await;
    let r = app
        .gql_as(&me.access, LINK_TO, json!({ "r": "https://evil.example.com/steal" }))
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "redirectTo");
}
