//! Rate limits per client IP and per account, counted per operation.
//!
//! Every limited operation takes one cell from its buckets when it runs, so
//! ten aliased `login` fields in one request count as ten attempts. Without
//! REDIS_URL the buckets live in this process, so with several instances each
//! enforces its own; with it they live in Redis and every instance shares
//! them. While Redis cannot be reached, each instance falls back to its own
//! buckets rather than refusing everyone or letting everyone through.
//!
//! Owns the buckets (in memory, or Redis keys under REDIS_KEY_PREFIX). May
//! call: `error`. Every domain may call it.

mod local;
mod quotas;
mod shared;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uuid::Uuid;

use crate::error::AppError;
use local::Local;
pub use quotas::{ALL, ClassQuota, Limit, Quota, Quotas};
use shared::Shared;

/// What an operation is counted against besides the client's address.
#[derive(Clone, Copy, Debug)]
pub enum Key<'a> {
    /// An account as the caller named it (an email, or a name that matches
    /// none): anyone can spend this bucket.
    Account(&'a str),
    /// A known device's credential, presented with a login: only its holder
    /// spends this bucket.
    Device(Uuid),
    /// An account whose owner proved who they are (a session, or a password
    /// for a second step): anonymous callers cannot spend this bucket.
    Owner(Uuid),
}

/// Longest account name kept (emails are at most 254 characters, usernames 32).
const MAX_ACCOUNT_KEY: usize = 254;

impl Key<'_> {
    /// The bucket's name: bounded, since the caller chooses account names,
    /// case-folded, and in its own namespace per kind.
    fn bucket(&self) -> String {
        match self {
            Self::Account(name) => {
                let name: String = name.chars().take(MAX_ACCOUNT_KEY).collect();
                format!("a:{}", name.to_lowercase())
            }
            Self::Device(id) => format!("d:{id}"),
            Self::Owner(id) => format!("u:{id}"),
        }
    }
}

/// The address a client is counted by: IPv4 as it is, IPv6 cut to its
/// first `prefix` bits (one host gets a /64, 2^64 addresses).
fn client_key(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(u32::from(128 - prefix)).unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    }
}

/// An empty bucket: how long to wait, and whether it was the key's bucket
/// (rather than the address's).
#[derive(Debug)]
pub struct Exhausted {
    pub limit: Limit,
    pub wait: Duration,
    pub by_key: bool,
}

impl From<Exhausted> for AppError {
    fn from(e: Exhausted) -> Self {
        tracing::info!(limit = e.limit.name(), by_key = e.by_key, "rate limited");
        ::metrics::counter!("authql_rate_limited_total", "class" => e.limit.name()).increment(1);
        Self::RateLimited {
            retry_after: e.wait.as_secs() + u64::from(e.wait.subsec_nanos() > 0),
        }
    }
}

/// The rate limiter of this instance.
pub struct Limits {
    enabled: bool,
    /// IPv6 clients are keyed by this prefix (a host usually holds a /64).
    ipv6_prefix: u8,
    local: Local,
    shared: Option<Shared>,
    /// Whether the last Redis call failed, so the log says so once per outage.
    degraded: AtomicBool,
}

impl Limits {
    /// Limits with `quotas`; `enabled = false` lets everything through
    /// (benchmarks). `redis` is REDIS_URL and the key prefix.
    ///
    /// # Errors
    /// When REDIS_URL is not a Redis URL.
    pub fn new(enabled: bool, ipv6_prefix: u8, quotas: &Quotas, redis: Option<(&str, &str)>) -> Result<Self, AppError> {
        let shared = redis
            .map(|(url, prefix)| Shared::new(url, prefix, quotas.clone()))
            .transpose()
            .map_err(|_| AppError::internal("REDIS_URL is not a Redis URL"))?;
        Ok(Self {
            enabled,
            ipv6_prefix: ipv6_prefix.min(128),
            local: Local::new(quotas),
            shared,
            degraded: AtomicBool::new(false),
        })
    }

