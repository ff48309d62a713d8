//! Deleting old rows in bounded batches, so a large backlog never holds a
//! long lock, and every instance may prune at once (deleting a row another
//! instance deleted first does nothing).

use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

/// Rows deleted per statement.
pub const BATCH: u64 = 500;

/// Deletes the rows of `E` that `condition` selects, [`BATCH`] at a time,
/// through their UUID column `id`; returns how many went.
///
/// # Errors
/// When the database fails; the batches already deleted stay deleted.
pub async fn in_batches<E: EntityTrait>(
    conn: &DatabaseConnection,
    id: E::Column,
    condition: Condition,
) -> Result<u64, DbErr> {
    let mut deleted = 0;
    loop {
        // Select then delete: MySQL refuses LIMIT inside an IN subquery.
        let ids: Vec<Uuid> = E::find()
            .select_only()
            .column(id)
            .filter(condition.clone())
            .limit(BATCH)
            .into_tuple()
            .all(conn)
            .await?;
        let found = ids.len() as u64;
        if found == 0 {
            return Ok(deleted);
        }
        deleted += E::delete_many().filter(id.is_in(ids)).exec(conn).await?.rows_affected;
        if found < BATCH {
            return Ok(deleted);
        }
    }
}
