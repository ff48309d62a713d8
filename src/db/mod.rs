//! Database connections (a read pool and a write pool, the same on PostgreSQL
//! and MySQL), the start-up lock, and the unit of work ([`Tx`]).
//!
//! SQLite allows one writer at a time. Writers sharing a pool queue on the
//! database lock and back off in sleeps, which gives a long tail, so on SQLite
//! every write goes through a pool of exactly one connection and waits its
//! turn in-process instead. WAL lets readers run beside it.

mod ledger;
mod lock;
pub mod prune;
mod unit;

pub use ledger::{count_writer_uses, note_writer_use};
pub use lock::StartupLock;
pub use unit::Tx;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::config::SqliteSync;

/// The connections of one instance. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// For reads that need not see a write of this request.
    pub read: DatabaseConnection,
    /// For writes and transactions (the only writer on SQLite); taken through [`Db::writer`].
    write: DatabaseConnection,
}

impl Db {
    /// Connects to `url` with at most `max_connections` per pool; `sync` applies to SQLite only.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn connect(url: &str, max_connections: u32, sync: SqliteSync) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            create_parent_folder(url);
            let write = connect_sqlite(options(url, 1, sync)).await?;
            let read = connect_sqlite(options(url, max_connections, sync)).await?;
            Ok(Self { read, write })
        } else {
            // The start-up lock holds one connection while migrations use another.
            let pool = Database::connect(options(url, max_connections.max(2), sync)).await?;
            Ok(Self {
                read: pool.clone(),
                write: pool,
            })
        }
    }

    /// Applies every pending migration, one instance at a time.
    ///
    /// # Errors
    /// When a migration fails; the database is left at the last one applied
    /// (on SQLite, where they run in one transaction, at the first).
    pub async fn migrate(&self) -> Result<(), DbErr> {
        let lock = self.startup_lock().await?;
        self.migrate_locked(&lock).await?;
        lock.release().await
    }

    /// Applies every pending migration under a lock already held.
    ///
    /// # Errors
    /// As for [`Db::migrate`].
    pub async fn migrate_locked(&self, lock: &StartupLock) -> Result<(), DbErr> {
        migration::Migrator::up(lock.executor(self), None).await
    }

    /// Starts a unit of work on the writer.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn begin(&self) -> Result<Tx, DbErr> {
        Ok(Tx::new(self.writer().begin().await?))
    }

    /// The connection for writes, and for reads that must see this
    /// request's own writes; each call counts as a use of the writer (see
    /// [`count_writer_uses`]).
    pub fn writer(&self) -> &DatabaseConnection {
        note_writer_use();
        &self.write
    }

    /// Which SQL dialect this database speaks.
    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// Whether every migration this build knows is applied.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn migrations_applied(&self) -> Result<bool, DbErr> {
        Ok(migration::Migrator::get_pending_migrations(&self.read)
            .await?
            .is_empty())
    }

    /// Connections of the pools: (in use, idle). PostgreSQL and MySQL have
    /// one pool for reads and writes; SQLite a read pool and the one writer.
    pub fn pool_connections(&self) -> (u32, u32) {
        let pools = if self.backend() == DbBackend::Sqlite {
            vec![&self.read, &self.write]
        } else {
            vec![&self.write]
        };
        pools
            .into_iter()
            .map(pool_stats)
            .fold((0, 0), |(used, idle), (u, i)| (used + u, idle + i))
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.ping().await
    }
}

/// (in use, idle) connections of one pool.
fn pool_stats(conn: &DatabaseConnection) -> (u32, u32) {
    let (size, idle) = match conn.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = conn.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = conn.get_mysql_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    (size.saturating_sub(idle), idle)
}

/// Connects to SQLite, waiting while another process holds the database
/// lock: setting WAL mode on connect needs it, and an instance starting
/// beside this one holds it while it migrates.
async fn connect_sqlite(options: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(25);
    loop {
        match Database::connect(options.clone()).await {
            Err(e) if is_locked(&e) && started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(500));
            }
            connected => return connected,
        }
    }
}

/// Whether SQLite answered SQLITE_BUSY ("database is locked").
fn is_locked(e: &DbErr) -> bool {
    let (DbErr::Conn(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner))) = e else {
        return false;
    };
    matches!(inner.as_ref(), sea_orm::sqlx::Error::Database(db) if db.code().as_deref() == Some("5"))
}

/// SQLite creates the file but not its folder (DATA_DIR on a first start).
fn create_parent_folder(url: &str) {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return;
    }
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        tracing::warn!(folder = %parent.display(), error = %e, "cannot create the database folder");
    }
}

fn options(url: &str, max_connections: u32, sync: SqliteSync) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(if max_connections == 1 { 1 } else { 0 })
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // A file cannot drop a connection: a ping before every use only costs a round trip.
        opts.test_before_acquire(false);
    } else {
        // A server can; check connections that sat idle long enough to have been closed.
        opts.test_before_acquire(false)
            .test_before_acquire_if_idle_for(Duration::from_secs(30));
    }
    let synchronous = match sync {
        SqliteSync::Normal => SqliteSynchronous::Normal,
        SqliteSync::Full => SqliteSynchronous::Full,
    };
    // A transaction that SQLite ended itself (it may on a full disk) leaves
    // sqlx's count of open ones behind, and later writes on that connection
    // then nest in a transaction that is never committed: drop it instead.
    // A transaction dropped without commit queues its rollback, which a ping
    // lets run first (sqlx pings only after this check), so such a
    // connection is not taken for a broken one.
    opts.map_sqlx_sqlite_pool_opts(|pool| {
        pool.after_release(|conn, _| {
            Box::pin(async move {
                use sea_orm::sqlx::Connection;
                if !conn.is_in_transaction() {
                    return Ok(true);
                }
                conn.ping().await?;
                let clean = !conn.is_in_transaction();
                if !clean {
                    tracing::warn!("a SQLite connection was left inside a transaction; closing it");
                }
                Ok(clean)
            })
        })
    });
    opts.map_sqlx_sqlite_opts(move |o| {
        o.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
    });
    opts
}

/// Now, to the microsecond every backend stores, so a value reads back equal.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// `now() + d`, saturating at the end of time.
pub fn after(d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `now() - d`, saturating at the start of time.
pub fn before(d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now().checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
