//! Endpoints as administrators manage them: create, change, rotate the
//! secret, delete. The secret is shown once (at creation and rotation) and
//! kept sealed with the master key, since signing needs it. Every change is
//! written to the audit log in its transaction. Callers check that the
//! caller is an administrator with a recent proof (`accounts`).

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::{Webhooks, address, event, seal_purpose, signing};
use crate::audit;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::webhook_endpoints::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, AppResult, Field};

/// Most endpoints a deployment may have.
pub const MAX_ENDPOINTS: u64 = 20;

/// An endpoint and its secret, as shown once.
pub struct WithSecret {
    pub endpoint: Model,
    /// `whsec_…`.
    pub secret: String,
}

/// The event types of an endpoint: empty for every type.
pub fn event_types(endpoint: &Model) -> Vec<String> {
    endpoint
        .events
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `events` checked and stored as a comma-separated list (deduplicated, in
/// the order of [`event::TYPES`]); none or an empty list means every type.
fn stored_events(events: Option<&[String]>) -> AppResult<String> {
    let events = events.unwrap_or_default();
    if let Some(unknown) = events.iter().find(|t| !event::is_type(t)) {
        let unknown: String = unknown.chars().take(64).collect();
        return Err(AppError::bad_input(
            Field::Events,
            format!("{unknown} is not an event type (see docs/webhooks.md)"),
        ));
    }
    Ok(event::TYPES
        .iter()
        .filter(|t| events.iter().any(|e| e == *t))
        .copied()
        .collect::<Vec<_>>()
        .join(","))
}

impl Webhooks {
    /// Every endpoint, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn endpoints(&self) -> AppResult<Vec<Model>> {
        Ok(Entity::find()
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.0.db.read)
            .await?)
    }

    /// Registers an endpoint for `events` (all when none) and returns it
    /// with its new secret.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `url` (not http(s), not https in production, not a
    /// public address) or `events` (an unknown type), or when there are
    /// [`MAX_ENDPOINTS`] already; database errors.
    #[tracing::instrument(skip(self, client))]
    pub async fn create_endpoint(
        &self,
        admin: Uuid,
        url: &str,
        events: Option<&[String]>,
        client: &ClientInfo,
    ) -> AppResult<WithSecret> {
        let url = self.checked_url(url).await?;
        let events = stored_events(events)?;
        let id = Uuid::new_v4();
        let secret = signing::new_secret();
        let now = db::now();
        let tx = self.0.db.begin().await?;
        if Entity::find().count(&*tx).await? >= MAX_ENDPOINTS {
            return Err(AppError::bad_input(
                Field::Url,
                format!("at most {MAX_ENDPOINTS} endpoints; delete one first"),
            ));
        }
        let endpoint = ActiveModel {
            id: Set(id),
            url: Set(url),
            events: Set(events),
            enabled: Set(true),
            secret: Set(self.0.crypto.seal(secret.as_bytes(), &seal_purpose(id))?),
            previous_secret: Set(None),
            previous_until: Set(None),
            failing_since: Set(None),
            disabled_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await?;
        audit::record_action(&*tx, "WEBHOOK_ENDPOINT_CREATED", admin, client).await?;
        tx.commit().await?;
        Ok(WithSecret { endpoint, secret })
    }

    /// Changes an endpoint's address, event types or whether it is on; `None`
    /// keeps each. Switching one on again clears why authql switched it off,
    /// and its waiting deliveries go out.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `id` (no such endpoint), `url` or `events`; database errors.
    #[tracing::instrument(skip(self, client))]
    pub async fn update_endpoint(
        &self,
        admin: Uuid,
        id: Uuid,
        url: Option<&str>,
        events: Option<&[String]>,
        enabled: Option<bool>,
        client: &ClientInfo,
    ) -> AppResult<Model> {
        let url = match url {
            Some(url) => Some(self.checked_url(url).await?),
            None => None,
        };
        let events = events.map(|e| stored_events(Some(e))).transpose()?;
        let mut tx = self.0.db.begin().await?;
        let mut update = Entity::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(db::now()))
            .filter(Column::Id.eq(id));
        if let Some(url) = url {
            update = update.col_expr(Column::Url, Expr::value(url));
        }
        if let Some(events) = events {
            update = update.col_expr(Column::Events, Expr::value(events));
        }
        if let Some(enabled) = enabled {
            update = update.col_expr(Column::Enabled, Expr::value(enabled));
            if enabled {
                update = update
                    .col_expr(Column::FailingSince, Expr::value(None::<chrono::DateTime<chrono::Utc>>))
                    .col_expr(Column::DisabledReason, Expr::value(None::<String>));
            }
        }
        if update.exec(&*tx).await?.rows_affected == 0 {
            return Err(no_endpoint(Field::Id));
        }
        audit::record_action(&*tx, "WEBHOOK_ENDPOINT_UPDATED", admin, client).await?;
        let endpoint = Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| no_endpoint(Field::Id))?;
        let wake = self.0.wake.clone();
        tx.after_commit(move || wake.notify_one());
        tx.commit().await?;
        Ok(endpoint)
    }

    /// Gives an endpoint a new secret; the old one keeps signing beside it
    /// (a second signature) for the rotation overlap, so receivers can
    /// switch without losing an event.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `id` (no such endpoint); database errors.
    #[tracing::instrument(skip(self, client))]
    pub async fn rotate_secret(&self, admin: Uuid, id: Uuid, client: &ClientInfo) -> AppResult<WithSecret> {
        let secret = signing::new_secret();
        let tx = self.0.db.begin().await?;
        let old = Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| no_endpoint(Field::Id))?;
        let now = db::now();
        Entity::update_many()
            .col_expr(
                Column::Secret,
                Expr::value(self.0.crypto.seal(secret.as_bytes(), &seal_purpose(id))?),
            )
            .col_expr(Column::PreviousSecret, Expr::value(Some(old.secret)))
            .col_expr(
                Column::PreviousUntil,
                Expr::value(Some(db::after(self.0.config.rotation_overlap))),
            )
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        audit::record_action(&*tx, "WEBHOOK_SECRET_ROTATED", admin, client).await?;
        let endpoint = Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| no_endpoint(Field::Id))?;
        tx.commit().await?;
        Ok(WithSecret { endpoint, secret })
    }

    /// Deletes an endpoint with its deliveries; false when there was none.
    ///
    /// # Errors
    /// When the database fails.
    #[tracing::instrument(skip(self, client))]
    pub async fn delete_endpoint(&self, admin: Uuid, id: Uuid, client: &ClientInfo) -> AppResult<bool> {
        let tx = self.0.db.begin().await?;
        // Its deliveries go with it (the foreign key cascades).
        let deleted = Entity::delete_by_id(id).exec(&*tx).await?.rows_affected > 0;
        if deleted {
            audit::record_action(&*tx, "WEBHOOK_ENDPOINT_DELETED", admin, client).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn checked_url(&self, url: &str) -> AppResult<String> {
        address::check_url(url, &self.0.config)
            .await
            .map(String::from)
            .map_err(|message| AppError::bad_input(Field::Url, message))
    }
}

/// The answer for an endpoint id (given as `field`) that names none.
pub fn no_endpoint(field: Field) -> AppError {
    AppError::bad_input(field, "no webhook endpoint has this id")
}
