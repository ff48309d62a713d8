//! Recovery codes: ten single-use codes shown once, for a lost authenticator.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::crypto::Crypto;
use crate::error::AppResult;
use crate::tokens::codes;
use crate::tokens::one_time::{self, Purpose};

/// How many codes a set holds.
pub const COUNT: usize = 10;

/// Replaces `user_id`'s recovery codes with a new set; returns it (the only time it is shown).
///
/// # Errors
/// When the database fails.
pub async fn replace(conn: &impl ConnectionTrait, crypto: &Crypto, user_id: Uuid) -> AppResult<Vec<String>> {
    one_time::invalidate_all(conn, user_id, Purpose::RecoveryCode).await?;
    let mut set = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let code = codes::recovery_code();
        codes::store(conn, crypto, user_id, Purpose::RecoveryCode, &code).await?;
        set.push(code);
    }
    Ok(set)
}

/// Spends `code` if it is one of `user_id`'s unused recovery codes.
///
/// # Errors
/// When the database fails.
pub async fn spend(conn: &impl ConnectionTrait, crypto: &Crypto, user_id: Uuid, code: &str) -> AppResult<bool> {
    codes::spend(conn, crypto, user_id, Purpose::RecoveryCode, code).await
}
