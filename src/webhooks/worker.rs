//! The webhook worker: claims due deliveries, signs and sends them, and
//! follows the retry schedule. A claim is a conditional update with a lease
//! (`claimed_until`, longer than an attempt's timeout), so every instance
//! runs the worker and each attempt is still made by one of them; a
//! delivery whose worker died mid-send goes out again when the lease ends,
//! under the same `webhook-id` (receivers deduplicate by it). A stopping
//! worker finishes the attempts in flight and gives back its other claims,
//! so another instance sends them at once instead of after the lease.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rand::RngExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::sender::Outcome;
use super::{Webhooks, msg_id, seal_purpose, signing};
use crate::db::{self, Tx};
use crate::entities::users::{self, Role};
use crate::entities::webhook_deliveries::{Column, DeliveryStatus, Entity, Model};
use crate::entities::webhook_endpoints;
use crate::error::AppResult;
use crate::mail::templates;

/// Deliveries claimed per round.
const BATCH: u64 = 50;
/// Attempts in flight at once per instance, so one slow receiver does not hold up the rest.
const CONCURRENCY: usize = 8;

type Endpoint = webhook_endpoints::Model;

impl Webhooks {
    /// Sends due deliveries until `shutdown` resolves; wakes when a
    /// transaction here wrote some, and every WEBHOOK_POLL_INTERVAL for
    /// those of other instances. An attempt in flight is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = self.0.config.poll_interval;
        loop {
            match self.deliver_until(&shutdown).await {
                // A full batch may mean more is due, unless stopping cut it short.
                Ok(n) if n == BATCH as usize && !shutdown.is_cancelled() => continue,
                Ok(_) => {}
                Err(e) => e.log(),
            }
            tokio::select! {
                () = self.0.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Claims and sends one batch of due deliveries of enabled endpoints;
    /// returns how many were due.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn deliver_due(&self) -> AppResult<usize> {
        self.deliver_until(&CancellationToken::new()).await
    }

    /// [`Webhooks::deliver_due`], starting no attempt once `stop` is
    /// cancelled: claims not yet attempted are given back.
    async fn deliver_until(&self, stop: &CancellationToken) -> AppResult<usize> {
        let read = &self.0.db.read;
        let endpoints: HashMap<Uuid, Endpoint> = webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::Enabled.eq(true))
            .all(read)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        if endpoints.is_empty() {
            return Ok(0);
        }
        let now = db::now();
        let due = Entity::find()
            .filter(Column::Status.eq(DeliveryStatus::Pending))
            .filter(Column::NextAttemptAt.lte(now))
            .filter(unclaimed(now))
            .filter(Column::EndpointId.is_in(endpoints.keys().copied()))
            .order_by_asc(Column::NextAttemptAt)
            .limit(BATCH)
            .all(read)
            .await?;
        let count = due.len();
        let mut claimed = Vec::new();
        for delivery in due {
            if self.claim(&delivery).await? {
                claimed.push(delivery);
            }
        }
        futures_util::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |delivery| {
                let endpoints = &endpoints;
                async move {
                    let Some(endpoint) = endpoints.get(&delivery.endpoint_id) else {
                        return;
                    };
                    let attempted = if stop.is_cancelled() {
                        self.release(&delivery).await
                    } else {
                        self.attempt(delivery, endpoint).await
                    };
                    if let Err(e) = attempted {
                        e.log();
                    }
                }
            })
            .await;
        Ok(count)
    }

    async fn claim(&self, delivery: &Model) -> AppResult<bool> {
        let now = db::now();
        let claimed = Entity::update_many()
            .col_expr(Column::ClaimedUntil, Expr::value(db::after(self.0.config.lease)))
            .filter(Column::Id.eq(delivery.id))
            .filter(Column::Status.eq(DeliveryStatus::Pending))
            .filter(unclaimed(now))
            .exec(self.0.db.writer())
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    /// Gives back the claim on `delivery`, unattempted.
    async fn release(&self, delivery: &Model) -> AppResult<()> {
        Entity::update_many()
            .col_expr(Column::ClaimedUntil, Expr::value(None::<chrono::DateTime<chrono::Utc>>))
            .filter(Column::Id.eq(delivery.id))
            .filter(Column::Status.eq(DeliveryStatus::Pending))
            .exec(self.0.db.writer())
            .await?;
        Ok(())
    }

    /// Signs and sends one claimed delivery, then records how it went.
    async fn attempt(&self, delivery: Model, endpoint: &Endpoint) -> AppResult<()> {
        let id = msg_id(delivery.id);
        let outcome = match self.keys(endpoint) {
            Ok(keys) => {
                let timestamp = chrono::Utc::now().timestamp();
                let signature = signing::signature_header(&keys, &id, timestamp, &delivery.payload);
                self.0
                    .sender
                    .post(&endpoint.url, &id, timestamp, &signature, delivery.payload.clone())
                    .await
            }
            Err(error) => Outcome::Failed { status: None, error },
        };
        self.record(delivery, endpoint, outcome).await
    }

    /// The keys that sign for `endpoint`: its secret's, and during a
    /// rotation's overlap the previous one's.
    fn keys(&self, endpoint: &Endpoint) -> Result<Vec<Vec<u8>>, String> {
        let purpose = seal_purpose(endpoint.id);
        let open = |sealed: &str| {
            self.0
                .crypto
                .open(sealed, &purpose)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| signing::key_of(&s))
                .ok_or_else(|| "cannot open the endpoint's secret (was SECRET_KEY changed?)".to_owned())
        };
        let mut keys = vec![open(&endpoint.secret)?];
        if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until)
            && until > db::now()
        {
            keys.push(open(previous)?);
        }
        Ok(keys)
    }

    async fn record(&self, delivery: Model, endpoint: &Endpoint, outcome: Outcome) -> AppResult<()> {
        let attempts = delivery.attempts.saturating_add(1);
        let no_time = None::<chrono::DateTime<chrono::Utc>>;
        let mut tx = self.0.db.begin().await?;
        let update = Entity::update_many()
            .filter(Column::Id.eq(delivery.id))
            .col_expr(Column::Attempts, Expr::value(attempts))
            .col_expr(Column::ClaimedUntil, Expr::value(no_time));
        let outcome_label = match outcome {
            Outcome::Delivered(status) => {
                update
                    .col_expr(Column::Status, Expr::value(DeliveryStatus::Delivered))
                    .col_expr(Column::DeliveredAt, Expr::value(Some(db::now())))
                    .col_expr(Column::NextAttemptAt, Expr::value(no_time))
                    .col_expr(Column::LastStatusCode, Expr::value(Some(i32::from(status))))
                    .col_expr(Column::LastError, Expr::value(None::<String>))
                    .exec(&*tx)
                    .await?;
                webhook_endpoints::Entity::update_many()
                    .col_expr(webhook_endpoints::Column::FailingSince, Expr::value(no_time))
                    .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
                    .filter(webhook_endpoints::Column::FailingSince.is_not_null())
                    .exec(&*tx)
                    .await?;
                "delivered"
            }
            Outcome::Gone => {
                update
                    .col_expr(Column::Status, Expr::value(DeliveryStatus::Failed))
                    .col_expr(Column::NextAttemptAt, Expr::value(no_time))
                    .col_expr(Column::LastStatusCode, Expr::value(Some(410)))
                    .col_expr(Column::LastError, Expr::value(Some("answered 410 Gone")))
                    .exec(&*tx)
                    .await?;
                self.disable(&mut tx, endpoint, "it answered 410 Gone").await?;
                "gone"
            }
            Outcome::Failed { status, error } => {
                let index = usize::try_from(attempts - 1).unwrap_or(usize::MAX);
                let next = self.0.config.retry_schedule.get(index).map(|d| db::after(jitter(*d)));
                tracing::warn!(
                    webhook_id = %msg_id(delivery.id), endpoint_id = %endpoint.id, attempts, %error,
                    gave_up = next.is_none(), "webhook not delivered"
                );
                let status_now = if next.is_some() {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Failed
                };
                let error: String = error.chars().take(250).collect();
                update
                    .col_expr(Column::Status, Expr::value(status_now))
                    .col_expr(Column::NextAttemptAt, Expr::value(next))
                    .col_expr(Column::LastStatusCode, Expr::value(status.map(i32::from)))
                    .col_expr(Column::LastError, Expr::value(Some(error)))
                    .exec(&*tx)
                    .await?;
                self.note_failure(&mut tx, endpoint).await?;
                "failed"
            }
        };
        tx.commit().await?;
        ::metrics::counter!("authql_webhook_attempts_total", "outcome" => outcome_label).increment(1);
        Ok(())
    }

    /// Remembers since when `endpoint` fails; one that failed every attempt
    /// for WEBHOOK disable_after (three days) is switched off.
    async fn note_failure(&self, tx: &mut Tx, endpoint: &Endpoint) -> AppResult<()> {
        match endpoint.failing_since {
            Some(since) if since < db::before(self.0.config.disable_after) => {
                self.disable(tx, endpoint, "every attempt failed for three days").await
            }
            Some(_) => Ok(()),
            None => {
                webhook_endpoints::Entity::update_many()
                    .col_expr(webhook_endpoints::Column::FailingSince, Expr::value(Some(db::now())))
                    .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
                    .filter(webhook_endpoints::Column::FailingSince.is_null())
                    .exec(&**tx)
                    .await?;
                Ok(())
            }
        }
    }

    /// Switches `endpoint` off for `why` and mails the active administrators (once).
    async fn disable(&self, tx: &mut Tx, endpoint: &Endpoint, why: &str) -> AppResult<()> {
        let off = webhook_endpoints::Entity::update_many()
            .col_expr(webhook_endpoints::Column::Enabled, Expr::value(false))
            .col_expr(webhook_endpoints::Column::DisabledReason, Expr::value(Some(why)))
            .col_expr(webhook_endpoints::Column::UpdatedAt, Expr::value(db::now()))
            .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
            .filter(webhook_endpoints::Column::Enabled.eq(true))
            .exec(&**tx)
            .await?;
        if off.rows_affected == 1 {
            tracing::warn!(endpoint_id = %endpoint.id, why, "webhook endpoint switched off");
            let admins = users::Entity::find()
                .filter(users::Column::Role.eq(Role::Admin))
                .filter(users::Column::Active.eq(true))
                .all(&**tx)
                .await?;
            for admin in admins {
                let mail = templates::webhook_disabled(&admin.email, &endpoint.url, why);
                self.0.outbox.enqueue(tx, mail).await?;
            }
        }
        Ok(())
    }

    /// Deletes deliveries older than WEBHOOK_RETENTION, but those still
    /// being tried for an enabled endpoint; returns how many.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn purge(&self) -> AppResult<u64> {
        let disabled: Vec<Uuid> = webhook_endpoints::Entity::find()
            .select_only()
            .column(webhook_endpoints::Column::Id)
            .filter(webhook_endpoints::Column::Enabled.eq(false))
            .into_tuple()
            .all(self.0.db.writer())
            .await?;
        let old = Condition::all()
            .add(Column::CreatedAt.lt(db::before(self.0.config.retention)))
            .add(
                Condition::any()
                    .add(Column::Status.ne(DeliveryStatus::Pending))
                    .add(Column::EndpointId.is_in(disabled)),
            );
        Ok(db::prune::in_batches::<Entity>(self.0.db.writer(), Column::Id, old).await?)
    }
}

fn unclaimed(now: chrono::DateTime<chrono::Utc>) -> Condition {
    Condition::any()
        .add(Column::ClaimedUntil.is_null())
        .add(Column::ClaimedUntil.lt(now))
}

/// `delay` and up to a tenth more, so receivers coming back are not hit by every retry at once.
fn jitter(delay: Duration) -> Duration {
    let spread = u64::try_from(delay.as_millis() / 10).unwrap_or(u64::MAX);
    delay + Duration::from_millis(rand::rng().random_range(0..=spread))
}
