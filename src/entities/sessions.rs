//! One signed-in device: created by a login, ended by logout, revocation or idleness.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
    /// Written in batches; the in-memory activity tracker may hold a later value.
    pub last_active_at: DateTimeUtc,
    /// The hard end: login + SESSION_MAX_LIFETIME; refreshes never move it.
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// How the user proved who they are; the token's `amr` follows from it.
    pub amr: SignInMethod,
    pub step_up_until: Option<DateTimeUtc>,
    /// The account's security stamp at the session's last proof of identity
    /// (its sign-in or a step-up): once the stamp moves on, neither counts.
    pub proof_stamp: i64,
    /// Claims the access-token hook added at sign-in (a JSON object), copied
    /// into every access token of the session.
    #[sea_orm(column_type = "Text", nullable)]
    pub extra_claims: Option<String>,
}

impl Model {
    /// The hook's claims, empty when there are none.
    pub fn extra_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        match self
            .extra_claims
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
        {
            Some(Ok(serde_json::Value::Object(claims))) => claims,
            _ => serde_json::Map::new(),
        }
    }
}

/// How a session's user proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(64))")]
pub enum SignInMethod {
    /// A password alone.
    #[sea_orm(string_value = "password")]
    Password,
    /// A password, then a code from an authenticator app.
    #[sea_orm(string_value = "password_totp")]
    PasswordAndTotp,
    /// A password, then a recovery code.
    #[sea_orm(string_value = "password_recovery_code")]
    PasswordAndRecoveryCode,
    /// A password, then a code mailed to the account's address (LOGIN_EMAIL_OTP).
    #[sea_orm(string_value = "password_mailed_code")]
    PasswordAndMailedCode,
    /// An OpenID Connect provider.
    #[sea_orm(string_value = "provider")]
    Provider,
    /// A provider, then a code from an authenticator app.
    #[sea_orm(string_value = "provider_totp")]
    ProviderAndTotp,
    /// A provider, then a recovery code.
    #[sea_orm(string_value = "provider_recovery_code")]
    ProviderAndRecoveryCode,
    /// A passkey with user verification: something held and the person's own check on it.
    #[sea_orm(string_value = "passkey")]
    Passkey,
    /// A password, then a passkey.
    #[sea_orm(string_value = "password_passkey")]
    PasswordAndPasskey,
    /// A provider, then a passkey.
    #[sea_orm(string_value = "provider_passkey")]
    ProviderAndPasskey,
}

/// Authentication method references (RFC 8176), as access tokens carry them in `amr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time password.
    Otp,
    /// More than one factor.
    Mfa,
    /// A federated identity provider (as Microsoft's tokens say; RFC 8176 has no value for it).
    Fed,
    /// Proof of possession of a key (a passkey).
    Pop,
    /// User presence and verification on the authenticator (a passkey's PIN or biometric).
    User,
}

impl SignInMethod {
    /// The `amr` values of a session signed in this way: `otp` only for a
    /// device's one-time password (a mailed code is the mailbox, not a
    /// device), `mfa` only for two distinct factors.
    pub fn amr(self) -> &'static [Amr] {
        match self {
            Self::Password => &[Amr::Pwd],
            Self::PasswordAndTotp => &[Amr::Pwd, Amr::Otp, Amr::Mfa],
            Self::PasswordAndRecoveryCode | Self::PasswordAndMailedCode => &[Amr::Pwd, Amr::Mfa],
            Self::Provider => &[Amr::Fed],
            Self::ProviderAndTotp => &[Amr::Fed, Amr::Otp, Amr::Mfa],
            Self::ProviderAndRecoveryCode => &[Amr::Fed, Amr::Mfa],
            Self::Passkey => &[Amr::Pop, Amr::User, Amr::Mfa],
            Self::PasswordAndPasskey => &[Amr::Pwd, Amr::Pop, Amr::Mfa],
            Self::ProviderAndPasskey => &[Amr::Fed, Amr::Pop, Amr::Mfa],
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
