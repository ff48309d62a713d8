//! Scheduled jobs. Each is safe to run on every instance at once.

use std::future::Future;
use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::error::{AppError, AppResult};
use crate::mail::outbox;
use crate::sessions::expiry;
use crate::state::AppState;
use crate::tokens::one_time;

/// How often batched session activity is written.
pub const ACTIVITY_FLUSH: Duration = Duration::from_secs(5);

/// Starts every job; they stop when the returned scheduler is shut down.
///
/// # Errors
/// When the scheduler cannot start.
pub async fn start(state: &AppState) -> AppResult<JobScheduler> {
    let sched = JobScheduler::new().await.map_err(fail)?;
    every(&sched, state, ACTIVITY_FLUSH, "flush activity", |s| async move {
        s.activity.flush(&s.db).await
    })
    .await?;
    every(
        &sched,
        state,
        Duration::from_secs(60),
        "end idle sessions",
        |s| async move { expiry::end_idle(&s).await.map(|_| ()) },
    )
    .await?;
    every(
        &sched,
        state,
        Duration::from_secs(60),
        "reload signing keys",
        |s| async move { s.keys.reload(&s.db, &s.crypto).await },
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
        expiry::purge(&s).await?;
        one_time::purge_expired(&s.db.write).await?;
        outbox::purge(&s).await
    })
    .await?;
    sched.start().await.map_err(fail)?;
    Ok(sched)
}

async fn every<F, Fut>(
    sched: &JobScheduler,
    state: &AppState,
    period: Duration,
    name: &'static str,
    work: F,
) -> AppResult<()>
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
    })
    .map_err(fail)?;
    sched.add(job).await.map_err(fail)?;
    Ok(())
}

fn fail(e: tokio_cron_scheduler::JobSchedulerError) -> AppError {
    AppError::internal(format!("job scheduler: {e}"))
}
