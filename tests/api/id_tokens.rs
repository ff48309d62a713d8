//! `signInWithIdToken` against a provider on loopback: an ID token signs in
//! once, on any instance; a provider may require a nonce; a token issued in
//! the future is refused.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, code, spawn_app_beside};
use crate::oauth::{APP_CLIENT_ID, NATIVE, app_with_settings};
use crate::oidc_provider::Provider;

fn signed_in(r: &Value) -> bool {
    r["data"]["signInWithIdToken"]["auth"]["accessToken"].is_string()
}

#[tokio::test]
async fn an_id_token_signs_in_once_on_any_instance() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |_| {}).await;
    let other = spawn_app_beside(&app, |_| {}).await;
    let token = provider.id_token_for("nina-1", "nina@example.com", APP_CLIENT_ID, Some("n-1"));
    let first = app.gql(NATIVE, json!({ "t": token, "n": "n-1" })).await;
    assert!(signed_in(&first), "{first}");
    // Whoever else got hold of it (a log, a proxy, a malicious app) signs in nowhere.
    for instance in [&app, &other] {
        let again = instance.gql(NATIVE, json!({ "t": token, "n": "n-1" })).await;
        assert_eq!(code(&again), Some("INVALID_TOKEN"), "{again}");
    }
    // The person's next token from the SDK still works.
    let next = provider.id_token_for("nina-1", "nina@example.com", APP_CLIENT_ID, Some("n-2"));
    assert!(signed_in(&other.gql(NATIVE, json!({ "t": next, "n": "n-2" })).await));
}

#[tokio::test]
async fn two_tokens_with_one_jti_are_one_token() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |_| {}).await;
    let token = |nonce: &str, jti: &str| {
        provider.id_token_with(
            "omar-1",
            "omar@example.com",
            APP_CLIENT_ID,
            Some(nonce),
            json!({ "jti": jti }),
        )
    };
    let first = token("a", "jti-7");
    assert!(signed_in(&app.gql(NATIVE, json!({ "t": first, "n": "a" })).await));
    let same_id = token("b", "jti-7");
    assert_ne!(first, same_id);
    let r = app.gql(NATIVE, json!({ "t": same_id, "n": "b" })).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    let another = token("c", "jti-8");
    assert!(signed_in(&app.gql(NATIVE, json!({ "t": another, "n": "c" })).await));
}

#[tokio::test]
async fn a_provider_that_requires_a_nonce_refuses_a_token_without_one() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |p| p.require_nonce = true).await;
    let bare = provider.id_token_for("pia-1", "pia@example.com", APP_CLIENT_ID, None);
    for variables in [
        json!({ "t": bare }),
        json!({ "t": bare, "n": "" }),
        json!({ "t": bare, "n": "x" }),
    ] {
        let r = app.gql(NATIVE, variables.clone()).await;
        assert_eq!(code(&r), Some("INVALID_TOKEN"), "{variables}: {r}");
    }
    let token = provider.id_token_for("pia-1", "pia@example.com", APP_CLIENT_ID, Some("Nonce-1"));
    // The app must say which nonce it sent, exactly as it sent it.
    for variables in [json!({ "t": token }), json!({ "t": token, "n": "nonce-1" })] {
        let r = app.gql(NATIVE, variables.clone()).await;
        assert_eq!(code(&r), Some("INVALID_TOKEN"), "{variables}: {r}");
    }
    let r = app.gql(NATIVE, json!({ "t": token, "n": "Nonce-1" })).await;
    assert!(signed_in(&r), "{r}");
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn an_id_token_issued_in_the_future_is_refused() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |_| {}).await;
    let now = chrono::Utc::now().timestamp();
    let issued_at = |ahead: i64| {
        provider.id_token_with(
            "quin-1",
            "quin@example.com",
            APP_CLIENT_ID,
            None,
            json!({ "iat": now + ahead, "exp": now + ahead + 300 }),
        )
    };
    let r = app.gql(NATIVE, json!({ "t": issued_at(300) })).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    assert_eq!(app.count("users").await, 0);
    // A provider's clock a little ahead of ours is tolerated.
    let r = app.gql(NATIVE, json!({ "t": issued_at(20) })).await;
    assert!(signed_in(&r), "{r}");
}

#[tokio::test]
async fn a_spent_id_token_is_forgotten_by_the_scheduled_prune_once_it_has_expired() {
    use authql::entities::used_id_tokens::{Column, Entity};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |_| {}).await;
    for (sub, nonce) in [("rita-1", "r-1"), ("sam-1", "s-1")] {
        let token = provider.id_token_for(sub, &format!("{sub}@example.com"), APP_CLIENT_ID, Some(nonce));
        assert!(signed_in(&app.gql(NATIVE, json!({ "t": token, "n": nonce })).await));
    }
    authql::jobs::prune(&app.state).await.unwrap();
    assert_eq!(app.count("used_id_tokens").await, 2, "live tokens are remembered");
    let first = Entity::find().one(&app.state.db.read).await.unwrap().unwrap();
    Entity::update_many()
        .col_expr(
            Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(Column::Id.eq(first.id))
        .exec(app.state.db.writer())
        .await
        .unwrap();
    assert!(authql::jobs::prune(&app.state).await.unwrap() >= 1);
    assert_eq!(app.count("used_id_tokens").await, 1, "only the expired one went");
}

/// A spent token is refused before anything else happens: replayed after
/// its owner unlinked the provider, it does not link it again.
#[tokio::test]
async fn a_replayed_id_token_does_not_relink_what_its_owner_unlinked() {
    let provider = Provider::start().await;
    let app = app_with_settings(&provider, |p| p.link_by_email = true).await;
    app.confirmed_user("olga@example.com").await;
    let token = provider.id_token_for("olga-1", "olga@example.com", APP_CLIENT_ID, None);
    assert!(signed_in(&app.gql(NATIVE, json!({ "t": token })).await));
    assert_eq!(app.count("identities").await, 1);

    let access = app.login_tokens("olga@example.com", PASSWORD).await.access;
    let r = app
        .gql_as(
            &access,
            "mutation { unlinkIdentity(provider: \"test\") { providers } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["unlinkIdentity"]["providers"], json!(["password"]), "{r}");

    let again = app.gql(NATIVE, json!({ "t": token })).await;
    assert_eq!(code(&again), Some("INVALID_TOKEN"), "{again}");
    assert_eq!(app.count("identities").await, 0, "the replay linked nothing");
}
