//! Typed configuration from flags, environment and `.env`, checked once at start.
//!
//! [`Settings`] is what clap reads (every flag has an environment variable of
//! the same name); [`Settings::resolve`] turns it into a [`Config`] with every
//! default filled in, or one line that says what is wrong.

mod secrets;
pub use secrets::generate as generate_secret;
pub mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use lettre::message::Mailbox;
use url::Url;

pub use values::{AppEnv, LogFormat, Secret};

/// Raw settings as given by flags and environment variables.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        value_name = "LISTEN_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen_addr: SocketAddr,
    /// Public base URL of this server, used in mailed links and as the token issuer.
    #[arg(long, env = "PUBLIC_URL", value_name = "PUBLIC_URL", value_parser = values::http_url)]
    pub public_url: Option<Url>,
    /// Base URL of the web app; confirmation redirects and reset links go there.
    #[arg(long, env = "FRONTEND_URL", value_name = "FRONTEND_URL", value_parser = values::http_url)]
    pub frontend_url: Option<Url>,
    /// Folder for the SQLite database, development secrets and mail files.
    #[arg(long, env = "DATA_DIR", value_name = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// sqlite://, postgres:// or mysql:// URL; SQLite in DATA_DIR when unset.
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", value_parser = values::secret)]
    pub database_url: Option<Secret>,
    /// Largest number of database connections per instance.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        value_name = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub database_max_connections: u32,
    /// Master key (at least 32 characters) that seals secrets at rest.
    #[arg(long, env = "SECRET_KEY", value_name = "SECRET_KEY", value_parser = values::secret, hide_env_values = true)]
    pub secret_key: Option<Secret>,
    /// development or production.
    #[arg(
        long,
        env = "APP_ENV",
        value_name = "APP_ENV",
        value_enum,
        default_value = "development"
    )]
    pub app_env: AppEnv,
    /// Allow SQLite in production (a single instance only).
    #[arg(long, env = "ALLOW_SQLITE_IN_PRODUCTION", value_name = "ALLOW_SQLITE_IN_PRODUCTION", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub allow_sqlite_in_production: bool,
    /// SMTP server for mail; without it mail is written to DATA_DIR/outbox.
    #[arg(long, env = "SMTP_URL", value_name = "SMTP_URL", value_parser = values::smtp_url, hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// Sender of every mail.
    #[arg(long, env = "MAIL_FROM", value_name = "MAIL_FROM", value_parser = values::mailbox, default_value = "authql <noreply@localhost>")]
    pub mail_from: Mailbox,
    /// First retry delay of a failed mail; doubles on each failure, up to an hour.
    #[arg(long, env = "MAIL_RETRY_BASE", value_name = "MAIL_RETRY_BASE", value_parser = values::duration, default_value = "5s")]
    pub mail_retry_base: Duration,
    /// How often the outbox looks for mail that is due.
    #[arg(long, env = "MAIL_POLL_INTERVAL", value_name = "MAIL_POLL_INTERVAL", value_parser = values::duration, default_value = "5s")]
    pub mail_poll_interval: Duration,
    /// Whether login waits until the email address is confirmed.
    #[arg(long, env = "REQUIRE_EMAIL_CONFIRMATION", value_name = "REQUIRE_EMAIL_CONFIRMATION", value_parser = BoolishValueParser::new(), default_value = "true")]
    pub require_email_confirmation: bool,
    /// Lifetime of an access token.
    #[arg(long, env = "ACCESS_TOKEN_TTL", value_name = "ACCESS_TOKEN_TTL", value_parser = values::duration, default_value = "30m")]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (and of a session without activity past it).
    #[arg(long, env = "REFRESH_TOKEN_TTL", value_name = "REFRESH_TOKEN_TTL", value_parser = values::duration, default_value = "1d")]
    pub refresh_token_ttl: Duration,
    /// How long a just-spent refresh token still returns its successor.
    #[arg(long, env = "REFRESH_REUSE_GRACE", value_name = "REFRESH_REUSE_GRACE", value_parser = values::duration, default_value = "10s")]
    pub refresh_reuse_grace: Duration,
    /// Sessions without activity for this long are ended.
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", value_name = "SESSION_IDLE_TIMEOUT", value_parser = values::duration, default_value = "20m")]
    pub session_idle_timeout: Duration,
    /// `aud` claim of access tokens.
    #[arg(long, env = "JWT_AUDIENCE", value_name = "JWT_AUDIENCE", default_value = "authql")]
    pub jwt_audience: String,
    /// argon2id memory cost in KiB.
    #[arg(long, env = "PASSWORD_HASH_MEMORY_KIB", value_name = "PASSWORD_HASH_MEMORY_KIB", default_value_t = 19_456, value_parser = clap::value_parser!(u32).range(8..=4_194_304))]
    pub password_hash_memory_kib: u32,
    /// argon2id iterations.
    #[arg(long, env = "PASSWORD_HASH_ITERATIONS", value_name = "PASSWORD_HASH_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub password_hash_iterations: u32,
    /// argon2id lanes.
    #[arg(long, env = "PASSWORD_HASH_PARALLELISM", value_name = "PASSWORD_HASH_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub password_hash_parallelism: u32,
    /// Password hashes computed at once; default half the cores, at least one.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", value_name = "PASSWORD_HASH_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub password_hash_concurrency: Option<u32>,
    /// Serve GraphiQL at GET /graphql (default: on in development).
    #[arg(long, env = "GRAPHIQL", value_name = "GRAPHIQL", value_parser = BoolishValueParser::new())]
    pub graphiql: Option<bool>,
    /// Answer introspection queries (default: on in development).
    #[arg(long, env = "INTROSPECTION", value_name = "INTROSPECTION", value_parser = BoolishValueParser::new())]
    pub introspection: Option<bool>,
    /// Proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated).
    #[arg(long, env = "TRUSTED_PROXIES", value_name = "TRUSTED_PROXIES", value_parser = values::ip_net, value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins allowed to call /graphql from a browser (default: FRONTEND_URL's origin).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_name = "CORS_ALLOWED_ORIGINS", value_parser = values::http_url, value_delimiter = ',')]
    pub cors_allowed_origins: Vec<Url>,
    /// Largest accepted request body in bytes.
    #[arg(
        long,
        env = "MAX_BODY_BYTES",
        value_name = "MAX_BODY_BYTES",
        default_value_t = 262_144
    )]
    pub max_body_bytes: usize,
    /// text or json.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_name = "LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Token and session lifetimes.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub reuse_grace: Duration,
    pub idle_timeout: Duration,
    pub audience: String,
}

