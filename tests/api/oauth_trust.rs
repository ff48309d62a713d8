//! Linking by address only for providers trusted to verify addresses
//! (`*_LINK_BY_EMAIL`): any other provider's new identity whose address is
//! taken is refused, never linked, and the owner of the address is told.

use serde_json::json;

use crate::helpers::{PASSWORD, code};
use crate::oauth::{APP_CLIENT_ID, NATIVE, app_with_settings, sign_in, signed_in_user};
use crate::oidc_provider::Provider;

#[tokio::test]
async fn an_untrusted_provider_cannot_sign_in_to_the_account_that_has_its_address() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |p| p.link_by_email = false).await;
    let owner = app.user_with_tokens("grace@example.com").await;
    // The provider's tenant administrator typed the victim's address and the provider calls it verified.
    provider.sign_in_as("grace-lookalike", "grace@example.com", true);
    assert_eq!(sign_in(&app).await, Err("FORBIDDEN".to_owned()), "the browser flow");
    let token = provider.id_token_for("grace-lookalike", "grace@example.com", APP_CLIENT_ID, None);
    let r = app.gql(NATIVE, json!({ "t": token })).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "signInWithIdToken: {r}");
    assert_eq!(app.count("identities").await, 0, "nothing was linked");
    let kinds = app.event_kinds(&owner.access).await;
    assert!(kinds.iter().any(|k| k == "PROVIDER_SIGN_IN_REFUSED"), "{kinds:?}");
    let notice = app.mail.wait_for_nth("grace@example.com", 2).await;
    assert_eq!(notice.subject(), "A sign-in with your email address was refused");
    assert!(
        app.login("grace@example.com", PASSWORD).await["data"]["login"]["auth"].is_object(),
        "the owner's password is untouched"
    );

    // A free address still makes a new account; its identity then signs in to it.
    provider.sign_in_as("hugo-1", "hugo@example.com", true);
    let hugo = signed_in_user(&app).await;
    assert_eq!(hugo["email"], "hugo@example.com");
    assert_eq!(signed_in_user(&app).await["id"], hugo["id"]);
}

/// An account nobody confirmed is not claimed through an untrusted provider either.
#[tokio::test]
async fn an_untrusted_provider_does_not_claim_an_unconfirmed_account() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |p| p.link_by_email = false).await;
    app.signup("ivan@example.com", PASSWORD).await;
    provider.sign_in_as("ivan-elsewhere", "ivan@example.com", true);
    assert_eq!(sign_in(&app).await, Err("FORBIDDEN".to_owned()));
    assert_eq!(app.count("identities").await, 0);
}

/// A trusted provider's identity for a taken address links to that account
/// and signs in to it at once, from the browser flow and from an app: the
/// link renews the stamp, and the sign-in that made it holds the new one.
#[tokio::test]
async fn a_trusted_provider_links_by_address_and_signs_in_at_once() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |p| p.link_by_email = true).await;
    app.user_with_tokens("jana@example.com").await;
    let token = provider.id_token_for("jana-1", "jana@example.com", APP_CLIENT_ID, None);
    let r = app.gql(NATIVE, json!({ "t": token })).await;
    assert_eq!(
        r["data"]["signInWithIdToken"]["auth"]["user"]["email"], "jana@example.com",
        "signInWithIdToken: {r}"
    );
    assert_eq!(app.count("identities").await, 1);

    app.user_with_tokens("karl@example.com").await;
    provider.sign_in_as("karl-1", "karl@example.com", true);
    assert_eq!(
        signed_in_user(&app).await["email"],
        "karl@example.com",
        "the browser flow"
    );
}
