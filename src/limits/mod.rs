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
mod shared;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{AppError, AppResult};
use local::Local;
use shared::Shared;

/// The limited operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Password checks: login, and the password confirmations of changePassword and deleteAccount.
    Password,
    /// Creating accounts.
    Signup,
    /// Requests that send mail to an address: resendConfirmation, forgotPassword.
    Mail,
    /// Spending mailed tokens: confirmEmail, resetPassword, the confirmation link.
    MailedToken,
    /// Refreshing tokens.
    Refresh,
    /// Uploading an avatar (decoding images is CPU work).
    Upload,
    /// Second-factor codes: TOTP, mailed codes, recovery codes.
    Code,
}

const ALL: [Limit; 7] = [
    Limit::Code,
    Limit::Password,
    Limit::Signup,
    Limit::Mail,
    Limit::MailedToken,
    Limit::Refresh,
    Limit::Upload,
];

impl Limit {
    /// (burst, one more every) per IP, and per account where the operation names one.
    fn quotas(self) -> ((u32, Duration), Option<(u32, Duration)>) {
        let s = Duration::from_secs;
        match self {
            // ~70 guesses an hour per account, from however many addresses.
            Self::Password => ((30, s(2)), Some((10, s(60)))),
            Self::Signup => ((20, s(30)), None),
            // Also keeps anyone from flooding one mailbox.
            Self::Mail => ((10, s(60)), Some((3, s(600)))),
            Self::MailedToken => ((20, s(3)), None),
            Self::Refresh => ((120, Duration::from_millis(50)), None),
            Self::Upload => ((20, s(6)), Some((10, s(60)))),
            // A six-digit code has a million values: ~70 guesses an hour per account.
            Self::Code => ((30, s(2)), Some((10, s(60)))),
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

/// Longest account key kept (emails are at most 254 characters, usernames 32).
const MAX_ACCOUNT_KEY: usize = 254;

/// The bucket key of an account name: bounded, since the caller chooses it, and case-folded.
fn account_key(account: &str) -> String {
    account.chars().take(MAX_ACCOUNT_KEY).collect::<String>().to_lowercase()
}

fn limited(limit: Limit, wait: Duration) -> AppError {
    tracing::info!(?limit, "rate limited");
    ::metrics::counter!("authql_rate_limited_total", "class" => format!("{limit:?}").to_lowercase()).increment(1);
    AppError::RateLimited {
        retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
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
    /// Limits as configured; `enabled = false` lets everything through (benchmarks).
    /// `redis` is REDIS_URL and the key prefix.
    ///
    /// # Errors
    /// When REDIS_URL is not a Redis URL.
    pub fn new(enabled: bool, ipv6_prefix: u8, redis: Option<(&str, &str)>) -> AppResult<Self> {
        let shared = redis
            .map(|(url, prefix)| Shared::new(url, prefix))
            .transpose()
            .map_err(|_| AppError::internal("REDIS_URL is not a Redis URL"))?;
        Ok(Self {
            enabled,
            ipv6_prefix: ipv6_prefix.min(128),
            local: Local::new(),
            shared,
            degraded: AtomicBool::new(false),
        })
    }

    /// Takes one attempt at `limit` for `ip` and (if given) `account`.
    ///
    /// # Errors
    /// `RATE_LIMITED` with the seconds to wait when either bucket is empty.
    pub async fn check(&self, limit: Limit, ip: Option<IpAddr>, account: Option<&str>) -> AppResult<()> {
        if !self.enabled {
            return Ok(());
        }
        let ip = ip.map(|ip| client_key(ip, self.ipv6_prefix));
        let wait = match &self.shared {
            None => self.local.check(limit, ip, account),
            Some(shared) => match shared.check(limit, ip, account).await {
                Ok(wait) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("Redis answers again: rate limits are shared again");
                    }
                    wait
                }
                Err(error) => {
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(%error, "Redis cannot be reached: rate limits are per instance until it is back");
                    }
                    self.local.check(limit, ip, account)
                }
            },
        };
        wait.map_or(Ok(()), |wait| Err(limited(limit, wait)))
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
        let limits = Limits::new(true, 64, None).unwrap();
        let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        for n in 0..10 {
            limits
                .check(Limit::Password, ip(n), Some("ann@example.com"))
                .await
                .unwrap();
        }
        let Err(AppError::RateLimited { retry_after }) =
            limits.check(Limit::Password, ip(11), Some("ANN@example.com")).await
        else {
            panic!("the 11th guess at one account is limited, whatever the address");
        };
        assert!((1..=60).contains(&retry_after));
        assert!(
            limits
                .check(Limit::Password, ip(11), Some("bob@example.com"))
                .await
                .is_ok()
        );
        for _ in 0..20 {
            let _ = limits.check(Limit::Signup, ip(1), None).await;
        }
        assert!(limits.check(Limit::Signup, ip(1), None).await.is_err());
        assert!(limits.check(Limit::Signup, ip(2), None).await.is_ok());
        let off = Limits::new(false, 64, None).unwrap();
        assert!(off.check(Limit::Signup, ip(1), None).await.is_ok());
    }
}
