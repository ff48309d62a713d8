//! Accounts: sign-up (with a password or a passkey), confirmation, password
//! login, password reset and change, deletion and administration, and the
//! recoveries that take an account back (an undo of an email change, a claim
//! by the owner of its address), which remove its other ways in
//! (`identities`, `passkeys`) too.
//!
//! Owns `users` (but its TOTP and profile columns). May call: `mfa` (the
//! second step of a login), `passkeys` (a sign-up's passkey), `sessions`,
//! `tokens`, `mail`, `events`, `limits`, `webhooks`, `hooks` (the sign-up
//! hook), `db`, `config`, `entities`.

mod admin;
mod admin_actions;
mod claim;
mod confirmation;
mod delete;
mod email;
mod email_change;
pub mod federated;
mod handles;
mod new_user;
mod passkey_signup;
pub mod password;
mod password_changes;
mod screening;
mod sign_in;
mod signup;
mod taken_address;
pub mod validate;
mod ways_in;
mod webhook_admin;

use std::sync::Arc;

pub use admin::{MAX_PAGE, MadeAdmin};
pub use claim::Claimant;
pub use email::Email;
pub(crate) use handles::{ensure_free, taken_field};
pub use passkey_signup::NewPasskeyAccount;
pub use screening::PasswordScreen;
pub use sign_in::{LoginAttempt, LoginName, LoginOutcome};
pub use signup::{NewAccount, SignupOutcome};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::client::ClientInfo;
use crate::config::Links;
use crate::db::Db;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::hooks::{Hooks, SignupFacts};
use crate::limits::{Key, Limit, Limits};
use crate::mail::Outbox;
use crate::mfa::Mfa;
use crate::passkeys::Passkeys;
use crate::sessions::{Principal, Sessions};
use crate::webhooks::Webhooks;
use password::PasswordHasher;

/// The accounts service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts(Arc<AccountParts>);

/// The parts [`Accounts`] is built from and works with.
pub struct AccountParts {
    pub db: Db,
    pub passwords: Arc<PasswordHasher>,
    /// Refuses breached and blocklisted new passwords.
    pub screen: Arc<PasswordScreen>,
    pub outbox: Arc<Outbox>,
    pub limits: Arc<Limits>,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub passkeys: Passkeys,
    /// Events for the app's backend.
    pub webhooks: Webhooks,
    /// The sign-up hook (HOOK_BEFORE_SIGNUP_URL).
    pub hooks: Hooks,
    pub links: Links,
    /// REQUIRE_EMAIL_CONFIRMATION.
    pub require_confirmation: bool,
}

impl std::ops::Deref for Accounts {
    type Target = AccountParts;

    fn deref(&self) -> &AccountParts {
        &self.0
    }
}

impl Accounts {
    /// The service over these parts.
    pub fn new(parts: AccountParts) -> Self {
        Self(Arc::new(parts))
    }

    /// The caller's account, once `password` proves again that it is them
    /// (re-authentication before changing the password or deleting the
    /// account); a wrong one is recorded.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` for a wrong password; `RATE_LIMITED`; database errors.
    async fn reauthenticate(&self, caller: &Principal, password: &str, client: &ClientInfo) -> AppResult<users::Model> {
        self.limits
            .check(Limit::Password, client.ip, Some(Key::Owner(caller.user().id)))
            .await?;
        let user = reread_from_writer(&self.db, caller.user().id).await?;
        if !self.passwords.verify(password, user.password_hash.as_deref()).await? {
            events::record(self.db.writer(), user.id, EventKind::LoginFailed, client).await?;
            return Err(AppError::InvalidCredentials);
        }
        Ok(user)
    }

    /// Asks the sign-up hook (HOOK_BEFORE_SIGNUP_URL) whether a sign-up may
    /// go ahead. Every way of signing up calls it before it looks anything
    /// up or writes anything, alike for taken and free addresses, so the
    /// answer tells nothing of registered ones: password sign-ups here,
    /// provider sign-ups in `oauth`, and a passkey sign-up that goes through
    /// accounts does too.
    ///
    /// # Errors
    /// `FORBIDDEN` with the hook's message; `SERVICE_UNAVAILABLE` when the
    /// hook fails under its `deny` policy.
    pub async fn before_signup(&self, facts: &SignupFacts<'_>, client: &ClientInfo) -> AppResult<()> {
        self.hooks.before_signup(facts, client).await
    }

    /// Whether `email` may still get mail anyone can ask for today
    /// (MAIL_DAILY); takes one if so. Past it the caller sends nothing and
    /// answers as if it had, so the sender learns nothing.
    async fn daily_mail_left(&self, email: &Email) -> bool {
        let taken = self
            .limits
            .check(Limit::MailDaily, None, Some(Key::Account(email.as_str())))
            .await;
        taken.map_err(|refused| refused.record()).is_ok()
    }
}

/// The user with this email.
///
/// # Errors
/// When the database fails.
pub async fn find_by_email(conn: &impl ConnectionTrait, email: &Email) -> AppResult<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(conn)
        .await?)
}

/// Runs `work` after the response, for requests whose answer must not depend
/// on whether an account exists. Each run must be one transaction, so a
/// failed one leaves nothing behind: while the database is out of reach it
/// is run again, for about half a minute, so a short outage loses no mail.
/// Other failures are logged.
/// It runs under the instance's tracker, so a stopping instance waits for it.
fn in_background<F, Fut>(tasks: &crate::tasks::Tasks, work: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<()>> + Send + 'static,
{
    tasks.spawn(async move {
        let mut delay = std::time::Duration::from_millis(250);
        loop {
            match work().await {
                Ok(()) => return,
                Err(AppError::Unavailable(_)) if delay < std::time::Duration::from_secs(20) => {
                    tracing::info!(retry_in = ?delay, "database out of reach or busy: background work will run again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return e.log(),
            }
        }
    });
}
