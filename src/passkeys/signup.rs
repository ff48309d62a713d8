//! The passkey of a sign-up without a password: the ceremony that makes
//! it, carrying the sign-up between its start and its finish. The account
//! itself is `accounts`' to make (the same path as a sign-up with a
//! password), with the verified passkey [`super::store::attach`]ed in its
//! transaction.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::ceremony::{self, Binding, Kind};
use super::store::NewPasskey;
use super::{Passkeys, Started, wire};
use crate::error::{AppError, AppResult};

/// What a sign-up ceremony keeps between its start and its finish.
#[derive(Serialize, Deserialize)]
struct SignupState<T> {
    webauthn: PasskeyRegistration,
    /// The user handle the authenticator stores: a new account's id.
    handle: Uuid,
    /// The sign-up, as `accounts` checked it.
    pending: T,
}

/// A sign-up whose passkey verified.
pub struct SignedUp<T> {
    /// The id a new account takes (its passkey's user handle).
    pub handle: Uuid,
    pub pending: T,
    pub passkey: NewPasskey,
}

impl Passkeys {
    /// Starts the passkey of a sign-up for `email`, keeping `pending` (the
    /// checked sign-up) until its finish. The options are the same whether
    /// or not an account has the address: a new user handle each time, and
    /// no passkey of anyone's excluded.
    ///
    /// # Errors
    /// `FORBIDDEN` when passkeys are off.
    #[tracing::instrument(skip_all)]
    pub async fn start_signup(
        &self,
        email: &str,
        display_name: Option<&str>,
        pending: &impl Serialize,
    ) -> AppResult<Started> {
        let webauthn = self.webauthn()?;
        let handle = Uuid::new_v4();
        let (ccr, state) = webauthn
            .start_passkey_registration(handle, email, display_name.unwrap_or(email), None)
            .map_err(|e| AppError::internal(format!("passkey sign-up start: {e}")))?;
        let options = wire::creation_options(&ccr, self.attestation())?;
        let binding = Binding {
            user_id: None,
            session_id: None,
            stamp: None,
        };
        let state = SignupState {
            webauthn: state,
            handle,
            pending,
        };
        let id = ceremony::create(self.parts().db.writer(), Kind::Signup, binding, &state).await?;
        Ok(Started { id, options })
    }

    /// Spends sign-up ceremony `ceremony_id` and verifies the
    /// authenticator's answer; the sign-up it carried and the passkey, to
    /// store with the account.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a ceremony that is spent, expired or not a
    /// sign-up's; `BAD_USER_INPUT` on `credential` for an answer that does
    /// not verify; `FORBIDDEN` when passkeys are off.
    #[tracing::instrument(skip_all)]
    pub async fn finish_signup<T: DeserializeOwned>(
        &self,
        ceremony_id: &str,
        credential: serde_json::Value,
    ) -> AppResult<SignedUp<T>> {
        self.webauthn()?;
        let answer: RegisterPublicKeyCredential = wire::answer(credential)?;
        let (_, state): (_, SignupState<T>) =
            ceremony::spend(self.parts().db.writer(), ceremony_id, &[Kind::Signup], |_| true).await?;
        let passkey = self.verified(&answer, &state.webauthn, None)?;
        Ok(SignedUp {
            handle: state.handle,
            pending: state.pending,
            passkey,
        })
    }
}
