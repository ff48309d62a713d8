//! Profile: the names, public handles and avatar an account's owner edits.
//!
//! Owns the profile columns of `users` and the `avatars` table. May call:
//! `accounts` (field rules), `sessions` (cache eviction), `webhooks`, `limits`,
//! `db`, `entities`.

pub mod avatar;

use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::accounts::{self, validate};
use crate::client::ClientInfo;
use crate::db::{self, Db};
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppResult, Field, unique_violation};
use crate::limits::{Limit, Limits};
use crate::sessions::Sessions;
use crate::webhooks::{Event, Webhooks};

/// The profile service. Cheap to clone.
#[derive(Clone)]
pub struct Profile {
    db: Db,
    limits: Arc<Limits>,
    sessions: Sessions,
    /// Profile changes are `user.updated` events for the app's backend.
    webhooks: Webhooks,
    /// AVATAR_MAX_BYTES.
    avatar_max_bytes: usize,
}

/// What to change: `None` keeps a field, `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub username: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone_number: Option<Option<String>>,
}

/// Validates a handle the way sign-up does; blank clears it.
fn handle(
    value: Option<Option<String>>,
    check: impl Fn(&str) -> AppResult<String>,
) -> AppResult<Option<Option<String>>> {
    value
        .map(|v| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(&check)
                .transpose()
        })
        .transpose()
}

impl Profile {
    /// The service over these parts.
    pub fn new(db: Db, limits: Arc<Limits>, sessions: Sessions, webhooks: Webhooks, avatar_max_bytes: usize) -> Self {
        Self {
            db,
            limits,
            sessions,
            webhooks,
            avatar_max_bytes,
        }
    }

    /// Applies `changes` to `user_id`'s profile and returns the account as it now is.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on the field at fault: an invalid value, or a username or
    /// phone number another account has; database errors. Nothing changes then.
    #[tracing::instrument(skip(self, changes, client))]
    pub async fn update(&self, user_id: Uuid, changes: ProfileUpdate, client: &ClientInfo) -> AppResult<users::Model> {
        // Saying a handle is taken tells whether some account has it: limited like signing up.
        if changes.username.is_some() || changes.phone_number.is_some() {
            self.limits.check(Limit::Signup, client.ip, None).await?;
        }
        let username = handle(changes.username, validate::username)?;
        let phone = handle(changes.phone_number, validate::phone)?;
        let name =
            |field, value: Option<Option<String>>| value.map(|v| validate::name(field, v.as_deref())).transpose();
        let display_name = name(Field::DisplayName, changes.display_name)?;
        let first_name = name(Field::FirstName, changes.first_name)?;
        let last_name = name(Field::LastName, changes.last_name)?;
        accounts::ensure_free(
            &self.db,
            username.as_ref().and_then(Option::as_deref),
            phone.as_ref().and_then(Option::as_deref),
            Some(user_id),
        )
        .await?;

        let mut update = users::Entity::update_many()
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(user_id));
        let mut changes = serde_json::Map::new();
        for (column, name, value) in [
            (users::Column::Username, "username", username),
            (users::Column::DisplayName, "displayName", display_name),
            (users::Column::FirstName, "firstName", first_name),
            (users::Column::LastName, "lastName", last_name),
            (users::Column::PhoneNumber, "phoneNumber", phone),
        ] {
            if let Some(value) = value {
                changes.insert(name.to_owned(), serde_json::json!(value));
                update = update.col_expr(column, Expr::value(value));
            }
        }
        let mut tx = self.db.begin().await?;
        if let Err(e) = update.exec(&*tx).await {
            // Another account took the handle between the check and the write.
            let taken = unique_violation(&e).and_then(|c| accounts::taken_field(&c));
            return Err(taken.unwrap_or_else(|| e.into()));
        }
        if !changes.is_empty() {
            let change = Event::user_updated(user_id, serde_json::Value::Object(changes));
            self.webhooks.emit(&mut tx, change).await?;
        }
        self.sessions.evict_user_on_commit(&mut tx, user_id);
        tx.commit().await?;
        reread_from_writer(&self.db, user_id).await
    }
}
