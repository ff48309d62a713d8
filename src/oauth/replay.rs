//! Each ID token given to `signInWithIdToken` signs in once: an accepted
//! token is remembered in the database, so on every instance, until it
//! expires, and a second use is refused.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, Set};
use serde::Deserialize;
use uuid::Uuid;

use crate::crypto::token_hash;
use crate::db::{self, Db};
use crate::entities::used_id_tokens::{ActiveModel, Column, Entity};
use crate::error::{AppError, AppResult, unique_violation};

/// Longest an accepted token is remembered, whatever its `exp` says: ten
/// years, as recovery codes, since MySQL instants end in January 2038.
const LONGEST: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The one claim read here, from a token already verified.
#[derive(Deserialize)]
struct Jti {
    jti: Option<serde_json::Value>,
}

/// What identifies `id_token` of `provider` across uses: its `jti` when it
/// has one (the issuer's own name for the token, RFC 7519 §4.1.7), else its
/// signed part, header and claims. Not the whole text: a signature can be
/// written differently and still verify (ECDSA signatures are malleable),
/// while changing a signed byte breaks it.
pub(super) fn key(provider: &str, id_token: &str) -> String {
    let signed = id_token.rsplit_once('.').map_or(id_token, |(signed, _)| signed);
    let jti = signed
        .split('.')
        .nth(1)
        .and_then(|claims| URL_SAFE_NO_PAD.decode(claims).ok())
        .and_then(|json| serde_json::from_slice::<Jti>(&json).ok())
        .and_then(|claims| match claims.jti {
            Some(serde_json::Value::String(jti)) if !jti.is_empty() => Some(jti),
            _ => None,
        });
    match jti {
        Some(jti) => token_hash(&format!("jti\n{provider}\n{jti}")),
        None => token_hash(&format!("jws\n{provider}\n{signed}")),
    }
}

/// Spends the token under `key`, remembered until `expires_at`; of two
/// concurrent spends exactly one succeeds (the key is unique).
///
/// # Errors
/// [`AppError::InvalidToken`] when it was spent before; database errors.
pub(super) async fn spend(conn: &impl ConnectionTrait, key: String, expires_at: DateTime<Utc>) -> AppResult<()> {
    let inserted = ActiveModel {
        id: Set(Uuid::new_v4()),
        token_key: Set(key),
        expires_at: Set(expires_at.min(db::after(LONGEST))),
    }
    .insert(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if unique_violation(&e).is_some() => Err(AppError::InvalidToken),
        Err(e) => Err(e.into()),
    }
}

/// Forgets tokens that have expired (no verifier accepts them any more), in
/// batches; returns how many went.
///
/// # Errors
/// When the database fails.
pub async fn forget_expired_id_tokens(db: &Db) -> AppResult<u64> {
    let expired = Condition::all().add(Column::ExpiresAt.lt(db::now()));
    Ok(db::prune::in_batches::<Entity>(db.writer(), Column::Id, expired).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, claims: &str, signature: &str) -> String {
        format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn a_token_is_known_by_its_jti_or_else_by_what_was_signed() {
        let h = r#"{"alg":"ES256"}"#;
        let with_jti = |claims: &str| key("p", &token(h, claims, "sig"));
        assert_eq!(with_jti(r#"{"jti":"a","n":1}"#), with_jti(r#"{"jti":"a","n":2}"#));
        assert_ne!(with_jti(r#"{"jti":"a"}"#), with_jti(r#"{"jti":"b"}"#));
        assert_ne!(
            key("p", &token(h, r#"{"jti":"a"}"#, "s")),
            key("q", &token(h, r#"{"jti":"a"}"#, "s"))
        );
        // Without a jti: another signature over the same bytes is the same token.
        let bare = |claims: &str, signature: &str| key("p", &token(h, claims, signature));
        assert_eq!(bare(r#"{"n":1}"#, "one"), bare(r#"{"n":1}"#, "two"));
        assert_ne!(bare(r#"{"n":1}"#, "one"), bare(r#"{"n":2}"#, "one"));
        assert_ne!(
            bare(r#"{"jti":""}"#, "s"),
            bare(r#"{"jti":"", "n":2}"#, "s"),
            "an empty jti is none"
        );
    }
}
