//! A one-time token may carry a value: the new address of an email change,
//! or the old one its undo link restores.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("one_time_tokens")
                    .add_column(ColumnDef::new("payload").string_len(255).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("one_time_tokens")
                    .drop_column("payload")
                    .to_owned(),
            )
            .await
    }
}
