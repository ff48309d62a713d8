//! Mail through an outbox: queued in the transaction that causes it, sent by a worker with retries.
//!
//! Owns `mail_outbox`. May call: `db`, `crypto`, `config`, `entities`.

pub mod outbox;
pub mod templates;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::MailConfig;
use crate::crypto::Crypto;
use crate::db::{self, Db, Tx};
use crate::entities::mail_outbox;
pub use crate::entities::mail_outbox::MailKind;
use crate::error::AppResult;
use transport::Transport;

/// A mail to queue. `link` is only for the development log.
pub struct Mail {
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub link: Option<String>,
}

/// The outbox: queues mail in transactions, and its worker sends it.
pub struct Outbox {
    db: Db,
    crypto: Arc<Crypto>,
    config: MailConfig,
    pub(crate) transport: Transport,
    /// Rung after a transaction that queued mail commits.
    wake: Arc<Notify>,
    /// Development without SMTP: mailed links go to the log too.
    log_links: bool,
}

impl Outbox {
    /// The outbox for this mail configuration; `development` logs mailed
    /// links when mail goes to files.
    ///
    /// # Errors
    /// When SMTP_URL cannot be used.
    pub fn new(
        config: &MailConfig,
        data_dir: &std::path::Path,
        db: Db,
        crypto: Arc<Crypto>,
        development: bool,
    ) -> AppResult<Self> {
        let transport = Transport::new(config, data_dir)?;
        Ok(Self {
            log_links: development && transport.is_files(),
            db,
            crypto,
            config: config.clone(),
            transport,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Queues `mail` in `tx`; the worker is woken once `tx` commits. The
    /// bodies are sealed: they hold live tokens until sent.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn enqueue(&self, tx: &mut Tx, mail: Mail) -> AppResult<()> {
        let id = Uuid::new_v4();
        let now = db::now();
        mail_outbox::ActiveModel {
            id: Set(id),
            recipient: Set(mail.to.clone()),
            subject: Set(mail.subject.clone()),
            kind: Set(Some(mail.kind)),
            text: Set(self.crypto.seal(mail.text.as_bytes(), &seal_purpose(id))?),
            html: Set(self.crypto.seal(mail.html.as_bytes(), &seal_purpose(id))?),
            attempts: Set(0),
            next_attempt_at: Set(Some(now)),
            sent_at: Set(None),
            last_error: Set(None),
            claimed_until: Set(None),
            created_at: Set(now),
        }
        .insert(&**tx)
        .await?;
        let wake = self.wake.clone();
        let kind = format!("{:?}", mail.kind).to_lowercase();
        tx.after_commit(move || {
            ::metrics::counter!("authql_mails_queued_total", "kind" => kind).increment(1);
            wake.notify_one();
        });
        // Never in production, where tokens must not reach logs.
        if self.log_links
            && let Some(link) = &mail.link
        {
            tracing::info!(to = %mail.to, subject = %mail.subject, %link, "development mail queued");
        }
        Ok(())
    }

    /// Whether a mail of `kind` to `to` was queued within `window`, so a burst
    /// of requests for one address sends one mail, not one each.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn sent_recently(&self, to: &str, kind: MailKind, window: Duration) -> AppResult<bool> {
        let recent = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::Recipient.eq(to))
            .filter(mail_outbox::Column::Kind.eq(kind))
            .filter(mail_outbox::Column::CreatedAt.gt(db::before(window)))
            .count(self.db.writer())
            .await?;
        Ok(recent > 0)
    }

    /// Whether the SMTP server answers (a connection and a NOOP); `None`
    /// when mail goes to files.
    pub async fn smtp_answers(&self) -> Option<bool> {
        match &self.transport {
            Transport::Smtp { transport, timeout } => Some(matches!(
                tokio::time::timeout(*timeout, transport.test_connection()).await,
                Ok(Ok(true))
            )),
            Transport::Files(_) => None,
        }
    }

    /// Mail waiting to be sent, and how long the longest-due has waited.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn backlog(&self) -> AppResult<(u64, Option<Duration>)> {
        use sea_orm::{QueryOrder, QuerySelect};
        let waiting = mail_outbox::Entity::find().filter(mail_outbox::Column::NextAttemptAt.is_not_null());
        let depth = waiting.clone().count(&self.db.read).await?;
        let oldest: Option<chrono::DateTime<chrono::Utc>> = waiting
            .filter(mail_outbox::Column::NextAttemptAt.lte(db::now()))
            .select_only()
            .column(mail_outbox::Column::NextAttemptAt)
            .order_by_asc(mail_outbox::Column::NextAttemptAt)
            .into_tuple::<Option<chrono::DateTime<chrono::Utc>>>()
            .one(&self.db.read)
            .await?
            .flatten();
        Ok((depth, oldest.and_then(|due| (db::now() - due).to_std().ok())))
    }

    async fn woken(&self) {
        self.wake.notified().await;
    }
}

fn seal_purpose(id: Uuid) -> String {
    format!("mail:{id}")
}
