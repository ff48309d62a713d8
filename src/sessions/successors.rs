//! Group commit of refresh rotations: spending a refresh token is one insert
//! of its successor, and under load many requests insert at once. One task
//! takes every insert that is waiting, writes them as one multi-row
//! statement (one commit, one fsync), and answers each request only after
//! that commit. Nothing waits for a batch to fill: an idle server writes a
//! lone insert at once, and a busy one batches whatever queued up while the
//! previous batch committed.
//!
//! The guarantees are those of single inserts: a token is spent exactly when
//! its successor's row exists; racers presenting one token insert the same
//! row (deduplicated here, and `ON CONFLICT DO NOTHING` across batches).
//!
//! Stopping (once every request is answered) writes whatever is queued and
//! ends the task; a rotation asked for after that is refused as unavailable.

use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::entities::refresh_tokens;
use crate::error::{AppError, AppResult};
use crate::tasks::Tasks;
use sea_orm::EntityTrait;

/// Most rows in one statement (well under every backend's parameter limit).
const MAX_BATCH: usize = 256;
/// Inserts waiting beyond this make callers wait to queue (back-pressure).
const QUEUE: usize = 4096;

struct Job {
    row: refresh_tokens::ActiveModel,
    hash: String,
    done: oneshot::Sender<AppResult<()>>,
}

/// The queue of successor inserts and the task that writes them.
pub struct SuccessorWriter {
    queue: mpsc::Sender<Job>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SuccessorWriter {
    /// Starts the writer under `tasks` on the current Tokio runtime; `None`
    /// outside one (then inserts go straight to the database).
    pub fn start(db: Db, tasks: &Tasks) -> Option<Self> {
        tokio::runtime::Handle::try_current().ok()?;
        let (queue, jobs) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let task = tasks.spawn(write_batches(db, jobs, stop.clone()));
        Some(Self {
            queue,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// Writes what is queued, then ends the writer; returns once its last
    /// batch is committed.
    pub async fn stop(&self) {
        self.stop.cancel();
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Inserts `row` (a successor whose hash is `hash`) in the next batch;
    /// returns once that batch is committed.
    ///
    /// # Errors
    /// The batch's database error.
    pub async fn store(&self, hash: String, row: refresh_tokens::ActiveModel) -> AppResult<()> {
        crate::db::note_writer_use();
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Job { row, hash, done })
            .await
            .map_err(|_| AppError::Unavailable("the refresh writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| AppError::Unavailable("the refresh writer has stopped".into()))?
    }
}

async fn write_batches(db: Db, mut jobs: mpsc::Receiver<Job>, stop: CancellationToken) {
    loop {
        let first = tokio::select! {
            biased;
            job = jobs.recv() => job,
            () = stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        write_batch(&db, first, &mut jobs).await;
    }
    // Nothing more is queued; what was queued already is written.
    jobs.close();
    while let Some(first) = jobs.recv().await {
        write_batch(&db, first, &mut jobs).await;
    }
}

/// Writes `first` and whatever else is waiting (up to [`MAX_BATCH`]) in one
/// statement, and answers each of them.
async fn write_batch(db: &Db, first: Job, jobs: &mut mpsc::Receiver<Job>) {
    {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut rows = Vec::with_capacity(batch.len());
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        for job in &batch {
            if seen.insert(job.hash.as_str()) {
                rows.push(job.row.clone());
            }
        }
        ::metrics::histogram!("authql_refresh_batch_rows").record(rows.len() as f64);
        let written = refresh_tokens::Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec(db.writer())
            .await
            .map(|_| ())
            .map_err(AppError::from);
        for job in batch {
            let _ = job.done.send(match &written {
                Ok(()) => Ok(()),
                Err(e) => Err(copy(e)),
            });
        }
    }
}

/// The same failure for every request of a batch.
fn copy(e: &AppError) -> AppError {
    match e {
        AppError::Unavailable(why) => AppError::Unavailable(why.clone()),
        other => AppError::internal(other.to_string()),
    }
}
