//! Ed25519 keys that sign access tokens; private halves sealed with the master key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER, sealed.
    pub private_key: String,
    /// The raw 32-byte public key, base64url.
    pub public_key: String,
    /// When the key starts signing (published before that after a rotation).
    pub created_at: DateTimeUtc,
    /// Set when a newer key took over; it keeps verifying until its last token expires.
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
