//! Security events: what happened to an account, when and from where.
//!
//! Owns `security_events`. May call: `client`, `db`, `entities`.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::client::ClientInfo;
use crate::db;
use crate::entities::security_events::{ActiveModel, Column, Entity, Model};
use crate::error::AppResult;

/// The kinds of security event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    SignedUp,
    EmailConfirmed,
    LoginSucceeded,
    LoginFailed,
    PasswordChanged,
    PasswordReset,
    PasswordResetRequested,
    SessionRevoked,
    LoggedOut,
    RefreshTokenReused,
    AccountDeactivated,
    AccountActivated,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodesRegenerated,
    MfaFailed,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeUndone,
    MfaResetByOperator,
    IdentityLinked,
    IdentityUnlinked,
    ProviderSignInRefused,
    SessionsRevokedByAdmin,
    AccountDeletedByAdmin,
    RoleChangedByAdmin,
    PasswordResetSentByAdmin,
    LoginLimited,
    /// The account's budget of wrong second-factor codes ran out.
    SecondFactorLimited,
    DeviceRevoked,
    DeviceForgotten,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyCloneDetected,
    PasskeysRemovedByOperator,
}

impl EventKind {
    /// The name clients see in `SecurityEvent.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedUp => "SIGNED_UP",
            Self::EmailConfirmed => "EMAIL_CONFIRMED",
            Self::LoginSucceeded => "LOGIN_SUCCEEDED",
            Self::LoginFailed => "LOGIN_FAILED",
            Self::PasswordChanged => "PASSWORD_CHANGED",
            Self::PasswordReset => "PASSWORD_RESET",
            Self::PasswordResetRequested => "PASSWORD_RESET_REQUESTED",
            Self::SessionRevoked => "SESSION_REVOKED",
            Self::LoggedOut => "LOGGED_OUT",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::AccountDeactivated => "ACCOUNT_DEACTIVATED",
            Self::AccountActivated => "ACCOUNT_ACTIVATED",
            Self::MfaEnabled => "MFA_ENABLED",
            Self::MfaDisabled => "MFA_DISABLED",
            Self::RecoveryCodesRegenerated => "RECOVERY_CODES_REGENERATED",
            Self::MfaFailed => "MFA_FAILED",
            Self::EmailChangeRequested => "EMAIL_CHANGE_REQUESTED",
            Self::EmailChanged => "EMAIL_CHANGED",
            Self::EmailChangeUndone => "EMAIL_CHANGE_UNDONE",
            Self::MfaResetByOperator => "MFA_RESET_BY_OPERATOR",
            Self::IdentityLinked => "IDENTITY_LINKED",
            Self::IdentityUnlinked => "IDENTITY_UNLINKED",
            Self::ProviderSignInRefused => "PROVIDER_SIGN_IN_REFUSED",
            Self::SessionsRevokedByAdmin => "SESSIONS_REVOKED_BY_ADMIN",
            Self::AccountDeletedByAdmin => "ACCOUNT_DELETED_BY_ADMIN",
            Self::RoleChangedByAdmin => "ROLE_CHANGED_BY_ADMIN",
            Self::PasswordResetSentByAdmin => "PASSWORD_RESET_SENT_BY_ADMIN",
            Self::LoginLimited => "LOGIN_LIMITED",
            Self::SecondFactorLimited => "SECOND_FACTOR_LIMITED",
            Self::DeviceRevoked => "DEVICE_REVOKED",
            Self::DeviceForgotten => "DEVICE_FORGOTTEN",
            Self::PasskeyAdded => "PASSKEY_ADDED",
            Self::PasskeyRemoved => "PASSKEY_REMOVED",
            Self::PasskeyCloneDetected => "PASSKEY_CLONE_DETECTED",
            Self::PasskeysRemovedByOperator => "PASSKEYS_REMOVED_BY_OPERATOR",
        }
    }
}

/// Records an event for `user_id`.
///
/// # Errors
/// When the database fails.
pub async fn record(conn: &impl ConnectionTrait, user_id: Uuid, kind: EventKind, client: &ClientInfo) -> AppResult<()> {
    ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        kind: Set(kind.as_str().to_owned()),
        ip: Set(client.ip_string()),
        user_agent: Set(client.user_agent_trimmed()),
        at: Set(db::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The newest `first` events of `user_id` (1 to 100).
///
/// # Errors
/// When the database fails.
pub async fn latest(conn: &impl ConnectionTrait, user_id: Uuid, first: u64) -> AppResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_desc(Column::At)
        .limit(first.clamp(1, 100))
        .all(conn)
        .await?)
}

/// Deletes events older than `keep` (AUDIT_RETENTION), in batches; returns how many.
///
/// # Errors
/// When the database fails.
pub async fn prune(db: &crate::db::Db, keep: std::time::Duration) -> AppResult<u64> {
    let old = sea_orm::Condition::all().add(Column::At.lt(db::before(keep)));
    Ok(db::prune::in_batches::<Entity>(db.writer(), Column::Id, old).await?)
}
