//! Counting what a piece of work asks of the writer.
//!
//! On SQLite every write waits for the one writer connection, and on every
//! backend a write transaction is what a request costs the database most, so
//! "a sign-up is one write transaction" is a property worth a test, not a
//! comment. [`count_writer_uses`] runs a future and reports how many times it
//! took the writer: a transaction, a lone statement on it, or a place in the
//! refresh writer's next batch. Work spawned onto other tasks (mail sent
//! after the answer, events recorded in the background) is not the caller's
//! and is not counted. Outside [`count_writer_uses`] counting costs a
//! task-local lookup that finds nothing.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static USES: Cell<u32>;
}

/// Runs `work` and returns its output with the number of times it used the
/// writer (see the module's documentation).
pub async fn count_writer_uses<F: Future>(work: F) -> (F::Output, u32) {
    USES.scope(Cell::new(0), async move {
        let output = work.await;
        (output, USES.with(Cell::get))
    })
    .await
}

/// Notes one use of the writer by the current task, if it is being counted.
pub fn note_writer_use() {
    let _ = USES.try_with(|uses| uses.set(uses.get() + 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_the_callers_uses_and_not_a_spawned_tasks() {
        let ((), uses) = count_writer_uses(async {
            note_writer_use();
            note_writer_use();
            tokio::spawn(async { note_writer_use() }).await.unwrap();
        })
        .await;
        assert_eq!(uses, 2);
        // Outside a count nothing happens (and nothing panics).
        note_writer_use();
    }
}
