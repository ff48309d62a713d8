//! Mail records what it is for (`mail_outbox.kind`), and `sessions.amr` holds
//! one sign-in method name instead of comma-joined RFC 8176 values.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Old `amr` values and the sign-in method each stands for.
const SIGN_IN_METHODS: [(&str, &str); 3] = [
    ("pwd", "password"),
    ("pwd,otp,mfa", "password_totp"),
    ("pwd,mfa", "password_recovery_code"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("mail_outbox")
                    .add_column(ColumnDef::new("kind").string_len(32).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_recipient_kind")
                    .table("mail_outbox")
                    .col("recipient")
                    .col("kind")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        rename_amr(manager, |(old, new)| (old, new)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rename_amr(manager, |(old, new)| (new, old)).await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_mail_outbox_recipient_kind")
                    .table("mail_outbox")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("mail_outbox").drop_column("kind").to_owned())
            .await
    }
}

/// Rewrites every `sessions.amr` value `from` into `to`, as `pair` orders them.
async fn rename_amr(
    manager: &SchemaManager<'_>,
    pair: impl Fn((&'static str, &'static str)) -> (&'static str, &'static str),
) -> Result<(), DbErr> {
    for names in SIGN_IN_METHODS {
        let (from, to) = pair(names);
        let update = Query::update()
            .table("sessions")
            .value("amr", to)
            .and_where(Expr::col("amr").eq(from))
            .to_owned();
        manager.exec_stmt(update).await?;
    }
    Ok(())
}
