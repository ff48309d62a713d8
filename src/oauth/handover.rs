//! How a verified provider sign-in becomes a session: trading the browser
//! flow's login code, and native apps' ID tokens.

use openidconnect::Nonce;
use openidconnect::core::CoreIdToken;

use super::pkce::Challenge;
use super::{OAuth, refused, replay};
use crate::accounts::LoginOutcome;
use crate::client::ClientInfo;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult};
use crate::limits::Limit;
use crate::sessions::SignInMethod;
use crate::tokens::one_time::{self, Purpose};

impl OAuth {
    /// Native sign-in: an app signed the person in with the provider's own
    /// SDK and sends the ID token, checked exactly as at the callback (its
    /// audience may also be one of the provider's allowed app ids; its nonce
    /// is checked when the app sent one, and must be sent where the provider's
    /// settings require it). Each token signs in once. Answers like `login`.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a token that does not verify, lacks a required
    /// nonce or was used before; `FORBIDDEN` for an
    /// unknown provider, an unverified address or a switched-off account;
    /// `RATE_LIMITED` (counted like logins).
    #[tracing::instrument(skip_all)] // `provider` is a client-chosen string
    pub async fn sign_in_with_id_token(
        &self,
        provider: &str,
        id_token: &str,
        nonce: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        self.parts().limits.check(Limit::Password, client.ip, None).await?;
        let p = self.provider(provider)?;
        if id_token.len() > 16 * 1024 {
            return Err(AppError::InvalidToken);
        }
        let token: CoreIdToken = id_token.parse().map_err(|_| AppError::InvalidToken)?;
        if p.config.require_nonce && nonce.is_none_or(str::is_empty) {
            let refusal = AppError::InvalidToken;
            refused(provider, &refusal, client);
            return Err(refusal);
        }
        let claims = match nonce {
            Some(nonce) => {
                p.verify(&self.0.http, &token, &Nonce::new(nonce.to_owned()), true)
                    .await
            }
            None => p.verify(&self.0.http, &token, |_: Option<&Nonce>| Ok(()), true).await,
        };
        let claims = claims.inspect_err(|e| refused(provider, e, client))?;
        // Spent before anything it says is acted on: of two uses of one
        // token, one signs in, and a replay links or creates nothing.
        let expires_at = claims.expires_at.ok_or(AppError::InvalidToken)?;
        replay::spend(self.parts().db.writer(), replay::key(provider, id_token), expires_at)
            .await
            .inspect_err(|e| refused(provider, e, client))?;
        let user = self.account_for(provider, &claims, client).await?;
        self.sign_in(user, provider, client).await
    }

    /// Trades a login code (60 s, once) for what a login answers, with the
    /// PKCE verifier of the challenge it was issued with. The code is spent
    /// by any attempt, right or wrong: one that reached someone without the
    /// verifier is treated as compromised, and the app starts over.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for an unknown, spent or expired code, or a missing or
    /// wrong verifier; `FORBIDDEN` for an account switched off meanwhile;
    /// `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn exchange_login_code(
        &self,
        code: &str,
        verifier: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let parts = self.parts();
        parts.limits.check(Limit::MailedToken, client.ip, None).await?;
        let row = one_time::consume(parts.db.writer(), code, Purpose::LoginCode).await?;
        let payload = row.payload.unwrap_or_default();
        let (provider, challenge) = match payload.split_once(' ') {
            Some((provider, challenge)) => (provider, Some(Challenge::from_stored(challenge))),
            None => (payload.as_str(), None),
        };
        if let Some(challenge) = challenge
            && !verifier.is_some_and(|v| challenge.is_met_by(v))
        {
            let refusal = AppError::InvalidToken;
            refused(provider, &refusal, client);
            return Err(refusal);
        }
        let user = reread_from_writer(&parts.db, row.user_id).await.map_err(|e| match e {
            AppError::Unauthenticated => AppError::InvalidToken,
            other => other,
        })?;
        self.sign_in(user, provider, client).await
    }

    /// Signs in `user`, vouched for by `provider`: a session, or the second
    /// step for an account with TOTP.
    async fn sign_in(&self, user: users::Model, provider: &str, client: &ClientInfo) -> AppResult<LoginOutcome> {
        if !user.active {
            return Err(AppError::Forbidden("this account is disabled"));
        }
        if let Some(challenge) = self.parts().mfa.second_step_after_provider(&user, provider).await? {
            return Ok(LoginOutcome::MfaRequired(challenge));
        }
        let bundle = self
            .parts()
            .sessions
            .start(user, client, SignInMethod::Provider)
            .await?;
        Ok(LoginOutcome::SignedIn(Box::new(bundle)))
    }
}

/// What a login code carries: the provider that signed the person in, and
/// the app's PKCE challenge if there was one (`provider challenge`: a
/// provider's name has no space, and the two fit the 255 characters of
/// `one_time_tokens.payload`, as names are at most 64).
pub(super) fn login_code_payload(provider: &str, challenge: Option<&Challenge>) -> String {
    match challenge {
        Some(challenge) => format!("{provider} {}", challenge.as_str()),
        None => provider.to_owned(),
    }
}
