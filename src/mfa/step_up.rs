//! Step-up: a signed-in user proves again that they are at the keyboard,
//! so their session may do sensitive things for STEP_UP_WINDOW: with a
//! mailed code (accounts without TOTP) or a TOTP or recovery code (accounts
//! with it, which never step up by mail).

use super::{MAX_ATTEMPTS, Mfa};
use crate::client::ClientInfo;
use crate::error::{AppError, AppResult};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::codes;
use crate::tokens::one_time::Purpose;

impl Mfa {
    /// Mails the caller a six-digit code; the newest code is the one that works.
    ///
    /// # Errors
    /// `FORBIDDEN` for an account with TOTP (it steps up with `verifyStepUp`);
    /// `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all)]
    pub async fn send_step_up_code(&self, caller: &Principal, client: &ClientInfo) -> AppResult<()> {
        if caller.user().totp_enabled_at.is_some() {
            return Err(AppError::Forbidden(
                "accounts with an authenticator app step up with verifyStepUp",
            ));
        }
        self.mail_code(caller.user(), Purpose::StepUpOtp, templates::step_up_code, client)
            .await
    }

    /// Spends a mailed step-up code: the caller's session may do sensitive
    /// things for STEP_UP_WINDOW. A code takes five tries; after five wrong
    /// ones even the right code fails, and a new one must be mailed.
    ///
    /// # Errors
    /// `INVALID_CODE` for a wrong, used or expired code, or one tried five
    /// times; `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all)]
    pub async fn verify_step_up_code(&self, caller: &Principal, code: &str, client: &ClientInfo) -> AppResult<()> {
        let user_id = caller.user().id;
        self.limits
            .check(Limit::Code, client.ip, Some(Key::Owner(user_id)))
            .await?;
        if caller.user().totp_enabled_at.is_some() {
            return Err(AppError::InvalidCode);
        }
        let attempt = self.take_from_budget(user_id, client).await?;
        let mut tx = self.db.begin().await?;
        if !codes::spend_mailed(&*tx, &self.crypto, user_id, Purpose::StepUpOtp, code, MAX_ATTEMPTS).await? {
            // Committed: the try counts although the code was wrong.
            self.wrong_code(&mut tx, caller.user(), attempt, client).await?;
            tx.commit().await?;
            return Err(AppError::InvalidCode);
        }
        self.give_back_on_commit(&mut tx, attempt);
        self.sessions.mark_stepped_up(&mut tx, caller).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Steps up with a TOTP or recovery code, for accounts with TOTP.
    ///
    /// # Errors
    /// `MFA_NOT_ENABLED` without TOTP (use `sendOtp`/`verifyOtp`);
    /// `INVALID_CODE`; `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all)]
    pub async fn verify_step_up(&self, caller: &Principal, code: &str, client: &ClientInfo) -> AppResult<()> {
        self.second_factor(caller.user().id, code, client).await?;
        let mut tx = self.db.begin().await?;
        self.sessions.mark_stepped_up(&mut tx, caller).await?;
        tx.commit().await?;
        Ok(())
    }
}
