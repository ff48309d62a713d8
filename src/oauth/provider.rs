//! One OpenID Connect provider: its discovery document and keys, fetched
//! once and cached, refetched when an ID token names an unknown key (at most
//! once a minute), and the checks every ID token passes.

use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, NonceVerifier, SignatureVerificationError,
};
use tokio::sync::RwLock;

use crate::config::oauth::ProviderConfig;
use crate::error::{AppError, AppResult};

/// Keys are refetched for an unknown `kid` at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// How far ahead of ours a provider's clock may be: an ID token issued
/// later than this from now is refused (openidconnect accepts any `iat`).
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Only signatures with a private key count: HS* would let anyone holding
/// the public key (or the client secret) sign, and `none` signs nothing.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
];

/// What authql takes from a verified ID token.
#[derive(Debug)]
pub struct ProviderClaims {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// When the ID token expires (`exp`); none without one (GitHub).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A configured provider and what it published.
pub struct Provider {
    pub config: ProviderConfig,
    metadata: RwLock<Option<CoreProviderMetadata>>,
    /// When the keys were last refetched for an unknown `kid`.
    refetched: std::sync::Mutex<Option<Instant>>,
}

impl Provider {
    /// A provider whose discovery document is fetched on first use.
    pub fn new(config: ProviderConfig) -> Self {
        Self {
            config,
            metadata: RwLock::new(None),
            refetched: std::sync::Mutex::new(None),
        }
    }

    /// The discovery document (with its keys); `refetch` asks for a fresh
    /// one, granted at most once per [`REFETCH_AFTER`].
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the provider cannot be reached in time or answers nonsense.
    pub async fn metadata(&self, http: &reqwest::Client, refetch: bool) -> AppResult<CoreProviderMetadata> {
        let refetch = refetch && self.may_refetch();
        if let Some(metadata) = self.metadata.read().await.as_ref()
            && !refetch
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.as_str().trim_end_matches('/').to_owned())
            .map_err(|e| AppError::internal(format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| AppError::Unavailable(format!("provider {} discovery: {e}", self.config.name)))?;
        *self.metadata.write().await = Some(metadata.clone());
        Ok(metadata)
    }

    /// Whether a refetch for an unknown `kid` may happen now; notes it if so.
    fn may_refetch(&self) -> bool {
        let Ok(mut last) = self.refetched.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// A client for `metadata`.
    pub fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.expose().to_owned())),
        )
    }

    /// Checks `token`: signature against the provider's keys, `iss`, `aud`
    /// (our client id, or with `native` one of the allowed app ids too),
    /// `azp`, `exp` and `iat`, and the nonce. An unknown `kid` refetches the
    /// keys once.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a token that does not verify; `SERVICE_UNAVAILABLE`
    /// when the provider cannot be reached.
    pub async fn verify<N: NonceVerifier + Clone>(
        &self,
        http: &reqwest::Client,
        token: &CoreIdToken,
        nonce: N,
        native: bool,
    ) -> AppResult<ProviderClaims> {
        let mut refetch = false;
        loop {
            let client = self.client(self.metadata(http, refetch).await?);
            // A native app's token is for the app's own client id: any one of
            // ours will do, and every audience it names must be one of ours.
            let extra = if native {
                self.config.extra_audiences.clone()
            } else {
                Vec::new()
            };
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS)
                .require_audience_match(!native)
                .set_other_audience_verifier_fn(move |aud| extra.iter().any(|a| a == aud.as_str()))
                .set_issue_time_verifier_fn(issued_by_now);
            match token.claims(&verifier, nonce.clone()) {
                Ok(claims) => {
                    // With the library's audience match off (native), every
                    // audience and the authorized party must be one of ours.
                    let ours = |aud: &str| {
                        aud == self.config.client_id || self.config.extra_audiences.iter().any(|a| a == aud)
                    };
                    let audiences_ours =
                        !claims.audiences().is_empty() && claims.audiences().iter().all(|a| ours(a.as_str()));
                    let party_ours = claims.authorized_party().is_none_or(|azp| ours(azp.as_str()));
                    if native && !(audiences_ours && party_ours) {
                        tracing::info!(provider = %self.config.name, "ID token refused: issued for another client");
                        return Err(AppError::InvalidToken);
                    }
                    return Ok(ProviderClaims {
                        subject: claims.subject().as_str().to_owned(),
                        email: claims.email().map(|e| e.as_str().to_owned()),
                        email_verified: claims.email_verified().unwrap_or(false),
                        expires_at: Some(claims.expiration()),
                    });
                }
                Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey))
                    if !refetch =>
                {
                    refetch = true;
                }
                Err(e) => {
                    tracing::info!(provider = %self.config.name, error = %e, "ID token refused");
                    return Err(AppError::InvalidToken);
                }
            }
        }
    }
}

/// Refuses an `iat` in the future beyond [`CLOCK_SKEW`].
fn issued_by_now(iat: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    if iat > chrono::Utc::now() + CLOCK_SKEW {
        Err(format!("issued in the future ({iat})"))
    } else {
        Ok(())
    }
}
