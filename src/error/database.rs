//! How database errors map onto [`AppError`]: an outage, a conflict or
//! storage that refuses writes is a passing SERVICE_UNAVAILABLE, anything
//! else is a bug; and which unique index a violation names.

use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

use super::AppError;

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        if is_storage_failure(&e) {
            Self::StorageUnavailable(e.to_string())
        } else if is_outage(&e) || is_conflict(&e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.into())
        }
    }
}

/// Whether a database error means the database is out of reach (rather than a bug).
fn is_outage(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(
                inner.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::Tls(_)
                    | sea_orm::sqlx::Error::Protocol(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// Whether the database rolled the transaction back because of another one
/// (a deadlock, a serialization failure, SQLite busy): running it again works.
fn is_conflict(e: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))) = e else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(db) = inner.as_ref() else {
        return false;
    };
    // SQLSTATE 40001 (MySQL deadlock, PostgreSQL serialization failure),
    // 40P01 (PostgreSQL deadlock); SQLite's SQLITE_BUSY and BUSY_SNAPSHOT.
    matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "517"))
}

/// Whether SQLite's storage refused a write: SQLITE_FULL (a full disk),
/// SQLITE_READONLY (a file or filesystem made read-only) or SQLITE_IOERR,
/// with any of their extended codes. Each lasts until an operator acts, and
/// SQLite writes again on its own once it can.
fn is_storage_failure(e: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))) = e else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(db) = inner.as_ref() else {
        return false;
    };
    // Extended codes keep the primary code in their low byte.
    db.try_downcast_ref::<SqliteError>()
        .and_then(sea_orm::sqlx::error::DatabaseError::code)
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 8 | 10 | 13))
}

/// The unique index a violation names, if `e` is a unique violation.
///
/// Index names follow `idx_<table>_<column>`; SQLite names `<table>.<column>`
/// instead. Only the end of the message is read, where the backends put the
/// constraint, so a conflicting value cannot fake another constraint.
pub fn unique_violation(e: &DbErr) -> Option<String> {
    let SqlErr::UniqueConstraintViolation(message) = e.sql_err()? else {
        return None;
    };
    let tail = ["for key ", "constraint ", "failed: "]
        .iter()
        .filter_map(|marker| message.rfind(marker).map(|at| &message[at + marker.len()..]))
        .min_by_key(|tail| tail.len())
        .unwrap_or(&message);
    Some(
        tail.trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c.is_whitespace())
            .to_owned(),
    )
}

/// Whether a unique violation is on `table.column`.
pub fn violates(constraint: &str, table: &str, column: &str) -> bool {
    let by_index = format!("idx_{table}_{column}");
    let by_column = format!("{table}.{column}");
    constraint == by_index || constraint.ends_with(&format!(".{by_index}")) || constraint == by_column
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_are_matched_exactly() {
        assert!(violates("idx_users_email", "users", "email"));
        assert!(violates("users.idx_users_email", "users", "email"));
        assert!(violates("users.email", "users", "email"));
        assert!(!violates("idx_users_email", "users", "username"));
    }
}
