//! Typed configuration from flags, environment and `.env`, checked once at start.
//!
//! [`Settings`] is what clap reads (every flag has an environment variable of
//! the same name); [`Settings::resolve`] turns it into a [`Config`] with every
//! default filled in, or one line that says what is wrong.

pub mod integrations;
mod links;
pub mod listing;
pub mod oauth;
mod secrets;
pub use links::Links;
mod settings;
pub use secrets::generate as generate_secret;
pub mod values;
pub mod webauthn;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

use crate::limits::Quotas;

pub use settings::Settings;
pub use values::{AccessTokenTyp, AppEnv, LogFormat, LoginEmailOtp, RequireMfa, Secret, SqliteSync, TokenTransport};

/// Token and session lifetimes.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub reuse_grace: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// How recent a sign-in or step-up a sensitive operation needs.
    pub step_up_window: Duration,
    pub audience: String,
    /// The `typ` header of access tokens (ACCESS_TOKEN_TYP).
    pub access_typ: AccessTokenTyp,
}

/// How long records are kept.
#[derive(Clone, Debug)]
pub struct RetentionConfig {
    /// Security events and the audit log (AUDIT_RETENTION).
    pub audit: Duration,
    /// Sent and abandoned mail (MAIL_RETENTION).
    pub mail: Duration,
}

/// How multi-factor authentication behaves.
#[derive(Clone, Debug)]
pub struct MfaConfig {
    /// The issuer authenticator apps show.
    pub issuer: String,
    pub login_email_otp: LoginEmailOtp,
    /// Which accounts must have a second factor before they may do anything
    /// but enrol one (REQUIRE_MFA).
    pub require: RequireMfa,
}

/// argon2id cost and how many hashes may run at once.
#[derive(Clone, Debug)]
pub struct PasswordConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub concurrency: usize,
    /// PWNED_PASSWORDS_URL: the breach check's range API; none when off.
    pub breach_check_url: Option<Url>,
    pub breach_check_timeout: Duration,
    /// The words of PASSWORD_BLOCKLIST_FILE, lower-cased.
    pub blocklist: Vec<String>,
}

/// Where mail goes and how failed sends are retried.
#[derive(Clone, Debug)]
pub struct MailConfig {
    pub smtp_url: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub from: Mailbox,
    pub retry_base: Duration,
    pub poll_interval: Duration,
    pub send_timeout: Duration,
}

/// HTTP-facing switches.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub graphiql: bool,
    pub introspection: bool,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// REQUEST_TIMEOUT: a request's head, body and answer must be done within it.
    pub request_timeout: Duration,
    /// MAX_CONNECTIONS_PER_CLIENT: open connections one address may hold (0: no cap).
    pub max_connections_per_client: usize,
    /// FORCE_HTTPS.
    pub force_https: bool,
    /// REFRESH_TOKEN_TRANSPORT.
    pub token_transport: TokenTransport,
}

/// Rate limits and known devices.
#[derive(Clone, Debug)]
pub struct LimitsConfig {
    /// RATE_LIMITS: off only for benchmarks.
    pub enabled: bool,
    /// IPV6_PREFIX: how much of an IPv6 address is one client.
    pub ipv6_prefix: u8,
    /// RATE_LIMIT_<CLASS>, over the defaults.
    pub quotas: Quotas,
    /// DEVICE_MAX_FAILURES: wrong passwords after which a device credential is revoked.
    pub device_max_failures: u32,
}

