//! The delivery log administrators read (newest first, paged by the last
//! id of the previous page) and manual redelivery, which sends the same
//! message again under the same `webhook-id`.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::endpoints::no_endpoint;
use super::{Webhooks, parse_msg_id};
use crate::audit;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::webhook_deliveries::{Column, DeliveryStatus, Entity, Model};
use crate::entities::webhook_endpoints;
use crate::error::{AppError, AppResult, Field};

/// Largest page of the log.
pub const MAX_PAGE: u64 = 100;

impl Webhooks {
    /// Deliveries of `endpoint_id`, newest first: `first` of them after the
    /// delivery `after` (the last id of the previous page).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `endpointId` (no such endpoint), `first` (outside
    /// 1 to 100) or `after` (not a delivery of this endpoint); database errors.
    pub async fn deliveries(&self, endpoint_id: Uuid, first: i64, after: Option<&str>) -> AppResult<Vec<Model>> {
        let first = u64::try_from(first)
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| AppError::bad_input(Field::First, format!("must be between 1 and {MAX_PAGE}")))?;
        let read = &self.0.db.read;
        webhook_endpoints::Entity::find_by_id(endpoint_id)
            .one(read)
            .await?
            .ok_or_else(|| no_endpoint(Field::EndpointId))?;
        let mut query = Entity::find()
            .filter(Column::EndpointId.eq(endpoint_id))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        if let Some(after) = after {
            let not_ours = || AppError::bad_input(Field::After, "not a delivery of this endpoint");
            let id = parse_msg_id(after).ok_or_else(not_ours)?;
            let last = Entity::find_by_id(id)
                .filter(Column::EndpointId.eq(endpoint_id))
                .one(read)
                .await?
                .ok_or_else(not_ours)?;
            query = query.filter(
                Condition::any().add(Column::CreatedAt.lt(last.created_at)).add(
                    Condition::all()
                        .add(Column::CreatedAt.eq(last.created_at))
                        .add(Column::Id.lt(last.id)),
                ),
            );
        }
        Ok(query.limit(first).all(read).await?)
    }

    /// Sends delivery `msg_id` again, at once, with the same `webhook-id`
    /// (receivers that saw it already drop it). It is one more attempt, and
    /// is retried further only while the schedule has attempts left.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `deliveryId`: no such delivery, one being sent
    /// right now, or one whose endpoint is switched off; database errors.
    #[tracing::instrument(skip(self, client))]
    pub async fn redeliver(&self, admin: Uuid, msg_id: &str, client: &ClientInfo) -> AppResult<Model> {
        let unknown = || AppError::bad_input(Field::DeliveryId, "no webhook delivery has this id");
        let id = parse_msg_id(msg_id).ok_or_else(unknown)?;
        let mut tx = self.0.db.begin().await?;
        let delivery = Entity::find_by_id(id).one(&*tx).await?.ok_or_else(unknown)?;
        let endpoint = webhook_endpoints::Entity::find_by_id(delivery.endpoint_id)
            .one(&*tx)
            .await?
            .ok_or_else(unknown)?;
        if !endpoint.enabled {
            return Err(AppError::bad_input(
                Field::DeliveryId,
                "its endpoint is switched off; switch it on first",
            ));
        }
        let now = db::now();
        let queued = Entity::update_many()
            .col_expr(Column::Status, Expr::value(DeliveryStatus::Pending))
            .col_expr(Column::NextAttemptAt, Expr::value(Some(now)))
            .filter(Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(Column::ClaimedUntil.is_null())
                    .add(Column::ClaimedUntil.lt(now)),
            )
            .exec(&*tx)
            .await?;
        if queued.rows_affected == 0 {
            return Err(AppError::bad_input(Field::DeliveryId, "it is being sent right now"));
        }
        audit::record_action(&*tx, "WEBHOOK_REDELIVERED", admin, client).await?;
        let wake = self.0.wake.clone();
        tx.after_commit(move || wake.notify_one());
        tx.commit().await?;
        Ok(Model {
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(now),
            ..delivery
        })
    }
}
