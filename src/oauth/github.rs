//! GitHub, which speaks OAuth 2 but not OpenID Connect: the code is traded
//! for an access token (with PKCE), and the person comes from its user and
//! emails APIs. Only the verified primary address counts.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use serde::Deserialize;

use super::provider::ProviderClaims;
use crate::config::oauth::GitHubConfig;
use crate::error::{AppError, AppResult};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// GitHub (or GitHub Enterprise), as configured.
pub struct GitHub {
    pub config: GitHubConfig,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHub {
    fn client(&self, redirect: RedirectUrl) -> AppResult<Client> {
        let base = self.config.auth_url.as_str().trim_end_matches('/');
        let url_error = |e: url::ParseError| AppError::internal(format!("GitHub URL: {e}"));
        Ok(BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.expose().to_owned()))
            .set_auth_uri(AuthUrl::new(format!("{base}/login/oauth/authorize")).map_err(url_error)?)
            .set_token_uri(TokenUrl::new(format!("{base}/login/oauth/access_token")).map_err(url_error)?)
            .set_redirect_uri(redirect))
    }

    /// The address that asks GitHub to sign the person in; returns it with its `state`.
    ///
    /// # Errors
    /// Only for a malformed GITHUB_AUTH_URL.
    pub fn authorize_url(&self, redirect: RedirectUrl, challenge: PkceCodeChallenge) -> AppResult<(String, String)> {
        let (url, state) = self
            .client(redirect)?
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".to_owned()))
            .add_scope(Scope::new("user:email".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Trades `code` for an access token and reads who signed in.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a code GitHub refuses; `SERVICE_UNAVAILABLE` when
    /// GitHub cannot be reached or answers nonsense.
    pub async fn claims(
        &self,
        http: &reqwest::Client,
        redirect: RedirectUrl,
        code: String,
        verifier: String,
    ) -> AppResult<ProviderClaims> {
        let token = self
            .client(redirect)?
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(http)
            .await
            .map_err(|e| match e {
                // GitHub answers a bad code with 200 and an `error` body, which does not parse as a token.
                RequestTokenError::ServerResponse(_) | RequestTokenError::Parse(..) => AppError::InvalidToken,
                other => AppError::Unavailable(format!("GitHub token endpoint: {other}")),
            })?;
        let access = token.access_token().secret();
        let user: GitHubUser = self.api(http, "/user", access).await?;
        let emails: Vec<GitHubEmail> = self.api(http, "/user/emails", access).await?;
        let primary = emails.into_iter().find(|e| e.primary);
        Ok(ProviderClaims {
            subject: user.id.to_string(),
            email_verified: primary.as_ref().is_some_and(|e| e.verified),
            email: primary.map(|e| e.email),
            expires_at: None,
        })
    }

    async fn api<T: serde::de::DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        path: &str,
        access: &str,
    ) -> AppResult<T> {
        let url = format!("{}{path}", self.config.api_url.as_str().trim_end_matches('/'));
        let unavailable = |e: reqwest::Error| AppError::Unavailable(format!("GitHub API {path}: {e}"));
        http.get(url)
            .bearer_auth(access)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "authql")
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)
    }
}
