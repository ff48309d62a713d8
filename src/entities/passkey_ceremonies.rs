//! A passkey ceremony between its start and its finish: single use, five
//! minutes, bound to what started it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey_ceremonies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 (hex) of the ceremony id handed to the client.
    pub token_hash: String,
    /// What the ceremony is for; see `passkeys::ceremony::Kind`.
    pub kind: String,
    /// The account it was started for: the signed-in caller of a
    /// registration, or the account an email named (none for a discoverable
    /// sign-in, or an email no account has).
    pub user_id: Option<Uuid>,
    /// The session that started a registration: only it may finish it.
    pub session_id: Option<Uuid>,
    /// The account's security stamp at the start; a change since voids the ceremony.
    pub stamp: Option<i64>,
    /// webauthn-rs's state of the ceremony, serialised.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
