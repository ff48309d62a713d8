//! Accounts that a sign-in provider vouches for: created confirmed and
//! without a password (one claimed from whoever pre-registered the address
//! is `Accounts::claim`).

use sea_orm::{ActiveModelTrait, Set};

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
        email_verified_at: Set(Some(db::now())),
        ..new_user(email, None)
    }
    .insert(&**tx)
    .await?)
}
