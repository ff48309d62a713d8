//! The browser flow: an authorization code with PKCE, `state` and `nonce`
//! kept in a sealed cookie (no server-side state, so any instance finishes
//! it), and the one-time login code the client trades for tokens.

use openidconnect::core::{CoreIdToken, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{OAuth, refused};
use crate::accounts::LoginOutcome;
use crate::client::ClientInfo;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult};
use crate::limits::Limit;
use crate::sessions::SignInMethod;
use crate::tokens::one_time::{self, Purpose};

/// How long a started flow may take, in seconds (the cookie's lifetime).
pub const FLOW_SECONDS: i64 = 600;
const SEAL_PURPOSE: &str = "oauth-flow";

/// What the browser carries between the redirect and the callback.
#[derive(Serialize, Deserialize)]
struct FlowState {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    /// Where the browser goes at the end.
    target: String,
    expires: i64,
    /// A link intent: the flow links the identity to the account that asked, instead of signing in.
    link: Option<String>,
}

/// A started flow: send the browser to `location` with `cookie` set.
pub struct Started {
    pub location: String,
    /// The sealed flow state, for the HttpOnly cookie.
    pub cookie: String,
}

/// How a flow ended well.
pub enum FlowEnd {
    /// A sign-in: the login code to trade with `exchangeLoginCode`.
    LoginCode(String),
    /// A link asked for by a signed-in owner.
    Linked,
}

/// A finished flow: send the browser to `target` with its end or the error.
pub struct Finished {
    pub target: String,
    pub outcome: AppResult<FlowEnd>,
}

/// What the provider sent back to the callback.
#[derive(Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set when the person refused, or the provider failed.
    pub error: Option<String>,
}

impl OAuth {
    /// Where the provider sends the browser back.
    fn callback_url(&self, provider: &str) -> AppResult<RedirectUrl> {
        RedirectUrl::new(self.parts().links.public(&format!("/auth/{provider}/callback")))
            .map_err(|e| AppError::internal(format!("callback URL: {e}")))
    }

    /// Where a flow ends without a redirect target of its own: the web app,
    /// or authql's own small page.
    pub fn default_target(&self) -> String {
        self.parts().links.frontend("/oauth/callback")
    }

    /// `redirect_to` if it is under FRONTEND_URL or listed in OAUTH_REDIRECT_URIS.
    fn allowed_target(&self, redirect_to: Option<&str>) -> AppResult<String> {
        let Some(wanted) = redirect_to.filter(|r| !r.is_empty()) else {
            return Ok(self.default_target());
        };
        let under_frontend = self.parts().links.has_frontend() && {
            let base = self.parts().links.frontend("/");
            url::Url::parse(wanted).is_ok_and(|u| u.as_str().starts_with(&base) || format!("{u}/") == base)
        };
        if under_frontend || self.0.redirect_uris.iter().any(|allowed| allowed == wanted) {
            Ok(wanted.to_owned())
        } else {
            Err(AppError::bad_input(
                crate::error::Field::RedirectTo,
                "not under FRONTEND_URL nor listed in OAUTH_REDIRECT_URIS",
            ))
        }
    }

