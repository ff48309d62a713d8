//! ID tokens already accepted by `signInWithIdToken`, kept until they expire
//! so that each signs in once, on any instance.

use sea_orm_migration::prelude::*;

use crate::columns::{digest, id, instant};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("used_id_tokens")
                    .col(id())
                    .col(digest("token_key"))
                    .col(instant(backend, "expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_used_id_tokens_key")
                    .table("used_id_tokens")
                    .col("token_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_used_id_tokens_expires")
                    .table("used_id_tokens")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("used_id_tokens").to_owned())
            .await
    }
}
