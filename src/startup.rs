//! Building a server from a [`Config`] and running it until asked to stop.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use poem::{EndpointExt, Server};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::accounts::password::PasswordHasher;
use crate::accounts::{AccountParts, Accounts, PasswordScreen};
use crate::config::{Config, Secret};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::health::Health;
use crate::hooks::Hooks;
use crate::limits::Limits;
use crate::mail::Outbox;
use crate::mfa::Mfa;
use crate::notices::Notices;
use crate::oauth::{OAuth, OAuthParts};
use crate::passkeys::{PasskeyParts, Passkeys};
use crate::profile::Profile;
use crate::sessions::{SessionParts, Sessions};
use crate::state::{AppState, Services};
use crate::tasks::Tasks;
use crate::tokens::keys::{self, KeyStore};
use crate::webhooks::Webhooks;
use crate::{graphql, http, jobs};

/// A server bound to its port, ready to run.
pub struct Application {
    listener: std::net::TcpListener,
    port: u16,
    state: AppState,
}

impl Application {
    /// Connects to the database, applies migrations, loads keys and binds LISTEN_ADDR.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, the keys cannot be
    /// opened with SECRET_KEY, or the address cannot be bound.
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        crate::telemetry::recorder().map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
        let db = connect(&config, config.database_max_connections).await?;
        let crypto = Crypto::new(config.secret_key.expose());
        // Instances starting together take turns: one migrates and creates the first key.
        let lock = db.startup_lock().await.context("cannot take the start-up lock")?;
        db.migrate_locked(&lock)
            .await
            .context("cannot apply database migrations")?;
        keys::ensure_signing_key(&lock.executor(&db), &crypto)
            .await
            .context("cannot create the first signing key")?;
        lock.release().await.context("cannot release the start-up lock")?;
        let listener = std::net::TcpListener::bind(config.listen_addr)
            .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        // The default PUBLIC_URL is LISTEN_ADDR; with port 0 only now do we know the port.
        if config.public_url.port() == Some(0) {
            let _ = config.public_url.set_port(Some(port));
        }
        let state = AppState::new(services(config, db, crypto).await?);
        Ok(Self { listener, port, state })
    }

    /// The port the server is bound to (useful with LISTEN_ADDR port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests and commands that act beside the server.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves requests, sends mail and runs jobs until `stop` resolves; then
    /// stops as README's "Stopping" says: unready at once, serving for
    /// SHUTDOWN_DRAIN, then no new connections, requests in flight answered
    /// and the background work stopped in order, within SHUTDOWN_TIMEOUT.
    ///
    /// # Errors
    /// When the jobs cannot start, the server fails, or the work in flight
    /// did not finish within SHUTDOWN_TIMEOUT.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self { listener, port, state } = self;
        let listener = tokio::net::TcpListener::from_std(listener).context("cannot listen")?;
        let workers = Workers::start(&state);
        let mut scheduler = jobs::start(&state).await.context("cannot start the scheduled jobs")?;
        let app = http::app(state.clone(), graphql::schema(state.clone()))
            .map_to_response()
            .boxed();
        tracing::info!(port, public_url = %state.config.public_url, "authql is serving");
        // Unready first, then SHUTDOWN_DRAIN of serving while load balancers notice.
        let (health, drain) = (state.health.clone(), state.config.shutdown_drain);
        let stop = async move {
            stop.await;
            health.stop();
            tracing::info!(drain = %humantime::format_duration(drain), "stopping: not ready, still serving");
            tokio::time::sleep(drain).await;
            tracing::info!("stopping: no new connections; finishing what is in flight");
        };
        let rules = http::listener::ConnectionRules {
            head_timeout: state.config.http.request_timeout,
            per_client: state.config.http.max_connections_per_client,
            trusted_proxies: state.config.http.trusted_proxies.clone(),
        };
        let timeout = state.config.shutdown_timeout;
        let served = http::listener::serve(listener, app, rules, stop, timeout).await;
        let closed_at = tokio::time::Instant::now();
        let _ = scheduler.shutdown().await;
        let stopped = tokio::time::timeout_at(closed_at + timeout, workers.stop(&state)).await;
        served.context("the HTTP server failed")?;
        match stopped {
            Ok(()) => {
                tracing::info!("stopped: every request answered and the background work finished");
                Ok(())
            }
            Err(_) => Err(anyhow::anyhow!(
                "stopped with background work unfinished after SHUTDOWN_TIMEOUT ({} tasks)",
                state.tasks.len()
            )),
        }
    }
}

