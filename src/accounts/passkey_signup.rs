//! Sign-up with a passkey and no password: the checks of a sign-up at the
//! start (before anyone touches an authenticator), its ceremony, and at the
//! finish the one sign-up path (`signup.rs`) with the passkey as the
//! account's credential. Confirmation, a taken address, an unconfirmed one
//! started over: all exactly as for a password.

use super::signup::{Credential, Pending, Profile, SignupOutcome};
use super::{Accounts, Email};
use crate::client::ClientInfo;
use crate::error::{AppError, AppResult, Field};
use crate::passkeys::{SignedUp, Started};

/// A passkey sign-up as given by the client; the email is already parsed.
pub struct NewPasskeyAccount {
    pub email: Email,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

/// What a passkey sign-up's ceremony carries from its start to its finish.
#[derive(serde::Serialize, serde::Deserialize)]
struct Carried {
    email: String,
    profile: Profile,
}

impl Accounts {
    /// Checks a passkey sign-up as `signup` checks one (but the password) and
    /// starts its passkey's ceremony. The answer is the same whether or not
    /// the address is taken.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for invalid fields or a taken username or phone
    /// number; `RATE_LIMITED`; `FORBIDDEN` when passkeys are off.
    #[tracing::instrument(skip_all)]
    pub async fn start_passkey_signup(&self, input: NewPasskeyAccount, client: &ClientInfo) -> AppResult<Started> {
        if !self.passkeys.enabled() {
            return Err(AppError::Forbidden(
                "passkeys are off on this server (it has no WebAuthn relying party)",
            ));
        }
        let raw = Profile {
            username: input.username,
            display_name: input.display_name,
            first_name: input.first_name,
            last_name: input.last_name,
            phone: input.phone_number,
        };
        let profile = self.check_profile(raw, client).await?;
        self.check_free(&input.email, &profile, "passkey", client).await?;
        let display = profile.display_name.clone();
        let carried = Carried {
            email: input.email.as_str().to_owned(),
            profile,
        };
        self.passkeys
            .start_signup(input.email.as_str(), display.as_deref(), &carried)
            .await
    }

    /// Finishes a passkey sign-up with the authenticator's answer: the
    /// account is made (or the taken address handled) as `signup` does,
    /// with the passkey as its only credential.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a ceremony that is spent, expired or not a
    /// sign-up's; `BAD_USER_INPUT` on `credential` for an answer that does
    /// not verify, or on a username or phone number taken meanwhile;
    /// `EMAIL_TAKEN` only when confirmation is off.
    #[tracing::instrument(skip_all)]
    pub async fn finish_passkey_signup(
        &self,
        ceremony_id: &str,
        credential: serde_json::Value,
        client: &ClientInfo,
    ) -> AppResult<SignupOutcome> {
        let SignedUp {
            handle,
            pending: carried,
            passkey,
        } = self.passkeys.finish_signup::<Carried>(ceremony_id, credential).await?;
        // Refused before the address is looked at, so that a sign-up naming
        // an id registered already answers alike for a taken and a free one.
        if passkey.is_registered(self.db.writer()).await? {
            return Err(AppError::bad_input(
                Field::Credential,
                "this passkey is already registered",
            ));
        }
        let email = Email::parse(Field::Email, &carried.email)?;
        let mail = self.daily_mail_left(&email).await;
        let pending = Pending {
            profile: carried.profile,
            credential: Credential::Passkey(handle, Box::new(passkey)),
            mail,
        };
        self.create(&email, pending, client).await
    }
}
