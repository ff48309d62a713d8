//! Sessions: opening them, the liveness check of every authenticated request,
//! refresh rotation, revocation, activity and idleness, and known devices.
//!
//! Owns `sessions`, `refresh_tokens` and `devices`, and the in-process session cache.
//! May call: `tokens`, `events`, `mail` (new-device notices), `webhooks`,
//! `hooks` (the access-token hook), `limits`, `notices`, `db`, `crypto`, `config`, `entities`,
//! `tasks` (the refresh writer and after-answer work run under its tracker).

pub mod activity;
pub mod auth;
pub mod cache;
pub mod devices;
pub mod expiry;
pub mod recent_proof;
pub mod refresh;
pub mod revoke;
pub mod stamp;
pub mod store;
pub mod successors;
pub mod tokens;
pub mod watch;

use std::sync::Arc;

use uuid::Uuid;

use crate::config::{RequireMfa, TokenConfig};
use crate::crypto::Crypto;
use crate::db::{Db, Tx};
use crate::hooks::Hooks;
use crate::limits::Limits;
use crate::mail::Outbox;
use crate::notices::Notices;
use crate::tasks::Tasks;
use crate::tokens::jwt::Verifier;
use crate::tokens::keys::KeyStore;
use crate::webhooks::Webhooks;
use activity::Activity;
use cache::SessionCache;

pub use crate::entities::sessions::{Amr, SignInMethod};
pub use crate::notices::Notice;
pub use auth::Principal;
pub use store::AuthBundle;

/// What [`Sessions`] is built from.
pub struct SessionParts {
    pub db: Db,
    /// The instance's background work, where the refresh writer runs.
    pub tasks: Tasks,
    pub keys: Arc<KeyStore>,
    pub crypto: Arc<Crypto>,
    pub limits: Arc<Limits>,
    pub outbox: Arc<Outbox>,
    /// Lifetimes and windows.
    pub policy: TokenConfig,
    /// The `iss` of access tokens.
    pub issuer: String,
    /// NEW_DEVICE_NOTICES.
    pub new_device_notices: bool,
    /// DEVICE_MAX_FAILURES.
    pub device_max_failures: u32,
    /// REQUIRE_MFA.
    pub require_mfa: RequireMfa,
    /// Sessions opened and ended are events for the app's backend.
    pub webhooks: Webhooks,
    /// The access-token hook, asked when a session opens.
    pub hooks: Hooks,
    /// Tells other instances which sessions and accounts changed.
    pub notices: Arc<Notices>,
}

/// The sessions service: everything a session's life touches. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    keys: Arc<KeyStore>,
    verifier: Arc<Verifier>,
    crypto: Arc<Crypto>,
    cache: Arc<SessionCache>,
    activity: Arc<Activity>,
    limits: Arc<Limits>,
    policy: Arc<TokenConfig>,
    /// The `iss` of access tokens.
    issuer: Arc<str>,
    /// Tells owners of sign-ins from new devices.
    outbox: Arc<Outbox>,
    new_device_notices: bool,
    /// Wrong passwords after which a device credential is revoked.
    device_max_failures: u32,
    /// Connections watching their session (`sessionEvents`), per account.
    watchers: Arc<watch::Watchers>,
    /// Group commit of refresh rotations (none outside a runtime).
    successors: Option<Arc<successors::SuccessorWriter>>,
    /// Which accounts must have a second factor before anything else.
    require_mfa: RequireMfa,
    webhooks: Webhooks,
    hooks: Hooks,
    notices: Arc<Notices>,
    /// Every notice this instance acted on (its own commits' and others'), for its watchers.
    heard: tokio::sync::broadcast::Sender<Notice>,
    /// The instance's background work.
    tasks: Tasks,
}

