//! Ending idle sessions and purging what no longer matters.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::Sessions;
use crate::db;
use crate::entities::{devices, refresh_tokens, sessions};
use crate::error::AppResult;

/// Ended sessions are kept this long for the record, then deleted.
const KEEP_ENDED: Duration = Duration::from_secs(30 * 24 * 3600);
/// A device credential unused this long is forgotten.
const DEVICE_UNUSED: Duration = Duration::from_secs(365 * 24 * 3600);
/// Other instances flush activity every few seconds; do not end a session they just saw.
const FLUSH_SLACK: Duration = Duration::from_secs(30);

impl Sessions {
    /// Ends sessions without activity for SESSION_IDLE_TIMEOUT; returns how many.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn end_idle(&self) -> AppResult<u64> {
        self.activity.flush(&self.db).await?;
        let cutoff = db::before(self.policy.idle_timeout + FLUSH_SLACK);
        let ended = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(db::now()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::LastActiveAt.lt(cutoff))
            .exec(self.db.writer())
            .await?
            .rows_affected;
        if ended > 0 {
            tracing::info!(ended, "ended idle sessions");
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
