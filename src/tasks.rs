//! The background work of one instance under one tracker (tokio-util's
//! `TaskTracker`): the workers startup runs, the refresh writer, the work a
//! request leaves to run after its answer, and the open WebSockets. Nothing
//! is detached, so a stopping instance can wait for all of it.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// The tracker of one instance's background work. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks(TaskTracker);

impl Tasks {
    /// Runs `work` on the current runtime under the tracker.
    pub fn spawn<F>(&self, work: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(work)
    }

    /// A place in the tracker for work a library runs on its own task (a
    /// WebSocket connection), held until dropped.
    pub fn token(&self) -> TaskTrackerToken {
        self.0.token()
    }

    /// Resolves once every tracked task has ended; work spawned meanwhile
    /// is waited for too.
    pub async fn wait(&self) {
        self.0.close();
        self.0.wait().await;
    }

    /// How many tracked tasks are running.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no tracked task is running.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