/// The background workers of a serving instance, each under the instance's
/// tracker and with its own token, so they stop in order.
struct Workers {
    outbox: (CancellationToken, JoinHandle<()>),
    webhooks: (CancellationToken, JoinHandle<()>),
    /// The listener for other instances' revocation notices.
    notices: (CancellationToken, JoinHandle<()>),
    metrics: CancellationToken,
}

impl Workers {
    fn start(state: &AppState) -> Self {
        let tasks = &state.tasks;
        let (outbox, webhooks, notices, metrics) = (
            CancellationToken::new(),
            CancellationToken::new(),
            CancellationToken::new(),
            CancellationToken::new(),
        );
        let outbox_task = tasks.spawn(state.outbox.clone().run(outbox.clone()));
        let webhooks_task = tasks.spawn(state.webhooks.clone().run(webhooks.clone()));
        let notices_task = tasks.spawn(state.sessions.clone().listen_for_notices(notices.clone()));
        if let Some(addr) = state.config.metrics_addr {
            let listener = poem::listener::TcpListener::bind(addr);
            let app = http::management_app(state.clone());
            let stopped = metrics.clone();
            tasks.spawn(async move {
                let served = Server::new(listener)
                    .run_with_graceful_shutdown(app, stopped.cancelled_owned(), None)
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        Self {
            outbox: (outbox, outbox_task),
            webhooks: (webhooks, webhooks_task),
            notices: (notices, notices_task),
            metrics,
        }
    }

    /// Once every request is answered: the refresh writer's last batch,
    /// the activity, the mail and the webhook delivery being sent (the rest
    /// stay for any instance), the WebSockets (closed with 1001), the
    /// listener for revocation notices, then whatever work requests left
    /// behind.
    async fn stop(self, state: &AppState) {
        state.sessions.stop_writer().await;
        tracing::info!("stopping: the refresh writer's last batch is written");
        if let Err(e) = state.sessions.flush_activity().await {
            e.log();
        }
        for (token, task) in [self.outbox, self.webhooks] {
            token.cancel();
            let _ = task.await;
        }
        tracing::info!("stopping: the mail and webhook workers ended");
        state.going_away.cancel();
        let (notices, listener) = self.notices;
        notices.cancel();
        let _ = listener.await;
        self.metrics.cancel();
        tracing::info!(
            left = state.tasks.len(),
            "stopping: waiting for the work requests left behind"
        );
        state.tasks.wait().await;
    }
}

/// Connects to DATABASE_URL with at most `max_connections` per pool.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(config: &Config, max_connections: u32) -> anyhow::Result<Db> {
    Db::connect(config.database_url.expose(), max_connections, config.sqlite_synchronous)
        .await
        .context("cannot connect to DATABASE_URL")
}

/// Builds every domain service over `db`, as the server and the CLI use them.
/// The database must be migrated.
///
/// # Errors
/// When the signing keys cannot be opened with SECRET_KEY, or SMTP_URL,
/// REDIS_URL or the password cost cannot be used.
pub async fn services(config: Config, db: Db, crypto: Crypto) -> anyhow::Result<Services> {
    let crypto = Arc::new(crypto);
    let keys = KeyStore::load(&db, &crypto, config.tokens.access_ttl)
        .await
        .context("cannot load signing keys (was SECRET_KEY changed?)")?;
    let keys = Arc::new(keys);
    let passwords = Arc::new(PasswordHasher::new(&config.password).context("PASSWORD_HASH_*")?);
    let screen = Arc::new(
        PasswordScreen::new(
            config.password.breach_check_url.clone(),
            config.password.breach_check_timeout,
            config.password.blocklist.clone(),
        )
        .context("PWNED_PASSWORDS_URL")?,
    );
    let outbox = Outbox::new(
        &config.mail,
        &config.data_dir,
        db.clone(),
        crypto.clone(),
        config.is_development(),
    )
    .context("cannot use SMTP_URL")?;
    let outbox = Arc::new(outbox);
    let webhooks = Webhooks::new(
        db.clone(),
        crypto.clone(),
        outbox.clone(),
        config.webhooks.clone(),
        config.links(),
    )
    .context("cannot set up webhooks")?;
    let hooks = Hooks::new(config.hooks.clone()).context("cannot set up the hooks")?;
    let redis = config
        .redis_url
        .as_ref()
        .map(|url| (url.expose(), config.redis_key_prefix.as_str()));
    let limits = Arc::new(
        Limits::new(
            config.limits.enabled,
            config.limits.ipv6_prefix,
            &config.limits.quotas,
            redis,
        )
        .context("cannot use REDIS_URL")?,
    );
    let tasks = Tasks::default();
    let notices = Notices::new(
        redis,
        config.database_url.expose(),
        config.push_database_url.as_ref().map(Secret::expose),
        tasks.clone(),
    )
    .context("cannot use REDIS_URL for revocation notices")?;
    let sessions = Sessions::new(SessionParts {
        db: db.clone(),
        tasks: tasks.clone(),
        keys: keys.clone(),
        crypto: crypto.clone(),
        limits: limits.clone(),
        outbox: outbox.clone(),
        policy: config.tokens.clone(),
        issuer: config.issuer(),
        new_device_notices: config.new_device_notices,
        device_max_failures: config.limits.device_max_failures,
        require_mfa: config.mfa.require,
        webhooks: webhooks.clone(),
        hooks: hooks.clone(),
        notices: Arc::new(notices),
    });
    let mfa = Mfa::new(
        db.clone(),
        crypto.clone(),
        limits.clone(),
        outbox.clone(),
        sessions.clone(),
        webhooks.clone(),
        &config.mfa,
    );
    let passkeys = Passkeys::new(PasskeyParts {
        db: db.clone(),
        webhooks: webhooks.clone(),
        crypto: crypto.clone(),
        limits: limits.clone(),
        sessions: sessions.clone(),
        mfa: mfa.clone(),
        outbox: outbox.clone(),
        config: config.webauthn.clone(),
        rp_name: config.mfa.issuer.clone(),
        require_confirmation: config.require_email_confirmation,
    })
    .context("cannot set up passkeys (WEBAUTHN_*)")?;
    let accounts = Accounts::new(AccountParts {
        db: db.clone(),
        passwords,
        screen,
        outbox: outbox.clone(),
        limits: limits.clone(),
        sessions: sessions.clone(),
        mfa: mfa.clone(),
        passkeys: passkeys.clone(),
        webhooks: webhooks.clone(),
        hooks: hooks.clone(),
        links: config.links(),
        require_confirmation: config.require_email_confirmation,
    });
    let profile = Profile::new(
        db.clone(),
        limits.clone(),
        sessions.clone(),
        webhooks.clone(),
        config.avatar_max_bytes,
    );
    let oauth = OAuth::new(
        OAuthParts {
            db: db.clone(),
            accounts: accounts.clone(),
            crypto: crypto.clone(),
            limits: limits.clone(),
            sessions: sessions.clone(),
            mfa: mfa.clone(),
            links: config.links(),
            outbox: outbox.clone(),
            webhooks: webhooks.clone(),
            hooks: hooks.clone(),
        },
        &config.oauth,
    )
    .context("cannot set up the sign-in providers")?;
    let health = Arc::new(Health::new(db.clone(), limits.clone(), outbox.clone()));
    Ok(Services {
        config,
        db,
        crypto,
        keys,
        limits,
        outbox,
        gauges: crate::telemetry::Sampled::default(),
        health,
        sessions,
        mfa,
        accounts,
        profile,
        oauth,
        passkeys,
        webhooks,
        tasks,
        going_away: CancellationToken::new(),
    })
}
