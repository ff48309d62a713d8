//! Known devices: a credential a login gave a client, which spares its later
//! logins from the account's shared rate limit.

use sea_orm_migration::prelude::*;

use crate::columns::{digest, fk_user, id, instant, instant_null, short_null, user_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("devices")
                    .col(id())
                    .col(user_ref())
                    .col(digest("token_hash"))
                    .col(instant(backend, "created_at"))
                    .col(instant_null(backend, "last_used_at"))
                    .col(short_null("user_agent"))
                    .col(ColumnDef::new("failures").integer().not_null().default(0))
                    .foreign_key(&mut fk_user("devices"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_devices_token_hash")
                    .table("devices")
                    .col("token_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_devices_user")
                    .table("devices")
                    .col("user_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("devices").to_owned()).await
    }
}
