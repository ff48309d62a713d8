//! GraphQL output types of the contract, built from domain values.

use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::accounts::LoginOutcome;
use crate::entities::{devices, security_events, sessions, users};
use crate::sessions::AuthBundle;
use crate::state::AppState;

/// What a user may do.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::entities::users::Role")]
pub enum Role {
    User,
    Admin,
}

/// Second factors a login may continue with.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::mfa::Method")]
pub enum MfaMethod {
    Totp,
    EmailOtp,
    RecoveryCode,
    /// A passkey: `startPasskeySignIn(mfaToken:)`, then `finishPasskeySignIn`.
    Passkey,
}

/// An account as its owner (or an admin) sees it.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    #[graphql(skip)]
    pub avatar_key: Option<String>,
    pub mfa_enabled: bool,
    #[graphql(skip)]
    pub has_password: bool,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_active_at: Option<DateTime<Utc>>,
    /// Set by administrators, read-only to the owner; access tokens carry it
    /// (claim `app_metadata`) from their next refresh.
    pub app_metadata: async_graphql::Json<serde_json::Value>,
}

impl User {
    async fn linked(&self, ctx: &Context<'_>) -> super::errors::GqlResult<Vec<crate::entities::identities::Model>> {
        let state = ctx.data::<AppState>()?;
        let id =
            uuid::Uuid::parse_str(&self.id).map_err(|_| crate::error::AppError::internal("a user id is not a UUID"))?;
        Ok(state.oauth.identities(id).await?)
    }
}

impl From<&users::Model> for User {
    fn from(u: &users::Model) -> Self {
        Self {
            id: ID(u.id.to_string()),
            email: u.email.clone(),
            email_verified: u.email_verified_at.is_some(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            phone_number: u.phone_number.clone(),
            avatar_key: u.avatar_key.clone(),
            mfa_enabled: u.totp_enabled_at.is_some(),
            has_password: u.password_hash.is_some(),
            role: u.role.into(),
            active: u.active,
            created_at: u.created_at,
            last_active_at: u.last_active_at,
            app_metadata: async_graphql::Json(u.app_metadata()),
        }
    }
}

/// A sign-in provider linked to an account.
#[derive(SimpleObject)]
pub struct Identity {
    pub provider: String,
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

#[ComplexObject]
impl User {
    /// How the account signs in: `password` when it has one, each linked provider, then `passkey` when it has one.
    async fn providers(&self, ctx: &Context<'_>) -> super::errors::GqlResult<Vec<String>> {
        let password = self.has_password.then(|| "password".to_owned());
        let linked = self.linked(ctx).await?.into_iter().map(|i| i.provider);
        let id =
            uuid::Uuid::parse_str(&self.id).map_err(|_| crate::error::AppError::internal("a user id is not a UUID"))?;
        let passkey = ctx
            .data::<AppState>()?
            .passkeys
            .has_any(id)
            .await?
            .then(|| "passkey".to_owned());
        Ok(password.into_iter().chain(linked).chain(passkey).collect())
    }

    /// The sign-in providers linked to the account.
    async fn identities(&self, ctx: &Context<'_>) -> super::errors::GqlResult<Vec<Identity>> {
        Ok(self
            .linked(ctx)
            .await?
            .into_iter()
            .map(|i| Identity {
                provider: i.provider,
                email: i.email,
                linked_at: i.created_at,
            })
            .collect())
    }

    /// The avatar's absolute URL; null when there is none.
    async fn avatar_url(&self, ctx: &Context<'_>) -> Option<String> {
        let key = self.avatar_key.as_deref()?;
        let state = ctx.data::<AppState>().ok()?;
        Some(state.config.public_link(&format!("/avatars/{key}.png")))
    }
}

/// A page of accounts and how many there are in all.
#[derive(SimpleObject)]
pub struct UserConnection {
    pub nodes: Vec<User>,
    pub total_count: i32,
}

/// Tokens for a signed-in session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    /// Single use; null in cookie mode, where it travels only as an HttpOnly cookie.
    pub refresh_token: Option<String>,
    /// After a password login: the known-device credential to present with
    /// the next login on this device (it spares that login from lockouts
    /// others cause). Keep it like the refresh token; every login renews it.
    pub device_token: Option<String>,
    pub token_type: String,
    pub expires_in: i32,
    pub user: User,
}

impl From<AuthBundle> for AuthPayload {
    fn from(b: AuthBundle) -> Self {
        Self {
            access_token: b.access_token,
            refresh_token: Some(b.refresh_token),
            device_token: b.device_token,
            token_type: "Bearer".to_owned(),
            expires_in: i32::try_from(b.expires_in).unwrap_or(i32::MAX),
            user: User::from(&b.user),
        }
    }
}

/// The answer to `signup`.
#[derive(SimpleObject)]
pub struct SignupPayload {
    pub confirmation_required: bool,
    pub auth: Option<AuthPayload>,
}

/// The answer to `login`.
#[derive(SimpleObject)]
pub struct LoginPayload {
    pub auth: Option<AuthPayload>,
    pub mfa_required: bool,
    pub mfa_token: Option<String>,
    pub mfa_methods: Vec<MfaMethod>,
}

impl LoginPayload {
    /// A login that opened a session.
    pub fn signed_in(auth: AuthPayload) -> Self {
        Self {
            auth: Some(auth),
            mfa_required: false,
            mfa_token: None,
            mfa_methods: Vec::new(),
        }
    }
}

impl From<LoginOutcome> for LoginPayload {
    fn from(outcome: LoginOutcome) -> Self {
        match outcome {
            LoginOutcome::SignedIn(bundle) => Self::signed_in((*bundle).into()),
            LoginOutcome::MfaRequired(challenge) => Self {
                auth: None,
                mfa_required: true,
                mfa_token: Some(challenge.token),
                mfa_methods: challenge.methods.into_iter().map(MfaMethod::from).collect(),
            },
        }
    }
}

/// What an authenticator app needs to enrol.
#[derive(SimpleObject)]
pub struct MfaSetup {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_code_png: String,
}

/// Recovery codes, shown once; each works once.
#[derive(SimpleObject)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

/// A signed-in device of the caller.
#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

impl Session {
    /// `last_active_at` may be newer in memory than in the row.
    pub fn new(s: &sessions::Model, current: bool, last_active_at: DateTime<Utc>) -> Self {
        Self {
            id: ID(s.id.to_string()),
            created_at: s.created_at,
            last_active_at,
            expires_at: s.expires_at,
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            current,
        }
    }
}

/// A device the caller signed in from with a password; its credential spares it from lockouts.
#[derive(SimpleObject)]
pub struct Device {
    pub id: ID,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
}

impl From<devices::Model> for Device {
    fn from(d: devices::Model) -> Self {
        Self {
            id: ID(d.id.to_string()),
            created_at: d.created_at,
            last_used_at: d.last_used_at,
            user_agent: d.user_agent,
        }
    }
}

/// Something that happened to the caller's account.
#[derive(SimpleObject)]
pub struct SecurityEvent {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<security_events::Model> for SecurityEvent {
    fn from(e: security_events::Model) -> Self {
        Self {
            kind: e.kind,
            at: e.at,
            ip: e.ip,
            user_agent: e.user_agent,
        }
    }
}
