//! Buckets in this process (governor): the limits without Redis, and the
//! fallback while Redis cannot be reached.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{ALL, Limit, account_key};

fn quota((burst, every): (u32, Duration)) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

struct Buckets {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: Option<DefaultKeyedRateLimiter<String>>,
}

/// Every limit's buckets, keyed by IP and by account.
pub struct Local {
    buckets: Vec<(Limit, Buckets)>,
    clock: DefaultClock,
}

impl Local {
    pub fn new() -> Self {
        let buckets = ALL
            .iter()
            .map(|&limit| {
                let (ip, account) = limit.quotas();
                let buckets = Buckets {
                    per_ip: DefaultKeyedRateLimiter::keyed(quota(ip)),
                    per_account: account.map(|a| DefaultKeyedRateLimiter::keyed(quota(a))),
                };
                (limit, buckets)
            })
            .collect();
        Self {
            buckets,
            clock: DefaultClock::default(),
        }
    }

    /// Takes a cell for `ip`, then for `account`; returns how long to wait if either is empty.
    pub fn check(&self, limit: Limit, ip: Option<IpAddr>, account: Option<&str>) -> Option<Duration> {
        let (_, buckets) = self.buckets.iter().find(|(l, _)| *l == limit)?;
        let now = self.clock.now();
        if let Some(ip) = ip
            && let Err(not_until) = buckets.per_ip.check_key(&ip)
        {
            // Refused already: do not let a flood of names grow the account buckets.
            return Some(not_until.wait_time_from(now));
        }
        if let (Some(bucket), Some(account)) = (&buckets.per_account, account)
            && let Err(not_until) = bucket.check_key(&account_key(account))
        {
            return Some(not_until.wait_time_from(now));
        }
        None
    }

    /// Drops buckets that are full again, so memory follows recent traffic.
    pub fn forget_idle(&self) {
        for (_, b) in &self.buckets {
            b.per_ip.retain_recent();
            b.per_ip.shrink_to_fit();
            if let Some(account) = &b.per_account {
                account.retain_recent();
                account.shrink_to_fit();
            }
        }
    }
}
