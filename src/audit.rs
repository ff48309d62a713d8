//! The administrators' audit log: every administrator action, with the
//! acting administrator, paged newest first by an opaque cursor.
//!
//! Owns `audit_log`. May call: `client`, `db`, `error`, `entities`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::client::ClientInfo;
use crate::db;
use crate::entities::audit_log::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, AppResult, Field};

/// Largest page.
pub const MAX_PAGE: u64 = 100;

/// Records that `actor` did `kind` to account `user_id`.
///
/// # Errors
/// When the database fails.
pub async fn record(
    conn: &impl ConnectionTrait,
    kind: &str,
    user_id: Uuid,
    actor: Uuid,
    client: &ClientInfo,
) -> AppResult<()> {
    insert(conn, kind, Some(user_id), actor, client).await
}

/// Records that `actor` did `kind` to no account in particular (a webhook endpoint).
///
/// # Errors
/// When the database fails.
pub async fn record_action(conn: &impl ConnectionTrait, kind: &str, actor: Uuid, client: &ClientInfo) -> AppResult<()> {
    insert(conn, kind, None, actor, client).await
}

async fn insert(
    conn: &impl ConnectionTrait,
    kind: &str,
    user_id: Option<Uuid>,
    actor: Uuid,
    client: &ClientInfo,
) -> AppResult<()> {
    ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind.to_owned()),
        user_id: Set(user_id),
        actor_id: Set(Some(actor)),
        ip: Set(client.ip_string()),
        at: Set(db::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Records that an operator at the command line did `kind` to account
/// `user_id` (no administrator account, no address).
///
/// # Errors
/// When the database fails.
pub async fn record_by_operator(conn: &impl ConnectionTrait, kind: &str, user_id: Uuid) -> AppResult<()> {
    ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind.to_owned()),
        user_id: Set(Some(user_id)),
        actor_id: Set(None),
        ip: Set(None),
        at: Set(db::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A page of the log.
pub struct Page {
    pub entries: Vec<Model>,
    /// Where the next page starts; `None` at the end.
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// The `first` entries after `after` (a cursor of an earlier page), newest first.
///
/// # Errors
/// `BAD_USER_INPUT` on `first` outside 1 to 100 or a cursor this log never
/// gave; database errors.
pub async fn page(conn: &impl ConnectionTrait, first: i64, after: Option<&str>) -> AppResult<Page> {
    let first = u64::try_from(first)
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| AppError::bad_input(Field::First, format!("must be between 1 and {MAX_PAGE}")))?;
    let mut query = Entity::find().order_by_desc(Column::At).order_by_desc(Column::Id);
    if let Some(cursor) = after {
        let (at, id) = decode(cursor).ok_or_else(|| AppError::bad_input(Field::After, "not a cursor of this log"))?;
        query = query.filter(
            Condition::any()
                .add(Column::At.lt(at))
                .add(Condition::all().add(Column::At.eq(at)).add(Column::Id.lt(id))),
        );
    }
    let mut entries = query.limit(first + 1).all(conn).await?;
    let has_next_page = entries.len() as u64 > first;
    entries.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    let end_cursor = entries.last().map(|e| encode(e.at, e.id));
    Ok(Page {
        entries,
        end_cursor,
        has_next_page,
    })
}

/// Deletes entries older than `keep` (AUDIT_RETENTION), in batches; returns how many.
///
/// # Errors
/// When the database fails.
pub async fn prune(db: &db::Db, keep: std::time::Duration) -> AppResult<u64> {
    let old = Condition::all().add(Column::At.lt(db::before(keep)));
    Ok(db::prune::in_batches::<Entity>(db.writer(), Column::Id, old).await?)
}

fn encode(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", at.timestamp_micros()))
}

fn decode(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once(':')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::parse_str(id).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = db::now();
        let id = Uuid::new_v4();
        assert_eq!(decode(&encode(at, id)), Some((at, id)));
        assert_eq!(decode("not a cursor"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("12:not-a-uuid")), None);
    }
}
