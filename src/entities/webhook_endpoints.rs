//! An address administrators registered to receive signed webhooks.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// Event types, comma-separated; empty means every type.
    #[sea_orm(column_type = "Text")]
    pub events: String,
    pub enabled: bool,
    /// The signing secret (`whsec_…`), sealed with the master key.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    /// The secret before the last rotation, sealed; it signs too until `previous_until`.
    #[sea_orm(column_type = "Text", nullable)]
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTimeUtc>,
    /// Since when every attempt failed; `None` after a success.
    pub failing_since: Option<DateTimeUtc>,
    /// Why authql switched it off (410 Gone, failing for days).
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
