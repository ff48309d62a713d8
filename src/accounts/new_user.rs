//! The row of a new account, before anything else is known of it.

use sea_orm::Set;
use uuid::Uuid;

use super::Email;
use crate::db;
use crate::entities::users::{self, Role};

/// A new, unconfirmed, active USER account with a password (or none) and nothing else.
pub(super) fn new_user(email: &Email, password_hash: Option<String>) -> users::ActiveModel {
    let now = db::now();
    users::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.as_str().to_owned()),
        username: Set(None),
        password_hash: Set(password_hash),
        email_verified_at: Set(None),
        display_name: Set(None),
        first_name: Set(None),
        last_name: Set(None),
        phone_number: Set(None),
        avatar_key: Set(None),
        role: Set(Role::User),
        active: Set(true),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        last_active_at: Set(None),
        security_stamp: Set(0),
        app_metadata: Set(None),
    }
}
