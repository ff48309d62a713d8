//! The check every authenticated operation passes, on every transport: a
//! valid access token of a live session of an active account, with what
//! the account may do read fresh (its role, whether it must enrol a second
//! factor first).

use std::sync::Arc;

use sea_orm::EntityTrait;

use super::Sessions;
use super::cache::LiveSession;
use crate::config::RequireMfa;
use crate::entities::users::Role;
use crate::entities::{passkeys, sessions, users};
use crate::error::{AppError, AppResult};
use crate::tokens::jwt::Claims;

/// The caller of an authenticated operation.
#[derive(Clone, Debug)]
pub struct Principal {
    pub claims: Arc<Claims>,
    live: Arc<LiveSession>,
    must_enrol: bool,
}

/// Why an account that must have a second factor, and has none, is refused.
pub const ENROL_FIRST: &str = "turn on two-step verification first (setupMfa, then enableMfa; or add a passkey): \
     this account must have a second factor";

impl Principal {
    /// Whether REQUIRE_MFA asks this account for a second factor it does not
    /// have yet: until it enrols one it may do nothing else (see
    /// [`Principal::require_enrolled`]).
    pub fn must_enrol(&self) -> bool {
        self.must_enrol
    }

    /// `self`, unless it must enrol a second factor first.
    ///
    /// # Errors
    /// `FORBIDDEN`, saying to enrol, when [`Principal::must_enrol`].
    pub fn require_enrolled(&self) -> AppResult<&Self> {
        if self.must_enrol {
            Err(AppError::Forbidden(ENROL_FIRST))
        } else {
            Ok(self)
        }
    }

    /// The signed-in user, as of at most a second ago.
    pub fn user(&self) -> &users::Model {
        &self.live.user
    }

    /// The session the access token belongs to.
    pub fn session(&self) -> &sessions::Model {
        &self.live.session
    }
}

impl Sessions {
    /// Verifies `bearer` and checks that its session is alive; notes the activity.
    ///
    /// # Errors
    /// [`AppError::Unauthenticated`] for a bad token or a session that is over;
    /// database errors when the session cannot be read.
    pub async fn authenticate(&self, bearer: &str) -> AppResult<Principal> {
        let claims = self.verifier.verify(&self.keys, &self.db, &self.crypto, bearer).await?;
        let live = self.live_session(claims.sid).await?.ok_or(AppError::Unauthenticated)?;
        if live.user.id != claims.sub || !self.is_alive(&live.session, &live.user) {
            return Err(AppError::Unauthenticated);
        }
        self.activity.touch(live.session.id, live.user.id);
        let must_enrol = second_factor_required(self.require_mfa, &live.user)
            && live.user.totp_enabled_at.is_none()
            && !live.has_passkey;
        Ok(Principal {
            claims,
            live,
            must_enrol,
        })
    }

    /// Session `sid` and its user, as of at most a second ago (the cache), or
    /// `None` when there is no such session (or no longer its user).
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn live_session(&self, sid: uuid::Uuid) -> AppResult<Option<Arc<LiveSession>>> {
        if let Some(live) = self.cache.get(sid) {
            return Ok(Some(live));
        }
        let found = sessions::Entity::find_by_id(sid)
            .find_also_related(users::Entity)
            .one(&self.db.read)
            .await?;
        let Some((session, Some(user))) = found else {
            return Ok(None);
        };
        // Read only where it decides something: a passkey satisfies REQUIRE_MFA.
        let has_passkey = second_factor_required(self.require_mfa, &user)
            && user.totp_enabled_at.is_none()
            && passkeys::any_for(&self.db.read, user.id).await?;
        let live = Arc::new(LiveSession::new(session, user, has_passkey));
        self.cache.put(live.clone());
        Ok(Some(live))
    }
}

/// Whether `policy` (REQUIRE_MFA) asks `user` to have a second factor: a
/// TOTP authenticator or a passkey.
pub fn second_factor_required(policy: RequireMfa, user: &users::Model) -> bool {
    match policy {
        RequireMfa::Off => false,
        RequireMfa::Admins => user.role == Role::Admin,
        RequireMfa::All => true,
    }
}
