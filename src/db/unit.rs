//! The unit of work: a transaction and the effects that must follow its commit.
//!
//! Some effects belong outside the database but must happen only once its
//! change is durable: waking the mail worker, dropping a revoked session from
//! the in-process cache. Registered on the [`Tx`], they run right after
//! [`Tx::commit`] succeeds and never on rollback (an error path that drops the
//! `Tx` rolls back), so no caller can forget one or run one too early.

use std::ops::Deref;

use sea_orm::{DatabaseTransaction, DbErr};

type Effect = Box<dyn FnOnce() + Send>;

/// A database transaction with its after-commit effects.
pub struct Tx {
    txn: DatabaseTransaction,
    effects: Vec<Effect>,
}

impl Tx {
    pub(super) fn new(txn: DatabaseTransaction) -> Self {
        Self {
            txn,
            effects: Vec::new(),
        }
    }

    /// Runs `effect` after this transaction commits; never if it rolls back.
    pub fn after_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.effects.push(Box::new(effect));
    }

    /// Commits, then runs the registered effects in the order they were registered.
    ///
    /// # Errors
    /// When the commit fails; no effect runs then.
    pub async fn commit(self) -> Result<(), DbErr> {
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
