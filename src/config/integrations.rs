//! The app's backend: signed webhooks (WEBHOOK_*) and the hooks that can
//! refuse a sign-up or add claims to access tokens (HOOK_*), read and
//! checked once at start.

use std::time::Duration;

use base64::Engine;
use clap::builder::BoolishValueParser;
use url::Url;

use super::ConfigError;
use super::values::{self, Secret};

/// The Standard Webhooks retry schedule: the delay before each attempt after
/// the first (which is at once); a delivery that fails them all is given up.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Flags and variables of webhooks.
#[derive(Clone, Debug, clap::Args)]
pub struct IntegrationSettings {
    /// Let webhooks go to loopback, private, link-local and metadata addresses, and over plain http in production (tests, compose).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", value_name = "WEBHOOK_ALLOW_PRIVATE", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub webhook_allow_private: bool,
    /// Finished webhook deliveries (delivered or given up) older than this are deleted.
    #[arg(long, env = "WEBHOOK_RETENTION", value_name = "WEBHOOK_RETENTION", value_parser = values::duration, default_value = "7d")]
    pub webhook_retention: Duration,
    /// Longest one webhook attempt may take, connection to answer; a slower one is retried.
    #[arg(long, env = "WEBHOOK_TIMEOUT", value_name = "WEBHOOK_TIMEOUT", value_parser = values::duration, default_value = "15s")]
    pub webhook_timeout: Duration,
    /// How often the webhook worker looks for due deliveries queued by other instances.
    #[arg(long, env = "WEBHOOK_POLL_INTERVAL", value_name = "WEBHOOK_POLL_INTERVAL", value_parser = values::duration, default_value = "5s")]
    pub webhook_poll_interval: Duration,
    /// Asked before every sign-up (password, provider, passkey) whether it may go ahead.
    #[arg(long, env = "HOOK_BEFORE_SIGNUP_URL", value_name = "HOOK_BEFORE_SIGNUP_URL", value_parser = values::http_url)]
    pub hook_before_signup_url: Option<Url>,
    /// Asked when a session is opened for claims to add to its access tokens.
    #[arg(long, env = "HOOK_ACCESS_TOKEN_URL", value_name = "HOOK_ACCESS_TOKEN_URL", value_parser = values::http_url)]
    pub hook_access_token_url: Option<Url>,
    /// The whsec_ secret hook calls are signed with (Standard Webhooks); required when a hook is set.
    #[arg(long, env = "HOOK_SECRET", value_name = "HOOK_SECRET", value_parser = values::secret, hide_env_values = true)]
    pub hook_secret: Option<Secret>,
    /// Longest a hook may take to answer; past it the hook's failure policy applies.
    #[arg(long, env = "HOOK_TIMEOUT", value_name = "HOOK_TIMEOUT", value_parser = values::duration, default_value = "2s")]
    pub hook_timeout: Duration,
    /// When the sign-up hook fails (no answer in time, an error, a malformed answer): deny or allow the sign-up.
    #[arg(
        long,
        env = "HOOK_BEFORE_SIGNUP_ON_FAILURE",
        value_name = "HOOK_BEFORE_SIGNUP_ON_FAILURE",
        value_enum,
        default_value = "deny"
    )]
    pub hook_before_signup_on_failure: OnFailure,
    /// When the access-token hook fails: deny the sign-in, or allow it without extra claims.
    #[arg(
        long,
        env = "HOOK_ACCESS_TOKEN_ON_FAILURE",
        value_name = "HOOK_ACCESS_TOKEN_ON_FAILURE",
        value_enum,
        default_value = "allow"
    )]
    pub hook_access_token_on_failure: OnFailure,
}

/// What a failed hook call means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailure {
    /// Refuse what the hook was asked about.
    Deny,
    /// Go ahead as if the hook had said nothing.
    Allow,
}

/// The synchronous hooks.
#[derive(Clone, Debug)]
pub struct HookConfig {
    /// HOOK_BEFORE_SIGNUP_URL.
    pub before_signup: Option<Url>,
    /// HOOK_ACCESS_TOKEN_URL.
    pub access_token: Option<Url>,
    /// The key of HOOK_SECRET (empty when no hook is set).
    pub key: Vec<u8>,
    /// HOOK_TIMEOUT.
    pub timeout: Duration,
    /// HOOK_BEFORE_SIGNUP_ON_FAILURE.
    pub signup_on_failure: OnFailure,
    /// HOOK_ACCESS_TOKEN_ON_FAILURE.
    pub token_on_failure: OnFailure,
}

