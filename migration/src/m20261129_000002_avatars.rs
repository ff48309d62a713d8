//! Avatars, kept in the database so every instance serves them without a shared disk.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::columns::{fk_user, instant, user_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut image = ColumnDef::new("image");
        // MySQL's BLOB stops at 64 KiB; a 256-pixel PNG can be larger.
        match backend {
            DbBackend::MySql => image.custom("MEDIUMBLOB"),
            _ => image.blob(),
        };
        manager
            .create_table(
                Table::create()
                    .table("avatars")
                    .col(ColumnDef::new("key").string_len(64).not_null().primary_key())
                    .col(user_ref())
                    .col(image.not_null())
                    .col(instant(backend, "created_at"))
                    .foreign_key(&mut fk_user("avatars"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_avatars_user")
                    .table("avatars")
                    .col("user_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("avatars").to_owned()).await
    }
}
