//! The limit classes, their default quotas, and the `RATE_LIMIT_<CLASS>`
//! syntax an operator tunes them with (`ip:30/2s,account:10/1m`,
//! `ip+address:3/10m`, or `off`).

use std::time::Duration;

/// The limited operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Password checks: login, and the password confirmations of changePassword and deleteAccount.
    Password,
    /// Creating accounts, and the username and phone checks of updateProfile.
    Signup,
    /// Requests that send mail to an address: resendConfirmation, forgotPassword,
    /// changeEmail, sign-up's mails, mailed login and step-up codes. Counted
    /// per client and address together, so a stranger's requests spend the
    /// stranger's bucket for the address, not its owner's.
    Mail,
    /// The mail anyone can ask for that one address receives in a day; past
    /// it nothing is sent, and the answer does not say so.
    MailDaily,
    /// Spending mailed tokens: confirmEmail, resetPassword, the confirmation link.
    MailedToken,
    /// Refreshing tokens.
    Refresh,
    /// Uploading an avatar (decoding images is CPU work).
    Upload,
    /// Second-factor codes: TOTP, mailed codes, recovery codes.
    Code,
    /// Wrong second-factor codes of one account, across logins and
    /// step-ups; a right code costs nothing.
    SecondFactor,
    /// How often an owner is told that their account's password bucket is empty.
    LockoutNotice,
}

/// Every class, in the order of the README's table.
pub const ALL: [Limit; 10] = [
    Limit::Password,
    Limit::Code,
    Limit::SecondFactor,
    Limit::Signup,
    Limit::Mail,
    Limit::MailDaily,
    Limit::MailedToken,
    Limit::Refresh,
    Limit::Upload,
    Limit::LockoutNotice,
];

impl Limit {
    /// The class's name in `RATE_LIMIT_<NAME>` (upper-cased there), logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Code => "code",
            Self::SecondFactor => "second_factor",
            Self::Signup => "signup",
            Self::Mail => "mail",
            Self::MailDaily => "mail_daily",
            Self::MailedToken => "mailed_token",
            Self::Refresh => "refresh",
            Self::Upload => "upload",
            Self::LockoutNotice => "lockout_notice",
        }
    }

    /// The quotas authql ships with.
    pub fn default_quota(self) -> ClassQuota {
        let s = Duration::from_secs;
        let day = s(24 * 3600);
        let q = |burst, every| Some(Quota { burst, every });
        let (ip, account) = match self {
            // ~70 guesses an hour per account (or known device), from however many addresses.
            Self::Password => (q(30, s(2)), q(10, s(60))),
            Self::Signup => (q(20, s(30)), None),
            // The address's bucket is per client (below): the owner keeps their own.
            Self::Mail => (q(10, s(60)), None),
            // Keeps many clients together from flooding one mailbox.
            Self::MailDaily => (None, q(20, day)),
            Self::MailedToken => (q(20, s(3)), None),
            Self::Refresh => (q(120, Duration::from_millis(50)), None),
            Self::Upload => (q(20, s(6)), q(10, s(60))),
            // A six-digit code has a million values: ~70 guesses an hour per account.
            Self::Code => (q(30, s(2)), q(10, s(60))),
            // Whoever guesses here got past the password already (or holds a session).
            Self::SecondFactor => (None, q(20, day)),
            Self::LockoutNotice => (None, q(1, s(3600))),
        };
        let ip_account = if self == Self::Mail { q(3, s(600)) } else { None };
        ClassQuota {
            ip,
            ip_account,
            account,
        }
    }
}

/// One bucket: up to `burst` at once, then one more every `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub burst: u32,
    pub every: Duration,
}

/// A class's buckets: per client address, per client address and account
/// together, and per account; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassQuota {
    pub ip: Option<Quota>,
    pub ip_account: Option<Quota>,
    pub account: Option<Quota>,
}

impl ClassQuota {
    /// No bucket: the class lets everything through.
    pub const OFF: Self = Self {
        ip: None,
        ip_account: None,
        account: None,
    };
}

/// The quotas of every class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas(Vec<(Limit, ClassQuota)>);

impl Default for Quotas {
    fn default() -> Self {
        Self(ALL.iter().map(|&l| (l, l.default_quota())).collect())
    }
}

impl Quotas {
    /// The quotas of `limit`.
    pub fn of(&self, limit: Limit) -> ClassQuota {
        self.0
            .iter()
            .find(|(l, _)| *l == limit)
            .map_or_else(|| limit.default_quota(), |(_, q)| *q)
    }

    /// Replaces the quotas of `limit`.
    pub fn set(&mut self, limit: Limit, quota: ClassQuota) {
        if let Some(slot) = self.0.iter_mut().find(|(l, _)| *l == limit) {
            slot.1 = quota;
        }
    }