impl Sessions {
    /// The service over `parts`.
    pub fn new(parts: SessionParts) -> Self {
        let SessionParts {
            db,
            tasks,
            keys,
            crypto,
            limits,
            outbox,
            policy,
            issuer,
            new_device_notices,
            device_max_failures,
            require_mfa,
            webhooks,
            hooks,
            notices,
        } = parts;
        let db_for_writer = db.clone();
        Self {
            verifier: Arc::new(Verifier::new(&issuer, &policy.audience, policy.access_typ)),
            db,
            keys,
            crypto,
            cache: Arc::new(SessionCache::default()),
            activity: Arc::new(Activity::default()),
            limits,
            policy: Arc::new(policy),
            issuer: issuer.into(),
            outbox,
            new_device_notices,
            device_max_failures,
            watchers: Arc::default(),
            successors: successors::SuccessorWriter::start(db_for_writer, &tasks).map(Arc::new),
            tasks,
            require_mfa,
            webhooks,
            hooks,
            notices,
            heard: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// Every notice this instance acts on: its own commits', other
    /// instances', and a `Reset` each time its listener (re)connects.
    pub fn heard(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.heard.subscribe()
    }

    /// Hears other instances' notices until `stop`: each drops what it names
    /// from the cache and wakes the watchers.
    pub async fn listen_for_notices(self, stop: tokio_util::sync::CancellationToken) {
        let notices = self.notices.clone();
        notices.listen(move |notice| self.act_on(notice), stop).await;
    }

    fn act_on(&self, notice: Notice) {
        act_on(&self.cache, &self.heard, notice);
    }

    /// Drops `user_id`'s cached sessions once `tx` commits, here and on every
    /// instance, so the next request rereads the account (after any change
    /// to it or its sessions).
    pub fn evict_user_on_commit(&self, tx: &mut Tx, user_id: Uuid) {
        self.evict_on_commit(tx, Notice::Account(user_id));
    }

    /// Drops session `sid` from the cache once `tx` commits, here and on every instance.
    pub fn evict_session_on_commit(&self, tx: &mut Tx, sid: Uuid) {
        self.evict_on_commit(tx, Notice::Session(sid));
    }

    fn evict_on_commit(&self, tx: &mut Tx, notice: Notice) {
        let (cache, heard) = (self.cache.clone(), self.heard.clone());
        tx.after_commit(move || act_on(&cache, &heard, notice));
        self.notices.publish_on_commit(tx, notice);
    }

    /// Whether watchers may wait for notices and look rarely.
    fn hears_every_change(&self) -> bool {
        self.notices.hears_every_change()
    }

    /// Rereads the signing keys (rotations by any instance or the CLI); when
    /// a key was revoked, tokens it signed stop verifying at once here.
    ///
    /// # Errors
    /// When the database fails or a key cannot be opened.
    pub async fn reload_keys(&self) -> crate::error::AppResult<()> {
        if self.keys.reload(&self.db, &self.crypto).await? {
            tracing::warn!("a signing key was revoked: tokens it signed no longer verify");
            self.verifier.forget_verified();
        }
        Ok(())
    }

    /// Writes the activity gathered in memory.
    ///
    /// # Errors
    /// When the database fails; the activity stays pending.
    pub async fn flush_activity(&self) -> crate::error::AppResult<()> {
        self.activity.flush(&self.db).await
    }

    /// Stops the refresh writer once its queue is written (when stopping,
    /// after every request is answered).
    pub async fn stop_writer(&self) {
        if let Some(writer) = &self.successors {
            writer.stop().await;
        }
    }

    /// The instance's background work, for work a request leaves to run
    /// after its answer.
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }
}

/// Forgets what `notice` names, then wakes the watchers (in that order, so a
/// woken watcher rereads).
fn act_on(cache: &SessionCache, heard: &tokio::sync::broadcast::Sender<Notice>, notice: Notice) {
    match notice {
        Notice::Session(sid) => cache.forget(sid),
        Notice::Account(user_id) => cache.forget_user(user_id),
        Notice::Reset => cache.clear(),
    }
    // No receiver is no watcher: nothing to wake.
    let _ = heard.send(notice);
}
