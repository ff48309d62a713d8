//! Administrators' management of webhook endpoints. An endpoint receives
//! every account's events, so registering, changing, rotating or deleting
//! one is sensitive (a recent proof of identity, as for the other
//! administrator operations); the audit log records each. Callers check
//! that `admin` is an administrator.

use uuid::Uuid;

use super::Accounts;
use crate::client::ClientInfo;
use crate::entities::webhook_endpoints;
use crate::error::AppResult;
use crate::sessions::Principal;
use crate::webhooks::endpoints::WithSecret;

impl Accounts {
    /// Registers a webhook endpoint; its secret is in the answer, and only there.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `url` or `events`; database errors.
    pub async fn create_webhook_endpoint(
        &self,
        admin: &Principal,
        url: &str,
        events: Option<&[String]>,
        client: &ClientInfo,
    ) -> AppResult<WithSecret> {
        self.sessions.require_recent_proof(admin)?;
        self.webhooks
            .create_endpoint(admin.user().id, url, events, client)
            .await
    }

    /// Changes a webhook endpoint (`None` keeps a setting).
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id`, `url` or `events`; database errors.
    pub async fn update_webhook_endpoint(
        &self,
        admin: &Principal,
        id: Uuid,
        url: Option<&str>,
        events: Option<&[String]>,
        enabled: Option<bool>,
        client: &ClientInfo,
    ) -> AppResult<webhook_endpoints::Model> {
        self.sessions.require_recent_proof(admin)?;
        self.webhooks
            .update_endpoint(admin.user().id, id, url, events, enabled, client)
            .await
    }

    /// Gives a webhook endpoint a new secret (the old one signs beside it for a day).
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id`; database errors.
    pub async fn rotate_webhook_secret(
        &self,
        admin: &Principal,
        id: Uuid,
        client: &ClientInfo,
    ) -> AppResult<WithSecret> {
        self.sessions.require_recent_proof(admin)?;
        self.webhooks.rotate_secret(admin.user().id, id, client).await
    }

    /// Deletes a webhook endpoint and its deliveries; false when there was none.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; database errors.
    pub async fn delete_webhook_endpoint(&self, admin: &Principal, id: Uuid, client: &ClientInfo) -> AppResult<bool> {
        self.sessions.require_recent_proof(admin)?;
        self.webhooks.delete_endpoint(admin.user().id, id, client).await
    }
}
