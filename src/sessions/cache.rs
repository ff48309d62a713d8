//! A short-lived in-process cache of sessions and their users for the per-request liveness check.
//!
//! Entries live one second: a revocation on this instance removes them at
//! once, one on another instance as soon as its notice arrives, and one
//! whose notice was lost (or never sent: MariaDB without Redis) within that second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::entities::{sessions, users};

/// How long an entry may be served without rereading the database.
pub const TTL: Duration = Duration::from_secs(1);
const SWEEP_ABOVE: usize = 10_000;

/// A session and its user as read from the database.
#[derive(Debug)]
pub struct LiveSession {
    pub session: sessions::Model,
    pub user: users::Model,
    /// Whether the user had a passkey; read only when REQUIRE_MFA asks
    /// the account for a second factor and it has no TOTP.
    pub has_passkey: bool,
    fetched: Instant,
}

impl LiveSession {
    /// Wraps a freshly read session and user.
    pub fn new(session: sessions::Model, user: users::Model, has_passkey: bool) -> Self {
        Self {
            session,
            user,
            has_passkey,
            fetched: Instant::now(),
        }
    }
}

/// Sessions by id.
#[derive(Default)]
pub struct SessionCache {
    map: RwLock<HashMap<Uuid, Arc<LiveSession>>>,
    /// When stale entries were last swept; none yet at first.
    swept_at: Mutex<Option<Instant>>,
}

impl SessionCache {
    /// The cached entry for `sid`, if still fresh.
    pub fn get(&self, sid: Uuid) -> Option<Arc<LiveSession>> {
        let map = self.map.read().ok()?;
        map.get(&sid).filter(|e| e.fetched.elapsed() < TTL).cloned()
    }

    /// Caches an entry.
    pub fn put(&self, entry: Arc<LiveSession>) {
        // Stale entries are never served, so they go at least once a TTL:
        // sessions used once (a sign-in, then a logout) hold no memory.
        let sweep = self.swept_at.lock().is_ok_and(|mut at| {
            let due = at.is_none_or(|at| at.elapsed() >= TTL);
            if due {
                *at = Some(Instant::now());
            }
            due
        });
        if let Ok(mut map) = self.map.write() {
            if sweep || map.len() >= SWEEP_ABOVE {
                map.retain(|_, e| e.fetched.elapsed() < TTL);
            }
            map.insert(entry.session.id, entry);
        }
    }

    /// How many sessions are cached.
    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |map| map.len())
    }

    /// Whether no session is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops one session, after it was revoked.
    pub fn forget(&self, sid: Uuid) {
        if let Ok(mut map) = self.map.write() {
            map.remove(&sid);
        }
    }

    /// Drops every session of a user, after a change to the user or all their sessions.
    pub fn forget_user(&self, user_id: Uuid) {
        if let Ok(mut map) = self.map.write() {
            map.retain(|_, e| e.user.id != user_id);
        }
    }

    /// Drops everything, when notices may have been missed.
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }
}
