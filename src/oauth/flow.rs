//! The browser flow: an authorization code with PKCE, `state` and `nonce`
//! kept in a sealed cookie (no server-side state, so any instance finishes
//! it), and the one-time login code the client trades for tokens.

use openidconnect::core::CoreResponseType;
use openidconnect::{AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, RedirectUrl, Scope};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::pkce::Challenge;
use super::{OAuth, refused};
use crate::client::ClientInfo;
use crate::entities::users;
use crate::error::{AppError, AppResult};
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
    /// The app's PKCE challenge, stored with the login code.
    #[serde(default)]
    challenge: Option<String>,
}

/// What the app asked for when it sent the browser to `/auth/{provider}`.
#[derive(Default)]
pub struct StartRequest<'a> {
    pub redirect_to: Option<&'a str>,
    /// `code_challenge` and `code_challenge_method` (see `pkce`).
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    /// A link intent from `linkIdentity`.
    pub link: Option<&'a str>,
}

/// A flow refused before it went to the provider: where the browser goes, and why.
pub struct Refused {
    pub target: String,
    pub error: AppError,
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
    /// A link asked for by a signed-in owner: the link code its app
    /// redeems with `completeLinkIdentity`.
    LinkCode(String),
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
    pub(super) fn callback_url(&self, provider: &str) -> AppResult<RedirectUrl> {
        RedirectUrl::new(self.parts().links.public(&format!("/auth/{provider}/callback")))
            .map_err(|e| AppError::internal(format!("callback URL: {e}")))
    }

    /// Where a flow ends without a redirect target of its own: the web app,
    /// or authql's own small page.
    pub fn default_target(&self) -> String {
        self.parts().links.frontend("/oauth/callback")
    }

    /// `redirect_to` if it is under FRONTEND_URL or listed in OAUTH_REDIRECT_URIS.
    pub(super) fn allowed_target(&self, redirect_to: Option<&str>) -> AppResult<String> {
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
    /// `link` (an intent from `linkIdentity`), a link instead. A sign-in
    /// whose code leaves authql (a `redirect_to`, or FRONTEND_URL) needs the
    /// app's S256 challenge; only authql's own outcome page goes without.
    ///
    /// # Errors
    /// `FORBIDDEN` for an unknown provider; `BAD_USER_INPUT` for a target not
    /// allowed, or a missing or `plain` challenge; `SERVICE_UNAVAILABLE` when
    /// the provider cannot be reached. Each with where the browser goes.
    // Nothing of the request is a span field: the provider name and target are the client's words.
    #[tracing::instrument(skip_all)]
    pub async fn start(&self, provider: &str, request: StartRequest<'_>) -> Result<Started, Refused> {
        let refused_early = |error| Refused {
            target: self.default_target(),
            error,
        };
        self.ensure_known(provider).map_err(refused_early)?;
        let target = self.allowed_target(request.redirect_to).map_err(refused_early)?;
        let refuse = |error| Refused {
            target: target.clone(),
            error,
        };
        let app_challenge = Challenge::parse(request.code_challenge, request.code_challenge_method).map_err(refuse)?;
        let leaves_authql = request.redirect_to.is_some_and(|r| !r.is_empty()) || self.parts().links.has_frontend();
        if request.link.is_none() && leaves_authql && app_challenge.is_none() {
            return Err(refuse(AppError::bad_input(
                crate::error::Field::CodeChallenge,
                "a code_challenge (S256) is required when the sign-in ends in an app",
            )));
        }
        self.redirect_to_provider(provider, target.clone(), app_challenge, request.link)
            .await
            .map_err(refuse)
    }

    async fn redirect_to_provider(
        &self,
        provider: &str,
        target: String,
        app_challenge: Option<Challenge>,
        link: Option<&str>,
    ) -> AppResult<Started> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (location, state, nonce) = match self.github(provider) {
            // No ID token, so no nonce.
            Some(github) => {
                let (location, state) = github.authorize_url(self.callback_url(provider)?, challenge)?;
                (location, state, String::new())
            }
            None => self.oidc_authorize_url(provider, challenge).await?,
        };
        let flow = FlowState {
            provider: provider.to_owned(),
            state,
            nonce,
            verifier: verifier.secret().clone(),
            target,
            expires: chrono::Utc::now().timestamp() + FLOW_SECONDS,
            link: link.map(str::to_owned),
            challenge: app_challenge.map(|c| c.as_str().to_owned()),
        };
        let json = serde_json::to_vec(&flow).map_err(|e| AppError::internal(format!("flow state: {e}")))?;
        Ok(Started {
            location,
            cookie: self.parts().crypto.seal(&json, SEAL_PURPOSE)?,
        })
    }

    /// An OpenID Connect provider's authorization address, its `state` and `nonce`.
    async fn oidc_authorize_url(
        &self,
        provider: &str,
        challenge: PkceCodeChallenge,
    ) -> AppResult<(String, String, String)> {
        let p = self.provider(provider)?;
        let client = p
            .client(p.metadata(&self.0.http, false).await?)
            .set_redirect_uri(self.callback_url(provider)?);
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
        Ok((location.to_string(), state.secret().clone(), nonce.secret().clone()))
    }

    /// Finishes a sign-in at the callback: checks `state` against the
    /// cookie, trades the code, verifies the ID token, applies the linking
    /// rules and makes a one-time login code. Never fails as such: a failure
    /// is an outcome the browser is sent to.
    // `provider` comes from the URL path: it is checked before it may reach
    // a span or a log line.
    #[tracing::instrument(skip_all)]
    pub async fn finish(
        &self,
        provider: &str,
        callback: Callback,
        cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Finished {
        if self.ensure_known(provider).is_err() {
            return Finished {
                target: self.default_target(),
                outcome: Err(AppError::Forbidden("no such sign-in provider")),
            };
        }
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
        let claims = match self.github(provider) {
            Some(github) => {
                github
                    .claims(&self.0.http, self.callback_url(provider)?, code, flow.verifier)
                    .await?
            }
            None => self.oidc_claims(provider, code, flow.verifier, flow.nonce).await?,
        };
        if let Some(intent) = &flow.link {
            let code = self.issue_link_code(provider, intent, &claims).await?;
            return Ok(FlowEnd::LinkCode(code));
        }
        let user = self.account_for(provider, &claims, client).await?;
        let code = self
            .issue_login_code(&user, provider, flow.challenge.as_deref())
            .await?;
        Ok(FlowEnd::LoginCode(code))
    }

    /// The login code a provider sign-in of `user` hands the browser, bound
    /// to the app's PKCE `challenge` (as stored in the flow) when it sent one.
    /// It is issued only if the account's security stamp is still the one
    /// `user` was read with (rule 2), so a sign-in that raced an unlink or a
    /// reset gets no code.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` when the stamp moved since `user` was read.
    #[tracing::instrument(skip(self, user, challenge), fields(user = %user.id))]
    pub async fn issue_login_code(
        &self,
        user: &users::Model,
        provider: &str,
        challenge: Option<&str>,
    ) -> AppResult<String> {
        let challenge = challenge.map(Challenge::from_stored);
        let tx = self.parts().db.begin().await?;
        self.parts().sessions.hold_stamp(&tx, user).await?;
        let code = one_time::create_carrying(
            &*tx,
            user.id,
            Purpose::LoginCode,
            Some(super::handover::login_code_payload(provider, challenge.as_ref())),
        )
        .await?;
        tx.commit().await?;
        Ok(code)
    }
}
