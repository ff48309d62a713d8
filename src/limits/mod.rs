//! Rate limits per client IP and per account, counted per operation.
//!
//! Every limited operation takes one cell from its buckets when it runs, so
//! ten aliased `login` fields in one request count as ten attempts; an
//! operation that only counts failures takes its cell before it tries and
//! gives it back when it succeeds, so racers cannot try more. Without
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

/// The buckets one attempt takes a cell from (each if its class has it):
/// the client's, the client's for this key, and the key's.
#[derive(Clone, Debug, Default)]
struct Target {
    ip: Option<IpAddr>,
    ip_key: Option<String>,
    key: Option<String>,
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

impl Exhausted {
    /// Logs and counts the refusal; for a caller that answers as if it had not been refused.
    pub fn record(&self) {
        tracing::info!(limit = self.limit.name(), by_key = self.by_key, "rate limited");
        ::metrics::counter!("authql_rate_limited_total", "class" => self.limit.name()).increment(1);
    }
}

impl From<Exhausted> for AppError {
    fn from(e: Exhausted) -> Self {
        e.record();
        Self::RateLimited {
            retry_after: e.wait.as_secs() + u64::from(e.wait.subsec_nanos() > 0),
        }
    }
}

/// An attempt's cells, taken by [`Limits::take`], to give back if it succeeds.
#[derive(Debug)]
pub struct Taken {
    limit: Limit,
    target: Target,
    /// Whether they were taken in Redis (not in this instance's fallback).
    shared: bool,
    /// The cells the key's bucket has left; `None` without one.
    left: Option<u32>,
}

impl Taken {
    /// Whether this attempt took the last cell of the key's bucket.
    pub fn was_last(&self) -> bool {
        self.left == Some(0)
    }
}

/// The rate limiter of this instance.
pub struct Limits {
    enabled: bool,
    /// IPv6 clients are keyed by this prefix (a host usually holds a /64).
    ipv6_prefix: u8,
    local: Local,
    shared: Option<Shared>,
    /// Whether the last Redis call failed, so the log says when it is back.
    degraded: AtomicBool,
    /// When the log last said Redis cannot be reached: at most once a
    /// minute, however many requests fall back meanwhile.
    warned: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How often a long Redis outage is repeated in the log.
const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

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
            warned: std::sync::Mutex::new(None),
        })
    }

    /// Takes one attempt at `limit` for `ip` and (if given) `key`.
    ///
    /// # Errors
    /// [`Exhausted`] (which is `RATE_LIMITED` with the seconds to wait) when
    /// any of the buckets is empty.
    pub async fn check(&self, limit: Limit, ip: Option<IpAddr>, key: Option<Key<'_>>) -> Result<(), Exhausted> {
        self.take(limit, ip, key).await.map(drop)
    }

    /// Like [`Limits::check`], without the client's own bucket of `limit`
    /// (its `ip` one), for an operation that another class already counts
    /// per client; the `ip+account` bucket still counts it.
    ///
    /// # Errors
    /// [`Exhausted`] as for [`Limits::check`].
    pub async fn check_for_key(&self, limit: Limit, ip: Option<IpAddr>, key: Key<'_>) -> Result<(), Exhausted> {
        let target = Target {
            ip: None,
            ..self.target(ip, Some(key))
        };
        self.take_from(limit, target).await.map(drop)
    }

    /// Takes one attempt like [`Limits::check`] and returns it, so that an
    /// attempt that succeeds can be given back ([`Limits::give_back`]).
    ///
    /// # Errors
    /// [`Exhausted`] as for [`Limits::check`].
    pub async fn take(&self, limit: Limit, ip: Option<IpAddr>, key: Option<Key<'_>>) -> Result<Taken, Exhausted> {
        self.take_from(limit, self.target(ip, key)).await
    }

    fn target(&self, ip: Option<IpAddr>, key: Option<Key<'_>>) -> Target {
        let ip = ip.map(|ip| client_key(ip, self.ipv6_prefix));
        let key = key.map(|k| k.bucket());
        let ip_key = ip.zip(key.as_deref()).map(|(ip, key)| format!("{ip}|{key}"));
        Target { ip, ip_key, key }
    }

    async fn take_from(&self, limit: Limit, target: Target) -> Result<Taken, Exhausted> {
        if !self.enabled {
            return Ok(Taken {
                limit,
                target: Target::default(),
                shared: false,
                left: None,
            });
        }
        let (outcome, shared) = match &self.shared {
            None => (self.local.take(limit, &target), false),
            Some(shared) => match shared.take(limit, &target).await {
                Ok(outcome) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("Redis answers again: rate limits are shared again");
                    }
                    (outcome, true)
                }
                Err(error) => {
                    self.redis_failed(&error);
                    (self.local.take(limit, &target), false)
                }
            },
        };
        match outcome {
            Ok(left) => Ok(Taken {
                limit,
                target,
                shared,
                left,
            }),
            Err((wait, by_key)) => Err(Exhausted { limit, wait, by_key }),
        }
    }

    /// Gives back the cells of an attempt that succeeded, where they were
    /// taken; while Redis cannot be reached, they are lost (the attempt counted).
    pub async fn give_back(&self, taken: Taken) {
        if !taken.shared {
            self.local.give_back(taken.limit, &taken.target);
            return;
        }
        if let Some(shared) = &self.shared
            && let Err(error) = shared.give_back(taken.limit, &taken.target).await
        {
            self.redis_failed(&error);
        }
    }

    fn redis_failed(&self, error: &str) {
        ::metrics::counter!("authql_rate_limit_fallbacks_total").increment(1);
        self.degraded.store(true, Ordering::Relaxed);
        let mut warned = self.warned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(std::time::Instant::now());
            tracing::warn!(%error, "Redis cannot be reached: rate limits are per instance until it is back");
        }
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
mod tests;
