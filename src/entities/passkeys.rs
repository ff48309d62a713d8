//! A passkey: a WebAuthn credential an account signs in with.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 (hex) of the raw credential id: what lookups use.
    pub credential_key: String,
    /// The credential id, base64url, as authenticators and `allowCredentials` name it.
    pub credential_id: String,
    /// The credential (public key, counter, flags) as webauthn-rs serialises it.
    pub credential: String,
    pub name: String,
    /// The authenticator model's AAGUID, when it gave one.
    pub aaguid: Option<String>,
    /// The BE flag: may be synced to other devices.
    pub backup_eligible: bool,
    /// The BS flag at its last use: is synced now.
    pub backed_up: bool,
    /// The highest signature counter seen; a lower one is a cloned authenticator.
    pub sign_count: i64,
    /// The attestation object of the registration (WEBAUTHN_ATTESTATION=direct), base64url.
    pub attestation: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Whether `user_id` has a passkey: what decides whether a passkey may be
/// the second factor of a login, and satisfies REQUIRE_MFA.
///
/// # Errors
/// When the database fails.
pub async fn any_for(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<bool, DbErr> {
    Ok(Entity::find().filter(Column::UserId.eq(user_id)).count(conn).await? > 0)
}
