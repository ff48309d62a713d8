//! Watching a session from a long-lived connection (the `sessionEvents`
//! subscription, and the WebSocket carrying it): the watcher hears at once
//! when the session ends, however it ended (logout elsewhere, revocation,
//! password change, deactivation, idleness), so an app can leave the page
//! instead of failing on its next call.
//!
//! A watcher waits for a notice naming its session or account (a change
//! committed here or, pushed, on another instance), then looks through the
//! session cache, which the notice emptied for it. It also looks now and then
//! on its own, for ends no notice names (expiry, idleness) and for notices
//! lost while the listener was down: every second where notices reach every
//! instance, every quarter second where they cannot (MariaDB without Redis),
//! through the cache, which rereads at most once a second per session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use futures_util::future::{self, BoxFuture};
use uuid::Uuid;

use tokio::sync::broadcast::error::RecvError;

use super::{Notice, Principal, Sessions};
use crate::db;
use crate::error::{AppError, AppResult};

/// How often a watcher looks on its own where notices reach every instance.
const LOOK_EVERY: Duration = super::cache::TTL;
/// How often it looks where they cannot.
const LOOK_OFTEN: Duration = Duration::from_millis(250);
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
        // Listening before the first look, so no notice falls between.
        let mut heard = self.heard();
        let every = if self.hears_every_change() {
            LOOK_EVERY
        } else {
            LOOK_OFTEN
        };
        let mut user = None;
        loop {
            match self.look(sid).await {
                Look::Ended => return,
                Look::Live(user_id) => user = Some(user_id),
                Look::Unknown => {}
            }
            let next_look = tokio::time::sleep(every);
            tokio::pin!(next_look);
            loop {
                tokio::select! {
                    () = &mut next_look => break,
                    notice = heard.recv() => match notice {
                        Ok(Notice::Session(id)) if id == sid => break,
                        Ok(Notice::Account(id)) if Some(id) == user => break,
                        Ok(Notice::Reset) | Err(RecvError::Lagged(_)) => break,
                        Ok(_) => {}
                        // The sender lives as long as `self`: never; look on time then.
                        Err(RecvError::Closed) => {
                            (&mut next_look).await;
                            break;
                        }
                    },
                }
            }
        }
    }

    /// Whether session `sid` is alive, and whose; a database that cannot be
    /// read says nothing yet.
    async fn look(&self, sid: Uuid) -> Look {
        match self.live_session(sid).await {
            Ok(Some(live)) if self.is_alive(&live.session, &live.user) => Look::Live(live.user.id),
            Ok(_) => Look::Ended,
            Err(error) => {
                tracing::debug!(%error, "cannot look at a watched session; looking again");
                Look::Unknown
            }
        }
    }
}

/// What a watcher saw.
enum Look {
    Live(Uuid),
    Ended,
    Unknown,
}
