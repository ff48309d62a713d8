//! Short codes: six digits mailed for a login or a step-up, and recovery
//! codes. Stored as one-time tokens of their owner under a keyed hash (see
//! [`Crypto::code_hash`]), each spent once.

use rand::RngExt;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::one_time::{self, Purpose};
use crate::crypto::Crypto;
use crate::db;
use crate::entities::one_time_tokens::{Column, Entity};
use crate::error::AppResult;

/// Letters and digits nobody confuses when copying (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A random six-digit code.
pub fn six_digits() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// A random recovery code, `xxxxx-xxxxx` (about 49 bits).
pub fn recovery_code() -> String {
    let mut rng = rand::rng();
    let mut pick = || char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())]);
    let first: String = (0..5).map(|_| pick()).collect();
    let second: String = (0..5).map(|_| pick()).collect();
    format!("{first}-{second}")
}

/// What people type, as stored: no spaces or dashes, lower case.
fn normalise(code: &str) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase();
    // Ours are at most 10 characters; do not hash whatever length is sent.
    (!code.is_empty() && code.len() <= 32).then_some(code)
}

/// The stored hash of `code`: keyed, and bound to its owner and purpose, so
/// a code never serves another account or purpose.
fn hash(crypto: &Crypto, user_id: Uuid, purpose: Purpose, code: &str) -> String {
    crypto.code_hash(&format!("{}:{user_id}", purpose.as_str()), code)
}

/// How recovery codes made before hashes named their purpose were stored;
/// they stay usable until spent or replaced.
fn legacy_recovery_hash(crypto: &Crypto, user_id: Uuid, code: &str) -> String {
    crypto.code_hash(&user_id.to_string(), code)
}

/// Stores `code` of `purpose` for `user_id`. Six digits repeat: a spent or
/// expired row with the same hash (kept a day for the record) gives way.
///
/// # Errors
/// When the database fails.
pub async fn store(
    conn: &impl ConnectionTrait,
    crypto: &Crypto,
    user_id: Uuid,
    purpose: Purpose,
    code: &str,
) -> AppResult<()> {
    let hash = hash(crypto, user_id, purpose, &normalise(code).unwrap_or_default());
    Entity::delete_many()
        .filter(Column::TokenHash.eq(hash.clone()))
        .filter(
            Condition::any()
                .add(Column::UsedAt.is_not_null())
                .add(Column::ExpiresAt.lte(db::now())),
        )
        .exec(conn)
        .await?;
    one_time::insert(conn, user_id, purpose, hash).await
}

/// Spends `code` if it is a live code of `purpose` for `user_id`; of two
/// concurrent spends exactly one succeeds.
///
/// # Errors
/// When the database fails.
pub async fn spend(
    conn: &impl ConnectionTrait,
    crypto: &Crypto,
    user_id: Uuid,
    purpose: Purpose,
    code: &str,
) -> AppResult<bool> {
    let Some(code) = normalise(code) else {
        return Ok(false);
    };
    let mut hashes = vec![hash(crypto, user_id, purpose, &code)];
    if purpose == Purpose::RecoveryCode {
        hashes.push(legacy_recovery_hash(crypto, user_id, &code));
    }
    // Of two concurrent spends the second matches no unused row.
    let spent = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(db::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::TokenHash.is_in(hashes))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(db::now()))
        .filter(one_time::stamp_is_current())
        .exec(conn)
        .await?;
    Ok(spent.rows_affected >= 1)
}

/// Spends `code` if it is the live mailed code of `purpose` for `user_id`
/// (only the newest is live) and that code has tries left: each call takes
/// one of its `max` tries first, right or wrong, so after `max` wrong tries
/// even the right code fails.
///
/// # Errors
/// When the database fails.
pub async fn spend_mailed(
    conn: &impl ConnectionTrait,
    crypto: &Crypto,
    user_id: Uuid,
    purpose: Purpose,
    code: &str,
    max: i32,
) -> AppResult<bool> {
    // The try is taken in one conditional update, not read and then
    // written, so concurrent guesses cannot take more than `max`.
    let tried = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::Attempts.lt(max))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(db::now()))
        .exec(conn)
        .await?;
    if tried.rows_affected == 0 {
        return Ok(false);
    }
    spend(conn, crypto, user_id, purpose, code).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_shape_and_are_read_as_typed() {
        assert!(six_digits().chars().all(|c| c.is_ascii_digit()) && six_digits().len() == 6);
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            normalise(&code.to_uppercase().replace('-', " - ")),
            Some(code.replace('-', ""))
        );
        assert_eq!(normalise(" "), None);
    }
}
