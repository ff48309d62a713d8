//! Webhooks to the app's backend, by the Standard Webhooks spec: events
//! written as deliveries in the transaction that causes them (one per
//! endpoint that wants the type), sent and retried by a worker on any
//! instance, signed with each endpoint's `whsec_` secret.
//!
//! Owns `webhook_endpoints` and `webhook_deliveries`. May call: `mail`
//! (notices to administrators), `audit`, `client`, `db`, `crypto`,
//! `config`, `entities`, `error`.

pub mod address;
pub mod deliveries;
pub mod endpoints;
pub mod event;
pub mod sender;
pub mod signing;
mod worker;

use std::sync::Arc;

use sea_orm::{EntityTrait, Set};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::Links;
use crate::config::integrations::WebhookConfig;
use crate::crypto::Crypto;
use crate::db::{self, Db, Tx};
use crate::entities::webhook_deliveries::{self, DeliveryStatus};
use crate::entities::webhook_endpoints;
use crate::error::{AppError, AppResult};
use crate::mail::Outbox;
pub use event::{Event, RevokeReason, TYPES};
use sender::Sender;

/// The webhooks service. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks(Arc<Inner>);

struct Inner {
    db: Db,
    crypto: Arc<Crypto>,
    outbox: Arc<Outbox>,
    config: WebhookConfig,
    links: Links,
    sender: Sender,
    /// Rung after a transaction that wrote deliveries commits.
    wake: Arc<Notify>,
}

impl Webhooks {
    /// The service over these parts.
    ///
    /// # Errors
    /// When the HTTP client cannot start.
    pub fn new(
        db: Db,
        crypto: Arc<Crypto>,
        outbox: Arc<Outbox>,
        config: WebhookConfig,
        links: Links,
    ) -> AppResult<Self> {
        let sender = Sender::new(&config).map_err(|e| AppError::internal(format!("webhook HTTP client: {e}")))?;
        Ok(Self(Arc::new(Inner {
            db,
            crypto,
            outbox,
            config,
            links,
            sender,
            wake: Arc::new(Notify::new()),
        })))
    }

    /// Absolute links into authql, for events that carry one (an avatar's).
    pub fn links(&self) -> &Links {
        &self.0.links
    }

    /// Writes `event` in `tx` for every endpoint that wants its type (sent
    /// while the endpoint is on); the worker is woken once `tx` commits, and
    /// nothing is sent if it rolls back.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn emit(&self, tx: &mut Tx, event: Event) -> AppResult<()> {
        self.emit_all(tx, vec![event]).await
    }

    /// [`Webhooks::emit`] for several events of one change.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn emit_all(&self, tx: &mut Tx, events: Vec<Event>) -> AppResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // Switched-off endpoints get theirs too: they wait until it is switched on again.
        let endpoints = webhook_endpoints::Entity::find().all(&**tx).await?;
        let now = db::now();
        let mut rows = Vec::new();
        for event in &events {
            let payload = event.payload(now);
            for endpoint in endpoints.iter().filter(|e| wants(e, event.kind)) {
                rows.push(webhook_deliveries::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    endpoint_id: Set(endpoint.id),
                    event_type: Set(event.kind.to_owned()),
                    payload: Set(payload.clone()),
                    status: Set(DeliveryStatus::Pending),
                    attempts: Set(0),
                    next_attempt_at: Set(Some(now)),
                    claimed_until: Set(None),
                    last_status_code: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    delivered_at: Set(None),
                });
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        webhook_deliveries::Entity::insert_many(rows).exec(&**tx).await?;
        let wake = self.0.wake.clone();
        tx.after_commit(move || wake.notify_one());
        Ok(())
    }
}

/// Whether `endpoint` subscribed to events of type `kind` (no list: every type).
fn wants(endpoint: &webhook_endpoints::Model, kind: &str) -> bool {
    endpoint.events.is_empty() || endpoint.events.split(',').any(|t| t == kind)
}

/// The `webhook-id` of delivery `id` (and its id in the API).
pub fn msg_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}

/// The delivery a `webhook-id` names.
pub fn parse_msg_id(msg_id: &str) -> Option<Uuid> {
    Uuid::try_parse(msg_id.strip_prefix("msg_")?).ok()
}

fn seal_purpose(endpoint: Uuid) -> String {
    format!("webhook_secret:{endpoint}")
}
