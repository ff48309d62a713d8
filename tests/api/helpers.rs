//! `spawn_app`: a real authql on port 0 with a fresh database and a real SMTP sink,
//! plus typed helpers for the requests tests make.

use std::time::Duration;

use authql::config::{Config, Secret, Settings};
use authql::startup::Application;
use authql::state::AppState;
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::db::TestDb;
use crate::smtp::MailSink;

/// A password zxcvbn rates strong.
pub const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";

#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    settings: Settings,
}

/// A running server and what it talks to.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub mail: MailSink,
    pub state: AppState,
    stop: CancellationToken,
    // Dropped last: the database outlives the server's use of it.
    _data_dir: tempfile::TempDir,
    _db: Option<TestDb>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The configuration tests start from; `tweak` adjusts it.
pub async fn test_config(db: &TestDb, data_dir: &std::path::Path, smtp_url: Option<String>) -> Config {
    let mut settings = Defaults::parse_from(["authql"]).settings;
    settings.listen_addr = "127.0.0.1:0".parse().unwrap();
    settings.data_dir = data_dir.to_path_buf();
    settings.database_url = Some(Secret::new(db.url.clone()));
    settings.secret_key = Some(Secret::new("test-secret-key-that-is-long-enough-0123456789"));
    settings.smtp_url = smtp_url.map(Secret::new);
    let mut config = settings.resolve().expect("test configuration resolves");
    // Cheap hashing keeps the suite fast; production cost is covered by the benchmarks.
    config.password.memory_kib = 256;
    config.password.iterations = 1;
    config.password.concurrency = 4;
    // Tests talk to loopback only; the breach check's tests start their own range server.
    config.password.breach_check_url = None;
    config.mail.poll_interval = Duration::from_millis(100);
    config.mail.retry_base = Duration::from_millis(200);
    config.database_max_connections = 5;
    // Administrators in tests act without enrolling a second factor first;
    // tests/api/require_mfa.rs tests REQUIRE_MFA, and tests/cli its default.
    config.mfa.require = authql::config::RequireMfa::Off;
    config
}

/// Starts authql with defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts authql after `tweak` has adjusted the configuration.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mail = MailSink::start().await;
    spawn_app_on(mail, tweak).await
}

/// Starts authql mailing through `mail` (whose port may have nothing listening yet).
pub async fn spawn_app_on(mail: MailSink, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::create().await;
    let url = db.url.clone();
    spawn_app_on_db(mail, db, url, tweak).await
}

/// Server logs at `warn` (or RUST_LOG), captured with the test's output so a
/// failure shows what the server complained about.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .with_ansi(false)
            .try_init();
    });
}

/// Starts authql on `db`, reached through `url` (which may lead through a proxy).
pub async fn spawn_app_on_db(mail: MailSink, db: TestDb, url: String, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&db, data_dir.path(), Some(mail.url())).await;
    config.database_url = Secret::new(url);
    tweak(&mut config);
    start(config, mail, data_dir, Some(db)).await
}

async fn start(config: Config, mail: MailSink, data_dir: tempfile::TempDir, db: Option<TestDb>) -> TestApp {
    init_logs();
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move { app.run_until(async move { stopped.cancelled().await }).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        http,
        mail,
        state,
        stop,
        _data_dir: data_dir,
        _db: db,
    }
}

/// Starts another instance on `first`'s database, with its own SMTP sink.
/// `first` must outlive it: it owns the database.
pub async fn spawn_app_beside(first: &TestApp, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mail = MailSink::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = first.state.config.clone();
    config.listen_addr = "127.0.0.1:0".parse().unwrap();
    config.public_url = url::Url::parse("http://127.0.0.1:0").unwrap();
    config.data_dir = data_dir.path().to_path_buf();
    config.mail.smtp_url = Some(Secret::new(mail.url()));
    tweak(&mut config);
    start(config, mail, data_dir, None).await
}

/// Lifts the per-address mail limits (three mails per client and ten
/// minutes, twenty a day) for tests that send more mail to one address than
/// that for other reasons.
pub fn unlimited_mail_per_address(config: &mut Config) {
    use authql::limits::{ClassQuota, Limit};
    let mut mail = config.limits.quotas.of(Limit::Mail);
    mail.ip_account = None;
    config.limits.quotas.set(Limit::Mail, mail);
    config.limits.quotas.set(Limit::MailDaily, ClassQuota::OFF);
}

