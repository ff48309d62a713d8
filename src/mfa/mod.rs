//! Multi-factor authentication: TOTP enrolment, recovery codes, the second
//! step of a login (TOTP, a mailed code, a recovery code, or a passkey whose
//! ceremony `passkeys` runs), and step-up codes.
//!
//! Owns the TOTP columns of `users` and the code purposes of
//! `one_time_tokens`; reads whether an account has a passkey. May call:
//! `sessions`, `tokens`, `mail`, `events`, `webhooks`, `limits`, `db`,
//! `crypto`, `config`, `entities`.

mod budget;
pub mod challenge;
pub mod manage;
pub mod passkey_step;
pub mod recovery_codes;
pub mod step_up;
pub mod totp;

use std::sync::Arc;

use crate::client::ClientInfo;
use crate::config::{LoginEmailOtp, MfaConfig, RequireMfa};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::entities::{passkeys, users};
use crate::error::AppResult;
use crate::limits::{Key, Limit, Limits};
use crate::mail::{Mail, Outbox};
use crate::sessions::Sessions;
use crate::sessions::auth::second_factor_required;
use crate::tokens::codes;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::Webhooks;

/// The second factors a login can finish with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    EmailOtp,
    RecoveryCode,
    /// A passkey (`startPasskeySignIn(mfaToken:)`), never a code for `verifyMfa`.
    Passkey,
}

/// Codes one login (one MFA token), or one mailed code, may be tried with
/// before it is spent.
pub const MAX_ATTEMPTS: i32 = 5;

/// The MFA service. Cheap to clone.
#[derive(Clone)]
pub struct Mfa {
    db: Db,
    crypto: Arc<Crypto>,
    limits: Arc<Limits>,
    outbox: Arc<Outbox>,
    sessions: Sessions,
    /// The issuer authenticator apps show beside the account.
    issuer: Arc<str>,
    login_email_otp: LoginEmailOtp,
    /// REQUIRE_MFA: an account it asks for a second factor, with a passkey, is asked for the passkey.
    require: RequireMfa,
    /// Second factors switched on and off are events for the app's backend.
    webhooks: Webhooks,
}

impl Mfa {
    /// The service over these parts, behaving as `config` says.
    pub fn new(
        db: Db,
        crypto: Arc<Crypto>,
        limits: Arc<Limits>,
        outbox: Arc<Outbox>,
        sessions: Sessions,
        webhooks: Webhooks,
        config: &MfaConfig,
    ) -> Self {
        Self {
            db,
            crypto,
            limits,
            outbox,
            sessions,
            issuer: config.issuer.as_str().into(),
            login_email_otp: config.login_email_otp,
            require: config.require,
            webhooks,
        }
    }

    /// The second factors `user` can finish a login with; empty when a
    /// password alone signs them in. A mailbox is never a second factor
    /// beside an authenticator app: whoever reads the inbox can also reset
    /// the password, so for an account with TOTP a mailed code would make
    /// the inbox both factors.
    pub fn methods_for(&self, user: &users::Model) -> Vec<Method> {
        if user.totp_enabled_at.is_some() {
            vec![Method::Totp, Method::RecoveryCode]
        } else if self.login_email_otp == LoginEmailOtp::Always {
            vec![Method::EmailOtp]
        } else {
            Vec::new()
        }
    }

    /// The second factors that finish a login of `user` whose first factor
    /// was `codes` would ask for (a password's [`Mfa::methods_for`], or
    /// TOTP's after a provider), with a passkey among them when the account
    /// has one. A passkey alone makes no factor due; a passkey under
    /// REQUIRE_MFA does, since it is what satisfies it.
    ///
    /// # Errors
    /// When the database fails.
    async fn offered(&self, user: &users::Model, mut codes: Vec<Method>) -> AppResult<Vec<Method>> {
        if codes.is_empty() && !second_factor_required(self.require, user) {
            return Ok(codes);
        }
        if passkeys::any_for(&self.db.read, user.id).await? {
            codes.push(Method::Passkey);
        }
        Ok(codes)
    }

    /// Queues a notice to `user` about a change to their account. Notices
    /// hold no token or code; queued in `tx`, they cannot fail the change.
    async fn notify(&self, tx: &mut crate::db::Tx, mail: Mail) -> AppResult<()> {
        self.outbox.enqueue(tx, mail).await
    }

    /// Mails `user` a new six-digit code of `purpose`, made into a mail by
    /// `compose(to, code)`; only the newest code of a purpose works.
    ///
    /// # Errors
    /// `RATE_LIMITED` (mail to one address is limited); database errors.
    async fn mail_code(
        &self,
        user: &users::Model,
        purpose: Purpose,
        compose: fn(&str, &str) -> Mail,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.limit_codes_mailed(user, client).await?;
        let mut tx = self.db.begin().await?;
        self.queue_code(&mut tx, user, purpose, compose).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes one mailed code from the owner's bucket.
    ///
    /// # Errors
    /// `RATE_LIMITED`.
    async fn limit_codes_mailed(&self, user: &users::Model, client: &ClientInfo) -> AppResult<()> {
        self.limits
            .check(Limit::Mail, client.ip, Some(Key::Owner(user.id)))
            .await?;
        Ok(())
    }

    /// [`Mfa::mail_code`] in `tx`, once its limit was taken.
    ///
    /// # Errors
    /// When the database fails.
    async fn queue_code(
        &self,
        tx: &mut crate::db::Tx,
        user: &users::Model,
        purpose: Purpose,
        compose: fn(&str, &str) -> Mail,
    ) -> AppResult<()> {
        let code = codes::six_digits();
        one_time::invalidate_all(&**tx, user.id, purpose).await?;
        codes::store(&**tx, &self.crypto, user.id, purpose, &code).await?;
        self.outbox.enqueue(tx, compose(&user.email, &code)).await
    }
}