/// The resolved configuration every part of authql reads.
#[derive(Clone, Debug)]
pub struct Config {
    pub env: AppEnv,
    pub listen_addr: SocketAddr,
    /// The management listener serving /metrics (METRICS_ADDR).
    pub metrics_addr: Option<SocketAddr>,
    /// METRICS_PUBLIC: /metrics on the public listener too.
    pub metrics_public: bool,
    /// SHUTDOWN_DRAIN: how long a stopping instance serves while not ready.
    pub shutdown_drain: Duration,
    /// SHUTDOWN_TIMEOUT: then how long requests in flight and the background work get.
    pub shutdown_timeout: Duration,
    pub public_url: Url,
    pub frontend_url: Option<Url>,
    pub data_dir: PathBuf,
    pub database_url: Secret,
    pub database_max_connections: u32,
    pub sqlite_synchronous: SqliteSync,
    pub redis_url: Option<Secret>,
    pub redis_key_prefix: String,
    /// PUSH_DATABASE_URL: where a PostgreSQL instance LISTENs for revocation notices.
    pub push_database_url: Option<Secret>,
    pub avatar_max_bytes: usize,
    pub secret_key: Secret,
    pub require_email_confirmation: bool,
    /// Mail owners about sign-ins from devices their account has not used.
    pub new_device_notices: bool,
    pub tokens: TokenConfig,
    pub mfa: MfaConfig,
    pub oauth: oauth::OAuthConfig,
    pub retention: RetentionConfig,
    pub password: PasswordConfig,
    pub mail: MailConfig,
    pub http: HttpConfig,
    pub limits: LimitsConfig,
    /// Passkeys: the relying party and attestation.
    pub webauthn: webauthn::WebauthnConfig,
    /// Webhooks to the app's backend.
    pub webhooks: integrations::WebhookConfig,
    /// Hooks the app's backend answers (HOOK_*).
    pub hooks: integrations::HookConfig,
    pub log_format: LogFormat,
}

