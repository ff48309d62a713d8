//! Passkeys (WebAuthn credentials) and their ceremonies: the state of a
//! registration or sign-in between its start and its finish, kept here so
//! any instance finishes it, once, within five minutes.

use sea_orm_migration::prelude::*;

use crate::columns::{digest, fk_user, id, instant, instant_null, short, short_null, user_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("passkeys")
                    .col(id())
                    .col(user_ref())
                    // Credential ids run to 1023 bytes: unique by their digest, kept whole beside it.
                    .col(digest("credential_key"))
                    .col(ColumnDef::new("credential_id").text().not_null())
                    .col(ColumnDef::new("credential").text().not_null())
                    .col(short("name"))
                    .col(short_null("aaguid"))
                    .col(ColumnDef::new("backup_eligible").boolean().not_null())
                    .col(ColumnDef::new("backed_up").boolean().not_null())
                    .col(ColumnDef::new("sign_count").big_integer().not_null().default(0))
                    .col(ColumnDef::new("attestation").text().null())
                    .col(instant(backend, "created_at"))
                    .col(instant_null(backend, "last_used_at"))
                    .foreign_key(&mut fk_user("passkeys"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_credential")
                    .table("passkeys")
                    .col("credential_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user")
                    .table("passkeys")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("passkey_ceremonies")
                    .col(id())
                    .col(digest("token_hash"))
                    .col(ColumnDef::new("kind").string_len(32).not_null())
                    .col(ColumnDef::new("user_id").uuid().null())
                    .col(ColumnDef::new("session_id").uuid().null())
                    .col(ColumnDef::new("stamp").big_integer().null())
                    .col(ColumnDef::new("state").text().not_null())
                    .col(instant(backend, "created_at"))
                    .col(instant(backend, "expires_at"))
                    .col(instant_null(backend, "used_at"))
                    .foreign_key(&mut fk_user("passkey_ceremonies"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkey_ceremonies_token")
                    .table("passkey_ceremonies")
                    .col("token_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkey_ceremonies_expires")
                    .table("passkey_ceremonies")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("passkey_ceremonies").to_owned())
            .await?;
        manager.drop_table(Table::drop().table("passkeys").to_owned()).await
    }
}
