//! Public handles (username, phone number): unique across accounts, and
//! saying one is taken reveals no email.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::db::Db;
use crate::entities::users;
use crate::error::{AppError, AppResult, Field, violates};

/// Usernames and phone numbers are public handles: saying one is taken reveals no email.
/// `owner`'s own handles do not count as taken.
///
/// # Errors
/// `BAD_USER_INPUT` on the taken handle's field; database errors.
pub(crate) async fn ensure_free(
    db: &Db,
    username: Option<&str>,
    phone: Option<&str>,
    owner: Option<Uuid>,
) -> AppResult<()> {
    let checks = [
        (
            users::Column::Username,
            username,
            Field::Username,
            "this username is taken",
        ),
        (
            users::Column::PhoneNumber,
            phone,
            Field::PhoneNumber,
            "this phone number is taken",
        ),
    ];
    for (column, value, field, message) in checks {
        let Some(value) = value else { continue };
        let mut query = users::Entity::find().filter(column.eq(value));
        if let Some(owner) = owner {
            query = query.filter(users::Column::Id.ne(owner));
        }
        if query.count(&db.read).await? > 0 {
            return Err(AppError::bad_input(field, message));
        }
    }
    Ok(())
}

/// The field error for a unique violation that raced past [`ensure_free`].
pub(crate) fn taken_field(constraint: &str) -> Option<AppError> {
    if violates(constraint, "users", "username") {
        Some(AppError::bad_input(Field::Username, "this username is taken"))
    } else if violates(constraint, "users", "phone_number") {
        Some(AppError::bad_input(Field::PhoneNumber, "this phone number is taken"))
    } else {
        None
    }
}
