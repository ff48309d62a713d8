//! Sessions: opening them, the liveness check of every authenticated request,
//! refresh rotation, revocation, activity and idleness.
//!
//! Owns `sessions` and `refresh_tokens`, and the in-process session cache.
//! May call: `tokens`, `events`, `limits`, `db`, `crypto`, `config`, `entities`.

pub mod activity;
pub mod auth;
pub mod cache;
pub mod expiry;
pub mod refresh;
pub mod store;

use std::sync::Arc;

use uuid::Uuid;

use crate::config::TokenConfig;
use crate::crypto::Crypto;
use crate::db::{Db, Tx};
use crate::limits::Limits;
use crate::tokens::jwt::Verifier;
use crate::tokens::keys::KeyStore;
use activity::Activity;
use cache::SessionCache;

pub use crate::entities::sessions::{Amr, SignInMethod};
pub use auth::Principal;
pub use store::AuthBundle;

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
}

impl Sessions {
    /// The service over these parts; tokens are issued by `issuer` under `policy`.
    pub fn new(
        db: Db,
        keys: Arc<KeyStore>,
        crypto: Arc<Crypto>,
        limits: Arc<Limits>,
        policy: TokenConfig,
        issuer: &str,
    ) -> Self {
        Self {
            verifier: Arc::new(Verifier::new(issuer, &policy.audience)),
            db,
            keys,
            crypto,
            cache: Arc::new(SessionCache::default()),
            activity: Arc::new(Activity::default()),
            limits,
            policy: Arc::new(policy),
            issuer: issuer.into(),
        }
    }

    /// Drops `user_id`'s cached sessions once `tx` commits, so the next
    /// request rereads the account (after any change to it or its sessions).
    pub fn evict_user_on_commit(&self, tx: &mut Tx, user_id: Uuid) {
        let cache = self.cache.clone();
        tx.after_commit(move || cache.forget_user(user_id));
    }

    /// Writes the activity gathered in memory.
    ///
    /// # Errors
    /// When the database fails; the activity stays pending.
    pub async fn flush_activity(&self) -> crate::error::AppResult<()> {
        self.activity.flush(&self.db).await
    }
}
