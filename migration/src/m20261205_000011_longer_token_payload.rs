//! A one-time token's payload grows past 255 characters: a link code
//! carries the identity it verified (provider, subject of up to 255
//! characters, address). SQLite does not hold a text column to its length.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn payload_column(m: &SchemaManager<'_>, column: ColumnDef) -> Result<(), DbErr> {
    if m.get_database_backend() == DbBackend::Sqlite {
        return Ok(());
    }
    m.alter_table(Table::alter().table("one_time_tokens").modify_column(column).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        payload_column(m, ColumnDef::new("payload").text().null().to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        payload_column(m, ColumnDef::new("payload").string_len(255).null().to_owned()).await
    }
}
