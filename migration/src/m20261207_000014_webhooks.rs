//! Webhooks: the endpoints administrators register (their signing secrets
//! sealed with the master key) and one delivery per event and endpoint,
//! written in the transaction that causes the event and sent by a worker on
//! any instance (claimed with a lease, as mail is).

use sea_orm_migration::prelude::*;

use crate::columns::{id, instant, instant_null, short_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("webhook_endpoints")
                    .col(id())
                    .col(ColumnDef::new("url").text().not_null())
                    // Event types, comma-separated; empty means every type.
                    .col(ColumnDef::new("events").text().not_null())
                    .col(ColumnDef::new("enabled").boolean().not_null())
                    .col(ColumnDef::new("secret").text().not_null())
                    .col(ColumnDef::new("previous_secret").text().null())
                    .col(instant_null(backend, "previous_until"))
                    .col(instant_null(backend, "failing_since"))
                    .col(short_null("disabled_reason"))
                    .col(instant(backend, "created_at"))
                    .col(instant(backend, "updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(id())
                    .col(ColumnDef::new("endpoint_id").uuid().not_null())
                    .col(ColumnDef::new("event_type").string_len(64).not_null())
                    .col(ColumnDef::new("payload").text().not_null())
                    .col(ColumnDef::new("status").string_len(16).not_null())
                    .col(ColumnDef::new("attempts").integer().not_null().default(0))
                    .col(instant_null(backend, "next_attempt_at"))
                    .col(instant_null(backend, "claimed_until"))
                    .col(ColumnDef::new("last_status_code").integer().null())
                    .col(short_null("last_error"))
                    .col(instant(backend, "created_at"))
                    .col(instant_null(backend, "delivered_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_endpoint")
                            .from("webhook_deliveries", "endpoint_id")
                            .to("webhook_endpoints", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table("webhook_deliveries")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_endpoint")
                    .table("webhook_deliveries")
                    .col("endpoint_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("webhook_deliveries").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("webhook_endpoints").to_owned())
            .await
    }
}
