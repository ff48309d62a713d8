//! Access tokens verify with the JWKS document alone, across key rotation.

use authql::tokens::keys;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sea_orm::EntityTrait;
use serde_json::Value;

use crate::helpers::spawn_app;

pub async fn verify_with_jwks(app: &crate::helpers::TestApp, token: &str) -> Value {
    // Everything an offline verifier needs: the JWKS, the issuer and the audience.
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.expect("a kid header");
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["authql"]);
    validation.set_issuer(&[app.address.as_str()]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("verifies")
        .claims
}

#[tokio::test]
async fn a_token_verifies_with_the_jwks_document_alone() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("jwks@example.com").await;
    let claims = verify_with_jwks(&app, &tokens.access).await;
    let me = app.me(&tokens.access).await;
    assert_eq!(claims["sub"], me["data"]["me"]["id"]);
    assert_eq!(claims["role"], "USER");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].is_string());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 1800);
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let app = spawn_app().await;
    let before = app.user_with_tokens("rotate@example.com").await;
    let old_kid = jsonwebtoken::decode_header(&before.access).unwrap().kid.unwrap();

    // A scheduled rotation publishes the new key first; the old one keeps signing.
    let (db, crypto) = (&app.state.db, &app.state.crypto);
    let next_kid = keys::rotate(db, crypto, keys::ROTATION_DELAY).await.unwrap();
    app.state.keys.reload(db, crypto).await.unwrap();
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    assert!(jwks.find(&next_kid).is_some(), "published ahead of use");
    let meanwhile = app.login_tokens("rotate@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(
        jsonwebtoken::decode_header(&meanwhile.access).unwrap().kid.unwrap(),
        old_kid
    );

    // An immediate rotation (after a compromise) signs with the new key at once.
    let new_kid = keys::rotate(db, crypto, std::time::Duration::ZERO).await.unwrap();
    app.state.keys.reload(db, crypto).await.unwrap();
    assert_ne!(old_kid, new_kid);
    let rows = authql::entities::signing_keys::Entity::find()
        .all(&db.read)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    for k in rows.iter().filter(|k| k.kid != new_kid) {
        assert!(
            k.retired_at.is_some_and(|at| at <= now),
            "{} stopped signing at once",
            k.kid
        );
    }

    let after = app.login_tokens("rotate@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(
        jsonwebtoken::decode_header(&after.access).unwrap().kid.unwrap(),
        new_kid
    );
    // Both keys are published; both tokens verify offline and online.
    verify_with_jwks(&app, &before.access).await;
    verify_with_jwks(&app, &after.access).await;
    assert_eq!(
        app.me(&before.access).await["data"]["me"]["email"],
        "rotate@example.com"
    );
    assert_eq!(app.me(&after.access).await["data"]["me"]["email"], "rotate@example.com");
}

/// A leaked key: `keygen --now --revoke-previous` removes it from the JWKS and from verification.
#[tokio::test]
async fn a_revoked_key_leaves_the_jwks_and_its_tokens_stop_working() {
    let app = spawn_app().await;
    let before = app.user_with_tokens("leak@example.com").await;
    assert_eq!(app.me(&before.access).await["data"]["me"]["email"], "leak@example.com");
    let old_kid = jsonwebtoken::decode_header(&before.access).unwrap().kid.unwrap();

    let new_kid = keys::rotate_revoking_previous(&app.state.db, &app.state.crypto)
        .await
        .unwrap();
    app.state.sessions.reload_keys().await.unwrap();
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    assert!(jwks.find(&old_kid).is_none(), "the leaked key is no longer published");
    assert!(jwks.find(&new_kid).is_some());
    assert_eq!(
        crate::helpers::code(&app.me(&before.access).await),
        Some("UNAUTHENTICATED"),
        "a token the leaked key signed no longer works, though it was verified before"
    );
    let after = app.login_tokens("leak@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(
        jsonwebtoken::decode_header(&after.access).unwrap().kid.unwrap(),
        new_kid
    );
}
