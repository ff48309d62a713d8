//! Column helpers that give every backend the same meaning for a column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A UTC instant with microsecond precision on every backend.
///
/// MySQL's `TIMESTAMP` stops in 2038 and drops fractions of a second, so it
/// gets `DATETIME(6)` holding UTC; PostgreSQL and SQLite use SeaORM's own type.
pub fn instant(backend: DbBackend, name: &'static str) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::MySql => col.custom("DATETIME(6)"),
        _ => col.timestamp_with_time_zone(),
    };
    col.not_null().take()
}

/// Like [`instant`], but nullable.
pub fn instant_null(backend: DbBackend, name: &'static str) -> ColumnDef {
    let mut col = instant(backend, name);
    col.null();
    col
}

/// A short string (at most 255 characters).
pub fn short(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(255).not_null().take()
}

/// A nullable short string.
pub fn short_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(255).null().take()
}

/// A hex-encoded SHA-256 digest.
pub fn digest(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(64).not_null().take()
}

/// A UUID primary key.
pub fn id() -> ColumnDef {
    ColumnDef::new("id").uuid().not_null().primary_key().take()
}

/// A UUID reference to `users.id`, deleted with the user.
pub fn user_ref() -> ColumnDef {
    ColumnDef::new("user_id").uuid().not_null().take()
}

/// The foreign key from `table.user_id` to `users.id`, cascading deletes.
pub fn fk_user(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_user"))
        .from(table, "user_id")
        .to("users", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}
