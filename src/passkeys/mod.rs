//! Passkeys (WebAuthn): adding one to a signed-in account, listing, renaming
//! and deleting them; signing in with one, discoverable (no email typed) or
//! for a named email; a passkey as the second factor of a login and for
//! step-up; the passkey of a sign-up without a password; an operator's
//! removal. A passkey sign-in with user verification is two factors and
//! opens a session directly.
//!
//! Owns `passkeys` and `passkey_ceremonies`. May call: `mfa` (a login's
//! second step, its tries and budget), `sessions` (the session a sign-in
//! opens, the step-up rule, the security stamp), `mail`, `events`, `audit`,
//! `webhooks` (why an operator's removal ends sessions), `limits`, `crypto`,
//! `db`, `config`, `entities`.

mod aaguid;
mod assertion;
mod ceremony;
mod manage;
mod operator;
mod register;
mod second_factor;
mod sign_in;
mod signup;
mod step_up;
mod store;
mod wire;

use std::sync::Arc;

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

pub use ceremony::purge_expired;
pub use manage::PasskeyName;
pub use signup::SignedUp;
pub use store::{NewPasskey, attach, remove_all};

use crate::config::webauthn::{Attestation, WebauthnConfig};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::limits::Limits;
use crate::mail::Outbox;
use crate::mfa::Mfa;
use crate::sessions::Sessions;
use crate::webhooks::Webhooks;

/// What [`Passkeys`] is built from.
pub struct PasskeyParts {
    pub db: Db,
    /// The app's backend hears of passkeys added and removed.
    pub webhooks: Webhooks,
    pub crypto: Arc<Crypto>,
    pub limits: Arc<Limits>,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub outbox: Arc<Outbox>,
    /// The relying party and attestation (WEBAUTHN_*).
    pub config: WebauthnConfig,
    /// The name authenticators show beside the account (MFA_ISSUER).
    pub rp_name: String,
    /// REQUIRE_EMAIL_CONFIRMATION.
    pub require_confirmation: bool,
}

/// The passkeys service. Cheap to clone.
#[derive(Clone)]
pub struct Passkeys(Arc<Inner>);

struct Inner {
    parts: PasskeyParts,
    /// `None` when passkeys are off (no relying party).
    webauthn: Option<Webauthn>,
}

/// A ceremony started: the id the client finishes it with, and the options for its authenticator.
pub struct Started {
    pub id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    pub options: serde_json::Value,
}

impl Passkeys {
    /// The service over `parts`; passkeys are off when the configuration has no relying party.
    ///
    /// # Errors
    /// When webauthn-rs refuses the relying party.
    pub fn new(parts: PasskeyParts) -> AppResult<Self> {
        let webauthn = match &parts.config.relying_party {
            Some(rp) => build(&rp.id, &rp.origins, &parts.rp_name)?,
            None => None,
        };
        if webauthn.is_none() {
            tracing::info!(
                "passkeys are off: WebAuthn needs a domain, not an IP address (set PUBLIC_URL=http://localhost:8080, or WEBAUTHN_RP_ID, to try them)"
            );
        }
        Ok(Self(Arc::new(Inner { parts, webauthn })))
    }

    /// Whether passkeys are on.
    pub fn enabled(&self) -> bool {
        self.0.webauthn.is_some()
    }

    fn parts(&self) -> &PasskeyParts {
        &self.0.parts
    }

    fn attestation(&self) -> Attestation {
        self.0.parts.config.attestation
    }

    /// # Errors
    /// `FORBIDDEN` when passkeys are off.
    fn webauthn(&self) -> AppResult<&Webauthn> {
        self.0.webauthn.as_ref().ok_or(AppError::Forbidden(
            "passkeys are off on this server (it has no WebAuthn relying party)",
        ))
    }
}

/// The relying party for webauthn-rs: the first web origin is its own, the others are appended.
fn build(rp_id: &str, origins: &[Url], rp_name: &str) -> AppResult<Option<Webauthn>> {
    let Some(first) = origins.iter().find(|o| o.domain().is_some()) else {
        return Ok(None);
    };
    let mut builder = WebauthnBuilder::new(rp_id, first)
        .map_err(|e| AppError::internal(format!("WebAuthn relying party {rp_id}: {e}")))?
        .rp_name(rp_name);
    for origin in origins.iter().filter(|o| *o != first) {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| AppError::internal(format!("WebAuthn relying party {rp_id}: {e}")))
}