/// How webhooks are sent.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// WEBHOOK_ALLOW_PRIVATE: no address check after DNS, and http allowed in production.
    pub allow_private: bool,
    /// Endpoints must be https (production, unless `allow_private`).
    pub https_only: bool,
    /// WEBHOOK_RETENTION.
    pub retention: Duration,
    /// WEBHOOK_POLL_INTERVAL.
    pub poll_interval: Duration,
    /// Longest one attempt may take, connection to answer.
    pub timeout: Duration,
    /// Delays before the attempts after the first ([`RETRY_SCHEDULE`]).
    pub retry_schedule: Vec<Duration>,
    /// How long a worker holds a delivery it claimed (twice `timeout` and 5 s).
    pub lease: Duration,
    /// An endpoint whose every attempt failed for this long is switched off.
    pub disable_after: Duration,
    /// How long a rotated-out secret keeps signing beside the new one.
    pub rotation_overlap: Duration,
}

impl IntegrationSettings {
    /// The hooks; a hook without a usable HOOK_SECRET stops the start.
    ///
    /// # Errors
    /// A [`ConfigError`] naming HOOK_SECRET.
    pub fn hooks(&self) -> Result<HookConfig, ConfigError> {
        let any = self.hook_before_signup_url.is_some() || self.hook_access_token_url.is_some();
        let key = match (&self.hook_secret, any) {
            (_, false) => Vec::new(),
            (None, true) => {
                return Err(ConfigError(
                    "HOOK_SECRET: required when a hook is set (whsec_ and a base64 key, e.g. whsec_$(head -c 32 /dev/urandom | base64))".into(),
                ));
            }
            (Some(secret), true) => hook_key(secret.expose())?,
        };
        Ok(HookConfig {
            before_signup: self.hook_before_signup_url.clone(),
            access_token: self.hook_access_token_url.clone(),
            key,
            timeout: self.hook_timeout.max(Duration::from_millis(100)),
            signup_on_failure: self.hook_before_signup_on_failure,
            token_on_failure: self.hook_access_token_on_failure,
        })
    }

    /// The webhook configuration; `production` requires https endpoints
    /// unless private addresses are allowed.
    pub fn webhooks(&self, production: bool) -> WebhookConfig {
        WebhookConfig {
            allow_private: self.webhook_allow_private,
            https_only: production && !self.webhook_allow_private,
            retention: self.webhook_retention,
            poll_interval: self.webhook_poll_interval,
            timeout: self.webhook_timeout.max(Duration::from_secs(1)),
            retry_schedule: RETRY_SCHEDULE.to_vec(),
            // Longer than any attempt, so a live instance never loses its claim mid-send;
            // a dead one's deliveries go out again soon after.
            lease: self.webhook_timeout.max(Duration::from_secs(1)) * 2 + Duration::from_secs(5),
            disable_after: Duration::from_secs(3 * 24 * 3600),
            rotation_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

/// The key of a `whsec_` secret: at least 16 bytes of base64.
fn hook_key(secret: &str) -> Result<Vec<u8>, ConfigError> {
    let fail = || ConfigError("HOOK_SECRET: expected whsec_ and at least 16 bytes in base64".into());
    let encoded = secret.strip_prefix("whsec_").ok_or_else(fail)?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| fail())?;
    if key.len() < 16 {
        return Err(fail());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: Option<&str>, secret: Option<&str>) -> IntegrationSettings {
        IntegrationSettings {
            webhook_allow_private: false,
            webhook_retention: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(1),
            webhook_poll_interval: Duration::from_secs(1),
            hook_before_signup_url: url.map(|u| u.parse().unwrap()),
            hook_access_token_url: None,
            hook_secret: secret.map(Secret::new),
            hook_timeout: Duration::from_secs(2),
            hook_before_signup_on_failure: OnFailure::Deny,
            hook_access_token_on_failure: OnFailure::Allow,
        }
    }

    #[test]
    fn a_hook_needs_a_whsec_secret() {
        assert!(settings(None, None).hooks().is_ok(), "no hook, no secret needed");
        let url = Some("https://app.example.com/hook");
        let missing = settings(url, None).hooks().unwrap_err();
        assert!(missing.0.starts_with("HOOK_SECRET: required"), "{missing}");
        for bad in ["not-whsec", "whsec_!!!", "whsec_c2hvcnQ="] {
            let refused = settings(url, Some(bad)).hooks().unwrap_err();
            assert!(refused.0.starts_with("HOOK_SECRET: expected"), "{bad}: {refused}");
        }
        let ok = settings(url, Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
            .hooks()
            .unwrap();
        assert_eq!(ok.key.len(), 24);
    }
}
