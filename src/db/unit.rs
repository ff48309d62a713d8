//! The unit of work: a transaction and the effects that must follow its commit.
//!
//! Some effects belong outside the database but must happen only once its
//! change is durable: waking the mail worker, dropping a revoked session from
//! the in-process cache. Registered on the [`Tx`], they run right after
//! [`Tx::commit`] succeeds and never on rollback (an error path that drops the
//! `Tx` rolls back), so no caller can forget one or run one too early.

use std::ops::Deref;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};

type Effect = Box<dyn FnOnce() + Send + Sync>;

/// A database transaction with its after-commit effects.
pub struct Tx {
    txn: DatabaseTransaction,
    effects: Vec<Effect>,
    /// PostgreSQL notifications (channel, payload), sent with the commit.
    notifications: Vec<(&'static str, String)>,
}

impl Tx {
    pub(super) fn new(txn: DatabaseTransaction) -> Self {
        Self {
            txn,
            effects: Vec::new(),
            notifications: Vec::new(),
        }
    }

    /// Runs `effect` after this transaction commits; never if it rolls back.
    pub fn after_commit(&mut self, effect: impl FnOnce() + Send + Sync + 'static) {
        self.effects.push(Box::new(effect));
    }

    /// Sends `payload` on PostgreSQL channel `channel` when this transaction
    /// commits (NOTIFY is delivered only then, and never on rollback); nothing
    /// on other databases. A payload registered twice is sent once.
    pub fn notify_on_commit(&mut self, channel: &'static str, payload: String) {
        if self.txn.get_database_backend() == DbBackend::Postgres
            && !self.notifications.iter().any(|(c, p)| *c == channel && *p == payload)
        {
            self.notifications.push((channel, payload));
        }
    }

    /// Commits, then runs the registered effects in the order they were registered.
    ///
    /// # Errors
    /// When the commit fails; no effect runs then.
    pub async fn commit(self) -> Result<(), DbErr> {
        for (channel, payload) in &self.notifications {
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [(*channel).into(), payload.as_str().into()],
            );
            self.txn.execute_raw(notify).await?;
        }
        self.txn.commit().await?;
        for effect in self.effects {
            effect();
        }
        Ok(())
    }

    /// Rolls back; the effects are dropped.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Statements run on the transaction: `&*tx` is a connection.
impl Deref for Tx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm::ConnectionTrait;

    use crate::config::SqliteSync;
    use crate::db::Db;

    #[tokio::test]
    async fn effects_run_after_a_commit_and_never_on_rollback() {
        let db = Db::connect("sqlite::memory:", 1, SqliteSync::Normal).await.unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let count = || {
            let ran = ran.clone();
            move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }
        };

        let mut tx = db.begin().await.unwrap();
        tx.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        tx.after_commit(count());
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not before the commit");
        tx.commit().await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1, "after the commit");

        let mut tx = db.begin().await.unwrap();
        tx.after_commit(count());
        tx.rollback().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.after_commit(count());
        drop(tx);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "never after a rollback or an abandoned unit"
        );
    }
}
