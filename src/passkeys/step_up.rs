//! Step-up with a passkey: the signed-in caller proves again that they are
//! at the keyboard with one of their account's passkeys, and their session
//! may do sensitive things for STEP_UP_WINDOW, exactly as after
//! `verifyStepUp` or `verifyOtp`. For every account with a passkey, TOTP or
//! not; the ceremony is bound to the session that started it.

use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

use super::assertion::{self, Verdict};
use super::ceremony::{self, Binding, Kind};
use super::{Passkeys, Started, wire};
use crate::client::ClientInfo;
use crate::entities::users::reread_from_writer;
use crate::error::{AppError, AppResult};
use crate::limits::{Key, Limit};
use crate::sessions::Principal;

impl Passkeys {
    /// Starts a step-up of the caller's session with one of their passkeys.
    /// Counts in the client's PASSWORD bucket.
    ///
    /// # Errors
    /// `FORBIDDEN` when the account has no passkey, or passkeys are off; `RATE_LIMITED`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn start_step_up(&self, caller: &Principal, client: &ClientInfo) -> AppResult<Started> {
        let webauthn = self.webauthn()?;
        let parts = self.parts();
        parts.limits.check(Limit::Password, client.ip, None).await?;
        let user = caller.user();
        let own = self.credential_ids(user.id).await?;
        if own.is_empty() {
            return Err(AppError::Forbidden(
                "this account has no passkey: step up with verifyStepUp or sendOtp and verifyOtp",
            ));
        }
        let (rcr, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| AppError::internal(format!("passkey step-up start: {e}")))?;
        let options = wire::request_options(&rcr, Some(&own))?;
        let binding = Binding {
            user_id: Some(user.id),
            session_id: Some(caller.session().id),
            stamp: Some(user.security_stamp),
        };
        let id = ceremony::create(parts.db.writer(), Kind::StepUp, binding, &state).await?;
        Ok(Started { id, options })
    }

    /// Finishes a step-up with the authenticator's answer, which must come
    /// from one of the caller's passkeys; only the session that started the
    /// ceremony may finish it, and only while the account's credentials are
    /// as they were. A failure counts per client and per passkey.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a ceremony that is not this session's, spent,
    /// expired, or started before a change of credentials;
    /// `INVALID_CREDENTIALS` for an answer that does not verify;
    /// `BAD_USER_INPUT` on `credential` for one that is not an answer;
    /// `RATE_LIMITED`; `FORBIDDEN` when passkeys are off.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn finish_step_up(
        &self,
        caller: &Principal,
        ceremony_id: &str,
        credential: serde_json::Value,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.webauthn()?;
        let parts = self.parts();
        let answer: PublicKeyCredential = wire::answer(credential)?;
        let (user_id, session_id) = (caller.user().id, caller.session().id);
        let (row, state): (_, DiscoverableAuthentication) =
            ceremony::spend(parts.db.writer(), ceremony_id, &[Kind::StepUp], |row| {
                row.user_id == Some(user_id) && row.session_id == Some(session_id)
            })
            .await?;
        let user = reread_from_writer(&parts.db, user_id).await?;
        if row.stamp != Some(user.security_stamp) {
            return Err(AppError::InvalidToken);
        }
        let found = assertion::find(parts.db.writer(), &answer).await?;
        // The caller's own bucket, which only its sessions spend: never one
        // keyed by the passkey an answer names, since ids are public.
        let taken = parts
            .limits
            .take(Limit::Password, client.ip, Some(Key::Owner(user_id)))
            .await?;
        let Some(passkey) = found.filter(|p| p.user_id == user_id) else {
            return Err(AppError::InvalidCredentials);
        };
        let verified = match self.verify(&answer, state, &passkey)? {
            Verdict::Verified(verified) => verified,
            Verdict::Cloned => {
                self.cloned(&user, &passkey, client).await?;
                return Err(AppError::InvalidCredentials);
            }
            Verdict::Refused => return Err(AppError::InvalidCredentials),
        };
        let mut tx = parts.db.begin().await?;
        if !assertion::record_use(&*tx, &passkey, &verified).await? {
            return Err(AppError::InvalidCredentials);
        }
        parts.sessions.mark_stepped_up(&mut tx, caller).await?;
        tx.commit().await?;
        parts.limits.give_back(taken).await;
        Ok(())
    }
}
