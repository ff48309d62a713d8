//! Identities: an account's sign-ins with OpenID Connect providers.

use sea_orm_migration::prelude::*;

use crate::columns::{fk_user, id, instant, short_null, user_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("identities")
                    .col(id())
                    .col(ColumnDef::new("provider").string_len(64).not_null())
                    .col(ColumnDef::new("subject").string_len(255).not_null())
                    .col(user_ref())
                    .col(short_null("email"))
                    .col(instant(backend, "created_at"))
                    .foreign_key(&mut fk_user("identities"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identities_provider_subject")
                    .table("identities")
                    .col("provider")
                    .col("subject")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identities_user")
                    .table("identities")
                    .col("user_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("identities").to_owned()).await
    }
}
