//! Password login by email or username.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Accounts, Email, find_by_email, in_background, validate};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mfa::challenge::Challenge;
use crate::sessions::{AuthBundle, SignInMethod};

/// Longest password worth hashing; no account can have a longer one.
const MAX_PASSWORD_BYTES: usize = 1024;

/// What a login names its account by.
pub enum LoginName {
    Email(Email),
    /// As typed: a name that is not a valid username simply matches no account.
    Username(String),
}

impl LoginName {
    /// Exactly one of `email` and `username`, blank counting as absent.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `email` when both or neither are given, or the email is malformed.
    pub fn parse(email: Option<&str>, username: Option<&str>) -> AppResult<Self> {
        let email = email.filter(|e| !e.trim().is_empty());
        let username = username.filter(|u| !u.trim().is_empty());
        match (email, username) {
            (Some(email), None) => Ok(Self::Email(Email::parse(Field::Email, email)?)),
            (None, Some(name)) => Ok(Self::Username(name.trim().to_owned())),
            _ => Err(AppError::bad_input(Field::Email, "give either an email or a username")),
        }
    }
}

/// What a right password leads to.
pub enum LoginOutcome {
    /// A session: the account has no second factor.
    SignedIn(Box<AuthBundle>),
    /// The account has MFA on: the login continues with `verifyMfa`.
    MfaRequired(Challenge),
}

impl Accounts {
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
    pub async fn login(&self, name: LoginName, password: &str, client: &ClientInfo) -> AppResult<LoginOutcome> {
        let outcome = self.check_login(name, password, client).await;
        let label = match &outcome {
            Ok(LoginOutcome::SignedIn(_)) => "success",
            Ok(LoginOutcome::MfaRequired(_)) => "mfa_required",
            Err(AppError::InvalidCredentials) => "wrong_password",
            Err(AppError::RateLimited { .. }) => "rate_limited",
            Err(AppError::Forbidden(_)) => "disabled",
            Err(AppError::EmailNotConfirmed) => "not_confirmed",
            Err(_) => "error",
        };
        ::metrics::counter!("authql_logins_total", "outcome" => label).increment(1);
        outcome
    }

    async fn check_login(&self, name: LoginName, password: &str, client: &ClientInfo) -> AppResult<LoginOutcome> {
        let user = match &name {
            LoginName::Email(email) => {
                self.limits
                    .check(Limit::Password, client.ip, Some(email.as_str()))
                    .await?;
                find_by_email(&self.db.read, email).await?
            }
            LoginName::Username(name) => {
                let user = match validate::username(name) {
                    Ok(name) => {
                        users::Entity::find()
                            .filter(users::Column::Username.eq(name))
                            .one(&self.db.read)
                            .await?
                    }
                    Err(_) => None,
                };
                // A known account's guesses count in one bucket, however it is named;
                // an unknown name counts in its own, exactly as often.
                let key = user.as_ref().map_or(name.as_str(), |u| u.email.as_str());
                self.limits.check(Limit::Password, client.ip, Some(key)).await?;
                user
            }
        };
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AppError::InvalidCredentials);
        }
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = self.passwords.verify(password, stored.as_deref()).await?;
        let Some(user) = user else {
            return Err(AppError::InvalidCredentials);
        };
        if !matches {
            // Recorded after the answer, so a known account fails as fast as an unknown one.
            let (db, client, user_id) = (self.db.clone(), client.clone(), user.id);
            in_background(move || {
                let (db, client) = (db.clone(), client.clone());
                async move { events::record(&db.write, user_id, EventKind::LoginFailed, &client).await }
            });
            return Err(AppError::InvalidCredentials);
        }
        if !user.active {
            return Err(AppError::Forbidden("this account is disabled"));
        }
        if self.require_confirmation && user.email_verified_at.is_none() {
            return Err(AppError::EmailNotConfirmed);
        }
        if stored.is_some_and(|h| self.passwords.needs_rehash(&h)) {
            self.upgrade_hash(&user, password).await?;
        }
        if let Some(challenge) = self.mfa.second_step(&user, client).await? {
            return Ok(LoginOutcome::MfaRequired(challenge));
        }
        let bundle = self.sessions.start(user, client, SignInMethod::Password).await?;
        Ok(LoginOutcome::SignedIn(Box::new(bundle)))
    }

    /// Re-hashes with the current cost after the cost was raised.
    async fn upgrade_hash(&self, user: &users::Model, password: &str) -> AppResult<()> {
        let hash = self.passwords.hash(password).await?;
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash))
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(user.id))
            .filter(users::Column::PasswordHash.eq(user.password_hash.clone()))
            .exec(&self.db.write)
            .await?;
        Ok(())
    }
}
