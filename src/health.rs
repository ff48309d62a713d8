//! Readiness: whether this instance should be sent traffic. The checks
//! (database, migrations, Redis, SMTP) run at most once a second however
//! often a probe asks, and a stopping instance is unready at once.
//!
//! May call: `db`, `limits`, `mail`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::db::Db;
use crate::limits::Limits;
use crate::mail::Outbox;

/// A check that has not answered by then counts as failed.
const CHECK_WITHIN: Duration = Duration::from_secs(2);
/// How long one round of checks answers every probe: an SMTP conversation
/// and three database round trips per probe would let probes, or anyone
/// who can reach `/readyz`, load the database and the relay.
pub const CACHED_FOR: Duration = Duration::from_secs(1);

/// One round of checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checks {
    /// The database answered.
    pub database: bool,
    /// Every migration this build knows is applied (false when unknown).
    pub migrations: bool,
    /// Redis answered; `None` without REDIS_URL.
    pub redis: Option<bool>,
    /// The SMTP server answered; `None` when mail goes to files.
    pub smtp: Option<bool>,
}

impl Checks {
    /// Ready: the database answers and its migrations are applied. Redis
    /// and SMTP are reported but do not count: every instance shares the one
    /// Redis and the one relay, so failing on them would take every instance
    /// out of its load balancer at once, while without Redis the limits fall
    /// back to each instance's buckets and revocation to the cache's
    /// lifetime, and mail waits in the outbox.
    pub fn ready(&self) -> bool {
        self.database && self.migrations
    }
}

/// Readiness as a probe sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// The instance is shutting down: no new traffic.
    Stopping,
    /// The latest round of checks.
    Checked(Checks),
}

/// The readiness of one instance.
pub struct Health {
    db: Db,
    limits: Arc<Limits>,
    outbox: Arc<Outbox>,
    stopping: AtomicBool,
    /// The latest round and when it finished; the lock also makes probes
    /// that arrive during a round wait for it instead of starting their own.
    latest: Mutex<Option<(Instant, Checks)>>,
}

impl Health {
    /// Readiness over these services.
    pub fn new(db: Db, limits: Arc<Limits>, outbox: Arc<Outbox>) -> Self {
        Self {
            db,
            limits,
            outbox,
            stopping: AtomicBool::new(false),
            latest: Mutex::new(None),
        }
    }

    /// Marks the instance as stopping: every later probe is unready, whatever
    /// the last checks said.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether this instance should be sent traffic: the checks of the last
    /// second, or a new round.
    #[tracing::instrument(skip(self))]
    pub async fn readiness(&self) -> Readiness {
        if self.stopping.load(Ordering::SeqCst) {
            return Readiness::Stopping;
        }
        let mut latest = self.latest.lock().await;
        if let Some((at, checks)) = latest.as_ref()
            && at.elapsed() < CACHED_FOR
        {
            return Readiness::Checked(checks.clone());
        }
        let checks = self.check().await;
        if !checks.ready() {
            tracing::warn!(?checks, "not ready");
        }
        *latest = Some((Instant::now(), checks.clone()));
        drop(latest);
        if self.stopping.load(Ordering::SeqCst) {
            return Readiness::Stopping;
        }
        Readiness::Checked(checks)
    }

    async fn check(&self) -> Checks {
        let (database, migrations, redis, smtp) = tokio::join!(
            within(self.db.ping()),
            within(self.db.migrations_applied()),
            within(self.limits.redis_answers()),
            within(self.outbox.smtp_answers()),
        );
        // Configured but silent past CHECK_WITHIN counts as down.
        let answered = |answer: Option<Option<bool>>| answer.unwrap_or(Some(false));
        Checks {
            database: matches!(database, Some(Ok(()))),
            migrations: matches!(migrations, Some(Ok(true))),
            redis: answered(redis),
            smtp: answered(smtp),
        }
    }
}

/// `check`'s answer, or `None` when it did not come within [`CHECK_WITHIN`].
async fn within<T>(check: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(CHECK_WITHIN, check).await.ok()
}
