//! The owner's passkeys: the list, renaming one, deleting one (sensitive,
//! and never the account's last way to sign in).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::Passkeys;
use crate::client::ClientInfo;
use crate::entities::users::reread_from_writer;
use crate::entities::{identities, passkeys};
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::webhooks::Event;

/// Longest name a passkey may have, in characters.
const MAX_NAME_CHARS: usize = 64;

/// A passkey's name as its owner gives it: trimmed, 1 to 64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// # Errors
    /// `BAD_USER_INPUT` on `name` otherwise.
    pub fn parse(value: &str) -> AppResult<Self> {
        let name = value.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(AppError::bad_input(
                Field::Name,
                format!("a passkey's name has 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl Passkeys {
    /// `user_id`'s passkeys, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self, user_id: Uuid) -> AppResult<Vec<passkeys::Model>> {
        Ok(passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user_id))
            .order_by_asc(passkeys::Column::CreatedAt)
            .all(&self.parts().db.read)
            .await?)
    }

    /// Whether `user_id` has a passkey.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn has_any(&self, user_id: Uuid) -> AppResult<bool> {
        Ok(passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user_id))
            .count(&self.parts().db.read)
            .await?
            > 0)
    }

    /// Renames the caller's passkey `id`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `id` when the caller has no such passkey.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn rename(&self, caller: &Principal, id: Uuid, name: PasskeyName) -> AppResult<passkeys::Model> {
        let db = &self.parts().db;
        let renamed = passkeys::Entity::update_many()
            .col_expr(passkeys::Column::Name, Expr::value(name.into_inner()))
            .filter(passkeys::Column::Id.eq(id))
            .filter(passkeys::Column::UserId.eq(caller.user().id))
            .exec(db.writer())
            .await?;
        if renamed.rows_affected == 0 {
            return Err(no_such_passkey());
        }
        passkeys::Entity::find_by_id(id)
            .one(db.writer())
            .await?
            .ok_or_else(no_such_passkey)
    }

    /// Deletes the caller's passkey `id`. Sensitive: it needs a recent proof
    /// of identity; refused when it is the account's last way to sign in.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id` when there is no such
    /// passkey, or the account would be left with no way to sign in.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn delete(&self, caller: &Principal, id: Uuid, client: &ClientInfo) -> AppResult<()> {
        let parts = self.parts();
        parts.sessions.require_recent_proof(caller)?;
        let user = reread_from_writer(&parts.db, caller.user().id).await?;
        let mut tx = parts.db.begin().await?;
        // Holds the account's row: a concurrent delete of its other way in waits, then sees this one gone.
        parts
            .sessions
            .hold_stamp(&tx, &user)
            .await
            .map_err(|_| AppError::StepUpRequired)?;
        let own = passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user.id))
            .all(&*tx)
            .await?;
        let passkey = own.iter().find(|p| p.id == id).ok_or_else(no_such_passkey)?;
        let identities = identities::Entity::find()
            .filter(identities::Column::UserId.eq(user.id))
            .count(&*tx)
            .await?;
        if user.password_hash.is_none() && identities == 0 && own.len() == 1 {
            return Err(AppError::bad_input(
                Field::Id,
                "it is the only way to sign in: add another passkey or set a password first (forgotPassword)",
            ));
        }
        passkeys::Entity::delete_by_id(passkey.id).exec(&*tx).await?;
        events::record(&*tx, user.id, EventKind::PasskeyRemoved, client).await?;
        let told = Event::passkey_removed(user.id, passkey.id);
        parts.webhooks.emit(&mut tx, told).await?;
        // The caller's own proof carries over; every other one dies.
        parts.sessions.renew_stamp(&mut tx, user.id, Some(caller)).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::passkey_removed(&user.email, &passkey.name))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn no_such_passkey() -> AppError {
    AppError::bad_input(Field::Id, "no such passkey")
}
