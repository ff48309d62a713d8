//! A signed-in owner's identities: listing them, linking one through the
//! browser flow (bound to the caller by a one-time intent) and unlinking.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::OAuth;
use super::provider::ProviderClaims;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::identities;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult, unique_violation};
use crate::events::{self, EventKind};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::one_time::{self, Purpose};

impl OAuth {
    /// `user_id`'s linked identities, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn identities(&self, user_id: Uuid) -> AppResult<Vec<identities::Model>> {
        Ok(identities::Entity::find()
            .filter(identities::Column::UserId.eq(user_id))
            .order_by_asc(identities::Column::CreatedAt)
            .all(&self.parts().db.read)
            .await?)
    }

    /// An address that starts linking `provider` to the caller's account:
    /// a browser flow bound to them by a one-time intent (10 minutes).
    /// Sensitive: it needs a recent proof of identity.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `FORBIDDEN` for an unknown provider.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn link_url(&self, caller: &Principal, provider: &str) -> AppResult<String> {
        self.parts().sessions.require_recent_proof(caller)?;
        self.ensure_known(provider)?;
        let intent = one_time::create_carrying(
            self.parts().db.writer(),
            caller.user().id,
            Purpose::LinkIntent,
            Some(provider.to_owned()),
        )
        .await?;
        Ok(self.parts().links.public(&format!("/auth/{provider}?link={intent}")))
    }

    /// Links the identity in `claims` to the account whose intent started the flow.
    pub(super) async fn link_to_intent(
        &self,
        provider: &str,
        intent: &str,
        claims: &ProviderClaims,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let parts = self.parts();
        let mut tx = parts.db.begin().await?;
        let row = one_time::consume(&*tx, intent, Purpose::LinkIntent).await?;
        if row.payload.as_deref() != Some(provider) {
            return Err(AppError::InvalidToken);
        }
        let user = users::Entity::find_by_id(row.user_id)
            .one(&*tx)
            .await?
            .ok_or(AppError::InvalidToken)?;
        let taken = identities::Entity::find()
            .filter(identities::Column::Provider.eq(provider))
            .filter(identities::Column::Subject.eq(claims.subject.as_str()))
            .one(&*tx)
            .await?;
        match taken {
            Some(identity) if identity.user_id == user.id => return Ok(()),
            Some(_) => return Err(AppError::Forbidden("this identity belongs to another account")),
            None => {}
        }
        let inserted = identities::ActiveModel {
            id: Set(Uuid::new_v4()),
            provider: Set(provider.to_owned()),
            subject: Set(claims.subject.clone()),
            user_id: Set(user.id),
            email: Set(claims.email.clone()),
            created_at: Set(db::now()),
        }
        .insert(&*tx)
        .await;
        if let Err(e) = inserted {
            return Err(if unique_violation(&e).is_some() {
                AppError::Forbidden("this identity belongs to another account")
            } else {
                e.into()
            });
        }
        events::record(&*tx, user.id, EventKind::IdentityLinked, client).await?;
        // A new way in: proofs issued before it stop counting.
        parts.sessions.renew_stamp(&mut tx, user.id, None).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::identity_linked(&user.email, provider))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Unlinks `provider` from the caller's account. Sensitive: it needs a
    /// recent proof of identity.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `provider` when nothing is
    /// linked, or when the account would be left with no way to sign in.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn unlink(&self, caller: &Principal, provider: &str, client: &ClientInfo) -> AppResult<users::Model> {
        let parts = self.parts();
        parts.sessions.require_recent_proof(caller)?;
        let user = reread_from_writer(&parts.db, caller.user().id).await?;
        let mut tx = parts.db.begin().await?;
        let linked = identities::Entity::find()
            .filter(identities::Column::UserId.eq(user.id))
            .all(&*tx)
            .await?;
        if !linked.iter().any(|i| i.provider == provider) {
            return Err(AppError::bad_input(
                crate::error::Field::Provider,
                "no identity of this provider is linked",
            ));
        }
        let others = linked.iter().filter(|i| i.provider != provider).count();
        if user.password_hash.is_none() && others == 0 {
            return Err(AppError::bad_input(
                crate::error::Field::Provider,
                "it is the only way to sign in: set a password first (forgotPassword)",
            ));
        }
        identities::Entity::delete_many()
            .filter(identities::Column::UserId.eq(user.id))
            .filter(identities::Column::Provider.eq(provider))
            .exec(&*tx)
            .await?;
        events::record(&*tx, user.id, EventKind::IdentityUnlinked, client).await?;
        // The caller's own proof carries over; every other one dies.
        parts.sessions.renew_stamp(&mut tx, user.id, Some(caller)).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::identity_unlinked(&user.email, provider))
            .await?;
        tx.commit().await?;
        Ok(user)
    }
}
