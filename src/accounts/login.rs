//! Password login by email or username.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{find_by_email, validate};
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mfa;
use crate::mfa::login::Challenge;
use crate::sessions::ClientInfo;
use crate::sessions::store::{self, AuthBundle};
use crate::state::AppState;

/// Longest password worth hashing; no account can have a longer one.
const MAX_PASSWORD_BYTES: usize = 1024;

/// Login input: exactly one of `email` and `username`.
pub struct Credentials {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: String,
}

/// What a right password leads to.
pub enum LoginOutcome {
    /// A session: the account has no second factor.
    SignedIn(Box<AuthBundle>),
    /// The account has MFA on: the login continues with `verifyMfa`.
    MfaRequired(Challenge),
}

/// Checks the password and opens a session, or the second step of the login.
///
/// An unknown account costs one password verification like a known one, and
/// the error is the same for both.
///
/// # Errors
/// `INVALID_CREDENTIALS` for a wrong email, username or password; after a
/// correct password, `FORBIDDEN` for a disabled account and
/// `EMAIL_NOT_CONFIRMED` for an unconfirmed address.
#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, creds: Credentials, client: &ClientInfo) -> AppResult<LoginOutcome> {
    let by_email = creds.email.as_deref().filter(|e| !e.trim().is_empty());
    let by_username = creds.username.as_deref().filter(|u| !u.trim().is_empty());
    let user = match (by_email, by_username) {
        (Some(email), None) => {
            let email = validate::email("email", email)?;
            state.limits.check(Limit::Password, client.ip, Some(&email)).await?;
            find_by_email(&state.db.read, &email).await?
        }
        (None, Some(name)) => {
            state
                .limits
                .check(Limit::Password, client.ip, Some(name.trim()))
                .await?;
            match validate::username(name) {
                Ok(name) => {
                    users::Entity::find()
                        .filter(users::Column::Username.eq(name))
                        .one(&state.db.read)
                        .await?
                }
                Err(_) => None,
            }
        }
        _ => return Err(AppError::bad_input("email", "give either an email or a username")),
    };
    if creds.password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::InvalidCredentials);
    }
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = state.passwords.verify(&creds.password, stored.as_deref()).await?;
    let Some(user) = user else {
        return Err(AppError::InvalidCredentials);
    };
    if !matches {
        // Recorded after the answer, so a known account fails as fast as an unknown one.
        let (state, client, user_id) = (state.clone(), client.clone(), user.id);
        super::in_background(move || {
            let (state, client) = (state.clone(), client.clone());
            async move { events::record(&state.db.write, user_id, EventKind::LoginFailed, &client).await }
        });
        return Err(AppError::InvalidCredentials);
    }
    if !user.active {
        return Err(AppError::Forbidden("this account is disabled"));
    }
    if state.config.require_email_confirmation && user.email_verified_at.is_none() {
        return Err(AppError::EmailNotConfirmed);
    }
    if stored.is_some_and(|h| state.passwords.needs_rehash(&h)) {
        upgrade_hash(state, &user, &creds.password).await?;
    }
    if user.totp_enabled_at.is_some() {
        return Ok(LoginOutcome::MfaRequired(mfa::login::challenge(state, &user).await?));
    }
    let bundle = store::start(state, user, client, &["pwd"]).await?;
    Ok(LoginOutcome::SignedIn(Box::new(bundle)))
}

/// Re-hashes with the current cost after the cost was raised.
async fn upgrade_hash(state: &AppState, user: &users::Model, password: &str) -> AppResult<()> {
    let hash = state.passwords.hash(password).await?;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(user.id))
        .filter(users::Column::PasswordHash.eq(user.password_hash.clone()))
        .exec(&state.db.write)
        .await?;
    Ok(())
}
