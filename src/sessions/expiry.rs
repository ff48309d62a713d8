//! Ending idle sessions and purging what no longer matters.

use std::time::Duration;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::Sessions;
use crate::db;
use crate::entities::{devices, refresh_tokens, sessions};
use crate::error::AppResult;
use crate::webhooks::RevokeReason;

/// Ended sessions are kept this long for the record, then deleted.
const KEEP_ENDED: Duration = Duration::from_secs(30 * 24 * 3600);
/// A device credential unused this long is forgotten.
const DEVICE_UNUSED: Duration = Duration::from_secs(365 * 24 * 3600);
/// Other instances flush activity every few seconds; do not end a session they just saw.
const FLUSH_SLACK: Duration = Duration::from_secs(30);
/// Sessions ended per transaction.
const ENDED_PER_BATCH: u64 = 500;

impl Sessions {
    /// Ends sessions without activity for SESSION_IDLE_TIMEOUT, and those
    /// past SESSION_MAX_LIFETIME, in batches; each is a `session.revoked`
    /// event (`idle` or `expired`). Returns how many ended.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn end_idle(&self) -> AppResult<u64> {
        self.activity.flush(&self.db).await?;
        let idle = sessions::Column::LastActiveAt.lt(db::before(self.policy.idle_timeout + FLUSH_SLACK));
        let expired = sessions::Column::ExpiresAt.lt(db::now());
        let mut ended = 0;
        for (reason, condition) in [(RevokeReason::Idle, idle), (RevokeReason::Expired, expired)] {
            loop {
                let found: Vec<(Uuid, Uuid)> = sessions::Entity::find()
                    .select_only()
                    .column(sessions::Column::UserId)
                    .column(sessions::Column::Id)
                    .filter(sessions::Column::RevokedAt.is_null())
                    .filter(condition.clone())
                    .limit(ENDED_PER_BATCH)
                    .into_tuple()
                    .all(self.db.writer())
                    .await?;
                if found.is_empty() {
                    break;
                }
                let mut tx = self.db.begin().await?;
                ended += self.end_each(&mut tx, &found, reason).await?;
                tx.commit().await?;
                if (found.len() as u64) < ENDED_PER_BATCH {
                    break;
                }
            }
        }
        if ended > 0 {
            tracing::info!(ended, "ended idle and expired sessions");
        }
        Ok(ended)
    }

    /// Deletes sessions that ended long ago (their refresh tokens go with them),
    /// refresh tokens a day past their expiry (no longer useful even to detect
    /// reuse), and device credentials unused for a year.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn purge(&self) -> AppResult<()> {
        let horizon = db::before(KEEP_ENDED);
        sessions::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(sessions::Column::RevokedAt.lt(horizon))
                    .add(sessions::Column::ExpiresAt.lt(horizon)),
            )
            .exec(self.db.writer())
            .await?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::ExpiresAt.lt(db::before(Duration::from_secs(24 * 3600))))
            .exec(self.db.writer())
            .await?;
        devices::Entity::delete_many()
            .filter(devices::Column::LastUsedAt.lt(db::before(DEVICE_UNUSED)))
            .exec(self.db.writer())
            .await?;
        Ok(())
    }
}
