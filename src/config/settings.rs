//! The flags and environment variables authql reads (every flag has a variable of the same name).
//! A secret's flag has `hide_env_values`: `--help` and `check-config` mask it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use lettre::message::Mailbox;
use url::Url;

use super::values::{self, AppEnv, LogFormat, Secret, SqliteSync};

/// Raw settings as given by flags and environment variables.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// Redirect plain HTTP to https (308) and send HSTS; the scheme comes from X-Forwarded-Proto of TRUSTED_PROXIES.
    #[arg(long, env = "FORCE_HTTPS", value_name = "FORCE_HTTPS", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub force_https: bool,
    /// IPv6 clients are rate-limited by this prefix of their address (a host usually holds a /64).
    #[arg(long, env = "IPV6_PREFIX", value_name = "IPV6_PREFIX", default_value_t = 64, value_parser = clap::value_parser!(u8).range(32..=128))]
    pub ipv6_prefix: u8,
    /// How refresh tokens travel: body, cookie, or both (cookies when a request asks with X-Authql-Token-Transport: cookie).
    #[arg(
        long,
        env = "REFRESH_TOKEN_TRANSPORT",
        value_name = "REFRESH_TOKEN_TRANSPORT",
        value_enum,
        default_value = "both"
    )]
    pub refresh_token_transport: values::TokenTransport,
    /// Wrong passwords given with one known-device credential before it is revoked.
    #[arg(
        long,
        env = "DEVICE_MAX_FAILURES",
        value_name = "DEVICE_MAX_FAILURES",
        default_value_t = 5
    )]
    pub device_max_failures: u32,
    /// Serve /metrics on this management address (keep it unpublished), e.g. 0.0.0.0:9100.
    #[arg(long, env = "METRICS_ADDR", value_name = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Also serve /metrics on the public listener (off: it answers 404 there).
    #[arg(long, env = "METRICS_PUBLIC", value_name = "METRICS_PUBLIC", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub metrics_public: bool,
    /// On SIGTERM, answer /readyz with 503 and keep serving this long before refusing new connections, so load balancers move away first [default: 5s].
    #[arg(long, env = "SHUTDOWN_DRAIN", value_name = "SHUTDOWN_DRAIN", value_parser = values::duration)]
    pub shutdown_drain: Option<Duration>,
    /// The former name of SHUTDOWN_DRAIN, still read (with a warning) when SHUTDOWN_DRAIN is not set.
    #[arg(long, env = "SHUTDOWN_DELAY", value_name = "SHUTDOWN_DELAY", value_parser = values::duration, hide = true)]
    pub shutdown_delay: Option<Duration>,
    /// After the drain, how long requests in flight and then the background work (mail, webhooks, writes) get before the process ends anyway.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", value_name = "SHUTDOWN_TIMEOUT", value_parser = values::duration, default_value = "20s")]
    pub shutdown_timeout: Duration,
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
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", value_parser = values::secret, hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Largest number of database connections per instance.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        value_name = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub database_max_connections: u32,
    /// SQLite durability: normal (survives a process kill) or full (also power loss).
    #[arg(
        long,
        env = "SQLITE_SYNCHRONOUS",
        value_name = "SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "normal"
    )]
    pub sqlite_synchronous: SqliteSync,
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
    /// Allow an http:// PUBLIC_URL in production (tests only: tokens and cookies would cross in clear).
    #[arg(long, env = "ALLOW_INSECURE_PUBLIC_URL", value_name = "ALLOW_INSECURE_PUBLIC_URL", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub allow_insecure_public_url: bool,
    /// Allow SQLite in production (a single instance only).
    #[arg(long, env = "ALLOW_SQLITE_IN_PRODUCTION", value_name = "ALLOW_SQLITE_IN_PRODUCTION", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub allow_sqlite_in_production: bool,
    /// Largest avatar upload in bytes; larger ones are PAYLOAD_TOO_LARGE.
    #[arg(
        long,
        env = "AVATAR_MAX_BYTES",
        value_name = "AVATAR_MAX_BYTES",
        default_value = "5242880"
    )]
    pub avatar_max_bytes: usize,
    /// Redis shared by every instance for rate limits; without it each instance counts alone.
    #[arg(long, env = "REDIS_URL", value_name = "REDIS_URL", value_parser = values::redis_url, hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// A direct PostgreSQL connection for LISTEN (revocation notices) when DATABASE_URL goes through a transaction-pooling proxy such as PgBouncer; default DATABASE_URL.
    #[arg(
        long,
        env = "PUSH_DATABASE_URL",
        value_name = "PUSH_DATABASE_URL",
        value_parser = values::secret,
        hide_env_values = true
    )]
    pub push_database_url: Option<Secret>,
    /// Prefix of every key authql writes to Redis (several deployments may share one Redis).
    #[arg(
        long,
        env = "REDIS_KEY_PREFIX",
        value_name = "REDIS_KEY_PREFIX",
        default_value = "authql:"
    )]
    pub redis_key_prefix: String,
    /// SMTP server for mail; without it mail is written to DATA_DIR/outbox.
    #[arg(long, env = "SMTP_URL", value_name = "SMTP_URL", value_parser = values::smtp_url, hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// PEM file of extra CA certificates to trust for SMTP over TLS (a private relay).
    #[arg(long, env = "SMTP_CA_FILE", value_name = "SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Sender of every mail.
    #[arg(long, env = "MAIL_FROM", value_name = "MAIL_FROM", value_parser = values::mailbox, default_value = "authql <noreply@localhost>")]
    pub mail_from: Mailbox,
    /// First retry delay of a failed mail; doubles on each failure, up to an hour.
    #[arg(long, env = "MAIL_RETRY_BASE", value_name = "MAIL_RETRY_BASE", value_parser = values::duration, default_value = "5s")]
    pub mail_retry_base: Duration,
    /// How often the outbox looks for mail that is due.
    #[arg(long, env = "MAIL_POLL_INTERVAL", value_name = "MAIL_POLL_INTERVAL", value_parser = values::duration, default_value = "5s")]
    pub mail_poll_interval: Duration,
    /// Longest one SMTP delivery may take before it counts as failed and is retried.
    #[arg(long, env = "MAIL_SEND_TIMEOUT", value_name = "MAIL_SEND_TIMEOUT", value_parser = values::duration, default_value = "30s")]
    pub mail_send_timeout: Duration,
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
    /// Sessions end this long after login, however active: a periodic re-authentication.
    #[arg(long, env = "SESSION_MAX_LIFETIME", value_name = "SESSION_MAX_LIFETIME", value_parser = values::duration, default_value = "30d")]
    pub session_max_lifetime: Duration,
    /// Sessions without activity for this long are ended.
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", value_name = "SESSION_IDLE_TIMEOUT", value_parser = values::duration, default_value = "20m")]
    pub session_idle_timeout: Duration,
    /// Mail the owner when their account signs in from a device (user agent) it has not used before.
    #[arg(long, env = "NEW_DEVICE_NOTICES", value_name = "NEW_DEVICE_NOTICES", value_parser = BoolishValueParser::new(), default_value = "true")]
    pub new_device_notices: bool,
    /// How recent a proof of identity a sensitive operation needs (a sign-in or a step-up).
    #[arg(long, env = "STEP_UP_WINDOW", value_name = "STEP_UP_WINDOW", value_parser = values::duration, default_value = "10m")]
    pub step_up_window: Duration,
    /// `off`, or `always`: every password login of an account without TOTP also needs a mailed code.
    #[arg(
        long,
        env = "LOGIN_EMAIL_OTP",
        value_name = "LOGIN_EMAIL_OTP",
        value_enum,
        default_value = "off"
    )]
    pub login_email_otp: values::LoginEmailOtp,
    /// Which accounts must have a second factor (`off`, `admins` or `all`):
    /// one that has none signs in, but can do nothing but enrol one.
    #[arg(
        long,
        env = "REQUIRE_MFA",
        value_name = "REQUIRE_MFA",
        value_enum,
        default_value = "admins"
    )]
    pub require_mfa: values::RequireMfa,
    /// The issuer authenticator apps show beside the account.
    #[arg(long, env = "MFA_ISSUER", value_name = "MFA_ISSUER", default_value = "authql")]
    pub mfa_issuer: String,
    /// Security events and audit entries older than this are deleted.
    #[arg(long, env = "AUDIT_RETENTION", value_name = "AUDIT_RETENTION", value_parser = values::duration, default_value = "90d")]
    pub audit_retention: Duration,
    /// Sent (or abandoned) mail older than this is deleted.
    #[arg(long, env = "MAIL_RETENTION", value_name = "MAIL_RETENTION", value_parser = values::duration, default_value = "7d")]
    pub mail_retention: Duration,
    /// `aud` claim of access tokens.
    #[arg(long, env = "JWT_AUDIENCE", value_name = "JWT_AUDIENCE", default_value = "authql")]
    pub jwt_audience: String,
    /// `typ` header of access tokens: at+jwt (RFC 9068), or JWT for verifiers that accept only that.
    #[arg(
        long,
        env = "ACCESS_TOKEN_TYP",
        value_name = "ACCESS_TOKEN_TYP",
        value_enum,
        ignore_case = true,
        default_value = "at+jwt"
    )]
    pub access_token_typ: values::AccessTokenTyp,
    /// argon2id memory cost in KiB.
    #[arg(long, env = "PASSWORD_HASH_MEMORY_KIB", value_name = "PASSWORD_HASH_MEMORY_KIB", default_value_t = 19_456, value_parser = clap::value_parser!(u32).range(8..=4_194_304))]
    pub password_hash_memory_kib: u32,
    /// argon2id iterations.
    #[arg(long, env = "PASSWORD_HASH_ITERATIONS", value_name = "PASSWORD_HASH_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub password_hash_iterations: u32,
    /// argon2id lanes.
    #[arg(long, env = "PASSWORD_HASH_PARALLELISM", value_name = "PASSWORD_HASH_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub password_hash_parallelism: u32,
    /// Range API that new passwords are checked against for breaches (k-anonymity), or `off`.
    #[arg(
        long,
        env = "PWNED_PASSWORDS_URL",
        value_name = "PWNED_PASSWORDS_URL",
        default_value = "https://api.pwnedpasswords.com/range/"
    )]
    pub pwned_passwords_url: String,
    /// Longest the breach check may take before it is skipped.
    #[arg(long, env = "PWNED_PASSWORDS_TIMEOUT", value_name = "PWNED_PASSWORDS_TIMEOUT", value_parser = values::duration, default_value = "2s")]
    pub pwned_passwords_timeout: Duration,
    /// A file of words (one per line, `#` comments) no new password may contain.
    #[arg(long, env = "PASSWORD_BLOCKLIST_FILE", value_name = "PASSWORD_BLOCKLIST_FILE")]
    pub password_blocklist_file: Option<PathBuf>,
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
    /// The domain passkeys are bound to (default: the registrable domain FRONTEND_URL's and PUBLIC_URL's hosts share, else PUBLIC_URL's host; an IP address there turns passkeys off).
    #[arg(long, env = "WEBAUTHN_RP_ID", value_name = "WEBAUTHN_RP_ID")]
    pub webauthn_rp_id: Option<String>,
    /// Origins whose passkey ceremonies are accepted, comma-separated (default: PUBLIC_URL, FRONTEND_URL and CORS_ALLOWED_ORIGINS); android:apk-key-hash:… for native apps.
    #[arg(
        long,
        env = "WEBAUTHN_ORIGINS",
        value_name = "WEBAUTHN_ORIGINS",
        value_delimiter = ','
    )]
    pub webauthn_origins: Vec<String>,
    /// none, or direct: ask for the authenticator's attestation statement and keep it with the passkey.
    #[arg(
        long,
        env = "WEBAUTHN_ATTESTATION",
        value_name = "WEBAUTHN_ATTESTATION",
        value_enum,
        default_value = "none"
    )]
    pub webauthn_attestation: super::webauthn::Attestation,
    /// Rate limits on logins, sign-ups, mail requests, mailed tokens and refreshes.
    #[arg(long, env = "RATE_LIMITS", value_name = "RATE_LIMITS", value_parser = BoolishValueParser::new(), default_value = "true")]
    pub rate_limits: bool,
    /// Largest accepted request body in bytes.
    #[arg(
        long,
        env = "MAX_BODY_BYTES",
        value_name = "MAX_BODY_BYTES",
        default_value_t = 262_144
    )]
    pub max_body_bytes: usize,
    /// A request must arrive (head and body) and be answered within this; a client trickling bytes is cut off.
    #[arg(long, env = "REQUEST_TIMEOUT", value_name = "REQUEST_TIMEOUT", value_parser = values::duration, default_value = "30s")]
    pub request_timeout: Duration,
    /// Open connections one client address may hold (0: no cap); connections from TRUSTED_PROXIES are not capped.
    #[arg(
        long,
        env = "MAX_CONNECTIONS_PER_CLIENT",
        value_name = "MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    pub max_connections_per_client: usize,
    /// text or json.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_name = "LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Webhooks and hooks to the app's backend.
    #[command(flatten)]
    pub integrations: super::integrations::IntegrationSettings,
}
