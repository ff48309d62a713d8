//! Buckets in this process (governor): the limits without Redis, and the
//! fallback while Redis cannot be reached.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota as Gcra};

use super::{Limit, Quota, Quotas};

fn gcra(quota: Quota) -> Gcra {
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    Gcra::with_period(quota.every)
        .unwrap_or_else(|| Gcra::per_second(burst))
        .allow_burst(burst)
}

struct Buckets {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_key: Option<DefaultKeyedRateLimiter<String>>,
}

/// Every limit's buckets, keyed by IP and by account, device or owner.
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
                    per_ip: quota.ip.map(|q| DefaultKeyedRateLimiter::keyed(gcra(q))),
                    per_key: quota.account.map(|q| DefaultKeyedRateLimiter::keyed(gcra(q))),
                };
                (limit, buckets)
            })
            .collect();
        Self {
            buckets,
            clock: DefaultClock::default(),
        }
    }

    /// Takes a cell for `ip`, then for `key`; when either is empty, how long
    /// to wait and whether it was `key`'s.
    pub fn check(&self, limit: Limit, ip: Option<IpAddr>, key: Option<&str>) -> Option<(Duration, bool)> {
        let (_, buckets) = self.buckets.iter().find(|(l, _)| *l == limit)?;
        let now = self.clock.now();
        if let (Some(bucket), Some(ip)) = (&buckets.per_ip, ip)
            && let Err(not_until) = bucket.check_key(&ip)
        {
            // Refused already: do not let a flood of names grow the account buckets.
            return Some((not_until.wait_time_from(now), false));
        }
        if let (Some(bucket), Some(key)) = (&buckets.per_key, key)
            && let Err(not_until) = bucket.check_key(&key.to_owned())
        {
            return Some((not_until.wait_time_from(now), true));
        }
        None
    }

    /// Drops buckets that are full again, so memory follows recent traffic.
    pub fn forget_idle(&self) {
        for (_, b) in &self.buckets {
            if let Some(ip) = &b.per_ip {
                ip.retain_recent();
                ip.shrink_to_fit();
            }
            if let Some(key) = &b.per_key {
                key.retain_recent();
                key.shrink_to_fit();
            }
        }
    }
}
