//! Rate limits per client IP and per account, counted per operation.
//!
//! Every limited operation takes one cell from its buckets when it runs, so
//! ten aliased `login` fields in one request count as ten attempts. Buckets
//! live in this process (governor); with several instances each enforces its
//! own, so the effective limit is per instance.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::{AppError, AppResult};

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
}

const ALL: [Limit; 5] = [
    Limit::Password,
    Limit::Signup,
    Limit::Mail,
    Limit::MailedToken,
    Limit::Refresh,
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
        }
    }
}

/// Longest account key kept (emails are at most 254 characters, usernames 32).
const MAX_ACCOUNT_KEY: usize = 254;

fn limited(limit: Limit, wait: Duration) -> AppError {
    tracing::info!(?limit, "rate limited");
    AppError::RateLimited {
        retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

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

/// The rate limiter of this instance.
pub struct Limits {
    enabled: bool,
    buckets: Vec<(Limit, Buckets)>,
    clock: DefaultClock,
}

impl Limits {
    /// Limits as configured; `enabled = false` lets everything through (benchmarks).
    pub fn new(enabled: bool) -> Self {
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
            enabled,
            buckets,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one attempt at `limit` for `ip` and (if given) `account`.
    ///
    /// # Errors
    /// `RATE_LIMITED` with the seconds to wait when either bucket is empty.
    pub fn check(&self, limit: Limit, ip: Option<IpAddr>, account: Option<&str>) -> AppResult<()> {
        if !self.enabled {
            return Ok(());
        }
        let Some((_, buckets)) = self.buckets.iter().find(|(l, _)| *l == limit) else {
            return Ok(());
        };
        let now = self.clock.now();
        if let Some(ip) = ip
            && let Err(not_until) = buckets.per_ip.check_key(&ip)
        {
            // Refused already: do not let a flood of names grow the account buckets.
            return Err(limited(limit, not_until.wait_time_from(now)));
        }
        if let (Some(bucket), Some(account)) = (&buckets.per_account, account) {
            // Bounded keys: the caller chooses these strings.
            let key = account.chars().take(MAX_ACCOUNT_KEY).collect::<String>().to_lowercase();
            if let Err(not_until) = bucket.check_key(&key) {
                return Err(limited(limit, not_until.wait_time_from(now)));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_limited_across_addresses_and_addresses_across_accounts() {
        let limits = Limits::new(true);
        let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        for n in 0..10 {
            limits.check(Limit::Password, ip(n), Some("ann@example.com")).unwrap();
        }
        let Err(AppError::RateLimited { retry_after }) = limits.check(Limit::Password, ip(11), Some("ANN@example.com"))
        else {
            panic!("the 11th guess at one account is limited, whatever the address");
        };
        assert!((1..=60).contains(&retry_after));
        assert!(limits.check(Limit::Password, ip(11), Some("bob@example.com")).is_ok());
        for _ in 0..20 {
            let _ = limits.check(Limit::Signup, ip(1), None);
        }
        assert!(limits.check(Limit::Signup, ip(1), None).is_err());
        assert!(limits.check(Limit::Signup, ip(2), None).is_ok());
        assert!(Limits::new(false).check(Limit::Signup, ip(1), None).is_ok());
    }
}
