//! Sign-in with OpenID Connect providers (Google, or any provider that
//! publishes discovery): the browser flow, ID-token checks, the linking
//! rules, and one-time login codes traded for tokens.
//!
//! Owns `identities`, `used_id_tokens` and the login-code purpose of `one_time_tokens`. May
//! call: `accounts` (accounts a provider vouches for, and claims), `sessions`, `mfa`,
//! `tokens`, `mail`, `events`, `webhooks`, `hooks`, `limits`, `crypto`, `db`,
//! `config`, `entities`.

mod code_exchange;
mod flow;
mod github;
mod handover;
mod identities;
mod linking;
mod pkce;
pub mod provider;
mod replay;

use std::sync::Arc;

pub use flow::{Callback, FLOW_SECONDS, Finished, FlowEnd, Refused, StartRequest, Started};
use provider::Provider;
pub use replay::forget_expired_id_tokens;

use crate::accounts::Accounts;
use crate::client::ClientInfo;
use crate::config::Links;
use crate::config::oauth::OAuthConfig;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::hooks::Hooks;
use crate::limits::Limits;
use crate::mail::Outbox;
use crate::mfa::Mfa;
use crate::sessions::Sessions;
use crate::webhooks::Webhooks;

/// The sign-in-with-providers service. Cheap to clone.
#[derive(Clone)]
pub struct OAuth(Arc<Inner>);

/// What [`OAuth`] is built from.
pub struct OAuthParts {
    pub db: Db,
    /// Claims of accounts nobody confirmed, by the owner of their address.
    pub accounts: Accounts,
    pub crypto: Arc<Crypto>,
    pub limits: Arc<Limits>,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub links: Links,
    /// Notices of linked and unlinked identities.
    pub outbox: Arc<Outbox>,
    /// Accounts made and identities linked are events for the app's backend.
    pub webhooks: Webhooks,
    /// The sign-up hook, asked before a provider's sign-in makes an account.
    pub hooks: Hooks,
}

struct Inner {
    parts: OAuthParts,
    providers: Vec<Provider>,
    github: Option<github::GitHub>,
    /// OAUTH_REDIRECT_URIS.
    redirect_uris: Vec<String>,
    /// For the providers: no redirects followed, every call bounded in time.
    http: reqwest::Client,
}

/// The name GitHub goes by in `/auth/{name}`.
const GITHUB: &str = "github";

/// A provider as `oauthProviders` lists it.
pub struct ProviderInfo {
    pub name: String,
    pub display_name: String,
    /// Open it in a browser to start the flow.
    pub authorize_url: String,
}

impl OAuth {
    /// The service over `parts` for the providers `config` names.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(parts: OAuthParts, config: &OAuthConfig) -> AppResult<Self> {
        let http = reqwest::Client::builder()
            // A provider that redirects discovery or the token endpoint elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| AppError::internal(format!("HTTP client: {e}")))?;
        Ok(Self(Arc::new(Inner {
            parts,
            providers: config.providers.iter().cloned().map(Provider::new).collect(),
            github: config.github.clone().map(|config| github::GitHub { config }),
            redirect_uris: config.redirect_uris.clone(),
            http,
        })))
    }

    /// The configured providers.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        let oidc = self
            .0
            .providers
            .iter()
            .map(|p| (p.config.name.clone(), p.config.display_name.clone()));
        let github = self.0.github.as_ref().map(|_| (GITHUB.to_owned(), "GitHub".to_owned()));
        oidc.chain(github)
            .map(|(name, display_name)| ProviderInfo {
                authorize_url: self.0.parts.links.public(&format!("/auth/{name}")),
                name,
                display_name,
            })
            .collect()
    }

    /// Whether `name` is a configured provider of any kind.
    ///
    /// # Errors
    /// `FORBIDDEN` when it is not.
    fn ensure_known(&self, name: &str) -> AppResult<()> {
        if name == GITHUB && self.0.github.is_some() {
            return Ok(());
        }
        self.provider(name).map(|_| ())
    }

    /// GitHub, when `name` names it and it is configured.
    fn github(&self, name: &str) -> Option<&github::GitHub> {
        self.0.github.as_ref().filter(|_| name == GITHUB)
    }

    fn provider(&self, name: &str) -> AppResult<&Provider> {
        self.0
            .providers
            .iter()
            .find(|p| p.config.name == name)
            .ok_or(AppError::Forbidden("no such sign-in provider"))
    }

    fn parts(&self) -> &OAuthParts {
        &self.0.parts
    }
}

/// Records a refused sign-in for the operator (never with a token in it).
fn refused(provider: &str, e: &AppError, client: &ClientInfo) {
    e.log();
    tracing::info!(provider, code = e.code().as_str(), ip = ?client.ip, "provider sign-in refused");
}
