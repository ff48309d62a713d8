//! Scheduled jobs. Each is safe to run on every instance at once.

use std::future::Future;
use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::error::AppResult;
use crate::state::AppState;
use crate::tokens::one_time;

/// How often batched session activity is written.
pub const ACTIVITY_FLUSH: Duration = Duration::from_secs(5);

/// Starts every job; they stop when the returned scheduler is shut down.
///
/// # Errors
/// When the scheduler cannot start.
pub async fn start(state: &AppState) -> Result<JobScheduler, JobSchedulerError> {
    let sched = JobScheduler::new().await?;
    every(&sched, state, ACTIVITY_FLUSH, "flush activity", |s| async move {
        s.sessions.flush_activity().await
    })
    .await?;
    every(
        &sched,
        state,
        Duration::from_secs(60),
        "end idle sessions",
        |s| async move { s.sessions.end_idle().await.map(|_| ()) },
    )
    .await?;
    every(
        &sched,
        state,
        Duration::from_secs(60),
        "reload signing keys",
        |s| async move { s.sessions.reload_keys().await },
    )
    .await?;
    every(
        &sched,
        state,
        Duration::from_secs(60),
        "forget idle rate-limit buckets",
        |s| async move {
            s.limits.forget_idle();
            Ok(())
        },
    )
    .await?;
    every(&sched, state, Duration::from_secs(3600), "purge", |s| async move {
        s.sessions.purge().await?;
        one_time::purge_expired(&s.db.write).await?;
        s.outbox.purge().await
    })
    .await?;
    sched.start().await?;
    Ok(sched)
}

async fn every<F, Fut>(
    sched: &JobScheduler,
    state: &AppState,
    period: Duration,
    name: &'static str,
    work: F,
) -> Result<(), JobSchedulerError>
where
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AppResult<()>> + Send + 'static,
{
    let state = state.clone();
    let work = std::sync::Arc::new(work);
    let job = Job::new_repeated_async(period, move |_, _| {
        let (state, work) = (state.clone(), work.clone());
        Box::pin(async move {
            if let Err(e) = work(state).await {
                tracing::warn!(job = name, code = e.code().as_str(), "scheduled job failed");
                e.log();
            }
        })
    })?;
    sched.add(job).await?;
    Ok(())
}
