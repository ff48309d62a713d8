//! Known devices (OWASP's "device cookies"): a successful login gives the
//! client a long-lived credential; a later login that presents it is counted
//! in the device's own rate-limit bucket, so strangers guessing at the
//! account cannot lock its owner out. Wrong passwords given with one revoke
//! it after DEVICE_MAX_FAILURES.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::{AuthBundle, Sessions, SignInMethod};
use crate::client::ClientInfo;
use crate::crypto::{random_token, token_hash};
use crate::db::{self, Tx};
use crate::entities::{devices, sessions, users};
use crate::error::AppResult;
use crate::events::{self, EventKind};

/// Longer than any credential authql issues (43 characters); not worth hashing.
const MAX_CREDENTIAL_LEN: usize = 128;

/// A session opened on a device, not yet answered.
pub struct OpenedOnDevice {
    session: sessions::Model,
    refresh_token: String,
    credential: String,
}

impl Sessions {
    /// The known device whose credential is `credential`, if it is live.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn device(&self, credential: &str) -> AppResult<Option<devices::Model>> {
        if credential.is_empty() || credential.len() > MAX_CREDENTIAL_LEN {
            return Ok(None);
        }
        // Every login that presents a credential reads it: on the read pool,
        // not in the queue for SQLite's one writer (committed renewals are
        // visible there too).
        Ok(devices::Entity::find()
            .filter(devices::Column::TokenHash.eq(token_hash(credential)))
            .one(&self.db.read)
            .await?)
    }

    /// Opens a session like [`Sessions::start`] after a password login (and
    /// its second factor), and in the same transaction gives the client its
    /// device credential: `known` (the device the login presented) gets a new
    /// one, so a copy taken earlier stops working; otherwise a new device.
    ///
    /// # Errors
    /// When the database fails.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn start_on_device(
        &self,
        user: users::Model,
        client: &ClientInfo,
        method: SignInMethod,
        known: Option<Uuid>,
    ) -> AppResult<AuthBundle> {
        let mut tx = self.db.begin().await?;
        let opened = self.open_on_device(&mut tx, &user, client, method, known).await?;
        tx.commit().await?;
        self.bundle_on_device(user, opened).await
    }

    /// [`Sessions::start_on_device`] in `tx`, for a caller with more to
    /// write in it; [`Sessions::bundle_on_device`] makes the answer once
    /// `tx` has committed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn open_on_device(
        &self,
        tx: &mut Tx,
        user: &users::Model,
        client: &ClientInfo,
        method: SignInMethod,
        known: Option<Uuid>,
    ) -> AppResult<OpenedOnDevice> {
        let (credential, renewed) = remember(&**tx, user.id, known, client).await?;
        let (session, refresh_token) = self.open_from(tx, user, client, method, renewed).await?;
        Ok(OpenedOnDevice {
            session,
            refresh_token,
            credential,
        })
    }

    /// The answer to a sign-in opened by [`Sessions::open_on_device`].
    ///
    /// # Errors
    /// As [`Sessions::first_bundle`].
    pub async fn bundle_on_device(&self, user: users::Model, opened: OpenedOnDevice) -> AppResult<AuthBundle> {
        let mut bundle = self.first_bundle(user, &opened.session, opened.refresh_token).await?;
        bundle.device_token = Some(opened.credential);
        Ok(bundle)
    }

    /// Counts a wrong password given with `device`'s credential and revokes
    /// the credential once it has failed DEVICE_MAX_FAILURES times in a row.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn device_failed(&self, device: Uuid, user_id: Uuid, client: &ClientInfo) -> AppResult<()> {
        let tx = self.db.begin().await?;
        devices::Entity::update_many()
            .col_expr(devices::Column::Failures, Expr::col(devices::Column::Failures).add(1))
            .filter(devices::Column::Id.eq(device))
            .exec(&*tx)
            .await?;
        let max = i32::try_from(self.device_max_failures).unwrap_or(i32::MAX);
        let revoked = devices::Entity::delete_many()
            .filter(devices::Column::Id.eq(device))
            .filter(devices::Column::Failures.gte(max))
            .exec(&*tx)
            .await?
            .rows_affected;
        if revoked > 0 {
            tracing::info!(%device, "device credential revoked after repeated wrong passwords");
            events::record(&*tx, user_id, EventKind::DeviceRevoked, client).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `user_id`'s known devices, most recently used first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn devices(&self, user_id: Uuid) -> AppResult<Vec<devices::Model>> {
        Ok(devices::Entity::find()
            .filter(devices::Column::UserId.eq(user_id))
            .order_by_desc(devices::Column::LastUsedAt)
            .order_by_desc(devices::Column::CreatedAt)
            .all(&self.db.read)
            .await?)
    }

    /// Revokes one of `user_id`'s device credentials; false if there is no such device.
    ///
    /// # Errors
    /// When the database fails.
    #[tracing::instrument(skip(self, client))]
    pub async fn forget_device(&self, user_id: Uuid, device: Uuid, client: &ClientInfo) -> AppResult<bool> {
        let tx = self.db.begin().await?;
        let forgotten = devices::Entity::delete_many()
            .filter(devices::Column::Id.eq(device))
            .filter(devices::Column::UserId.eq(user_id))
            .exec(&*tx)
            .await?
            .rows_affected
            > 0;
        if forgotten {
            events::record(&*tx, user_id, EventKind::DeviceForgotten, client).await?;
        }
        tx.commit().await?;
        Ok(forgotten)
    }

    /// Revokes every device credential of `user_id` in `tx` (a password
    /// reset: whoever reset it may not be the one who had the devices).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn forget_devices(&self, tx: &Tx, user_id: Uuid) -> AppResult<()> {
        devices::Entity::delete_many()
            .filter(devices::Column::UserId.eq(user_id))
            .exec(&**tx)
            .await?;
        Ok(())
    }
}

/// Gives `known` (if it is still `user_id`'s) a new credential, or makes a
/// new device; returns the credential, and whether the device was known.
async fn remember(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    known: Option<Uuid>,
    client: &ClientInfo,
) -> AppResult<(String, bool)> {
    let credential = random_token();
    let now = db::now();
    if let Some(id) = known {
        let renewed = devices::Entity::update_many()
            .col_expr(devices::Column::TokenHash, Expr::value(token_hash(&credential)))
            .col_expr(devices::Column::LastUsedAt, Expr::value(now))
            .col_expr(devices::Column::UserAgent, Expr::value(client.user_agent_trimmed()))
            .col_expr(devices::Column::Failures, Expr::value(0))
            .filter(devices::Column::Id.eq(id))
            .filter(devices::Column::UserId.eq(user_id))
            .exec(conn)
            .await?
            .rows_affected;
        if renewed > 0 {
            return Ok((credential, true));
        }
    }
    devices::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        token_hash: Set(token_hash(&credential)),
        created_at: Set(now),
        last_used_at: Set(Some(now)),
        user_agent: Set(client.user_agent_trimmed()),
        failures: Set(0),
    }
    .insert(conn)
    .await?;
    Ok((credential, false))
}
