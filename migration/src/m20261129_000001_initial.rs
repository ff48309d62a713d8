//! The first schema: users, sessions and their tokens, signing keys, the mail outbox and security events.

use sea_orm_migration::prelude::*;

use crate::columns::{digest, fk_user, id, instant, instant_null, short, short_null, user_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();
        m.create_table(
            Table::create()
                .table("users")
                .col(id())
                .col(short("email"))
                .col(short_null("username"))
                .col(short_null("password_hash"))
                .col(instant_null(b, "email_verified_at"))
                .col(short_null("display_name"))
                .col(short_null("first_name"))
                .col(short_null("last_name"))
                .col(ColumnDef::new("phone_number").string_len(32).null())
                .col(short_null("avatar_key"))
                .col(ColumnDef::new("role").string_len(16).not_null())
                .col(ColumnDef::new("active").boolean().not_null())
                .col(ColumnDef::new("totp_secret").text().null())
                .col(instant_null(b, "totp_enabled_at"))
                .col(ColumnDef::new("totp_last_step").big_integer().null())
                .col(instant(b, "created_at"))
                .col(instant(b, "updated_at"))
                .col(instant_null(b, "last_active_at"))
                .take(),
        )
        .await?;
        unique(m, "users", "email").await?;
        unique(m, "users", "username").await?;
        unique(m, "users", "phone_number").await?;

        m.create_table(
            Table::create()
                .table("sessions")
                .col(id())
                .col(user_ref())
                .col(instant(b, "created_at"))
                .col(instant(b, "last_active_at"))
                .col(instant(b, "expires_at"))
                .col(instant_null(b, "revoked_at"))
                .col(ColumnDef::new("ip").string_len(64).null())
                .col(short_null("user_agent"))
                .col(ColumnDef::new("amr").string_len(64).not_null())
                .col(instant_null(b, "step_up_until"))
                .foreign_key(&mut fk_user("sessions"))
                .take(),
        )
        .await?;
        index(m, "sessions", &["user_id"]).await?;
        index(m, "sessions", &["last_active_at"]).await?;

        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .col(digest("token_hash").primary_key())
                .col(ColumnDef::new("parent_hash").string_len(64).null())
                .col(ColumnDef::new("session_id").uuid().not_null())
                .col(instant(b, "created_at"))
                .col(instant(b, "expires_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_refresh_tokens_session")
                        .from("refresh_tokens", "session_id")
                        .to("sessions", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        unique(m, "refresh_tokens", "parent_hash").await?;
        index(m, "refresh_tokens", &["session_id"]).await?;
        index(m, "refresh_tokens", &["expires_at"]).await?;

        m.create_table(
            Table::create()
                .table("one_time_tokens")
                .col(id())
                .col(ColumnDef::new("purpose").string_len(32).not_null())
                .col(digest("token_hash"))
                .col(user_ref())
                .col(instant(b, "created_at"))
                .col(instant(b, "expires_at"))
                .col(instant_null(b, "used_at"))
                .col(ColumnDef::new("attempts").integer().not_null().default(0))
                .foreign_key(&mut fk_user("one_time_tokens"))
                .take(),
        )
        .await?;
        unique(m, "one_time_tokens", "token_hash").await?;
        index(m, "one_time_tokens", &["user_id"]).await?;
        index(m, "one_time_tokens", &["expires_at"]).await?;

        m.create_table(
            Table::create()
                .table("signing_keys")
                .col(ColumnDef::new("kid").string_len(64).not_null().primary_key())
                .col(ColumnDef::new("algorithm").string_len(16).not_null())
                .col(ColumnDef::new("private_key").text().not_null())
                .col(short("public_key"))
                .col(instant(b, "created_at"))
                .col(instant_null(b, "retired_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("mail_outbox")
                .col(id())
                .col(short("recipient"))
                .col(short("subject"))
                .col(ColumnDef::new("text").text().not_null())
                .col(ColumnDef::new("html").text().not_null())
                .col(ColumnDef::new("attempts").integer().not_null().default(0))
                .col(instant_null(b, "next_attempt_at"))
                .col(instant_null(b, "sent_at"))
                .col(ColumnDef::new("last_error").string_len(512).null())
                .col(instant_null(b, "claimed_until"))
                .col(instant(b, "created_at"))
                .take(),
        )
        .await?;
        index(m, "mail_outbox", &["next_attempt_at"]).await?;
        index(m, "mail_outbox", &["recipient", "created_at"]).await?;

        m.create_table(
            Table::create()
                .table("security_events")
                .col(id())
                .col(user_ref())
                .col(ColumnDef::new("kind").string_len(48).not_null())
                .col(ColumnDef::new("ip").string_len(64).null())
                .col(short_null("user_agent"))
                .col(instant(b, "at"))
                .foreign_key(&mut fk_user("security_events"))
                .take(),
        )
        .await?;
        index(m, "security_events", &["user_id", "at"]).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "security_events",
            "mail_outbox",
            "signing_keys",
            "one_time_tokens",
            "refresh_tokens",
            "sessions",
            "users",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

async fn unique(m: &SchemaManager<'_>, table: &'static str, col: &'static str) -> Result<(), DbErr> {
    m.create_index(
        Index::create()
            .name(format!("idx_{table}_{col}"))
            .table(table)
            .col(col)
            .unique()
            .take(),
    )
    .await
}

async fn index(m: &SchemaManager<'_>, table: &'static str, cols: &[&'static str]) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(format!("idx_{table}_{}", cols.join("_"))).table(table);
    for col in cols {
        stmt.col(*col);
    }
    m.create_index(stmt.take()).await
}
