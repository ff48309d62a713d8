//! A signed-in owner's identities: listing them, linking one through the
//! browser flow (started by a one-time intent, finished in the app by the
//! account that asked, with a link code) and unlinking.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::OAuth;
use super::provider::ProviderClaims;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::identities;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult, unique_violation};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::Event;

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
    /// a browser flow bound to them by a one-time intent (10 minutes) that
    /// ends at `redirect_to` (checked as a sign-in's) with a link code, which
    /// only the caller's `completeLinkIdentity` redeems. Sensitive: it needs
    /// a recent proof of identity.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `FORBIDDEN` for an unknown provider;
    /// `BAD_USER_INPUT` on `redirectTo` for a target not allowed.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn link_url(&self, caller: &Principal, provider: &str, redirect_to: Option<&str>) -> AppResult<String> {
        self.parts().sessions.require_recent_proof(caller)?;
        self.ensure_known(provider)?;
        let redirect_to = redirect_to.filter(|r| !r.is_empty());
        // Checked now, so the caller hears of a bad target; the flow checks it again.
        self.allowed_target(redirect_to)?;
        let intent = one_time::create_carrying(
            self.parts().db.writer(),
            caller.user().id,
            Purpose::LinkIntent,
            Some(provider.to_owned()),
        )
        .await?;
        let mut url = url::Url::parse(&self.parts().links.public(&format!("/auth/{provider}")))
            .map_err(|e| AppError::internal(format!("link URL: {e}")))?;
        url.query_pairs_mut().append_pair("link", &intent);
        if let Some(target) = redirect_to {
            url.query_pairs_mut().append_pair("redirect_to", target);
        }
        Ok(url.into())
    }

    /// Ends a link flow: spends the intent that started it and issues a link
    /// code for the account that asked, carrying the identity in `claims`
    /// (stamped, 60 s, once).
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a spent, stale or other provider's intent;
    /// `FORBIDDEN` when the identity belongs to another account.
    pub(super) async fn issue_link_code(
        &self,
        provider: &str,
        intent: &str,
        claims: &ProviderClaims,
    ) -> AppResult<String> {
        let parts = self.parts();
        let tx = parts.db.begin().await?;
        let row = one_time::consume(&*tx, intent, Purpose::LinkIntent).await?;
        if row.payload.as_deref() != Some(provider) {
            return Err(AppError::InvalidToken);
        }
        if let Some(identity) = find_identity(&*tx, provider, &claims.subject).await?
            && identity.user_id != row.user_id
        {
            return Err(AppError::Forbidden("this identity belongs to another account"));
        }
        let pending = PendingLink {
            provider: provider.to_owned(),
            subject: claims.subject.clone(),
            email: claims.email.clone(),
        };
        let payload = serde_json::to_string(&pending).map_err(|e| AppError::internal(format!("link code: {e}")))?;
        let code = one_time::create_carrying(&*tx, row.user_id, Purpose::LinkCode, Some(payload)).await?;
        tx.commit().await?;
        Ok(code)
    }

    /// Links the identity a link flow verified to the caller's account, if
    /// the caller is the account that asked for it. The code is spent by
    /// any attempt; the caller's proof of identity carries over the stamp
    /// renewal, every other proof dies; the owner is mailed.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for an unknown, spent, expired or stale code, or one
    /// another account asked for; `FORBIDDEN` when the identity was linked
    /// to another account meanwhile.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn complete_link(
        &self,
        caller: &Principal,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<identities::Model> {
        let parts = self.parts();
        parts.limits.check(Limit::MailedToken, client.ip, None).await?;
        // Spent before anything else is looked at: a code that reached another account is not tried twice.
        let row = one_time::consume(parts.db.writer(), code, Purpose::LinkCode).await?;
        if row.user_id != caller.user().id {
            return Err(AppError::InvalidToken);
        }
        let pending: PendingLink =
            serde_json::from_str(row.payload.as_deref().unwrap_or_default()).map_err(|_| AppError::InvalidToken)?;
        let user = reread_from_writer(&parts.db, caller.user().id).await?;
        let mut tx = parts.db.begin().await?;
        match find_identity(&*tx, &pending.provider, &pending.subject).await? {
            Some(identity) if identity.user_id == user.id => return Ok(identity),
            Some(_) => return Err(AppError::Forbidden("this identity belongs to another account")),
            None => {}
        }
        let inserted = identities::ActiveModel {
            id: Set(Uuid::new_v4()),
            provider: Set(pending.provider.clone()),
            subject: Set(pending.subject),
            user_id: Set(user.id),
            email: Set(pending.email),
            created_at: Set(db::now()),
        }
        .insert(&*tx)
        .await;
        let identity = match inserted {
            Ok(identity) => identity,
            Err(e) if unique_violation(&e).is_some() => {
                return Err(AppError::Forbidden("this identity belongs to another account"));
            }
            Err(e) => return Err(e.into()),
        };
        events::record(&*tx, user.id, EventKind::IdentityLinked, client).await?;
        parts
            .webhooks
            .emit(&mut tx, Event::identity_linked(user.id, &pending.provider))
            .await?;
        // A new way in: proofs issued before it stop counting, but the caller's own.
        parts.sessions.renew_stamp(&mut tx, user.id, Some(caller)).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::identity_linked(&user.email, &pending.provider))
            .await?;
        tx.commit().await?;
        Ok(identity)
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
        parts
            .webhooks
            .emit(&mut tx, Event::identity_unlinked(user.id, provider))
            .await?;
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

/// The identity a link flow verified, carried by its link code.
#[derive(Serialize, Deserialize)]
struct PendingLink {
    provider: String,
    subject: String,
    email: Option<String>,
}

async fn find_identity(
    conn: &impl sea_orm::ConnectionTrait,
    provider: &str,
    subject: &str,
) -> AppResult<Option<identities::Model>> {
    Ok(identities::Entity::find()
        .filter(identities::Column::Provider.eq(provider))
        .filter(identities::Column::Subject.eq(subject))
        .one(conn)
        .await?)
}
