//! Refresh token rotation with reuse detection and a grace window.
//!
//! Each refresh token is spent once and replaced by its successor, which is
//! derived from it under the master key rather than drawn at random. So when
//! two tabs (or a retried request) present the same token at once, the loser
//! of the race gets the very successor the winner stored, instead of an
//! error that would log the user out. After REFRESH_REUSE_GRACE, presenting a
//! spent token means it was stolen: the whole session is revoked.
//!
//! Because the successor is deterministic, it is stored *before* its parent
//! is spent, each in its own statement: racers insert the same row (the
//! second insert does nothing), and a crash between the two leaves a parent
//! that will simply yield the same successor again. No transaction needed,
//! which keeps a refresh at one read and two writes.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

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
    let (row, session, user) = find(state, &hash).await?;
    let successor = state.crypto.successor(presented);

    let mut used_at = row.used_at;
    if used_at.is_none() {
        if row.expires_at <= db::now() {
            return Err(AppError::InvalidToken);
        }
        store_successor(state, &successor, &session).await?;
        if spend(state, &hash).await? {
            state.activity.touch(session.id, user.id);
            return store::bundle(state, user, &session, successor);
        }
        // Another request spent it between our read and our write.
        used_at = find(state, &hash).await?.0.used_at;
    }
    let used_at = used_at.ok_or_else(|| AppError::internal("refresh token neither spent nor spendable"))?;
    if used_at >= db::before(state.config.tokens.reuse_grace) {
        return store::bundle(state, user, &session, successor);
    }
    tracing::warn!(session_id = %session.id, "spent refresh token presented again: revoking the session");
    store::revoke(state, user.id, session.id, EventKind::RefreshTokenReused, client).await?;
    Err(AppError::InvalidToken)
}

/// The token with its session and user, in one query; only while the session lives.
async fn find(state: &AppState, hash: &str) -> AppResult<(refresh_tokens::Model, sessions::Model, users::Model)> {
    let Some((row, Some(session), Some(user))) = refresh_tokens::Entity::find_by_id(hash.to_owned())
        .find_also_related(sessions::Entity)
        .and_also_related(users::Entity)
        .one(&state.db.read)
        .await?
    else {
        return Err(AppError::InvalidToken);
    };
    if !is_alive(state, &session, &user) {
        return Err(AppError::InvalidToken);
    }
    Ok((row, session, user))
}

/// Stores the successor unless a racer already did.
async fn store_successor(state: &AppState, successor: &str, session: &sessions::Model) -> AppResult<()> {
    let now = db::now();
    refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
        token_hash: Set(token_hash(successor)),
        session_id: Set(session.id),
        created_at: Set(now),
        expires_at: Set(store::refresh_expiry(state, session.expires_at)),
        used_at: Set(None),
    })
    .on_conflict_do_nothing()
    .exec(&state.db.write)
    .await?;
    Ok(())
}

/// Marks the token spent; false if another request spent it first.
async fn spend(state: &AppState, hash: &str) -> AppResult<bool> {
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(db::now()))
        .filter(refresh_tokens::Column::TokenHash.eq(hash))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(&state.db.write)
        .await?;
    Ok(spent.rows_affected == 1)
}