/// A configuration problem, as one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Fills in defaults and checks the rules that span several settings.
    ///
    /// In development a missing SECRET_KEY is generated into DATA_DIR (once,
    /// then reused); in production it must be given.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable at fault.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let production = self.app_env == AppEnv::Production;
        let public_url = match (self.public_url, production) {
            (Some(url), _) => url,
            (None, true) => {
                return Err(ConfigError(
                    "PUBLIC_URL: required in production (e.g. https://auth.example.com)".into(),
                ));
            }
            (None, false) => Url::parse(&format!("http://{}", self.listen_addr))
                .map_err(|_| ConfigError("LISTEN_ADDR: cannot form a default PUBLIC_URL from it".into()))?,
        };
        if production && public_url.scheme() != "https" && !self.allow_insecure_public_url {
            return Err(ConfigError(
                "PUBLIC_URL: must be https:// in production, so HSTS and Secure cookies are on (ALLOW_INSECURE_PUBLIC_URL=true only for tests)".into(),
            ));
        }
        if production
            && self
                .secret_key
                .as_ref()
                .is_none_or(|k| k.expose().chars().count() < secrets::MIN_SECRET_KEY_LEN)
        {
            return Err(secrets::short_key());
        }
        let database_url = match self.database_url.filter(|u| !u.expose().is_empty()) {
            Some(url) => url,
            None => Secret::new(format!("sqlite://{}/authql.db?mode=rwc", self.data_dir.display())),
        };
        let db = database_url.expose();
        if !["sqlite:", "postgres://", "postgresql://", "mysql://", "mariadb://"]
            .iter()
            .any(|p| db.starts_with(p))
        {
            return Err(ConfigError(
                "DATABASE_URL: expected a sqlite://, postgres:// or mysql:// URL".into(),
            ));
        }
        if production && db.starts_with("sqlite:") && !self.allow_sqlite_in_production {
            return Err(ConfigError(
                "DATABASE_URL: SQLite in production needs ALLOW_SQLITE_IN_PRODUCTION=true (single instance only); use postgres:// or mysql://".into(),
            ));
        }
        let secret_key = secrets::master_key(self.secret_key, production, &self.data_dir)?;
        if self.refresh_reuse_grace >= self.refresh_token_ttl {
            return Err(ConfigError(
                "REFRESH_REUSE_GRACE: must be shorter than REFRESH_TOKEN_TTL".into(),
            ));
        }
        let cors_origins: Vec<String> = if self.cors_allowed_origins.is_empty() {
            self.frontend_url
                .iter()
                .map(|u| u.origin().ascii_serialization())
                .collect()
        } else {
            self.cors_allowed_origins
                .iter()
                .map(|u| u.origin().ascii_serialization())
                .collect()
        };
        let webauthn = webauthn::resolve(&webauthn::Inputs {
            rp_id: self.webauthn_rp_id.as_deref(),
            origins: &self.webauthn_origins,
            attestation: self.webauthn_attestation,
            public_url: &public_url,
            frontend_url: self.frontend_url.as_ref(),
            cors_origins: &cors_origins,
        })?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Config {
            env: self.app_env,
            listen_addr: self.listen_addr,
            metrics_addr: self.metrics_addr,
            metrics_public: self.metrics_public,
            shutdown_drain: values::shutdown_drain(self.shutdown_drain, self.shutdown_delay),
            shutdown_timeout: self.shutdown_timeout,
            public_url,
            frontend_url: self.frontend_url,
            data_dir: self.data_dir,
            database_url,
            redis_url: self.redis_url.filter(|u| !u.expose().is_empty()),
            redis_key_prefix: self.redis_key_prefix,
            push_database_url: self.push_database_url.filter(|u| !u.expose().is_empty()),
            avatar_max_bytes: self.avatar_max_bytes,
            database_max_connections: self.database_max_connections.max(1),
            sqlite_synchronous: self.sqlite_synchronous,
            secret_key,
            require_email_confirmation: self.require_email_confirmation,
            new_device_notices: self.new_device_notices,
            tokens: TokenConfig {
                access_ttl: self.access_token_ttl,
                refresh_ttl: self.refresh_token_ttl,
                reuse_grace: self.refresh_reuse_grace,
                idle_timeout: self.session_idle_timeout,
                max_lifetime: self.session_max_lifetime,
                step_up_window: self.step_up_window,
                audience: self.jwt_audience,
                access_typ: self.access_token_typ,
            },
            oauth: oauth::from_env()?,
            retention: RetentionConfig {
                audit: self.audit_retention,
                mail: self.mail_retention,
            },
            mfa: MfaConfig {
                issuer: self.mfa_issuer,
                login_email_otp: self.login_email_otp,
                require: self.require_mfa,
            },
            password: PasswordConfig {
                memory_kib: self.password_hash_memory_kib,
                iterations: self.password_hash_iterations,
                parallelism: self.password_hash_parallelism,
                concurrency: self
                    .password_hash_concurrency
                    .map_or((cores / 2).max(1), |n| n as usize),
                breach_check_url: values::range_url_or_off(&self.pwned_passwords_url)
                    .map_err(|e| ConfigError(format!("PWNED_PASSWORDS_URL: {e}")))?,
                breach_check_timeout: self.pwned_passwords_timeout,
                blocklist: match &self.password_blocklist_file {
                    Some(path) => values::load_blocklist(path).map_err(|e| {
                        ConfigError(format!("PASSWORD_BLOCKLIST_FILE: cannot read {}: {e}", path.display()))
                    })?,
                    None => Vec::new(),
                },
            },
            mail: MailConfig {
                smtp_url: self.smtp_url,
                ca_file: self.smtp_ca_file,
                from: self.mail_from,
                retry_base: self.mail_retry_base,
                poll_interval: self.mail_poll_interval,
                send_timeout: self.mail_send_timeout,
            },
            http: HttpConfig {
                graphiql: self.graphiql.unwrap_or(!production),
                introspection: self.introspection.unwrap_or(!production),
                trusted_proxies: self.trusted_proxies,
                cors_origins,
                max_body_bytes: self.max_body_bytes.max(1024),
                request_timeout: self.request_timeout.max(Duration::from_secs(1)),
                max_connections_per_client: self.max_connections_per_client,
                force_https: self.force_https,
                token_transport: self.refresh_token_transport,
            },
            limits: LimitsConfig {
                enabled: self.rate_limits,
                ipv6_prefix: self.ipv6_prefix,
                quotas: Quotas::from_vars(|name| std::env::var(name).ok()).map_err(ConfigError)?,
                device_max_failures: self.device_max_failures.max(1),
            },
            webauthn,
            webhooks: self.integrations.webhooks(production),
            hooks: self.integrations.hooks()?,
            log_format: self.log_format,
        })
    }
}

impl Config {
    /// The links of this configuration.
    pub fn links(&self) -> Links {
        Links::new(self.public_url.clone(), self.frontend_url.clone())
    }

    /// An absolute link to `path` (which starts with `/`) under PUBLIC_URL.
    pub fn public_link(&self, path: &str) -> String {
        self.links().public(path)
    }

    /// An absolute link under FRONTEND_URL, or under PUBLIC_URL without one.
    pub fn frontend_link(&self, path: &str) -> String {
        self.links().frontend(path)
    }

    /// The `iss` claim of access tokens.
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    /// Whether this is a development instance.
    pub fn is_development(&self) -> bool {
        self.env == AppEnv::Development
    }
}
