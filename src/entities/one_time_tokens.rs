//! Single-use tokens and codes (confirmation, reset, email change, MFA steps), stored by hash.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "one_time_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What the token may be used for; see `tokens::one_time::Purpose`.
    pub purpose: String,
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub attempts: i32,
    /// A value the token carries: an email change's new address, or the old one its undo restores.
    pub payload: Option<String>,
    /// The account's security stamp when the token was issued; `None` for
    /// what outlives credential changes (undo links, recovery codes).
    pub stamp: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
