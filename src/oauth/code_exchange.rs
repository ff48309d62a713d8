//! The browser flow's back channel with an OpenID Connect provider: the
//! authorization code traded for tokens, the ID token verified, and the
//! address read from UserInfo where the ID token has none.

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{
    AuthorizationCode, Nonce, OAuth2TokenResponse as _, PkceCodeVerifier, RequestTokenError, SubjectIdentifier,
};

use super::OAuth;
use super::provider::ProviderClaims;
use crate::error::{AppError, AppResult};

impl OAuth {
    /// Trades `code` at an OpenID Connect provider and verifies the ID token it answers with.
    pub(super) async fn oidc_claims(
        &self,
        provider: &str,
        code: String,
        verifier: String,
        nonce: String,
    ) -> AppResult<ProviderClaims> {
        let p = self.provider(provider)?;
        let oidc = p
            .client(p.metadata(&self.0.http, false).await?)
            .set_redirect_uri(self.callback_url(provider)?);
        let response = oidc
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| AppError::Unavailable(format!("provider {provider} has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.0.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(_) => AppError::InvalidToken,
                other => AppError::Unavailable(format!("provider {provider} token endpoint: {other}")),
            })?;
        let id_token = response.extra_fields().id_token().ok_or(AppError::InvalidToken)?;
        let mut claims = p.verify(&self.0.http, id_token, &Nonce::new(nonce), false).await?;
        if claims.email.is_none() {
            // Many providers give the address from UserInfo rather than in the ID
            // token; the library checks UserInfo speaks of the same subject.
            let subject = Some(SubjectIdentifier::new(claims.subject.clone()));
            let info: Result<CoreUserInfoClaims, String> =
                match oidc.user_info(response.access_token().clone(), subject) {
                    Ok(request) => request.request_async(&self.0.http).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
            match info {
                Ok(info) => {
                    claims.email = info.email().map(|e| e.as_str().to_owned());
                    claims.email_verified = info.email_verified().unwrap_or(false);
                }
                Err(error) => tracing::info!(provider, %error, "UserInfo not read"),
            }
        }
        Ok(claims)
    }
}
