//! The outbox worker: claims due mail, sends it, and backs off on failure.
//!
//! A claim is a conditional update with a lease (`claimed_until`), so every
//! instance can run the worker and each mail is still sent by one of them.
//! A mail whose worker died mid-send is picked up again when the lease ends,
//! under the same Message-ID (made from the mail's id), so a receiver can
//! tell the rare double from a new mail. A stopping worker finishes the mail
//! it is sending and claims no more: the rest stay for any instance.

use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

use super::{Outbox, seal_purpose};
use crate::db;
use crate::entities::mail_outbox::{Column, Entity, Model};
use crate::error::AppResult;

const BATCH: u64 = 20;
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// About two days of retries at the longest delay.
const MAX_ATTEMPTS: i32 = 50;

impl Outbox {
    /// Sends due mail until `shutdown` resolves; wakes on new mail or every
    /// poll interval. A mail being sent then is finished first.
    pub async fn run(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        let poll = self.config.poll_interval;
        loop {
            match self.deliver_until(&shutdown).await {
                // A full batch may mean more is due, unless stopping cut it short.
                Ok(n) if n == BATCH as usize && !shutdown.is_cancelled() => continue,
                Ok(_) => {}
                Err(e) => e.log(),
            }
            tokio::select! {
                () = self.woken() => {}
                () = tokio::time::sleep(poll) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Sends one batch of due mail; returns how many were attempted.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn deliver_due(&self) -> AppResult<usize> {
        self.deliver_until(&CancellationToken::new()).await
    }

    /// [`Outbox::deliver_due`], claiming no more mail once `stop` is cancelled.
    async fn deliver_until(&self, stop: &CancellationToken) -> AppResult<usize> {
        let now = db::now();
        let due = Entity::find()
            .filter(Column::SentAt.is_null())
            .filter(Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(Column::ClaimedUntil.is_null())
                    .add(Column::ClaimedUntil.lt(now)),
            )
            .order_by_asc(Column::NextAttemptAt)
            .limit(BATCH)
            .all(&self.db.read)
            .await?;
        let count = due.len();
        for mail in due {
            if stop.is_cancelled() {
                break;
            }
            if self.claim(&mail).await? {
                self.deliver(mail).await?;
            }
        }
        Ok(count)
    }

    /// How long a claim holds: a send is cut at MAIL_SEND_TIMEOUT, so twice
    /// that and a margin outlasts any live attempt, and a mail whose sender
    /// died goes out from another instance soon after.
    fn lease(&self) -> Duration {
        self.config.send_timeout * 2 + Duration::from_secs(5)
    }

    async fn claim(&self, mail: &Model) -> AppResult<bool> {
        let now = db::now();
        let claimed = Entity::update_many()
            .col_expr(Column::ClaimedUntil, Expr::value(db::after(self.lease())))
            .filter(Column::Id.eq(mail.id))
            .filter(Column::SentAt.is_null())
            .filter(
                Condition::any()
                    .add(Column::ClaimedUntil.is_null())
                    .add(Column::ClaimedUntil.lt(now)),
            )
            .exec(self.db.writer())
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    async fn deliver(&self, mail: Model) -> AppResult<()> {
        let outcome = match self.build(&mail) {
            Ok(message) => self.transport.send(mail.id, message).await,
            Err(e) => Err(e),
        };
        let update = Entity::update_many()
            .filter(Column::Id.eq(mail.id))
            .col_expr(Column::ClaimedUntil, Expr::value(None::<chrono::DateTime<chrono::Utc>>));
        let update = match outcome {
            Ok(()) => {
                tracing::info!(mail_id = %mail.id, subject = %mail.subject, "mail sent");
                ::metrics::counter!("authql_mails_sent_total").increment(1);
                // The bodies may hold live tokens: keep nothing of them once delivered.
                update
                    .col_expr(Column::SentAt, Expr::value(db::now()))
                    .col_expr(
                        Column::NextAttemptAt,
                        Expr::value(None::<chrono::DateTime<chrono::Utc>>),
                    )
                    .col_expr(Column::Text, Expr::value(""))
                    .col_expr(Column::Html, Expr::value(""))
            }
            Err(error) => {
                let attempts = mail.attempts + 1;
                let next = (attempts < MAX_ATTEMPTS).then(|| db::after(backoff(self.config.retry_base, attempts)));
                tracing::warn!(mail_id = %mail.id, attempts, %error, gave_up = next.is_none(), "mail not sent");
                ::metrics::counter!("authql_mails_failed_total").increment(1);
                let error: String = error.chars().take(500).collect();
                update
                    .col_expr(Column::Attempts, Expr::value(attempts))
                    .col_expr(Column::NextAttemptAt, Expr::value(next))
                    .col_expr(Column::LastError, Expr::value(error))
            }
        };
        update.exec(self.db.writer()).await?;
        Ok(())
    }

    fn build(&self, mail: &Model) -> Result<Message, String> {
        let purpose = seal_purpose(mail.id);
        let open = |sealed: &str| {
            self.crypto
                .open(sealed, &purpose)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| "cannot open the sealed body (was SECRET_KEY changed?)".to_owned())
        };
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|_| "the recipient is not a mailbox".to_owned())?;
        Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(self.message_id(mail.id)))
            .multipart(MultiPart::alternative_plain_html(open(&mail.text)?, open(&mail.html)?))
            .map_err(|e| format!("building the message: {e}"))
    }

    /// The Message-ID of mail `id`, the same on every attempt: the mail's id
    /// at the sender's domain.
    fn message_id(&self, id: uuid::Uuid) -> String {
        format!("<{id}@{}>", self.config.from.email.domain())
    }

    /// Deletes sent or abandoned mail older than `keep` (MAIL_RETENTION), in
    /// batches; returns how many. Mail still being tried stays.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn purge(&self, keep: Duration) -> AppResult<u64> {
        let old = Condition::all()
            .add(Column::NextAttemptAt.is_null())
            .add(Column::CreatedAt.lt(db::before(keep)));
        Ok(db::prune::in_batches::<Entity>(self.db.writer(), Column::Id, old).await?)
    }
}

/// `base × 2^(attempts-1)`, at most an hour.
fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    base.saturating_mul(1 << exp).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 40), MAX_DELAY);
    }
}
