//! Scheduled jobs. Each is safe to run on every instance at once.

use std::future::Future;
use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::error::AppResult;
use crate::state::AppState;
use crate::tokens::one_time;
use crate::{audit, events};

/// How often buffered histogram samples are folded into buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// How often batched session activity is written.
pub const ACTIVITY_FLUSH: Duration = Duration::from_secs(5);

/// How often the gauges read from the database are refreshed; a scrape
/// reads the last values, so scraping costs the database nothing.
pub const GAUGES_REFRESH: Duration = Duration::from_secs(15);
/// A refresh that takes longer leaves the last values.
const GAUGES_WITHIN: Duration = Duration::from_secs(5);

/// Starts every job; they stop when the returned scheduler is shut down.
///
/// # Errors
/// When the scheduler cannot start.
pub async fn start(state: &AppState) -> Result<JobScheduler, JobSchedulerError> {
    let sched = JobScheduler::new().await?;
    // The first values before the first scrape can come.
    if let Err(e) = refresh_gauges(state).await {
        e.log();
    }
    every(&sched, state, GAUGES_REFRESH, "refresh gauges", |s| async move {
        refresh_gauges(&s).await
    })
    .await?;
    every(&sched, state, ACTIVITY_FLUSH, "flush activity", |s| async move {
        s.sessions.flush_activity().await
    })
    .await?;
    // The exporter buffers histogram samples until upkeep folds them into
    // buckets: without it memory grows with every request between scrapes.
    every(&sched, state, METRICS_UPKEEP, "metrics upkeep", |_| async move {
        if let Ok(recorder) = crate::telemetry::recorder() {
            recorder.run_upkeep();
        }
        Ok(())
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
    every(&sched, state, Duration::from_secs(3600), "prune", |s| async move {
        prune(&s).await.map(|_| ())
    })
    .await?;
    sched.start().await?;
    Ok(sched)
}

/// Samples the gauges that describe the shared database into memory: live
/// sessions, and the mail outbox's depth and longest wait. Every instance
/// reads the same database, so each reports the deployment's figure.
///
/// # Errors
/// When the database fails; the gauges keep their last values.
pub async fn refresh_gauges(state: &AppState) -> AppResult<()> {
    let read = async {
        Ok::<_, crate::error::AppError>((state.sessions.count_active().await?, state.outbox.backlog().await?))
    };
    let Ok(read) = tokio::time::timeout(GAUGES_WITHIN, read).await else {
        tracing::warn!("the gauges were not refreshed: the database did not answer in time");
        return Ok(());
    };
    let (active, (depth, oldest)) = read?;
    state.gauges.record(active, depth, oldest);
    Ok(())
}

/// Deletes what is past its retention, in bounded batches: security events
/// and audit entries older than AUDIT_RETENTION, sent mail older than
/// MAIL_RETENTION, finished webhook deliveries older than WEBHOOK_RETENTION,
/// spent and expired tokens (ID tokens remembered against
/// replay among them), long-ended sessions. Returns
/// how many rows went.
///
/// # Errors
/// When the database fails.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    let retention = &state.config.retention;
    state.sessions.purge().await?;
    let pruned = events::prune(&state.db, retention.audit).await?
        + audit::prune(&state.db, retention.audit).await?
        + state.outbox.purge(retention.mail).await?
        + one_time::purge_expired(&state.db).await?
        + crate::oauth::forget_expired_id_tokens(&state.db).await?
        + crate::passkeys::purge_expired(&state.db).await?
        + state.webhooks.purge().await?;
    if pruned > 0 {
        tracing::info!(pruned, "pruned rows past their retention");
    }
    Ok(pruned)
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
