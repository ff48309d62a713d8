//! The app's backend: signed webhooks (WEBHOOK_*), read and checked once at start.

use std::time::Duration;

use clap::builder::BoolishValueParser;

use super::values;

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