/// argon2id cost and how many hashes may run at once.
#[derive(Clone, Debug)]
pub struct PasswordConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub concurrency: usize,
}

/// Where mail goes and how failed sends are retried.
#[derive(Clone, Debug)]
pub struct MailConfig {
    pub smtp_url: Option<Secret>,
    pub from: Mailbox,
    pub retry_base: Duration,
    pub poll_interval: Duration,
}

/// HTTP-facing switches.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub graphiql: bool,
    pub introspection: bool,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
}

/// The resolved configuration every part of authql reads.
#[derive(Clone, Debug)]
pub struct Config {
    pub env: AppEnv,
    pub listen_addr: SocketAddr,
    pub public_url: Url,
    pub frontend_url: Option<Url>,
    pub data_dir: PathBuf,
    pub database_url: Secret,
    pub database_max_connections: u32,
    pub secret_key: Secret,
    pub require_email_confirmation: bool,
    pub tokens: TokenConfig,
    pub password: PasswordConfig,
    pub mail: MailConfig,
    pub http: HttpConfig,
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
        let cors_origins = if self.cors_allowed_origins.is_empty() {
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
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Config {
            env: self.app_env,
            listen_addr: self.listen_addr,
            public_url,
            frontend_url: self.frontend_url,
            data_dir: self.data_dir,
            database_url,
            database_max_connections: self.database_max_connections.max(1),
            secret_key,
            require_email_confirmation: self.require_email_confirmation,
            tokens: TokenConfig {
                access_ttl: self.access_token_ttl,
                refresh_ttl: self.refresh_token_ttl,
                reuse_grace: self.refresh_reuse_grace,
                idle_timeout: self.session_idle_timeout,
                audience: self.jwt_audience,
            },
            password: PasswordConfig {
                memory_kib: self.password_hash_memory_kib,
                iterations: self.password_hash_iterations,
                parallelism: self.password_hash_parallelism,
                concurrency: self
                    .password_hash_concurrency
                    .map_or((cores / 2).max(1), |n| n as usize),
            },
            mail: MailConfig {
                smtp_url: self.smtp_url,
                from: self.mail_from,
                retry_base: self.mail_retry_base,
                poll_interval: self.mail_poll_interval,
            },
            http: HttpConfig {
                graphiql: self.graphiql.unwrap_or(!production),
                introspection: self.introspection.unwrap_or(!production),
                trusted_proxies: self.trusted_proxies,
                cors_origins,
                max_body_bytes: self.max_body_bytes.max(1024),
            },
            log_format: self.log_format,
        })
    }
}

impl Config {
    /// An absolute link to `path` (which starts with `/`) under PUBLIC_URL.
    pub fn public_link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_str().trim_end_matches('/'))
    }

    /// An absolute link under FRONTEND_URL, or under PUBLIC_URL without one.
    pub fn frontend_link(&self, path: &str) -> String {
        let base = self.frontend_url.as_ref().unwrap_or(&self.public_url);
        format!("{}{path}", base.as_str().trim_end_matches('/'))
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
