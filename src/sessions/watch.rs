//! Watching a session from a long-lived connection (the `sessionEvents`
//! subscription, and the WebSocket carrying it): the watcher hears at once
//! when the session ends, however it ended (logout elsewhere, revocation,
//! password change, deactivation, idleness), so an app can leave the page
//! instead of failing on its next call.
//!
//! A watcher looks at its session every quarter second through the session
//! cache, which every revocation on this instance clears at once and which
//! rereads the database at most once a second per session: an end on
//! another instance is heard within about a second, at no more than one
//! read per second per watched session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use futures_util::future::{self, BoxFuture};
use uuid::Uuid;

use super::{Principal, Sessions};
use crate::db;
use crate::error::{AppError, AppResult};

/// How often a watcher looks.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// Live watchers one account may hold on one instance (tabs, devices).
pub const MAX_WATCHERS_PER_USER: usize = 8;

/// A watched session's end.
#[derive(Clone, Debug)]
pub struct SessionEnded {
    pub session_id: Uuid,
    pub at: DateTime<Utc>,
}

/// How many watchers each account holds on this instance.
#[derive(Default)]
pub struct Watchers(Mutex<HashMap<Uuid, usize>>);

/// One account's place among the watchers; given back when dropped.
struct Place {
    watchers: Arc<Watchers>,
    user_id: Uuid,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut map) = self.watchers.0.lock()
            && let Some(n) = map.get_mut(&self.user_id)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user_id);
            }
        }
    }
}

fn take_place(watchers: &Arc<Watchers>, user_id: Uuid) -> AppResult<Place> {
    let mut map = watchers
        .0
        .lock()
        .map_err(|_| AppError::internal("the watcher count is poisoned"))?;
    let n = map.entry(user_id).or_insert(0);
    if *n >= MAX_WATCHERS_PER_USER {
        return Err(AppError::RateLimited { retry_after: 60 });
    }
    *n += 1;
    Ok(Place {
        watchers: watchers.clone(),
        user_id,
    })
}

impl Sessions {
    /// A stream that yields once, when `caller`'s session ends, then ends.
    /// `sooner` resolves when the connection carrying the stream saw the end
    /// first (it watches the same session), so both tell the client at once.
    ///
    /// # Errors
    /// `RATE_LIMITED` when the account already holds MAX_WATCHERS_PER_USER
    /// watchers on this instance.
    pub fn watch_end(
        &self,
        caller: &Principal,
        sooner: Option<BoxFuture<'static, ()>>,
    ) -> AppResult<impl Stream<Item = SessionEnded> + Send + use<>> {
        let place = take_place(&self.watchers, caller.user().id)?;
        let sessions = self.clone();
        let session_id = caller.session().id;
        Ok(futures_util::stream::once(async move {
            let ended = sessions.ended(session_id);
            match sooner {
                Some(sooner) => {
                    futures_util::pin_mut!(ended);
                    future::select(ended, sooner).await;
                }
                None => ended.await,
            }
            // The stream is over: the place goes back.
            drop(place);
            SessionEnded {
                session_id,
                at: db::now(),
            }
        }))
    }

    /// Resolves when session `sid` ends, however it ends (logout anywhere,
    /// revocation, expiry, idleness, the account switched off or deleted).
    pub async fn ended(&self, sid: Uuid) {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            if !self.still_live(sid).await {
                return;
            }
        }
    }

    /// Whether session `sid` is alive; a database that cannot be read says nothing yet.
    async fn still_live(&self, sid: Uuid) -> bool {
        match self.live_session(sid).await {
            Ok(Some(live)) => self.is_alive(&live.session, &live.user),
            Ok(None) => false,
            Err(error) => {
                tracing::debug!(%error, "cannot look at a watched session; looking again");
                true
            }
        }
    }
}
