//! The check every authenticated request passes: a valid access token of a live session.

use std::sync::Arc;

use sea_orm::EntityTrait;

use super::cache::LiveSession;
use super::store::is_alive;
use crate::entities::{sessions, users};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
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

/// Verifies `bearer` and checks that its session is alive; notes the activity.
///
/// # Errors
/// [`AppError::Unauthenticated`] for a bad token or a session that is over;
/// database errors when the session cannot be read.
pub async fn authenticate(state: &AppState, bearer: &str) -> AppResult<Principal> {
    let claims = state
        .verifier
        .verify(&state.keys, &state.db, &state.crypto, bearer)
        .await?;
    let live = match state.live.get(claims.sid) {
        Some(live) => live,
        None => {
            let (session, user) = sessions::Entity::find_by_id(claims.sid)
                .find_also_related(users::Entity)
                .one(&state.db.read)
                .await?
                .ok_or(AppError::Unauthenticated)?;
            let user = user.ok_or(AppError::Unauthenticated)?;
            let live = Arc::new(LiveSession::new(session, user));
            state.live.put(live.clone());
            live
        }
    };
    if live.user.id != claims.sub || !is_alive(state, &live.session, &live.user) {
        return Err(AppError::Unauthenticated);
    }
    state.activity.touch(live.session.id, live.user.id);
    Ok(Principal { claims, live })
}
