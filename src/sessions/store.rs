//! Opening, listing and ending sessions.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::{Sessions, SignInMethod};
use crate::client::ClientInfo;
use crate::crypto::{random_token, token_hash};
use crate::db::{self, Tx};
use crate::entities::{refresh_tokens, sessions, users};
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::mail::templates;
use crate::webhooks::Event;

/// What a successful sign-in returns.
pub struct AuthBundle {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: users::Model,
    /// The known-device credential, after a password login.
    pub device_token: Option<String>,
}

impl Sessions {
    /// Opens a session for `user`, who has just proved who they are by
    /// `method`, and records the login.
    ///
    /// # Errors
    /// As [`Sessions::open`].
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn start(&self, user: users::Model, client: &ClientInfo, method: SignInMethod) -> AppResult<AuthBundle> {
        let mut tx = self.db.begin().await?;
        let (session, refresh_token) = self.open(&mut tx, &user, client, method).await?;
        tx.commit().await?;
        self.first_bundle(user, &session, refresh_token).await
    }

    /// Inserts a session, its first refresh token and the login event in
    /// `tx`, and tells the owner of a sign-in from a new device; returns the
    /// session and the token. `user` is the account as the sign-in read it
    /// to check the credential (see [`Sessions::hold_stamp`]).
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` when the account's stamp moved on since `user`
    /// was read; when the database fails.
    pub async fn open(
        &self,
        tx: &mut Tx,
        user: &users::Model,
        client: &ClientInfo,
        method: SignInMethod,
    ) -> AppResult<(sessions::Model, String)> {
        self.open_from(tx, user, client, method, false).await
    }

    /// [`Sessions::open`] for a client that presented the credential of a
    /// device known to `user` (`known_device`), which is never news.
    pub(super) async fn open_from(
        &self,
        tx: &mut Tx,
        user: &users::Model,
        client: &ClientInfo,
        method: SignInMethod,
        known_device: bool,
    ) -> AppResult<(sessions::Model, String)> {
        let user_id = user.id;
        self.hold_stamp(tx, user).await?;
        if self.new_device_notices && !known_device && self.is_new_device(tx, user_id, client).await? {
            let mail = templates::new_sign_in(
                &user.email,
                client.user_agent_trimmed().as_deref(),
                client.ip_string().as_deref(),
            );
            self.outbox.enqueue(tx, mail).await?;
        }
        let now = db::now();
        // The session's hard end; refreshes slide the refresh token, never this.
        let expires_at = db::after(self.policy.max_lifetime);
        let session = sessions::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id),
            created_at: Set(now),
            last_active_at: Set(now),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            ip: Set(client.ip_string()),
            user_agent: Set(client.user_agent_trimmed()),
            amr: Set(method),
            step_up_until: Set(None),
            proof_stamp: Set(user.security_stamp),
            extra_claims: Set(None),
        }
        .insert(&**tx)
        .await?;
        let token = random_token();
        insert_refresh(&**tx, &token, session.id, self.refresh_expiry(expires_at)).await?;
        events::record(&**tx, user_id, EventKind::LoginSucceeded, client).await?;
        let opened = Event::session_created(
            user_id,
            session.id,
            method,
            session.ip.as_deref(),
            session.user_agent.as_deref(),
        );
        self.webhooks.emit(tx, opened).await?;
        Ok((session, token))
    }

    /// Whether `client` signs in to `user_id` from a device the account has
    /// not used before: none of its sessions (ended ones are kept for 30
    /// days) had this user agent. An account's first sign-in is no news.
    async fn is_new_device(&self, tx: &Tx, user_id: Uuid, client: &ClientInfo) -> AppResult<bool> {
        let earlier = sessions::Entity::find().filter(sessions::Column::UserId.eq(user_id));
        if earlier.clone().count(&**tx).await? == 0 {
            return Ok(false);
        }
        let same_agent = match client.user_agent_trimmed() {
            Some(agent) => earlier.filter(sessions::Column::UserAgent.eq(agent)),
            None => earlier.filter(sessions::Column::UserAgent.is_null()),
        };
        Ok(same_agent.count(&**tx).await? == 0)
    }

    /// When a refresh token issued now expires: REFRESH_TOKEN_TTL from now, but
    /// never after its session ends.
    pub(super) fn refresh_expiry(&self, session_ends: DateTime<Utc>) -> DateTime<Utc> {
        db::after(self.policy.refresh_ttl).min(session_ends)
    }

    /// Whether `session` of `user` may still be used, given its latest activity.
    pub fn is_alive(&self, session: &sessions::Model, user: &users::Model) -> bool {
        session.revoked_at.is_none()
            && session.expires_at > db::now()
            && user.active
            && self.last_active(session) > db::before(self.policy.idle_timeout)
    }

    /// When `session` was last used: activity noted in memory may be newer than the row.
    pub fn last_active(&self, session: &sessions::Model) -> DateTime<Utc> {
        self.activity
            .last(session.id)
            .map_or(session.last_active_at, |t| t.max(session.last_active_at))
    }

    /// `user`'s sessions that are still alive, newest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list_live(&self, user: &users::Model) -> AppResult<Vec<sessions::Model>> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user.id))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(db::now()))
            .order_by_desc(sessions::Column::CreatedAt)
            .all(&self.db.read)
            .await?;
        Ok(rows.into_iter().filter(|s| self.is_alive(s, user)).collect())
    }

    /// Sessions not ended, of every account (for the metrics).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn count_active(&self) -> AppResult<u64> {
        Ok(sessions::Entity::find()
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(db::now()))
            .count(&self.db.read)
            .await?)
    }
}

/// Stores the first refresh token (by hash) of `session_id`.
///
/// # Errors
/// When the database fails.
async fn insert_refresh(
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
