//! Ending idle sessions and purging what no longer matters.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::db;
use crate::entities::{refresh_tokens, sessions};
use crate::error::AppResult;
use crate::state::AppState;

/// Ended sessions are kept this long for the record, then deleted.
const KEEP_ENDED: Duration = Duration::from_secs(30 * 24 * 3600);
/// Other instances flush activity every few seconds; do not end a session they just saw.
const FLUSH_SLACK: Duration = Duration::from_secs(30);

/// Ends sessions without activity for SESSION_IDLE_TIMEOUT; returns how many.
///
/// # Errors
/// When the database fails.
pub async fn end_idle(state: &AppState) -> AppResult<u64> {
    state.activity.flush(&state.db).await?;
    let cutoff = db::before(state.config.tokens.idle_timeout + FLUSH_SLACK);
    let ended = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(db::now()))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::LastActiveAt.lt(cutoff))
        .exec(&state.db.write)
        .await?
        .rows_affected;
    if ended > 0 {
        tracing::info!(ended, "ended idle sessions");
    }
    Ok(ended)
}

/// Deletes sessions that ended long ago (their refresh tokens go with them)
/// and refresh tokens a day past their expiry (no longer useful even to detect reuse).
///
/// # Errors
/// When the database fails.
pub async fn purge(state: &AppState) -> AppResult<()> {
    let horizon = db::before(KEEP_ENDED);
    sessions::Entity::delete_many()
        .filter(
            Condition::any()
                .add(sessions::Column::RevokedAt.lt(horizon))
                .add(sessions::Column::ExpiresAt.lt(horizon)),
        )
        .exec(&state.db.write)
        .await?;
    refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::ExpiresAt.lt(db::before(Duration::from_secs(24 * 3600))))
        .exec(&state.db.write)
        .await?;
    Ok(())
}
