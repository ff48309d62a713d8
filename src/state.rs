//! The services of one authql instance, built once by `startup` and shared by
//! every request. Seen only by `http/`, `graphql/`, `jobs.rs` and `startup.rs`;
//! domain code takes the parts it uses instead.

use std::ops::Deref;
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::health::Health;
use crate::limits::Limits;
use crate::mail::Outbox;
use crate::mfa::Mfa;
use crate::oauth::OAuth;
use crate::passkeys::Passkeys;
use crate::profile::Profile;
use crate::sessions::Sessions;
use crate::tasks::Tasks;
use crate::tokens::keys::KeyStore;
use crate::webhooks::Webhooks;
use tokio_util::sync::CancellationToken;

/// The shared state of one authql instance. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// The domain services and the shared parts the transports and jobs read directly.
pub struct Services {
    pub config: Config,
    pub db: Db,
    pub crypto: Arc<Crypto>,
    pub keys: Arc<KeyStore>,
    pub limits: Arc<Limits>,
    pub outbox: Arc<Outbox>,
    /// The database-wide gauges, as last sampled.
    pub gauges: crate::telemetry::Sampled,
    /// Readiness, checked at most once a second.
    pub health: Arc<Health>,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub accounts: Accounts,
    pub profile: Profile,
    pub oauth: OAuth,
    pub passkeys: Passkeys,
    pub webhooks: Webhooks,
    /// Every background task of the instance.
    pub tasks: Tasks,
    /// Cancelled when the open WebSockets are to close with 1001 (stopping).
    pub going_away: CancellationToken,
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
