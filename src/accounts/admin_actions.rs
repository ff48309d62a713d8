//! What administrators do to one account besides switching it off and on:
//! read it, end its sessions, delete it, change its role, mail it a reset
//! link, set its app metadata. Each is recorded on the account (while it exists) and in the audit
//! log with the acting administrator. Callers check that `admin` is one;
//! what changes an account is sensitive here (a recent proof of identity),
//! mailing the owner a reset link is not (it gives the administrator nothing).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::{Accounts, Email};
use crate::audit;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users::{self, Role};
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::sessions::Principal;

/// Largest app metadata, as compact JSON: an access token carrying it stays
/// well under the 8 KiB many servers allow a header.
pub const MAX_APP_METADATA: usize = 2048;
use crate::webhooks::{Event, RevokeReason};

impl Accounts {
    /// Account `id`, if there is one.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn user_by_id(&self, id: Uuid) -> AppResult<Option<users::Model>> {
        Ok(users::Entity::find_by_id(id).one(&self.db.read).await?)
    }

    /// Ends every session of account `id`; returns how many.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id` for an unknown account; database errors.
    #[tracing::instrument(skip(self, admin, client), fields(admin_id = %admin.user().id))]
    pub async fn revoke_user_sessions(&self, admin: &Principal, id: Uuid, client: &ClientInfo) -> AppResult<u64> {
        self.sessions.require_recent_proof(admin)?;
        let admin = admin.user().id;
        self.existing(id).await?;
        let mut tx = self.db.begin().await?;
        let ended = self.sessions.revoke_all(&mut tx, id, None, RevokeReason::Admin).await?;
        events::record(&*tx, id, EventKind::SessionsRevokedByAdmin, client).await?;
        audit::record(&*tx, EventKind::SessionsRevokedByAdmin.as_str(), id, admin, client).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Deletes account `id` with everything that belongs to it, as
    /// `deleteAccount` does; the audit log keeps the record.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id` for an unknown account or
    /// the caller's own (`deleteAccount` is for that); database errors.
    #[tracing::instrument(skip(self, admin, client), fields(admin_id = %admin.user().id))]
    pub async fn delete_user(&self, admin: &Principal, id: Uuid, client: &ClientInfo) -> AppResult<()> {
        self.sessions.require_recent_proof(admin)?;
        let admin = admin.user().id;
        if id == admin {
            return Err(AppError::bad_input(
                Field::Id,
                "delete your own account with deleteAccount",
            ));
        }
        let user = self.existing(id).await?;
        let mut tx = self.db.begin().await?;
        users::Entity::delete_by_id(id).exec(&*tx).await?;
        self.webhooks
            .emit(&mut tx, Event::user_deleted(id, &user.email, true))
            .await?;
        audit::record(&*tx, EventKind::AccountDeletedByAdmin.as_str(), id, admin, client).await?;
        self.sessions.evict_user_on_commit(&mut tx, id);
        tx.commit().await?;
        Ok(())
    }

    /// Gives account `id` `role`. The last active administrator cannot make
    /// themselves a user: someone must be left to administer.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id` for an unknown account,
    /// on `role` for the last administrator's own demotion; database errors.
    #[tracing::instrument(skip(self, admin, client), fields(admin_id = %admin.user().id))]
    pub async fn set_role(
        &self,
        admin: &Principal,
        id: Uuid,
        role: Role,
        client: &ClientInfo,
    ) -> AppResult<users::Model> {
        self.sessions.require_recent_proof(admin)?;
        let admin = admin.user().id;
        let user = self.existing(id).await?;
        if user.role == role {
            return Ok(user);
        }
        let mut tx = self.db.begin().await?;
        if role == Role::User {
            let admins = users::Entity::find()
                .filter(users::Column::Role.eq(Role::Admin))
                .filter(users::Column::Active.eq(true))
                .count(&*tx)
                .await?;
            if admins <= 1 && id == admin {
                return Err(AppError::bad_input(Field::Role, "you are the last administrator"));
            }
        }
        users::Entity::update_many()
            .col_expr(users::Column::Role, Expr::value(role))
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.sessions.renew_stamp(&mut tx, id, None).await?;
        self.sessions.drop_hook_claims(&mut tx, id).await?;
        let change = Event::user_updated(id, serde_json::json!({ "role": role }));
        self.webhooks.emit(&mut tx, change).await?;
        events::record(&*tx, id, EventKind::RoleChangedByAdmin, client).await?;
        audit::record(&*tx, EventKind::RoleChangedByAdmin.as_str(), id, admin, client).await?;
        tx.commit().await?;
        Ok(users::Model { role, ..user })
    }

    /// Replaces account `id`'s app metadata with `metadata`, a JSON object
    /// of at most [`MAX_APP_METADATA`] bytes. Access tokens carry it from the
    /// session's next refresh, without the access-token hook's claims (they
    /// were computed from the old metadata); no stamp changes, no session
    /// ends. Sensitive: the metadata grants the app's own roles.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id` for an unknown account, on
    /// `metadata` for anything but an object or one too large; database errors.
    #[tracing::instrument(skip(self, admin, metadata, client), fields(admin_id = %admin.user().id))]
    pub async fn set_app_metadata(
        &self,
        admin: &Principal,
        id: Uuid,
        metadata: serde_json::Value,
        client: &ClientInfo,
    ) -> AppResult<users::Model> {
        self.sessions.require_recent_proof(admin)?;
        let admin = admin.user().id;
        if !metadata.is_object() {
            return Err(AppError::bad_input(Field::Metadata, "must be a JSON object"));
        }
        let text = metadata.to_string();
        if text.len() > MAX_APP_METADATA {
            return Err(AppError::bad_input(
                Field::Metadata,
                format!(
                    "must be at most {MAX_APP_METADATA} bytes as JSON (it is {})",
                    text.len()
                ),
            ));
        }
        let user = self.existing(id).await?;
        let mut tx = self.db.begin().await?;
        users::Entity::update_many()
            .col_expr(users::Column::AppMetadata, Expr::value(Some(text.clone())))
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.sessions.drop_hook_claims(&mut tx, id).await?;
        let change = Event::user_updated(id, serde_json::json!({ "appMetadata": metadata }));
        self.webhooks.emit(&mut tx, change).await?;
        audit::record(&*tx, "APP_METADATA_SET", id, admin, client).await?;
        self.sessions.evict_user_on_commit(&mut tx, id);
        tx.commit().await?;
        Ok(users::Model {
            app_metadata: Some(text),
            ..user
        })
    }

    /// Mails account `id` a password reset link, as `forgotPassword` would.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `id` for an unknown account; database errors.
    #[tracing::instrument(skip(self, client))]
    pub async fn send_password_reset(&self, admin: Uuid, id: Uuid, client: &ClientInfo) -> AppResult<()> {
        let user = self.existing(id).await?;
        let email = Email::parse(Field::Email, &user.email)
            .map_err(|_| AppError::internal("a stored address does not parse"))?;
        self.mail_reset_link(&email, client).await?;
        audit::record(
            self.db.writer(),
            EventKind::PasswordResetSentByAdmin.as_str(),
            id,
            admin,
            client,
        )
        .await
    }

    /// Account `id`, which must exist.
    async fn existing(&self, id: Uuid) -> AppResult<users::Model> {
        users::Entity::find_by_id(id)
            .one(self.db.writer())
            .await?
            .ok_or_else(|| AppError::bad_input(Field::Id, "no account has this id"))
    }
}
