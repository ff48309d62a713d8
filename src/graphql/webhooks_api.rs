//! Resolvers for administrators' webhooks: endpoints, their secrets, the delivery log.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::admin_api::AdminOnly;
use super::context::{client, principal, state};
use super::errors::GqlResult;
use crate::entities::{webhook_deliveries, webhook_endpoints};
use crate::error::{AppError, Field};
use crate::webhooks::endpoints::{WithSecret, event_types, no_endpoint};
use crate::webhooks::msg_id;

/// An address that receives signed webhooks.
#[derive(SimpleObject)]
pub struct WebhookEndpoint {
    pub id: ID,
    pub url: String,
    /// Event types, e.g. `user.created`; empty means every type.
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&webhook_endpoints::Model> for WebhookEndpoint {
    fn from(e: &webhook_endpoints::Model) -> Self {
        Self {
            id: ID(e.id.to_string()),
            url: e.url.clone(),
            events: event_types(e),
            enabled: e.enabled,
            created_at: e.created_at,
        }
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct WebhookSecret {
    pub endpoint: WebhookEndpoint,
    /// `whsec_…` (Standard Webhooks).
    pub secret: String,
}

impl From<WithSecret> for WebhookSecret {
    fn from(w: WithSecret) -> Self {
        Self {
            endpoint: WebhookEndpoint::from(&w.endpoint),
            secret: w.secret,
        }
    }
}

/// One event for one endpoint.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// The `webhook-id` header of every attempt.
    pub id: ID,
    pub event_type: String,
    pub attempts: i32,
    /// `PENDING`, `DELIVERED` or `FAILED`.
    pub status: String,
    pub last_status_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<&webhook_deliveries::Model> for WebhookDelivery {
    fn from(d: &webhook_deliveries::Model) -> Self {
        use webhook_deliveries::DeliveryStatus as S;
        Self {
            id: ID(msg_id(d.id)),
            event_type: d.event_type.clone(),
            attempts: d.attempts,
            status: match d.status {
                S::Pending => "PENDING",
                S::Delivered => "DELIVERED",
                S::Failed => "FAILED",
            }
            .to_owned(),
            last_status_code: d.last_status_code,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

fn parse_endpoint(id: &ID, field: Field) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| no_endpoint(field))
}

#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Every webhook endpoint, oldest first.
    #[graphql(guard = "AdminOnly")]
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> GqlResult<Vec<WebhookEndpoint>> {
        let endpoints = state(ctx)?.webhooks.endpoints().await?;
        Ok(endpoints.iter().map(WebhookEndpoint::from).collect())
    }

    /// An endpoint's deliveries, newest first; `after` is the last id of the previous page.
    #[graphql(guard = "AdminOnly")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Vec<WebhookDelivery>> {
        let id = parse_endpoint(&endpoint_id, Field::EndpointId)?;
        let page = state(ctx)?
            .webhooks
            .deliveries(id, i64::from(first.unwrap_or(50)), after.as_deref())
            .await?;
        Ok(page.iter().map(WebhookDelivery::from).collect())
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Registers an endpoint for `events` (every type when none); sensitive.
    #[graphql(guard = "AdminOnly")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        url: String,
        events: Option<Vec<String>>,
    ) -> GqlResult<WebhookSecret> {
        let made = state(ctx)?
            .accounts
            .create_webhook_endpoint(principal(ctx).await?, &url, events.as_deref(), client(ctx)?)
            .await?;
        Ok(made.into())
    }

    /// Changes an endpoint; switching it on again sends what waited. Sensitive.
    #[graphql(guard = "AdminOnly")]
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        url: Option<String>,
        events: Option<Vec<String>>,
        enabled: Option<bool>,
    ) -> GqlResult<WebhookEndpoint> {
        let id = parse_endpoint(&id, Field::Id)?;
        let endpoint = state(ctx)?
            .accounts
            .update_webhook_endpoint(
                principal(ctx).await?,
                id,
                url.as_deref(),
                events.as_deref(),
                enabled,
                client(ctx)?,
            )
            .await?;
        Ok(WebhookEndpoint::from(&endpoint))
    }

    /// A new secret; the old one keeps signing beside it for 24 hours. Sensitive.
    #[graphql(guard = "AdminOnly")]
    async fn rotate_webhook_secret(&self, ctx: &Context<'_>, id: ID) -> GqlResult<WebhookSecret> {
        let id = parse_endpoint(&id, Field::Id)?;
        let rotated = state(ctx)?
            .accounts
            .rotate_webhook_secret(principal(ctx).await?, id, client(ctx)?)
            .await?;
        Ok(rotated.into())
    }

    /// Deletes an endpoint and its deliveries; false when there was none. Sensitive.
    #[graphql(guard = "AdminOnly")]
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(false);
        };
        Ok(state(ctx)?
            .accounts
            .delete_webhook_endpoint(principal(ctx).await?, id, client(ctx)?)
            .await?)
    }

    /// Sends a delivery again at once, with the same webhook-id.
    #[graphql(guard = "AdminOnly")]
    async fn redeliver_webhook(&self, ctx: &Context<'_>, delivery_id: ID) -> GqlResult<WebhookDelivery> {
        let admin = principal(ctx).await?.user().id;
        let delivery = state(ctx)?
            .webhooks
            .redeliver(admin, &delivery_id, client(ctx)?)
            .await?;
        Ok(WebhookDelivery::from(&delivery))
    }
}
