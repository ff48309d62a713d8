//! Everything a request handler needs, shared by all requests. Cheap to clone.

use std::ops::Deref;
use std::sync::Arc;

use crate::accounts::password::PasswordHasher;
use crate::config::Config;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::limits::Limits;
use crate::mail::Outbox;
use crate::sessions::activity::Activity;
use crate::sessions::cache::SessionCache;
use crate::tokens::jwt::Verifier;
use crate::tokens::keys::KeyStore;

/// The shared state of one authql instance.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// The parts of [`AppState`].
pub struct Services {
    pub config: Config,
    pub db: Db,
    pub crypto: Crypto,
    pub keys: KeyStore,
    pub verifier: Verifier,
    pub passwords: PasswordHasher,
    pub live: SessionCache,
    pub activity: Activity,
    pub outbox: Outbox,
    pub limits: Limits,
}

impl AppState {
    /// Wraps the services.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
