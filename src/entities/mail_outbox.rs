//! Mail waiting to be sent, written in the same transaction as the change that caused it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    /// Sealed; emptied once sent, since it may hold a live token.
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Sealed; emptied once sent.
    #[sea_orm(column_type = "Text")]
    pub html: String,
    pub attempts: i32,
    /// `None` once sent or given up.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// A worker holds the row until then.
    pub claimed_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
