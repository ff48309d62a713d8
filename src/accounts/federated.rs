//! Accounts that a sign-in provider vouches for: created confirmed and
//! without a password, or claimed from whoever pre-registered the address.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::Email;
use super::new_user::new_user;
use crate::db::{self, Tx};
use crate::entities::users;
use crate::error::AppResult;

/// A new account for `email`, which a provider verified: confirmed, and
/// without a password (its owner can set one with `forgotPassword`).
///
/// # Errors
/// When the database fails (a unique violation when the address was taken meanwhile).
pub async fn create_verified(tx: &Tx, email: &Email) -> AppResult<users::Model> {
    Ok(users::ActiveModel {
        password_hash: Set(None),
        email_verified_at: Set(Some(db::now())),
        ..new_user(email, String::new())
    }
    .insert(&**tx)
    .await?)
}

/// Confirms `user`'s address, which a provider just verified. If the account
/// had never confirmed it, its password goes: it was set by whoever signed up
/// with the address, who may not be its owner. Returns the account as it now is.
///
/// # Errors
/// When the database fails.
pub async fn claim_verified(tx: &Tx, user: users::Model) -> AppResult<users::Model> {
    if user.email_verified_at.is_some() {
        return Ok(user);
    }
    let now = db::now();
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(None::<String>))
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id))
        .exec(&**tx)
        .await?;
    Ok(users::Model {
        password_hash: None,
        email_verified_at: Some(now),
        updated_at: now,
        ..user
    })
}
