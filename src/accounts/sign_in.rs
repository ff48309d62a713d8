//! Password login by email or username.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Accounts, Email, find_by_email, in_background, validate};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::mfa::challenge::Challenge;
use crate::sessions::{AuthBundle, SignInMethod};
use crate::webhooks::Event;

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

/// What a login gives: the account's name, the password, and the device
/// credential an earlier login gave this client, if it has one.
pub struct LoginAttempt<'a> {
    pub name: LoginName,
    pub password: &'a str,
    pub device: Option<&'a str>,
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
    /// the error is the same for both. Attempts count in the account's bucket,
    /// or in the device's when the attempt presents a credential of a device
    /// known to that account; when the account's runs out, its owner is told.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` for a wrong email, username or password; after a
    /// correct password, `FORBIDDEN` for a disabled account and
    /// `EMAIL_NOT_CONFIRMED` for an unconfirmed address.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, attempt: LoginAttempt<'_>, client: &ClientInfo) -> AppResult<LoginOutcome> {
        let outcome = self.check_login(attempt, client).await;
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

    async fn check_login(&self, attempt: LoginAttempt<'_>, client: &ClientInfo) -> AppResult<LoginOutcome> {
        let LoginAttempt { name, password, device } = attempt;
        // Without a device credential, an email names its own bucket: a flood
        // is refused before it costs a database read.
        let checked_early = match (&name, device) {
            (LoginName::Email(email), None) => {
                self.limit_password(client, Key::Account(email.as_str()), Some(email.as_str()))
                    .await?;
                true
            }
            _ => false,
        };
        let device = match device {
            Some(credential) => self.sessions.device(credential).await?,
            None => None,
        };
        let user = match &name {
            LoginName::Email(email) => find_by_email(&self.db.read, email).await?,
            LoginName::Username(name) => match validate::username(name) {
                Ok(name) => {
                    users::Entity::find()
                        .filter(users::Column::Username.eq(name))
                        .one(&self.db.read)
                        .await?
                }
                Err(_) => None,
            },
        };
        // A device credential spares only the account it was given for.
        let device = device.filter(|d| user.as_ref().is_some_and(|u| u.id == d.user_id));
        if !checked_early {
            // A known account's guesses count in one bucket, however it is
            // named; an unknown name counts in its own, exactly as often.
            let named = match &name {
                LoginName::Email(email) => email.as_str(),
                LoginName::Username(name) => name.as_str(),
            };
            let (key, owner) = match (&device, &user) {
                (Some(d), _) => (Key::Device(d.id), None),
                (None, Some(u)) => (Key::Account(u.email.as_str()), Some(u.email.as_str())),
                (None, None) => (Key::Account(named), None),
            };
            self.limit_password(client, key, owner).await?;
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AppError::InvalidCredentials);
        }
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = self.passwords.verify(password, stored.as_deref()).await?;
        let Some(user) = user else {
            return Err(AppError::InvalidCredentials);
        };
        let device = device.map(|d| d.id);
        if !matches {
            // Recorded after the answer, so a known account fails as fast as an unknown one.
            let (sessions, db, client, user_id) = (self.sessions.clone(), self.db.clone(), client.clone(), user.id);
            in_background(self.sessions.tasks(), move || {
                let (sessions, db, client) = (sessions.clone(), db.clone(), client.clone());
                async move {
                    events::record(db.writer(), user_id, EventKind::LoginFailed, &client).await?;
                    match device {
                        Some(device) => sessions.device_failed(device, user_id, &client).await,
                        None => Ok(()),
                    }
                }
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
        if let Some(challenge) = self.mfa.second_step(&user, device, client).await? {
            return Ok(LoginOutcome::MfaRequired(challenge));
        }
        let bundle = self
            .sessions
            .start_on_device(user, client, SignInMethod::Password, device)
            .await?;
        Ok(LoginOutcome::SignedIn(Box::new(bundle)))
    }

    /// Takes a password attempt from `key`'s bucket. When the bucket of an
    /// account (`owner`, its address; not a device's) is what ran out, its
    /// owner is told.
    async fn limit_password(&self, client: &ClientInfo, key: Key<'_>, owner: Option<&str>) -> AppResult<()> {
        match self.limits.check(Limit::Password, client.ip, Some(key)).await {
            Ok(()) => Ok(()),
            Err(refused) => {
                if refused.by_key
                    && let Some(email) = owner
                {
                    self.tell_of_lockout(email, client);
                }
                Err(refused.into())
            }
        }
    }

    /// Tells the owner of the account at `email`, if there is one, that its
    /// password bucket ran out, and records it: once per
    /// RATE_LIMIT_LOCKOUT_NOTICE window (across instances that share Redis),
    /// after the answer, like every mail a login causes. The window is taken
    /// before the account is looked up, so a flood costs at most one read an hour.
    fn tell_of_lockout(&self, email: &str, client: &ClientInfo) {
        let (accounts, email, client) = (self.clone(), email.to_owned(), client.clone());
        self.sessions.tasks().spawn(async move {
            if accounts
                .limits
                .check(Limit::LockoutNotice, None, Some(Key::Account(&email)))
                .await
                .is_err()
            {
                return;
            }
            let told = async {
                let found = users::Entity::find()
                    .filter(users::Column::Email.eq(email.as_str()))
                    .one(&accounts.db.read)
                    .await?;
                let Some(user) = found else {
                    return AppResult::Ok(());
                };
                let mut tx = accounts.db.begin().await?;
                events::record(&*tx, user.id, EventKind::LoginLimited, &client).await?;
                accounts
                    .webhooks
                    .emit(&mut tx, Event::login_failed_limit(user.id))
                    .await?;
                accounts
                    .outbox
                    .enqueue(&mut tx, templates::login_limited(&user.email))
                    .await?;
                tx.commit().await?;
                AppResult::Ok(())
            };
            if let Err(error) = told.await {
                tracing::warn!(%error, "could not tell an owner that their account's logins are limited");
            }
        });
    }

    /// Re-hashes with the current cost after the cost was raised.
    async fn upgrade_hash(&self, user: &users::Model, password: &str) -> AppResult<()> {
        let hash = self.passwords.hash(password).await?;
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash))
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(user.id))
            .filter(users::Column::PasswordHash.eq(user.password_hash.clone()))
            .exec(self.db.writer())
            .await?;
        Ok(())
    }
}
