//! Mail through an outbox: queued in the transaction that causes it, sent by a worker with retries.

pub mod outbox;
pub mod templates;
pub mod transport;

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::Config;
use crate::db;
use crate::entities::mail_outbox;
use crate::error::AppResult;
use crate::state::AppState;
use transport::Transport;

/// A mail to queue. `link` is only for the development log.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub link: Option<String>,
}

/// The sending side: the transport and a bell that wakes the worker.
pub struct Outbox {
    pub(crate) transport: Transport,
    wake: Notify,
}

impl Outbox {
    /// The outbox for this configuration.
    ///
    /// # Errors
    /// When SMTP_URL cannot be used.
    pub fn new(config: &Config) -> AppResult<Self> {
        Ok(Self {
            transport: Transport::new(&config.mail, &config.data_dir)?,
            wake: Notify::new(),
        })
    }

    /// Tells the worker that mail is waiting; call after the transaction commits.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// Queues `mail` as part of the caller's transaction. The bodies are sealed:
/// they hold live tokens until sent.
///
/// # Errors
/// When the database fails.
pub async fn enqueue(conn: &impl ConnectionTrait, state: &AppState, mail: Mail) -> AppResult<()> {
    let id = Uuid::new_v4();
    let now = db::now();
    mail_outbox::ActiveModel {
        id: Set(id),
        recipient: Set(mail.to.clone()),
        subject: Set(mail.subject.clone()),
        text: Set(state.crypto.seal(mail.text.as_bytes(), &seal_purpose(id))?),
        html: Set(state.crypto.seal(mail.html.as_bytes(), &seal_purpose(id))?),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        sent_at: Set(None),
        last_error: Set(None),
        claimed_until: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    // Development without SMTP: the link in the log saves opening the file.
    // Never in production, where tokens must not reach logs.
    if state.config.is_development()
        && state.outbox.transport.is_files()
        && let Some(link) = &mail.link
    {
        tracing::info!(to = %mail.to, subject = %mail.subject, %link, "development mail queued");
    }
    Ok(())
}

fn seal_purpose(id: Uuid) -> String {
    format!("mail:{id}")
}
