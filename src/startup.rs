//! Building a server from a [`Config`] and running it until asked to stop.

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context as _;
use poem::listener::TcpAcceptor;
use poem::{EndpointExt, Server};
use tokio_util::sync::CancellationToken;

use crate::accounts::password::PasswordHasher;
use crate::config::Config;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::limits::Limits;
use crate::mail::{Outbox, outbox};
use crate::sessions::activity::Activity;
use crate::sessions::cache::SessionCache;
use crate::state::{AppState, Services};
use crate::tokens::jwt::Verifier;
use crate::tokens::keys::{self, KeyStore};
use crate::{graphql, http, jobs};

/// A server bound to its port, ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
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
        let db = Db::connect(
            config.database_url.expose(),
            config.database_max_connections,
            config.sqlite_synchronous,
        )
        .await
        .context("cannot connect to DATABASE_URL")?;
        let crypto = Crypto::new(config.secret_key.expose());
        // Instances starting together take turns: one migrates and creates the first key.
        let lock = db.startup_lock().await.context("cannot take the start-up lock")?;
        db.migrate_locked(&lock)
            .await
            .context("cannot apply database migrations")?;
        keys::ensure_signing_key(&lock.executor(&db), &crypto)
            .await
            .map_err(|e| {
                e.log();
                anyhow::anyhow!("cannot create the first signing key")
            })?;
        lock.release().await.context("cannot release the start-up lock")?;
        let keys = KeyStore::load(&db, &crypto, config.tokens.access_ttl)
            .await
            .map_err(|e| {
                e.log();
                anyhow::anyhow!("cannot load signing keys (was SECRET_KEY changed?)")
            })?;
        let passwords = PasswordHasher::new(&config.password).map_err(|e| anyhow::anyhow!("{e}"))?;
        let outbox = Outbox::new(&config).map_err(|e| {
            e.log();
            anyhow::anyhow!("cannot use SMTP_URL")
        })?;
        let listener = TcpListener::bind(config.listen_addr)
            .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        // The default PUBLIC_URL is LISTEN_ADDR; with port 0 only now do we know the port.
        if config.public_url.port() == Some(0) {
            let _ = config.public_url.set_port(Some(port));
        }
        let acceptor = TcpAcceptor::from_std(listener)?;
        let verifier = Verifier::new(&config);
        let redis = config
            .redis_url
            .as_ref()
            .map(|url| (url.expose(), config.redis_key_prefix.as_str()));
        let limits = Limits::new(config.http.rate_limits, redis).map_err(|e| {
            e.log();
            anyhow::anyhow!("cannot use REDIS_URL")
        })?;
        let state = AppState::new(Services {
            config,
            db,
            crypto,
            keys,
            verifier,
            passwords,
            live: SessionCache::default(),
            activity: Activity::default(),
            outbox,
            limits,
        });
        Ok(Self { acceptor, port, state })
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
    /// finishes in-flight requests (up to 10 s) and flushes session activity.
    ///
    /// # Errors
    /// When the jobs cannot start or the server fails.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self { acceptor, port, state } = self;
        let shutdown = CancellationToken::new();
        tokio::spawn(outbox::run(state.clone(), shutdown.clone()));
        let mut scheduler = jobs::start(&state).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let app = http::app(state.clone(), graphql::schema(state.clone())).boxed();
        tracing::info!(port, public_url = %state.config.public_url, "authql is serving");
        let served = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(app, stop, Some(Duration::from_secs(10)))
            .await;
        shutdown.cancel();
        let _ = scheduler.shutdown().await;
        if let Err(e) = state.activity.flush(&state.db).await {
            e.log();
        }
        served.context("the HTTP server failed")
    }
}
