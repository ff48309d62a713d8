//! The second step of a login: the password opened an MFA token, a second
//! factor turns it into a session.

use sea_orm::EntityTrait;
use uuid::Uuid;

use super::{MAX_ATTEMPTS, Method, Mfa, recovery_codes};
use crate::client::ClientInfo;
use crate::entities::{one_time_tokens, users};
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::{AuthBundle, SignInMethod};
use crate::tokens::codes;
use crate::tokens::one_time::{self, Purpose};

/// What an MFA token of a provider sign-in carries before the provider's name.
const PROVIDER_PREFIX: &str = "provider:";
/// What an MFA token of a password login carries before the id of the known
/// device it presented, so the device keeps its id when its credential is renewed.
const DEVICE_PREFIX: &str = "device:";

/// A login waiting for its second factor.
pub struct Challenge {
    /// Single use, five minutes; for `verifyMfa` and `sendLoginOtp`.
    pub token: String,
    pub methods: Vec<Method>,
}

impl Mfa {
    /// Opens the second step for `user`, whose password was right (given
    /// from the known device `device`, if any), or `None` when the account has
    /// no second factor. When a mailed code is the only method, it is mailed at once.
    ///
    /// # Errors
    /// `RATE_LIMITED` for the mailed code; `INVALID_CREDENTIALS` when the
    /// account's credentials changed since `user` was read
    /// ([`crate::sessions::Sessions::hold_stamp`]); database errors.
    pub async fn second_step(
        &self,
        user: &users::Model,
        device: Option<Uuid>,
        client: &ClientInfo,
    ) -> AppResult<Option<Challenge>> {
        let methods = self.offered(user, self.methods_for(user)).await?;
        if methods.is_empty() {
            return Ok(None);
        }
        let payload = device.map(|d| format!("{DEVICE_PREFIX}{d}"));
        let mailed = methods == [Method::EmailOtp];
        if mailed {
            // Refused before anything is written: no token waits for a code never sent.
            self.limit_codes_mailed(user, client).await?;
        }
        // The token and the code it waits for, in one transaction.
        let mut tx = self.db.begin().await?;
        self.sessions.hold_stamp(&tx, user).await?;
        let token = one_time::create_carrying(&*tx, user.id, Purpose::MfaLogin, payload).await?;
        if mailed {
            self.queue_code(&mut tx, user, Purpose::LoginOtp, templates::login_code)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(Challenge { token, methods }))
    }

    /// Opens the second step for `user`, who signed in with provider
    /// `provider`, or `None` when none is due (no TOTP, and no passkey
    /// REQUIRE_MFA asks for). A provider proved the mailbox already, so a
    /// mailed code is never the second step here.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` when the account's credentials changed since
    /// `user` was read; when the database fails.
    pub async fn second_step_after_provider(
        &self,
        user: &users::Model,
        provider: &str,
    ) -> AppResult<Option<Challenge>> {
        let codes = if user.totp_enabled_at.is_some() {
            vec![Method::Totp, Method::RecoveryCode]
        } else {
            Vec::new()
        };
        let methods = self.offered(user, codes).await?;
        if methods.is_empty() {
            return Ok(None);
        }
        let payload = Some(format!("{PROVIDER_PREFIX}{provider}"));
        let tx = self.db.begin().await?;
        self.sessions.hold_stamp(&tx, user).await?;
        let token = one_time::create_carrying(&*tx, user.id, Purpose::MfaLogin, payload).await?;
        tx.commit().await?;
        Ok(Some(Challenge { token, methods }))
    }

    /// The account behind a live MFA token that has attempts left.
    pub(super) async fn pending(&self, mfa_token: &str) -> AppResult<(one_time_tokens::Model, users::Model)> {
        // Read on the read pool (committed rows are seen there); the spend
        // that follows checks the token is still unspent in its own statement.
        let row = one_time::find(&self.db.read, mfa_token, Purpose::MfaLogin).await?;
        self.pending_row(row).await
    }

    /// The account behind the live MFA token `row`, if it has attempts left.
    pub(super) async fn pending_row(
        &self,
        row: one_time_tokens::Model,
    ) -> AppResult<(one_time_tokens::Model, users::Model)> {
        if row.attempts >= MAX_ATTEMPTS {
            return Err(AppError::InvalidToken);
        }
        let user = users::Entity::find_by_id(row.user_id)
            .one(&self.db.read)
            .await?
            // The account was deleted meanwhile.
            .ok_or(AppError::InvalidToken)?;
        if !user.active {
            return Err(AppError::Forbidden("this account is disabled"));
        }
        Ok((row, user))
    }

