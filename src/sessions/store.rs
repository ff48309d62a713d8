//! Opening, listing and ending sessions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::ClientInfo;
use crate::crypto::{random_token, token_hash};
use crate::db;
use crate::entities::{refresh_tokens, sessions, users};
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::state::AppState;
use crate::tokens::jwt;

/// What a successful sign-in returns.
pub struct AuthBundle {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: users::Model,
}

/// Opens a session for `user`, who has just proved who they are, and records the login.
///
/// # Errors
/// When the database fails.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn start(state: &AppState, user: users::Model, client: &ClientInfo, amr: &[&str]) -> AppResult<AuthBundle> {
    let txn = state.db.write.begin().await?;
    let (session, refresh_token) = open(&txn, state, user.id, client, amr).await?;
    events::record(&txn, user.id, EventKind::LoginSucceeded, client).await?;
    txn.commit().await?;
    bundle(state, user, &session, refresh_token)
}

/// Inserts a session and its first refresh token; returns the token.
///
/// # Errors
/// When the database fails.
pub async fn open(
    conn: &impl ConnectionTrait,
    state: &AppState,
    user_id: Uuid,
    client: &ClientInfo,
    amr: &[&str],
) -> AppResult<(sessions::Model, String)> {
    let now = db::now();
    // The session's hard end; refreshes slide the refresh token, never this.
    let expires_at = db::after(state.config.tokens.max_lifetime);
    let session = sessions::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        created_at: Set(now),
        last_active_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        ip: Set(client.ip_string()),
        user_agent: Set(client.user_agent_trimmed()),
        amr: Set(amr.join(",")),
        step_up_until: Set(None),
    }
    .insert(conn)
    .await?;
    let token = random_token();
    insert_refresh(conn, &token, session.id, refresh_expiry(state, expires_at)).await?;
    Ok((session, token))
}

/// When a refresh token issued now expires: REFRESH_TOKEN_TTL from now, but
/// never after its session ends.
pub fn refresh_expiry(state: &AppState, session_ends: DateTime<Utc>) -> DateTime<Utc> {
    db::after(state.config.tokens.refresh_ttl).min(session_ends)
}

/// Stores the first refresh token (by hash) of `session_id`.
///
/// # Errors
/// When the database fails.
pub async fn insert_refresh(
    conn: &impl ConnectionTrait,
    token: &str,
    session_id: Uuid,
    expires_at: DateTime<Utc>,
) -> AppResult<()> {
    refresh_tokens::ActiveModel {
        token_hash: Set(token_hash(token)),
        parent_hash: Set(None),
        session_id: Set(session_id),
        created_at: Set(db::now()),
        expires_at: Set(expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Signs an access token for `session` and packs the answer.
///
/// # Errors
/// Only if signing fails.
pub fn bundle(
    state: &AppState,
    user: users::Model,
    session: &sessions::Model,
    refresh_token: String,
) -> AppResult<AuthBundle> {
    let amr: Vec<String> = session
        .amr
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let access_token = jwt::issue(&state.keys, &state.config, user.id, session.id, &user.role, &amr)?;
    Ok(AuthBundle {
        access_token,
        refresh_token,
        expires_in: jwt::lifetime_secs(&state.config),
        user,
    })
}

/// Whether `session` of `user` may still be used, given its latest activity.
pub fn is_alive(state: &AppState, session: &sessions::Model, user: &users::Model) -> bool {
    let now = db::now();
    let last = state
        .activity
        .last(session.id)
        .map_or(session.last_active_at, |t| t.max(session.last_active_at));
    session.revoked_at.is_none()
        && session.expires_at > now
        && user.active
        && last > db::before(state.config.tokens.idle_timeout)
}

/// The caller's sessions that are still alive, newest first.
///
/// # Errors
/// When the database fails.
pub async fn list_live(state: &AppState, user: &users::Model) -> AppResult<Vec<sessions::Model>> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user.id))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(db::now()))
        .order_by_desc(sessions::Column::CreatedAt)
        .all(&state.db.read)
        .await?;
    Ok(rows.into_iter().filter(|s| is_alive(state, s, user)).collect())
}

/// Ends session `sid` of `user_id`; false when there was no such live session.
///
/// # Errors
/// When the database fails.
#[tracing::instrument(skip(state, client))]
pub async fn revoke(
    state: &AppState,
    user_id: Uuid,
    sid: Uuid,
    kind: EventKind,
    client: &ClientInfo,
) -> AppResult<bool> {
    let txn = state.db.write.begin().await?;
    let ended = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(db::now()))
        .filter(sessions::Column::Id.eq(sid))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if ended > 0 {
        events::record(&txn, user_id, kind, client).await?;
    }
    txn.commit().await?;
    state.live.forget(sid);
    Ok(ended > 0)
}

/// Ends every live session of `user_id` but `except`; returns how many ended.
/// Call [`crate::sessions::cache::SessionCache::forget_user`] after the commit.
///
/// # Errors
/// When the database fails.
pub async fn revoke_all(conn: &impl ConnectionTrait, user_id: Uuid, except: Option<Uuid>) -> AppResult<u64> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(db::now()))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(db::now()));
    if let Some(keep) = except {
        update = update.filter(sessions::Column::Id.ne(keep));
    }
    Ok(update.exec(conn).await?.rows_affected)
}
