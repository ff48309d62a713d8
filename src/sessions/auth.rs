//! The check every authenticated request passes: a valid access token of a live session.

use std::sync::Arc;

use sea_orm::EntityTrait;

use super::Sessions;
use super::cache::LiveSession;
use crate::entities::{sessions, users};
use crate::error::{AppError, AppResult};
use crate::tokens::jwt::Claims;

/// The caller of an authenticated request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub claims: Arc<Claims>,
    live: Arc<LiveSession>,
}

impl Principal {
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
        Ok(Principal { claims, live })
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
        let live = Arc::new(LiveSession::new(session, user));
        self.cache.put(live.clone());
        Ok(Some(live))
    }
}