    /// Mails a six-digit code for `mfa_token`'s login (EMAIL_OTP); the newest code is the one that works.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a spent, expired or unknown token; `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn send_login_code(&self, mfa_token: &str, client: &ClientInfo) -> AppResult<()> {
        let (_, user) = self.pending(mfa_token).await?;
        if !self.methods_for(&user).contains(&Method::EmailOtp) {
            return Err(AppError::bad_input(
                Field::MfaToken,
                "this login continues with the authenticator app or a recovery code",
            ));
        }
        self.mail_code(&user, Purpose::LoginOtp, templates::login_code, client)
            .await
    }

    /// Finishes a login with a second factor and opens its session.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a spent, expired or unknown MFA token (also after
    /// five wrong codes); `INVALID_CODE` for a wrong, used or expired code;
    /// `RATE_LIMITED`; `FORBIDDEN` for an account disabled meanwhile.
    #[tracing::instrument(skip(self, mfa_token, code, client))]
    pub async fn finish_login(
        &self,
        mfa_token: &str,
        code: &str,
        method: Method,
        client: &ClientInfo,
    ) -> AppResult<AuthBundle> {
        if method == Method::Passkey {
            return Err(AppError::bad_input(
                Field::Method,
                "a passkey finishes the login with startPasskeySignIn(mfaToken) and finishPasskeySignIn",
            ));
        }
        self.limits.check(Limit::Code, client.ip, None).await?;
        let (row, user) = self.pending(mfa_token).await?;
        self.limits.check(Limit::Code, None, Some(Key::Owner(user.id))).await?;
        let attempt = self.take_from_budget(user.id, client).await?;
        // Everything from here is one transaction: the code's spending, the
        // token's, the session and its device. A racer that spent the token
        // first rolls this back, code and all.
        let mut tx = self.db.begin().await?;
        let db = &*tx;
        // The token's try is taken before the code is looked at, in one
        // statement, so racers cannot get more than five between them.
        if !one_time::take_try(db, row.id, MAX_ATTEMPTS).await? {
            // No code was looked at: the budget's try goes back.
            self.give_back(attempt).await;
            return Err(AppError::InvalidToken);
        }
        // A method the account does not offer is a wrong code, counted as one.
        let right = self.methods_for(&user).contains(&method)
            && match method {
                Method::Totp => self.check_totp(db, &user, code).await?,
                Method::EmailOtp => {
                    codes::spend_mailed(db, &self.crypto, user.id, Purpose::LoginOtp, code, MAX_ATTEMPTS).await?
                }
                Method::RecoveryCode => recovery_codes::spend(db, &self.crypto, user.id, code).await?,
                Method::Passkey => false,
            };
        if !right {
            events::record(db, user.id, EventKind::MfaFailed, client).await?;
            self.wrong_code(&mut tx, &user, attempt, client).await?;
            tx.commit().await?;
            return Err(AppError::InvalidCode);
        }
        one_time::consume(db, mfa_token, Purpose::MfaLogin).await?;
        self.give_back_on_commit(&mut tx, attempt);
        if method == Method::RecoveryCode {
            self.recovery_code_used(&mut tx, &user).await?;
        }
        self.open_login(tx, &row, user, method, client).await
    }

    /// Opens the session of the login `row` (an MFA token spent in `tx`)
    /// that `user` finished with `method`, on the device its password was
    /// given from, and commits `tx`.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn open_login(
        &self,
        mut tx: crate::db::Tx,
        row: &one_time_tokens::Model,
        user: users::Model,
        method: Method,
        client: &ClientInfo,
    ) -> AppResult<AuthBundle> {
        let by_provider = row.payload.as_deref().is_some_and(|p| p.starts_with(PROVIDER_PREFIX));
        let signed_in_by = match (method, by_provider) {
            (Method::Totp, false) => SignInMethod::PasswordAndTotp,
            (Method::Totp, true) => SignInMethod::ProviderAndTotp,
            (Method::EmailOtp, _) => SignInMethod::PasswordAndMailedCode,
            (Method::RecoveryCode, false) => SignInMethod::PasswordAndRecoveryCode,
            (Method::RecoveryCode, true) => SignInMethod::ProviderAndRecoveryCode,
            (Method::Passkey, false) => SignInMethod::PasswordAndPasskey,
            (Method::Passkey, true) => SignInMethod::ProviderAndPasskey,
        };
        if by_provider {
            let (session, refresh_token) = self.sessions.open(&mut tx, &user, client, signed_in_by).await?;
            tx.commit().await?;
            return self.sessions.first_bundle(user, &session, refresh_token).await;
        }
        let device = row
            .payload
            .as_deref()
            .and_then(|p| p.strip_prefix(DEVICE_PREFIX))
            .and_then(|d| Uuid::parse_str(d).ok());
        let opened = self
            .sessions
            .open_on_device(&mut tx, &user, client, signed_in_by, device)
            .await?;
        tx.commit().await?;
        self.sessions.bundle_on_device(user, opened).await
    }
}