    /// Takes one attempt at `limit` for `ip` and (if given) `key`.
    ///
    /// # Errors
    /// [`Exhausted`] (which is `RATE_LIMITED` with the seconds to wait) when
    /// either bucket is empty.
    pub async fn check(&self, limit: Limit, ip: Option<IpAddr>, key: Option<Key<'_>>) -> Result<(), Exhausted> {
        if !self.enabled {
            return Ok(());
        }
        let ip = ip.map(|ip| client_key(ip, self.ipv6_prefix));
        let bucket = key.map(|k| k.bucket());
        let bucket = bucket.as_deref();
        let refused = match &self.shared {
            None => self.local.check(limit, ip, bucket),
            Some(shared) => match shared.check(limit, ip, bucket).await {
                Ok(refused) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("Redis answers again: rate limits are shared again");
                    }
                    refused
                }
                Err(error) => {
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(%error, "Redis cannot be reached: rate limits are per instance until it is back");
                    }
                    self.local.check(limit, ip, bucket)
                }
            },
        };
        refused.map_or(Ok(()), |(wait, by_key)| Err(Exhausted { limit, wait, by_key }))
    }

    /// Whether the shared buckets' Redis answers; `None` without REDIS_URL.
    pub async fn redis_answers(&self) -> Option<bool> {
        match &self.shared {
            Some(shared) => Some(shared.ping().await),
            None => None,
        }
    }

    /// Drops local buckets that are full again, so memory follows recent traffic.
    pub fn forget_idle(&self) {
        self.local.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_their_prefix() {
        let key = |ip: &str, prefix| client_key(ip.parse().unwrap(), prefix).to_string();
        assert_eq!(key("2001:db8:1:2:3:4:5:6", 64), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:3:4:5:6", 48), "2001:db8:1::");
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(key("203.0.113.9", 64), "203.0.113.9");
    }

    #[tokio::test]
    async fn accounts_are_limited_across_addresses_and_addresses_across_accounts() {
        let limits = Limits::new(true, 64, &Quotas::default(), None).unwrap();
        let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        let ann = |name| Some(Key::Account(name));
        for n in 0..10 {
            limits
                .check(Limit::Password, ip(n), ann("ann@example.com"))
                .await
                .unwrap();
        }
        let refused = limits
            .check(Limit::Password, ip(11), ann("ANN@example.com"))
            .await
            .expect_err("the 11th guess at one account is limited, whatever the address");
        assert!(refused.by_key);
        assert!((1..=60).contains(&refused.wait.as_secs()));
        assert!(
            limits
                .check(Limit::Password, ip(11), ann("bob@example.com"))
                .await
                .is_ok()
        );
        for _ in 0..20 {
            let _ = limits.check(Limit::Signup, ip(1), None).await;
        }
        assert!(!limits.check(Limit::Signup, ip(1), None).await.unwrap_err().by_key);
        assert!(limits.check(Limit::Signup, ip(2), None).await.is_ok());
        let off = Limits::new(false, 64, &Quotas::default(), None).unwrap();
        assert!(off.check(Limit::Signup, ip(1), None).await.is_ok());
    }

    #[tokio::test]
    async fn devices_and_owners_have_buckets_of_their_own() {
        let limits = Limits::new(true, 64, &Quotas::default(), None).unwrap();
        let id = Uuid::new_v4();
        let name = id.to_string();
        for _ in 0..10 {
            limits
                .check(Limit::Password, None, Some(Key::Account(&name)))
                .await
                .unwrap();
        }
        assert!(
            limits
                .check(Limit::Password, None, Some(Key::Account(&name)))
                .await
                .is_err()
        );
        // Naming an account after a device or an owner reaches neither's bucket.
        assert!(limits.check(Limit::Password, None, Some(Key::Device(id))).await.is_ok());
        assert!(limits.check(Limit::Password, None, Some(Key::Owner(id))).await.is_ok());
    }

    #[tokio::test]
    async fn a_class_switched_off_lets_everything_through() {
        let mut quotas = Quotas::default();
        quotas.set(
            Limit::Signup,
            ClassQuota {
                ip: None,
                account: None,
            },
        );
        let limits = Limits::new(true, 64, &quotas, None).unwrap();
        for _ in 0..100 {
            limits
                .check(Limit::Signup, Some(IpAddr::from([10, 0, 0, 1])), None)
                .await
                .unwrap();
        }
    }
}
