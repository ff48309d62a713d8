//! The events webhooks carry: their dotted types and the `data` of each,
//! in the API's camelCase. `data` holds ids and the changed fields, never a
//! secret, token, code or password hash.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::sessions::SignInMethod;
use crate::entities::users;

/// Every event type, as endpoints subscribe to them.
pub const TYPES: [&str; 14] = [
    "user.created",
    "user.email_confirmed",
    "user.updated",
    "user.deleted",
    "session.created",
    "session.revoked",
    "password.changed",
    "mfa.enabled",
    "mfa.disabled",
    "passkey.added",
    "passkey.removed",
    "identity.linked",
    "identity.unlinked",
    "login.failed_limit",
];

/// Why a session ended, as `session.revoked` says in `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// The session's own `logout`.
    Logout,
    /// The owner's `logoutAll`.
    LogoutAll,
    /// The owner ended it from another session (`revokeSession`).
    Revoked,
    /// A spent refresh token was presented again.
    ReuseDetected,
    /// An administrator ended it (`revokeUserSessions`).
    Admin,
    /// Unused for SESSION_IDLE_TIMEOUT.
    Idle,
    /// SESSION_MAX_LIFETIME passed.
    Expired,
    /// The password was changed or reset.
    PasswordChanged,
    /// The account was switched off.
    Deactivated,
    /// The account was taken back: an email change undone, a claim by the
    /// address's owner, or second factors reset by the operator.
    Recovered,
    /// The access-token hook failed under the `deny` policy as it opened.
    HookFailed,
}

impl RevokeReason {
    /// The value of `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Revoked => "revoked",
            Self::ReuseDetected => "reuse_detected",
            Self::Admin => "admin",
            Self::Idle => "idle",
            Self::Expired => "expired",
            Self::PasswordChanged => "password_changed",
            Self::Deactivated => "deactivated",
            Self::Recovered => "recovered",
            Self::HookFailed => "hook_failed",
        }
    }
}

/// One event, about to be written for every endpoint that wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The dotted type, one of [`TYPES`].
    pub kind: &'static str,
    pub data: Value,
}

/// What every event says about an account.
fn user(u: &users::Model) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "emailVerified": u.email_verified_at.is_some(),
        "username": u.username,
        "displayName": u.display_name,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "phoneNumber": u.phone_number,
        "role": u.role,
        "active": u.active,
        "createdAt": u.created_at,
    })
}

impl Event {
    fn new(kind: &'static str, data: Value) -> Self {
        Self { kind, data }
    }

    /// An account was made; `provider` is `password`, `passkey` or the sign-in provider's name.
    pub fn user_created(u: &users::Model, provider: &str) -> Self {
        Self::new("user.created", json!({ "user": user(u), "provider": provider }))
    }

    /// An account's address was confirmed.
    pub fn email_confirmed(user_id: Uuid, email: &str) -> Self {
        Self::new("user.email_confirmed", json!({ "userId": user_id, "email": email }))
    }

    /// Fields of an account changed; `changes` maps each to its new value.
    pub fn user_updated(user_id: Uuid, changes: Value) -> Self {
        Self::new("user.updated", json!({ "userId": user_id, "changes": changes }))
    }

    /// An account was deleted, by its owner or an administrator.
    pub fn user_deleted(user_id: Uuid, email: &str, by_admin: bool) -> Self {
        Self::new(
            "user.deleted",
            json!({ "userId": user_id, "email": email, "byAdmin": by_admin }),
        )
    }

    /// A session was opened by a sign-in.
    pub fn session_created(
        user_id: Uuid,
        session_id: Uuid,
        method: SignInMethod,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Self {
        Self::new(
            "session.created",
            json!({
                "userId": user_id,
                "sessionId": session_id,
                "amr": method.amr(),
                "ip": ip,
                "userAgent": user_agent,
            }),
        )
    }

    /// A session ended before its time, and why.
    pub fn session_revoked(user_id: Uuid, session_id: Uuid, reason: RevokeReason) -> Self {
        Self::new(
            "session.revoked",
            json!({ "userId": user_id, "sessionId": session_id, "reason": reason.as_str() }),
        )
    }

    /// The password was changed by its owner (`changed`) or reset through a mailed link (`reset`).
    pub fn password_changed(user_id: Uuid, how: &str) -> Self {
        Self::new("password.changed", json!({ "userId": user_id, "how": how }))
    }

    /// A second factor went on (`totp`).
    pub fn mfa_enabled(user_id: Uuid, method: &str) -> Self {
        Self::new("mfa.enabled", json!({ "userId": user_id, "method": method }))
    }

    /// A second factor went off: by the owner, the operator, or a recovery of the account.
    pub fn mfa_disabled(user_id: Uuid, method: &str, by: &str) -> Self {
        Self::new("mfa.disabled", json!({ "userId": user_id, "method": method, "by": by }))
    }

    /// A passkey was added.
    pub fn passkey_added(user_id: Uuid, passkey_id: Uuid, name: &str) -> Self {
        Self::new(
            "passkey.added",
            json!({ "userId": user_id, "passkeyId": passkey_id, "name": name }),
        )
    }

    /// A passkey was removed.
    pub fn passkey_removed(user_id: Uuid, passkey_id: Uuid) -> Self {
        Self::new("passkey.removed", json!({ "userId": user_id, "passkeyId": passkey_id }))
    }

    /// A sign-in provider's identity was linked to the account.
    pub fn identity_linked(user_id: Uuid, provider: &str) -> Self {
        Self::new("identity.linked", json!({ "userId": user_id, "provider": provider }))
    }

    /// A sign-in provider's identity was removed from the account.
    pub fn identity_unlinked(user_id: Uuid, provider: &str) -> Self {
        Self::new("identity.unlinked", json!({ "userId": user_id, "provider": provider }))
    }

    /// The account's password bucket ran out: someone is guessing.
    pub fn login_failed_limit(user_id: Uuid) -> Self {
        Self::new("login.failed_limit", json!({ "userId": user_id }))
    }

    /// The body every attempt sends: `{type, timestamp, data}`.
    pub fn payload(&self, at: DateTime<Utc>) -> String {
        json!({
            "type": self.kind,
            "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "data": self.data,
        })
        .to_string()
    }
}

/// Whether `kind` is an event type endpoints may subscribe to.
pub fn is_type(kind: &str) -> bool {
    TYPES.contains(&kind)
}
