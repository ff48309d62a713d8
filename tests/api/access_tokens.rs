//! Access tokens are RFC 9068 JWTs (`typ: at+jwt`, `jti`, `client_id`), and
//! nothing else the signing key might sign passes for one.

use authql::config::AccessTokenTyp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code, spawn_app, spawn_app_with};

fn header(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).unwrap()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The claims of `token` signed again by the very key that signed it, under
/// a header of type `typ`: what any other use of the key could produce.
async fn resigned(app: &TestApp, token: &str, typ: Option<&str>) -> String {
    let kid = header(token).kid.unwrap();
    let row = authql::entities::signing_keys::Entity::find_by_id(kid.clone())
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    let der = app.state.crypto.open(&row.private_key, "signing_key").unwrap();
    let key = SigningKey::from_pkcs8_der(&der).unwrap();
    let mut header = json!({ "alg": "EdDSA", "kid": kid });
    if let Some(typ) = typ {
        header["typ"] = json!(typ);
    }
    let payload = token.split('.').nth(1).unwrap();
    let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
    let signature = key.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn email_of(me: &Value) -> &Value {
    &me["data"]["me"]["email"]
}

#[tokio::test]
async fn access_tokens_say_at_jwt_and_carry_their_own_jti_and_the_client_id() {
    let app = spawn_app().await;
    let first = app.user_with_tokens("rfc9068@example.com").await;
    let second = app.login_tokens("rfc9068@example.com", PASSWORD).await;
    assert_eq!(header(&first.access).typ.as_deref(), Some("at+jwt"));
    let (a, b) = (claims(&first.access), claims(&second.access));
    assert_eq!(a["client_id"], "authql", "the audience: {a}");
    assert!(a["jti"].as_str().is_some_and(|j| !j.is_empty()), "{a}");
    assert_ne!(a["jti"], b["jti"], "every token has its own");
    let refreshed = app.refresh(&first.refresh).await;
    let refreshed = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    assert_ne!(claims(refreshed)["jti"], a["jti"]);
}

#[tokio::test]
async fn a_token_of_another_type_signed_by_the_same_key_is_refused() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("typ@example.com").await;
    // The same claims under an access token's type pass: only the type differs below.
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let same = resigned(&app, &tokens.access, Some(typ)).await;
        assert_eq!(email_of(&app.me(&same).await), "typ@example.com", "{typ}");
    }
    for typ in [Some("JWT"), Some("logout+jwt"), Some("id_token+jwt"), None] {
        let other = resigned(&app, &tokens.access, typ).await;
        assert_eq!(code(&app.me(&other).await), Some("UNAUTHENTICATED"), "{typ:?}");
    }
}

#[tokio::test]
async fn access_token_typ_jwt_keeps_the_generic_header_for_verifiers_that_want_it() {
    let app = spawn_app_with(|c| c.tokens.access_typ = AccessTokenTyp::Jwt).await;
    let tokens = app.user_with_tokens("nimbus@example.com").await;
    assert_eq!(header(&tokens.access).typ.as_deref(), Some("JWT"));
    assert!(claims(&tokens.access)["jti"].is_string());
    assert_eq!(email_of(&app.me(&tokens.access).await), "nimbus@example.com");
    // Tokens of the strict type, from before a switch, still pass; other types do not.
    let strict = resigned(&app, &tokens.access, Some("at+jwt")).await;
    assert_eq!(email_of(&app.me(&strict).await), "nimbus@example.com");
    let other = resigned(&app, &tokens.access, Some("logout+jwt")).await;
    assert_eq!(code(&app.me(&other).await), Some("UNAUTHENTICATED"));
}
