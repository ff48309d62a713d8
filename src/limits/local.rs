//! Buckets in this process (governor): the limits without Redis, and the
//! fallback while Redis cannot be reached.

use std::convert::Infallible;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{NotKeyed, StateStore};
use governor::{Quota as Gcra, RateLimiter};

use super::{Limit, Quota, Quotas, Target};

fn gcra(quota: Quota) -> Gcra {
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    Gcra::with_period(quota.every)
        .unwrap_or_else(|| Gcra::per_second(burst))
        .allow_burst(burst)
}

/// governor's keyed store, reachable from here as well as from the limiter
/// that uses it: governor can take a cell but not give one back.
struct Cells<K: Hash + Eq + Clone>(Arc<DashMapStateStore<K>>);

impl<K: Hash + Eq + Clone> Clone for Cells<K> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<K: Hash + Eq + Clone> StateStore for Cells<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for Cells<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&*self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&*self.0)
    }
}

/// One quota's buckets, one per key.
struct Bucket<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, Cells<K>, DefaultClock, StateInformationMiddleware>,
    cells: Cells<K>,
    /// What one cell is worth, in the nanoseconds governor keeps.
    period: u64,
}

impl<K: Hash + Eq + Clone> Bucket<K> {
    fn new(quota: Quota) -> Self {
        let cells = Cells(Arc::default());
        Self {
            limiter: RateLimiter::new(gcra(quota), cells.clone(), DefaultClock::default()),
            cells,
            period: u64::try_from(quota.every.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// Takes a cell for `key`: how many are left, or how long to wait.
    fn take(&self, key: &K, now: <DefaultClock as Clock>::Instant) -> Result<u32, Duration> {
        self.limiter
            .check_key(key)
            .map(|state| state.remaining_burst_capacity())
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Gives `key` back a cell: its theoretical arrival time (GCRA's state,
    /// which governor keeps in nanoseconds) moves one period earlier.
    fn give_back(&self, key: &K) {
        if let Some(state) = self.cells.0.get(key) {
            let earlier = |tat: Option<Nanos>| {
                let tat = tat.map_or(0, Nanos::as_u64).saturating_sub(self.period);
                Ok::<_, Infallible>(((), Nanos::new(tat)))
            };
            let _ = state.measure_and_replace(&NotKeyed::NonKey, earlier);
        }
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

struct Buckets {
    per_ip: Option<Bucket<IpAddr>>,
    per_ip_key: Option<Bucket<String>>,
    per_key: Option<Bucket<String>>,
}

/// Every limit's buckets, keyed by IP, by IP and key together, and by key
/// (an account, device or owner).
pub struct Local {
    buckets: Vec<(Limit, Buckets)>,
    clock: DefaultClock,
}

impl Local {
    pub fn new(quotas: &Quotas) -> Self {
        let buckets = super::ALL
            .iter()
            .map(|&limit| {
                let quota = quotas.of(limit);
                let buckets = Buckets {
                    per_ip: quota.ip.map(Bucket::new),
                    per_ip_key: quota.ip_account.map(Bucket::new),
                    per_key: quota.account.map(Bucket::new),
                };
                (limit, buckets)
            })
            .collect();
        Self {
            buckets,
            clock: DefaultClock::default(),
        }
    }

    fn of(&self, limit: Limit) -> Option<&Buckets> {
        self.buckets.iter().find(|(l, _)| *l == limit).map(|(_, b)| b)
    }

    /// Takes a cell from each of `target`'s buckets in turn; returns the
    /// cells the key's bucket has left.
    ///
    /// # Errors
    /// At the first empty bucket: how long to wait, and whether it was the key's.
    pub fn take(&self, limit: Limit, target: &Target) -> Result<Option<u32>, (Duration, bool)> {
        let Some(buckets) = self.of(limit) else {
            return Ok(None);
        };
        let now = self.clock.now();
        // Stops at the first refusal: a flood of names does not grow the key buckets.
        if let (Some(bucket), Some(ip)) = (&buckets.per_ip, target.ip) {
            bucket.take(&ip, now).map_err(|wait| (wait, false))?;
        }
        if let (Some(bucket), Some(pair)) = (&buckets.per_ip_key, &target.ip_key) {
            bucket.take(pair, now).map_err(|wait| (wait, false))?;
        }
        match (&buckets.per_key, &target.key) {
            (Some(bucket), Some(key)) => bucket.take(key, now).map(Some).map_err(|wait| (wait, true)),
            _ => Ok(None),
        }
    }

    /// Gives back the cells a [`Local::take`] of `target` took.
    pub fn give_back(&self, limit: Limit, target: &Target) {
        let Some(buckets) = self.of(limit) else { return };
        if let (Some(bucket), Some(ip)) = (&buckets.per_ip, target.ip) {
            bucket.give_back(&ip);
        }
        if let (Some(bucket), Some(pair)) = (&buckets.per_ip_key, &target.ip_key) {
            bucket.give_back(pair);
        }
        if let (Some(bucket), Some(key)) = (&buckets.per_key, &target.key) {
            bucket.give_back(key);
        }
    }

    /// Drops buckets that are full again, so memory follows recent traffic.
    pub fn forget_idle(&self) {
        for (_, b) in &self.buckets {
            if let Some(bucket) = &b.per_ip {
                bucket.forget_idle();
            }
            if let Some(bucket) = &b.per_ip_key {
                bucket.forget_idle();
            }
            if let Some(bucket) = &b.per_key {
                bucket.forget_idle();
            }
        }
    }
}
