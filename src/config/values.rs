//! Parsers for configuration values, each with an error that says what it accepts.

use std::fmt;
use std::time::Duration;

/// Whether authql runs for development (forgiving defaults) or production (strict checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AppEnv {
    /// Missing secrets are generated into DATA_DIR; GraphiQL and introspection default on.
    Development,
    /// Secrets must be given; SQLite needs ALLOW_SQLITE_IN_PRODUCTION=true.
    Production,
}

/// How log lines are written to standard output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How SQLite flushes commits (its `synchronous` pragma, in WAL mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    /// No fsync per commit: a killed process loses nothing; an OS crash or
    /// power loss may lose the last commits.
    Normal,
    /// An fsync per commit: survives power loss too, at a cost in write throughput.
    Full,
}

/// Whether a password login of an account without TOTP also needs a mailed code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginEmailOtp {
    /// The password is enough.
    Off,
    /// A six-digit code is mailed after every correct password.
    Always,
}

/// Which accounts must have a second factor (REQUIRE_MFA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RequireMfa {
    /// None: each owner decides.
    Off,
    /// Administrators.
    Admins,
    /// Every account.
    All,
}

/// How refresh tokens (and device credentials) travel to and from clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenTransport {
    /// In the JSON answer and the `refreshToken` argument (mobile apps).
    Body,
    /// Only as HttpOnly cookies (browser apps).
    Cookie,
    /// The JSON answer, unless the request asks for cookies with
    /// `X-Authql-Token-Transport: cookie`.
    Both,
}

/// The `typ` header of access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessTokenTyp {
    /// RFC 9068's `at+jwt`: no other JWT the key signs can pass for an access token.
    #[value(name = "at+jwt")]
    AtJwt,
    /// The generic `JWT`, for verifiers that accept nothing else by default.
    #[value(name = "JWT")]
    Jwt,
}

impl AccessTokenTyp {
    /// The header value, as written into tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtJwt => "at+jwt",
            Self::Jwt => "JWT",
        }
    }
}

/// A value that must never be printed: Debug and Display show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Parses `30s`, `15m`, `1d` (or combinations such as `1h 30m`).
///
/// # Errors
/// A message naming the accepted forms.
pub fn duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value.trim()).map_err(|_| "expected a duration such as 30s, 15m or 1d".to_owned())
}

/// Parses a secret; an empty value counts as absent.
///
/// # Errors
/// Never; the signature fits clap's value parsers.
pub fn secret(value: &str) -> Result<Secret, String> {
    Ok(Secret::new(value))
}

/// Parses an absolute http(s) URL without a trailing slash in its path.
///
/// # Errors
/// A message when the value is not an absolute http or https URL.
pub fn http_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim())
        .map_err(|_| "expected an absolute URL such as https://auth.example.com".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err("expected an http:// or https:// URL".to_owned());
    }
    Ok(url)
}

/// Parses an IP address or a CIDR block (`10.0.0.0/8`).
///
/// # Errors
/// A message when the value is neither.
/// The words of a blocklist file (one per line, `#` comments), lower-cased.
///
/// # Errors
/// When the file cannot be read.
pub fn load_blocklist(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect())
}

/// A range API's base URL (its path ending in `/`, so a prefix can be
/// appended), or `off` (none).
///
/// # Errors
/// When the value is neither.
pub fn range_url_or_off(value: &str) -> Result<Option<url::Url>, String> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let mut url = http_url(value)?;
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(Some(url))
}

pub fn ip_net(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| "expected IP addresses or CIDR blocks, comma-separated".to_owned())
}

/// Parses a `From:` mailbox such as `authql <noreply@example.com>`.
///
/// # Errors
/// A message when the value is not a mailbox.
pub fn mailbox(value: &str) -> Result<lettre::message::Mailbox, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "expected a mailbox such as \"authql <noreply@example.com>\"".to_owned())
}

/// Parses an SMTP URL: `smtp://host:port`, `smtp://user:pass@host:587` or `smtps://user:pass@host`.
///
/// # Errors
/// A message when the scheme or host is wrong.
pub fn smtp_url(value: &str) -> Result<Secret, String> {
    let accepted = "expected smtp://host:port, smtp://user:password@host:587 or smtps://user:password@host";
    let url = url::Url::parse(value.trim()).map_err(|_| accepted.to_owned())?;
    if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none_or(str::is_empty) {
        return Err(accepted.to_owned());
    }
    Ok(Secret::new(value.trim()))
}

/// REDIS_URL: `redis://[user:password@]host[:port][/db]`.
pub fn redis_url(value: &str) -> Result<Secret, String> {
    let accepted = "expected redis://[user:password@]host[:port][/db]";
    let url = url::Url::parse(value.trim()).map_err(|_| accepted.to_owned())?;
    if url.scheme() == "rediss" {
        return Err(format!(
            "{accepted}; rediss:// (TLS) is not supported yet, reach Redis over a private network"
        ));
    }
    if url.scheme() != "redis" || url.host_str().is_none_or(str::is_empty) {
        return Err(accepted.to_owned());
    }
    Ok(Secret::new(value.trim()))
}

/// SHUTDOWN_DRAIN, else its former name SHUTDOWN_DELAY (with a warning), else 5 s.
pub fn shutdown_drain(drain: Option<Duration>, delay: Option<Duration>) -> Duration {
    match (drain, delay) {
        (Some(drain), _) => drain,
        (None, Some(delay)) => {
            tracing::warn!("SHUTDOWN_DELAY is now called SHUTDOWN_DRAIN; the old name will go in a later release");
            delay
        }
        (None, None) => Duration::from_secs(5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_the_documented_forms() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(duration("soon").unwrap_err().contains("30s, 15m or 1d"));
        assert!(duration("15").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn urls_and_networks_are_checked() {
        assert!(http_url("https://auth.example.com").is_ok());
        assert!(http_url("ftp://x").is_err());
        assert!(http_url("auth.example.com").is_err());
        assert!(ip_net("10.0.0.0/8").is_ok());
        assert!(ip_net("127.0.0.1").is_ok());
        assert!(ip_net("localhost").is_err());
        assert!(smtp_url("smtp://127.0.0.1:2525").is_ok());
        assert!(smtp_url("http://127.0.0.1").is_err());
        assert!(redis_url("redis://:pw@10.0.0.5:6379/2").is_ok());
        assert!(redis_url("127.0.0.1:6379").is_err());
        assert!(redis_url("rediss://cache").is_err());
        assert!(mailbox("authql <no-reply@example.com>").is_ok());
        assert!(mailbox("not a mailbox").is_err());
    }
}
