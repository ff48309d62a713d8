//! Ending sessions: one, all of an account's, the owner's panic button.
//! Each ended session is a `session.revoked` event saying why.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{Principal, Sessions};
use crate::client::ClientInfo;
use crate::db::{self, Tx};
use crate::entities::sessions;
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::webhooks::{Event, RevokeReason};

impl Sessions {
    /// Ends session `sid` of `user_id` and records `kind`; false when there
    /// was no such live session.
    ///
    /// # Errors
    /// When the database fails.
    #[tracing::instrument(skip(self, client))]
    pub async fn revoke(&self, user_id: Uuid, sid: Uuid, kind: EventKind, client: &ClientInfo) -> AppResult<bool> {
        let mut tx = self.db.begin().await?;
        let ended = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(db::now()))
            .filter(sessions::Column::Id.eq(sid))
            .filter(sessions::Column::UserId.eq(user_id))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&*tx)
            .await?
            .rows_affected;
        if ended > 0 {
            events::record(&*tx, user_id, kind, client).await?;
            let reason = match kind {
                EventKind::LoggedOut => RevokeReason::Logout,
                EventKind::RefreshTokenReused => RevokeReason::ReuseDetected,
                _ => RevokeReason::Revoked,
            };
            self.webhooks
                .emit(&mut tx, Event::session_revoked(user_id, sid, reason))
                .await?;
            self.evict_session_on_commit(&mut tx, sid);
        }
        tx.commit().await?;
        Ok(ended > 0)
    }

    /// Ends one of the caller's sessions; false when there is no such live
    /// session. Ending another session than the caller's own is sensitive.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED` for another session without a recent proof; database errors.
    pub async fn revoke_session(&self, caller: &Principal, sid: Uuid, client: &ClientInfo) -> AppResult<bool> {
        if sid != caller.session().id {
            self.require_recent_proof(caller)?;
        }
        self.revoke(caller.user().id, sid, EventKind::SessionRevoked, client)
            .await
    }

    /// Ends every live session of `user_id` but `except` in `tx`, for
    /// `reason`; they leave the cache when `tx` commits. Returns how many ended.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn revoke_all(
        &self,
        tx: &mut Tx,
        user_id: Uuid,
        except: Option<Uuid>,
        reason: RevokeReason,
    ) -> AppResult<u64> {
        let mut live = sessions::Entity::find()
            .select_only()
            .column(sessions::Column::Id)
            .filter(sessions::Column::UserId.eq(user_id))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(db::now()));
        if let Some(keep) = except {
            live = live.filter(sessions::Column::Id.ne(keep));
        }
        let ids: Vec<Uuid> = live.into_tuple().all(&**tx).await?;
        let ids: Vec<(Uuid, Uuid)> = ids.into_iter().map(|id| (user_id, id)).collect();
        let ended = self.end_each(tx, &ids, reason).await?;
        self.evict_user_on_commit(tx, user_id);
        Ok(ended)
    }

    /// Ends the sessions `ids` (each with its account) that are still on,
    /// one conditional update each, so each `session.revoked` event is sent
    /// by whoever really ended it; returns how many ended.
    pub(super) async fn end_each(&self, tx: &mut Tx, ids: &[(Uuid, Uuid)], reason: RevokeReason) -> AppResult<u64> {
        let mut ended = Vec::new();
        for &(user_id, id) in ids {
            let done = sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(db::now()))
                .filter(sessions::Column::Id.eq(id))
                .filter(sessions::Column::RevokedAt.is_null())
                .exec(&**tx)
                .await?;
            if done.rows_affected == 1 {
                ended.push(Event::session_revoked(user_id, id, reason));
            }
        }
        let count = ended.len() as u64;
        self.webhooks.emit_all(tx, ended).await?;
        Ok(count)
    }

    /// The owner's panic button: ends every session of `user_id` and records
    /// it, in one transaction. Returns how many ended.
    ///
    /// # Errors
    /// When the database fails.
    #[tracing::instrument(skip(self, client))]
    pub async fn logout_all(&self, user_id: Uuid, client: &ClientInfo) -> AppResult<u64> {
        let mut tx = self.db.begin().await?;
        let ended = self.revoke_all(&mut tx, user_id, None, RevokeReason::LogoutAll).await?;
        events::record(&*tx, user_id, EventKind::LoggedOut, client).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
