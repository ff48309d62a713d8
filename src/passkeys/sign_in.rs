//! Signing in with a passkey: discoverable (no email: empty
//! allowCredentials, so browsers offer their passkeys, autofill included)
//! or for a named email (that account's passkeys; an unknown email gets
//! stable decoys, so the options tell nothing). A verified assertion is two
//! factors and opens a session through `Sessions::open`, like every way in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

use super::assertion::{self, Verdict};
use super::ceremony::{self, Binding, Kind};
use super::{Passkeys, Started, wire};
use crate::client::ClientInfo;
use crate::entities::{passkeys, users};
use crate::error::{AppError, AppResult, Field};
use crate::limits::Limit;
use crate::sessions::{AuthBundle, SignInMethod};

impl Passkeys {
    /// Starts a sign-in: discoverable without `email`, else limited to the
    /// passkeys of the account with that (normalised) address; or, with
    /// `mfa_token`, the second factor of that login. Counts in the client's
    /// PASSWORD bucket.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `mfaToken` with an email too, or for a login of an
    /// account without a passkey; `INVALID_TOKEN` for an MFA token that is
    /// not live; `FORBIDDEN` when passkeys are off; `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn start_sign_in(
        &self,
        email: Option<&str>,
        mfa_token: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let webauthn = self.webauthn()?;
        let parts = self.parts();
        parts.limits.check(Limit::Password, client.ip, None).await?;
        if let Some(mfa_token) = mfa_token {
            if email.is_some() {
                return Err(AppError::bad_input(
                    Field::MfaToken,
                    "give either an email or an mfaToken, not both",
                ));
            }
            return self.start_second_factor(mfa_token).await;
        }
        let (rcr, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| AppError::internal(format!("passkey sign-in start: {e}")))?;
        let Some(email) = email else {
            let options = wire::request_options(&rcr, None)?;
            let binding = Binding {
                user_id: None,
                session_id: None,
                stamp: None,
            };
            let id = ceremony::create(parts.db.writer(), Kind::SignIn, binding, &state).await?;
            return Ok(Started { id, options });
        };
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&parts.db.read)
            .await?;
        let own = match &user {
            Some(user) => self.credential_ids(user.id).await?,
            None => Vec::new(),
        };
        // An account without passkeys gets decoys too, or the options would tell it exists.
        let allowed = if own.is_empty() { self.decoys(email)? } else { own };
        let options = wire::request_options(&rcr, Some(&allowed))?;
        let binding = Binding {
            user_id: user.as_ref().map(|u| u.id),
            session_id: None,
            stamp: user.as_ref().map(|u| u.security_stamp),
        };
        let id = ceremony::create(parts.db.writer(), Kind::SignInNamed, binding, &state).await?;
        Ok(Started { id, options })
    }

    /// The credential ids of `user_id`'s passkeys, oldest first, as `allowCredentials` lists them.
    pub(super) async fn credential_ids(&self, user_id: uuid::Uuid) -> AppResult<Vec<String>> {
        Ok(passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user_id))
            .order_by_asc(passkeys::Column::CreatedAt)
            .all(&self.parts().db.read)
            .await?
            .into_iter()
            .map(|p| p.credential_id)
            .collect())
    }

    /// Credential ids that look like an account's and are the same every
    /// time for `email`, unguessable without the master key.
    fn decoys(&self, email: &str) -> AppResult<Vec<String>> {
        let key = self.parts().crypto.code_hash("passkey-decoys", "");
        let generator = WebauthnFakeCredentialGenerator::<FakePasskeyDistribution>::new(key.as_bytes())
            .map_err(|e| AppError::internal(format!("passkey decoys: {e}")))?;
        let ids = generator
            .generate(email.as_bytes())
            .map_err(|e| AppError::internal(format!("passkey decoys: {e}")))?;
        Ok(ids.iter().map(|id| URL_SAFE_NO_PAD.encode(id)).collect())
    }

    /// Finishes a sign-in with the authenticator's answer: the passkey must
    /// be registered (to the named account, for a sign-in that named one),
    /// answer the ceremony's challenge for authql's RP ID from one of its
    /// origins, with user verification, and a signature counter that did not
    /// go back. A failure counts per client, never per passkey or in the
    /// account's bucket. Nothing is written on a failure but the spent
    /// ceremony (and, for a counter that went back, the event and the mail).
    /// A ceremony of a login's second factor finishes that login
    /// ([`Passkeys::finish_second_factor`]).
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a ceremony that is spent, expired, of another
    /// kind, or started before the account's credentials changed;
    /// `INVALID_CREDENTIALS` for an answer that does not verify;
    /// `BAD_USER_INPUT` on `credential` for one that is not an answer;
    /// `FORBIDDEN` for a switched-off account; `EMAIL_NOT_CONFIRMED`; `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn finish_sign_in(
        &self,
        ceremony_id: &str,
        credential: serde_json::Value,
        client: &ClientInfo,
    ) -> AppResult<AuthBundle> {
        self.webauthn()?;
        let parts = self.parts();
        let answer: PublicKeyCredential = wire::answer(credential)?;
        let (row, state): (_, serde_json::Value) = ceremony::spend(
            parts.db.writer(),
            ceremony_id,
            &[Kind::SignIn, Kind::SignInNamed, Kind::SecondFactor],
            |_| true,
        )
        .await?;
        if ceremony::is(&row, Kind::SecondFactor) {
            return self
                .finish_second_factor(&row, ceremony::state(state)?, &answer, client)
                .await;
        }
        let state: DiscoverableAuthentication = ceremony::state(state)?;
        let found = assertion::find(parts.db.writer(), &answer).await?;
        // Per client only: credential ids are public and an assertion cannot
        // be guessed, so a bucket per passkey would only let strangers lock
        // its owner out (and tell a real id from a decoy by which runs out).
        let taken = parts.limits.take(Limit::Password, client.ip, None).await?;
        let Some(passkey) = found else {
            return Err(AppError::InvalidCredentials);
        };
        if ceremony::is(&row, Kind::SignInNamed) && row.user_id != Some(passkey.user_id) {
            return Err(AppError::InvalidCredentials);
        }
        let user = users::Entity::find_by_id(passkey.user_id)
            .one(parts.db.writer())
            .await?
            .ok_or(AppError::InvalidCredentials)?;
        if row.stamp.is_some_and(|stamp| stamp != user.security_stamp) {
            return Err(AppError::InvalidToken);
        }
        let verified = match self.verify(&answer, state, &passkey)? {
            Verdict::Verified(verified) => verified,
            Verdict::Cloned => {
                self.cloned(&user, &passkey, client).await?;
                return Err(AppError::InvalidCredentials);
            }
            Verdict::Refused => return Err(AppError::InvalidCredentials),
        };
        if !user.active {
            return Err(AppError::Forbidden("this account is disabled"));
        }
        if parts.require_confirmation && user.email_verified_at.is_none() {
            return Err(AppError::EmailNotConfirmed);
        }
        let mut tx = parts.db.begin().await?;
        if !assertion::record_use(&*tx, &passkey, &verified).await? {
            return Err(AppError::InvalidCredentials);
        }
        let (session, refresh) = parts
            .sessions
            .open(&mut tx, &user, client, SignInMethod::Passkey)
            .await?;
        tx.commit().await?;
        parts.limits.give_back(taken).await;
        parts.sessions.first_bundle(user, &session, refresh).await
    }
}
