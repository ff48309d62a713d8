//! Profile: the names, public handles and avatar an account's owner edits.

pub mod avatar;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::accounts::{fresh_user, validate};
use crate::db;
use crate::entities::users;
use crate::error::{AppResult, unique_violation};
use crate::state::AppState;

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

/// Applies `changes` to `user_id`'s profile and returns the account as it now is.
///
/// # Errors
/// `BAD_USER_INPUT` on the field at fault: an invalid value, or a username or
/// phone number another account has; database errors. Nothing changes then.
#[tracing::instrument(skip(state, changes))]
pub async fn update(state: &AppState, user_id: Uuid, changes: ProfileUpdate) -> AppResult<users::Model> {
    let username = handle(changes.username, validate::username)?;
    let phone = handle(changes.phone_number, validate::phone)?;
    let name = |field, value: Option<Option<String>>| value.map(|v| validate::name(field, v.as_deref())).transpose();
    let display_name = name("displayName", changes.display_name)?;
    let first_name = name("firstName", changes.first_name)?;
    let last_name = name("lastName", changes.last_name)?;
    crate::accounts::ensure_free(
        state,
        username.as_ref().and_then(Option::as_deref),
        phone.as_ref().and_then(Option::as_deref),
        Some(user_id),
    )
    .await?;

    let mut update = users::Entity::update_many()
        .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(user_id));
    for (column, value) in [
        (users::Column::Username, username),
        (users::Column::DisplayName, display_name),
        (users::Column::FirstName, first_name),
        (users::Column::LastName, last_name),
        (users::Column::PhoneNumber, phone),
    ] {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value));
        }
    }
    if let Err(e) = update.exec(&state.db.write).await {
        // Another account took the handle between the check and the write.
        let taken = unique_violation(&e).and_then(|c| crate::accounts::taken_field(&c));
        return Err(taken.unwrap_or_else(|| e.into()));
    }
    state.live.forget_user(user_id);
    fresh_user(state, user_id).await
}
