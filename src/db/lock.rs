//! The start-up lock: instances starting together on one database take turns
//! to migrate it and create its first signing key instead of racing.

use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseExecutor, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};

use super::Db;

/// PostgreSQL advisory lock key ("authql" in ASCII).
const PG_KEY: i64 = 0x6175_7468_716c;
/// MySQL named lock.
const MYSQL_NAME: &str = "authql.startup";
/// How long an instance waits for another to finish migrating.
const WAIT: Duration = Duration::from_secs(300);

/// Held from [`Db::startup_lock`] until [`StartupLock::release`].
///
/// On PostgreSQL and MySQL it is a session lock (advisory lock, `GET_LOCK`)
/// held by a transaction beside the pool, and the locked work runs on the
/// pool. On SQLite it is the database's write lock, taken by `BEGIN
/// IMMEDIATE`; the write pool has a single connection, so the locked work
/// runs in that transaction.
pub struct StartupLock {
    txn: DatabaseTransaction,
}

impl Db {
    /// Waits (up to five minutes) until no other instance holds the start-up lock, then takes it.
    ///
    /// # Errors
    /// When the database fails or the wait runs out.
    pub async fn startup_lock(&self) -> Result<StartupLock, DbErr> {
        let started = Instant::now();
        let txn = match self.backend() {
            DbBackend::Sqlite => loop {
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                // BEGIN IMMEDIATE waits for the busy timeout; another process may migrate for longer.
                match self.write.begin_with_options(options).await {
                    Ok(txn) => break txn,
                    Err(e) if e.to_string().contains("locked") && started.elapsed() < WAIT => continue,
                    Err(e) => return Err(e),
                }
            },
            DbBackend::Postgres => {
                let txn = self.write.begin().await?;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({PG_KEY})"))
                    .await?;
                txn
            }
            _ => {
                let txn = self.write.begin().await?;
                let sql = format!("SELECT GET_LOCK('{MYSQL_NAME}', {}) AS got", WAIT.as_secs());
                let got = txn
                    .query_one_raw(Statement::from_string(DbBackend::MySql, sql))
                    .await?
                    .and_then(|row| row.try_get::<Option<i64>>("", "got").ok().flatten());
                if got != Some(1) {
                    return Err(DbErr::Custom("another instance held the start-up lock too long".into()));
                }
                txn
            }
        };
        Ok(StartupLock { txn })
    }
}

impl StartupLock {
    /// Where the locked work runs.
    pub fn executor<'a>(&'a self, db: &'a Db) -> DatabaseExecutor<'a> {
        if db.backend() == DbBackend::Sqlite {
            (&self.txn).into()
        } else {
            (&db.write).into()
        }
    }

    /// Commits the locked work (SQLite) and lets the next instance in.
    ///
    /// # Errors
    /// When the database fails; the lock still ends with the connection.
    pub async fn release(self) -> Result<(), DbErr> {
        if self.txn.get_database_backend() == DbBackend::MySql {
            self.txn
                .execute_unprepared(&format!("DO RELEASE_LOCK('{MYSQL_NAME}')"))
                .await?;
        }
        self.txn.commit().await
    }
}
