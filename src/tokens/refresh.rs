//! Refresh token rotation with reuse detection and a grace window.
//!
//! Each refresh token is spent once and replaced by its successor, which is
//! derived from it under the master key rather than drawn at random. So when
//! two tabs (or a retried request) present the same token at once, the loser
//! of the race gets the very successor the winner stored, instead of an
//! error that would log the user out. After REFRESH_REUSE_GRACE, presenting a
//! spent token means it was stolen: the whole session is revoked.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::crypto::token_hash;
use crate::db;
use crate::entities::{refresh_tokens, sessions, users};
use crate::error::{AppError, AppResult};
use crate::events::EventKind;
use crate::sessions::ClientInfo;
use crate::sessions::store::{self, AuthBundle, is_alive};
use crate::state::AppState;

/// Spends `presented` and returns new tokens for its session.
///
/// # Errors
/// [`AppError::InvalidToken`] when the token is unknown, expired, reused
/// after the grace window (which also revokes the session), or its session is over.
#[tracing::instrument(skip_all)]
pub async fn rotate(state: &AppState, presented: &str, client: &ClientInfo) -> AppResult<AuthBundle> {
    if presented.is_empty() || presented.len() > 128 {
        return Err(AppError::InvalidToken);
    }
    let hash = token_hash(presented);
    let row = find(state, &hash).await?;
    let (session, user) = session_of(state, &row).await?;
    let successor = state.crypto.successor(presented);

    if row.used_at.is_none() {
        if row.expires_at <= db::now() {
            return Err(AppError::InvalidToken);
        }
        if spend(state, &hash, &successor, &session).await? {
            state.activity.touch(session.id, user.id);
            return store::bundle(state, user, &session, successor);
        }
    }
    // Spent, by an earlier request or by the one that just beat us.
    let row = find(state, &hash).await?;
    let used_at = row
        .used_at
        .ok_or_else(|| AppError::internal("refresh token neither spent nor spendable"))?;
    if used_at >= db::before(state.config.tokens.reuse_grace) {
        return store::bundle(state, user, &session, successor);
    }
    tracing::warn!(session_id = %session.id, "spent refresh token presented again: revoking the session");
    store::revoke(state, user.id, session.id, EventKind::RefreshTokenReused, client).await?;
    Err(AppError::InvalidToken)
}

async fn find(state: &AppState, hash: &str) -> AppResult<refresh_tokens::Model> {
    refresh_tokens::Entity::find_by_id(hash.to_owned())
        .one(&state.db.read)
        .await?
        .ok_or(AppError::InvalidToken)
}

async fn session_of(state: &AppState, row: &refresh_tokens::Model) -> AppResult<(sessions::Model, users::Model)> {
    let (session, user) = sessions::Entity::find_by_id(row.session_id)
        .find_also_related(users::Entity)
        .one(&state.db.read)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let user = user.ok_or(AppError::InvalidToken)?;
    if !is_alive(state, &session, &user) {
        return Err(AppError::InvalidToken);
    }
    Ok((session, user))
}

/// Marks the token spent and stores its successor, atomically; false if
/// another request spent it first.
async fn spend(state: &AppState, hash: &str, successor: &str, session: &sessions::Model) -> AppResult<bool> {
    let now = db::now();
    let expires_at = store::session_expiry(state, session.created_at);
    let txn = state.db.write.begin().await?;
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .filter(refresh_tokens::Column::TokenHash.eq(hash))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    store::insert_refresh(&txn, successor, session.id, expires_at).await?;
    sessions::Entity::update_many()
        .col_expr(sessions::Column::LastActiveAt, Expr::value(now))
        .col_expr(sessions::Column::ExpiresAt, Expr::value(expires_at))
        .filter(sessions::Column::Id.eq(session.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.live.forget(session.id);
    Ok(true)
}
