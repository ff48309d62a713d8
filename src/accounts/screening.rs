//! Screening of new passwords: refused when they appear in known breaches
//! (Pwned Passwords' k-anonymity range API: only the first five hex
//! characters of the password's SHA-1 leave, and the suffixes are compared
//! here) or contain a word of PASSWORD_BLOCKLIST_FILE (lower-cased). The breach check
//! never blocks a sign-up: when the range server fails, it is skipped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use url::Url;

use crate::error::{AppError, AppResult, Field};

/// A range answer is about 40 KiB with padding; anything far larger is not one.
const MAX_RANGE_BYTES: usize = 1 << 20;
/// After a failed check, the range server is left alone this long, so an
/// outage does not add its timeout to every sign-up.
const BACK_OFF: Duration = Duration::from_secs(60);

/// Checks new passwords against breaches and the blocklist.
pub struct PasswordScreen {
    /// The range API's base (the prefix is appended) and its client.
    range: Option<(reqwest::Client, Url)>,
    blocklist: Vec<String>,
    /// Set after a failure: no range requests until then.
    quiet_until: Mutex<Option<Instant>>,
}

impl PasswordScreen {
    /// A screen asking the range API at `range_url` (none: no breach check)
    /// within `timeout`, and refusing passwords that contain a `blocklist` word.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(range_url: Option<Url>, timeout: Duration, blocklist: Vec<String>) -> AppResult<Self> {
        let range = match range_url {
            Some(url) => {
                let client = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("authql/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| AppError::internal(format!("cannot build the breach check's HTTP client: {e}")))?;
                Some((client, url))
            }
            None => None,
        };
        Ok(Self {
            range,
            blocklist,
            quiet_until: Mutex::new(None),
        })
    }

    /// Refuses `password` as a value of `field` when it is blocklisted or breached.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field`.
    pub async fn check(&self, field: Field, password: &str) -> AppResult<()> {
        let lower = password.to_lowercase();
        if self.blocklist.iter().any(|word| lower.contains(word.as_str())) {
            return Err(AppError::bad_input(
                field,
                "contains a word this service does not allow in passwords",
            ));
        }
        if self.breached(password).await {
            return Err(AppError::bad_input(
                field,
                "this password appears in known data breaches; choose another",
            ));
        }
        Ok(())
    }

    /// Whether the range API lists `password`; false when it cannot tell.
    async fn breached(&self, password: &str) -> bool {
        let Some((client, base)) = &self.range else {
            return false;
        };
        if self
            .quiet_until
            .lock()
            .is_ok_and(|q| q.is_some_and(|until| Instant::now() < until))
        {
            return false;
        }
        let hash: String = Sha1::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let (prefix, suffix) = hash.split_at(5);
        match fetch_range(client, base, prefix).await {
            Ok(body) => listed(&body, suffix),
            Err(error) => {
                tracing::warn!(%error, "breached-password check skipped: the range server failed");
                if let Ok(mut quiet) = self.quiet_until.lock() {
                    *quiet = Some(Instant::now() + BACK_OFF);
                }
                ::metrics::counter!("authql_breach_check_failures_total").increment(1);
                false
            }
        }
    }
}

async fn fetch_range(client: &reqwest::Client, base: &Url, prefix: &str) -> Result<String, String> {
    let url = base.join(prefix).map_err(|e| e.to_string())?;
    let mut resp = client
        .get(url)
        // Every answer then has a few hundred entries, so its size tells nothing.
        .header("Add-Padding", "true")
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.without_url().to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RANGE_BYTES {
            return Err("the answer is too large for a range".to_owned());
        }
    }
    String::from_utf8(body).map_err(|_| "the answer is not text".to_owned())
}

/// Whether `suffix` has a count above zero in a range answer (padding lines count zero).
fn listed(body: &str, suffix: &str) -> bool {
    body.lines().any(|line| {
        line.trim().split_once(':').is_some_and(|(s, count)| {
            s.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|n| n > 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::listed;

    #[test]
    fn padding_lines_are_not_listings() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\nABCDEF0123456789ABCDEF0123456789ABC:0\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:12";
        assert!(listed(body, "0018a45c4d1def81644b54ab7f969b88d65"));
        assert!(listed(body, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"));
        assert!(!listed(body, "ABCDEF0123456789ABCDEF0123456789ABC"));
        assert!(!listed(body, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"));
    }
}