    /// Starts a sign-in with `provider`, ending at `redirect_to`; with
    /// `link` (an intent from `linkIdentity`), a link instead.
    ///
    /// # Errors
    /// `FORBIDDEN` for an unknown provider; `BAD_USER_INPUT` for a target not
    /// allowed; `SERVICE_UNAVAILABLE` when the provider cannot be reached.
    #[tracing::instrument(skip(self, link))]
    pub async fn start(&self, provider: &str, redirect_to: Option<&str>, link: Option<&str>) -> AppResult<Started> {
        let p = self.provider(provider)?;
        let target = self.allowed_target(redirect_to)?;
        let client = p
            .client(p.metadata(&self.0.http, false).await?)
            .set_redirect_uri(self.callback_url(provider)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &p.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (location, state, nonce) = request.url();
        let flow = FlowState {
            provider: provider.to_owned(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            target,
            expires: chrono::Utc::now().timestamp() + FLOW_SECONDS,
            link: link.map(str::to_owned),
        };
        let json = serde_json::to_vec(&flow).map_err(|e| AppError::internal(format!("flow state: {e}")))?;
        Ok(Started {
            location: location.to_string(),
            cookie: self.parts().crypto.seal(&json, SEAL_PURPOSE)?,
        })
    }

    /// Finishes a sign-in at the callback: checks `state` against the
    /// cookie, trades the code, verifies the ID token, applies the linking
    /// rules and makes a one-time login code. Never fails as such: a failure
    /// is an outcome the browser is sent to.
    #[tracing::instrument(skip_all, fields(provider))]
    pub async fn finish(
        &self,
        provider: &str,
        callback: Callback,
        cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Finished {
        let flow = cookie
            .and_then(|sealed| self.parts().crypto.open(sealed, SEAL_PURPOSE).ok())
            .and_then(|json| serde_json::from_slice::<FlowState>(&json).ok())
            .filter(|f| f.provider == provider && f.expires > chrono::Utc::now().timestamp());
        let target = flow
            .as_ref()
            .map_or_else(|| self.default_target(), |f| f.target.clone());
        let outcome = match flow {
            // No cookie (another browser, an expired flow, a forged link): nothing to finish.
            None => Err(AppError::InvalidToken),
            Some(flow) => self.complete(provider, flow, callback, client).await,
        };
        if let Err(e) = &outcome {
            refused(provider, e, client);
        }
        Finished { target, outcome }
    }

    async fn complete(
        &self,
        provider: &str,
        flow: FlowState,
        callback: Callback,
        client: &ClientInfo,
    ) -> AppResult<FlowEnd> {
        if callback.error.is_some() {
            return Err(AppError::Forbidden("the provider did not sign you in"));
        }
        let state = callback.state.unwrap_or_default();
        if !bool::from(state.as_bytes().ct_eq(flow.state.as_bytes())) {
            return Err(AppError::InvalidToken);
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or(AppError::InvalidToken)?;
        let p = self.provider(provider)?;
        let oidc = p
            .client(p.metadata(&self.0.http, false).await?)
            .set_redirect_uri(self.callback_url(provider)?);
        let response = oidc
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| AppError::Unavailable(format!("provider {provider} has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&self.0.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(_) => AppError::InvalidToken,
                other => AppError::Unavailable(format!("provider {provider} token endpoint: {other}")),
            })?;
        let _ = response.access_token();
        let id_token = response.extra_fields().id_token().ok_or(AppError::InvalidToken)?;
        let claims = p.verify(&self.0.http, id_token, &Nonce::new(flow.nonce), false).await?;
        if let Some(intent) = &flow.link {
            self.link_to_intent(provider, intent, &claims, client).await?;
            return Ok(FlowEnd::Linked);
        }
        let user = self.account_for(provider, &claims, client).await?;
        let code = one_time::create_carrying(
            &self.parts().db.write,
            user.id,
            Purpose::LoginCode,
            Some(provider.to_owned()),
        )
        .await?;
        Ok(FlowEnd::LoginCode(code))
    }

    /// Native sign-in: an app signed the person in with the provider's own
    /// SDK and sends the ID token, checked exactly as at the callback (its
    /// audience may also be one of the provider's allowed app ids; its nonce
    /// is checked when the app sent one). Answers like `login`.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a token that does not verify; `FORBIDDEN` for an
    /// unknown provider, an unverified address or a switched-off account;
    /// `RATE_LIMITED` (counted like logins).
    #[tracing::instrument(skip(self, id_token, nonce, client))]
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
        let claims = match nonce {
            Some(nonce) => {
                p.verify(&self.0.http, &token, &Nonce::new(nonce.to_owned()), true)
                    .await
            }
            None => p.verify(&self.0.http, &token, |_: Option<&Nonce>| Ok(()), true).await,
        };
        let claims = claims.inspect_err(|e| refused(provider, e, client))?;
        let user = self.account_for(provider, &claims, client).await?;
        self.sign_in(user, provider, client).await
    }

    /// Trades a login code (60 s, once) for what a login answers.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for an unknown, spent or expired code; `FORBIDDEN` for
    /// an account switched off meanwhile; `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn exchange_login_code(&self, code: &str, client: &ClientInfo) -> AppResult<LoginOutcome> {
        let parts = self.parts();
        parts.limits.check(Limit::MailedToken, client.ip, None).await?;
        let row = one_time::consume(&parts.db.write, code, Purpose::LoginCode).await?;
        let provider = row.payload.unwrap_or_default();
        let user = reread_from_writer(&parts.db, row.user_id).await.map_err(|e| match e {
            AppError::Unauthenticated => AppError::InvalidToken,
            other => other,
        })?;
        self.sign_in(user, &provider, client).await
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