    /// The defaults with every `RATE_LIMIT_<CLASS>` that `var` returns applied.
    ///
    /// # Errors
    /// One line naming the variable and what is wrong with it.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut quotas = Self::default();
        for limit in ALL {
            let name = format!("RATE_LIMIT_{}", limit.name().to_uppercase());
            if let Some(value) = var(&name).filter(|v| !v.trim().is_empty()) {
                let quota = parse(&value, limit.default_quota()).map_err(|e| format!("{name}={value:?}: {e}"))?;
                quotas.set(limit, quota);
            }
        }
        Ok(quotas)
    }
}

/// `off`, or comma-separated `ip:N/T`, `account:N/T` and `ip+account:N/T`
/// (N at once, then one more every T: `500ms`, `2s`, `1m`, `1h`, `1d`), each
/// `off` too; `address` is another name for `account`, as the mail classes
/// count addresses. A bucket not named keeps its default.
fn parse(value: &str, default: ClassQuota) -> Result<ClassQuota, String> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(ClassQuota::OFF);
    }
    let mut quota = default;
    for part in value.split(',').map(str::trim) {
        let (bucket, rule) = part
            .split_once(':')
            .ok_or_else(|| format!("expected ip:N/T, account:N/T or ip+account:N/T, found {part:?}"))?;
        let rule = if rule.trim().eq_ignore_ascii_case("off") {
            None
        } else {
            Some(parse_rule(rule.trim())?)
        };
        match bucket.trim() {
            "ip" => quota.ip = rule,
            "account" | "address" => quota.account = rule,
            "ip+account" | "ip+address" => quota.ip_account = rule,
            other => return Err(format!("unknown bucket {other:?} (ip, account or ip+account)")),
        }
    }
    Ok(quota)
}

fn parse_rule(rule: &str) -> Result<Quota, String> {
    let (burst, every) = rule
        .split_once('/')
        .ok_or_else(|| format!("expected N/T such as 10/1m, found {rule:?}"))?;
    let burst: u32 = burst
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{burst:?} is not a positive whole number"))?;
    let every = humantime::parse_duration(every.trim())
        .ok()
        .filter(|d| *d >= Duration::from_millis(1))
        .ok_or_else(|| format!("{every:?} is not a duration such as 500ms, 2s, 1m or 1h"))?;
    Ok(Quota { burst, every })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn operators_tune_one_class_and_keep_the_rest() {
        let quotas = Quotas::from_vars(vars(&[
            ("RATE_LIMIT_PASSWORD", "ip:100/1s, account:5/10m"),
            ("RATE_LIMIT_SIGNUP", "off"),
            ("RATE_LIMIT_MAIL", "ip+address:5/1h"),
            ("RATE_LIMIT_SECOND_FACTOR", "account:off"),
            ("RATE_LIMIT_MAIL_DAILY", "address:50/1d"),
        ]))
        .unwrap();
        let password = quotas.of(Limit::Password);
        assert_eq!(
            password.ip,
            Some(Quota {
                burst: 100,
                every: Duration::from_secs(1)
            })
        );
        assert_eq!(
            password.account,
            Some(Quota {
                burst: 5,
                every: Duration::from_secs(600)
            })
        );
        assert_eq!(quotas.of(Limit::Signup), ClassQuota::OFF);
        let hour = Duration::from_secs(3600);
        assert_eq!(quotas.of(Limit::Mail).ip_account, Some(Quota { burst: 5, every: hour }));
        assert_eq!(quotas.of(Limit::Mail).ip, Limit::Mail.default_quota().ip);
        assert_eq!(quotas.of(Limit::SecondFactor), ClassQuota::OFF);
        assert_eq!(
            quotas.of(Limit::MailDaily).account,
            Some(Quota {
                burst: 50,
                every: 24 * hour
            })
        );
        assert_eq!(quotas.of(Limit::Refresh), Limit::Refresh.default_quota());
    }

    #[test]
    fn a_bad_value_is_one_line_naming_the_variable() {
        for (value, says) in [
            ("ip:30", "expected N/T"),
            ("ip:0/1s", "positive whole number"),
            ("ip:10/soon", "not a duration"),
            ("host:10/1s", "unknown bucket"),
            ("ip+host:3/10m", "unknown bucket"),
            ("10/1s", "expected ip:N/T"),
        ] {
            let error = Quotas::from_vars(vars(&[("RATE_LIMIT_CODE", value)])).unwrap_err();
            assert!(error.starts_with("RATE_LIMIT_CODE="), "{error}");
            assert!(error.contains(says), "{value}: {error}");
            assert!(!error.contains('\n'));
        }
    }
}