/// The `extensions.code` of the first error, if any.
pub fn code(v: &Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

/// Access and refresh token of a login.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_auth(auth: &Value) -> Self {
        Self {
            access: auth["accessToken"].as_str().expect("an access token").to_owned(),
            refresh: auth["refreshToken"].as_str().expect("a refresh token").to_owned(),
        }
    }
}

pub const SIGNUP: &str = "mutation($input: SignupInput!) { signup(input: $input) { confirmationRequired auth { accessToken refreshToken user { id email } } } }";
pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { mfaRequired auth { accessToken refreshToken tokenType expiresIn user { id email emailVerified } } } }";
pub const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } } }";
pub const ME: &str = "{ me { id email emailVerified username role active providers } }";

impl TestApp {
    /// Asks the server to stop, as SIGTERM does; it keeps serving for SHUTDOWN_DRAIN.
    pub fn begin_shutdown(&self) {
        self.stop.cancel();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GETs `path` and parses the JSON answer.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POSTs a raw body as JSON; returns status and parsed body.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON response, got {status}: {text}")),
        )
    }

    /// POSTs a JSON `body` with extra `headers` (a client address through a
    /// trusted proxy, a user agent); returns the parsed answer.
    pub async fn post_with(&self, headers: &[(&str, &str)], body: &Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.body(body.to_string()).send().await.unwrap().json().await.unwrap()
    }

    /// Runs an operation anonymously.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.post_raw(json!({ "query": query, "variables": variables }).to_string(), None)
            .await
            .1
    }

    /// Runs an operation with an access token.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.post_raw(
            json!({ "query": query, "variables": variables }).to_string(),
            Some(token),
        )
        .await
        .1
    }

    pub async fn signup(&self, email: &str, password: &str) -> Value {
        self.gql(SIGNUP, json!({ "input": { "email": email, "password": password } }))
            .await
    }

    /// Signs up and confirms through the mailed link's button.
    pub async fn confirmed_user(&self, email: &str) {
        let r = self.signup(email, PASSWORD).await;
        assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
        let link = self.mail.wait_for(email).await.link();
        self.press_confirm(&link).await;
    }

    /// Presses the button of a confirmation link's page (a POST to the link).
    pub async fn press_confirm(&self, link: &str) -> reqwest::Response {
        let resp = self.http.post(link).send().await.unwrap();
        assert!(resp.status().is_success(), "confirming with {link}: {}", resp.status());
        resp
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.gql(LOGIN, json!({ "input": { "email": email, "password": password } }))
            .await
    }

    /// Logs in and returns the tokens, failing the test if login fails.
    pub async fn login_tokens(&self, email: &str, password: &str) -> Tokens {
        let r = self.login(email, password).await;
        Tokens::from_auth(&r["data"]["login"]["auth"])
    }

    /// A confirmed, logged-in user.
    pub async fn user_with_tokens(&self, email: &str) -> Tokens {
        self.confirmed_user(email).await;
        self.login_tokens(email, PASSWORD).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Value {
        self.gql(REFRESH, json!({ "t": refresh_token })).await
    }

    /// The kinds of the caller's newest 50 security events, newest first.
    pub async fn event_kinds(&self, access: &str) -> Vec<String> {
        let events = self
            .gql_as(access, "{ securityEvents(first: 50) { kind } }", json!({}))
            .await;
        events["data"]["securityEvents"]
            .as_array()
            .unwrap_or_else(|| panic!("security events: {events}"))
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn me(&self, access: &str) -> Value {
        self.gql_as(access, ME, json!({})).await
    }

    /// Outbox rows with at least one failed send.
    pub async fn outbox_failures(&self) -> i64 {
        self.scalar("SELECT COUNT(*) AS n FROM mail_outbox WHERE attempts > 0")
            .await
    }

    /// Outbox rows whose sealed body is still stored.
    pub async fn outbox_bodies_left(&self) -> i64 {
        self.scalar("SELECT COUNT(*) AS n FROM mail_outbox WHERE text <> '' OR html <> ''")
            .await
    }

    /// Counts rows of `table` straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) AS n FROM {table}")).await
    }

    /// The integer `n` of a one-row query (COUNT gives a 64-bit integer on every backend).
    pub async fn scalar(&self, sql: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let db = self.state.db.writer();
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}
