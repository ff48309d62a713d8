//! The administrators' audit log: kept apart from the accounts (no foreign
//! key), so the record of deleting an account outlives the account.

use sea_orm_migration::prelude::*;

use crate::columns::{id, instant, short_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(id())
                    .col(ColumnDef::new("kind").string_len(64).not_null())
                    .col(ColumnDef::new("user_id").uuid().null())
                    .col(ColumnDef::new("actor_id").uuid().null())
                    .col(short_null("ip"))
                    .col(instant(backend, "at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_at")
                    .table("audit_log")
                    .col("at")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("audit_log").to_owned()).await
    }
}
