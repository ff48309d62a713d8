//! A passkey as the second factor of a login whose password (or provider)
//! was right: the ceremony lists that account's passkeys only and is bound
//! to the login's MFA token; its answer counts as `verifyMfa`'s codes do
//! (the token's tries, the account's SECOND_FACTOR budget, see
//! `mfa::passkey_step`), and the session it opens is that login's.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

use super::assertion::{self, Verdict};
use super::ceremony::{self, Binding, Kind};
use super::{Passkeys, Started, wire};
use crate::client::ClientInfo;
use crate::entities::passkey_ceremonies;
use crate::error::{AppError, AppResult, Field};
use crate::sessions::AuthBundle;

/// What a second-factor ceremony keeps between its start and its finish.
#[derive(Serialize, Deserialize)]
pub(super) struct SecondFactorState {
    webauthn: DiscoverableAuthentication,
    /// The row of the login's MFA token.
    login: Uuid,
}

impl Passkeys {
    /// Starts the second factor of the login waiting behind `mfa_token`.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a token that is not live; `BAD_USER_INPUT` on
    /// `mfaToken` when the account has no passkey; `FORBIDDEN` for an
    /// account switched off.
    pub(super) async fn start_second_factor(&self, mfa_token: &str) -> AppResult<Started> {
        let parts = self.parts();
        let login = parts.mfa.pending_login(mfa_token).await?;
        let own = self.credential_ids(login.user.id).await?;
        if own.is_empty() {
            return Err(AppError::bad_input(
                Field::MfaToken,
                "this login continues with a code (verifyMfa): the account has no passkey",
            ));
        }
        let (rcr, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| AppError::internal(format!("passkey second factor start: {e}")))?;
        let options = wire::request_options(&rcr, Some(&own))?;
        let binding = Binding {
            user_id: Some(login.user.id),
            session_id: None,
            stamp: Some(login.user.security_stamp),
        };
        let state = SecondFactorState {
            webauthn: state,
            login: login.token_id,
        };
        let id = ceremony::create(parts.db.writer(), Kind::SecondFactor, binding, &state).await?;
        Ok(Started { id, options })
    }

    /// Finishes the login of second-factor ceremony `row` with `answer`,
    /// which must come from one of that account's passkeys. The login's try
    /// is taken before the answer is looked at; a refused answer keeps it
    /// spent, as a wrong code does.
    ///
    /// # Errors
    /// `INVALID_TOKEN` when the login is over (spent, expired, stale, out of
    /// tries); `INVALID_CREDENTIALS` for an answer that does not verify;
    /// `RATE_LIMITED`; `FORBIDDEN` for an account switched off meanwhile.
    pub(super) async fn finish_second_factor(
        &self,
        row: &passkey_ceremonies::Model,
        state: SecondFactorState,
        answer: &PublicKeyCredential,
        client: &ClientInfo,
    ) -> AppResult<AuthBundle> {
        let parts = self.parts();
        let user_id = row.user_id.ok_or(AppError::InvalidToken)?;
        // The MFA token is stamped too: a change of credentials since the start ends both.
        let attempt = parts.mfa.begin_passkey_try(state.login, user_id, client).await?;
        let found = assertion::find(&**attempt.tx(), answer)
            .await?
            .filter(|p| p.user_id == user_id);
        let verdict = match &found {
            Some(passkey) => self.verify(answer, state.webauthn, passkey)?,
            None => Verdict::Refused,
        };
        match (verdict, found) {
            (Verdict::Verified(verified), Some(passkey)) => {
                if assertion::record_use(&**attempt.tx(), &passkey, &verified).await? {
                    return parts.mfa.passkey_accepted(attempt, client).await;
                }
                parts.mfa.passkey_refused(attempt, client).await?;
            }
            (Verdict::Cloned, Some(passkey)) => {
                let user = attempt.user().clone();
                parts.mfa.passkey_refused(attempt, client).await?;
                self.cloned(&user, &passkey, client).await?;
            }
            _ => parts.mfa.passkey_refused(attempt, client).await?,
        }
        Err(AppError::InvalidCredentials)
    }
}
