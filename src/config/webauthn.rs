//! The WebAuthn relying party (WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS,
//! WEBAUTHN_ATTESTATION): which domain passkeys are bound to and which pages
//! may use them, decided once at start.

use std::net::IpAddr;

use public_suffix::{DEFAULT_PROVIDER, EffectiveTLDProvider};
use url::Url;

use super::ConfigError;

/// Whether registrations ask the authenticator for an attestation statement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Attestation {
    /// No statement: nothing about the authenticator's make is asked for (the default).
    #[default]
    None,
    /// Asks for the authenticator's statement and keeps it with the passkey.
    Direct,
}

/// The relying party passkeys are registered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID: a domain every origin's host is, or ends with.
    pub id: String,
    /// Pages (and `android:apk-key-hash:` apps) whose ceremonies are accepted.
    pub origins: Vec<Url>,
}

/// Passkeys' settings.
#[derive(Clone, Debug, Default)]
pub struct WebauthnConfig {
    /// `None`: passkeys are off (the RP ID would be an IP address, which WebAuthn refuses).
    pub relying_party: Option<RelyingParty>,
    pub attestation: Attestation,
}

/// What the settings give: the explicit RP ID and origins, and the URLs the defaults come from.
pub struct Inputs<'a> {
    pub rp_id: Option<&'a str>,
    pub origins: &'a [String],
    pub attestation: Attestation,
    pub public_url: &'a Url,
    pub frontend_url: Option<&'a Url>,
    pub cors_origins: &'a [String],
}

/// Resolves the relying party.
///
/// Without WEBAUTHN_RP_ID it is the registrable domain FRONTEND_URL's and
/// PUBLIC_URL's hosts share, else PUBLIC_URL's host; an IP address there
/// switches passkeys off. Without WEBAUTHN_ORIGINS the origins are
/// PUBLIC_URL's, FRONTEND_URL's and CORS_ALLOWED_ORIGINS, those under the RP ID.
///
/// # Errors
/// A [`ConfigError`] for an origin that is not one, or an explicit RP ID
/// that is not a registrable suffix of every origin's host.
pub fn resolve(inputs: &Inputs<'_>) -> Result<WebauthnConfig, ConfigError> {
    let explicit: Vec<Url> = inputs
        .origins
        .iter()
        .map(|o| origin(o).map_err(|e| ConfigError(format!("WEBAUTHN_ORIGINS: {o}: {e}"))))
        .collect::<Result<_, _>>()?;
    let relying_party = match inputs.rp_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => Some(explicit_party(id, explicit, inputs)?),
        None => default_party(explicit, inputs),
    };
    Ok(WebauthnConfig {
        relying_party,
        attestation: inputs.attestation,
    })
}

fn explicit_party(id: &str, explicit: Vec<Url>, inputs: &Inputs<'_>) -> Result<RelyingParty, ConfigError> {
    let id = id.to_ascii_lowercase();
    if id.parse::<IpAddr>().is_ok() || id.starts_with('[') {
        return Err(ConfigError(format!(
            "WEBAUTHN_RP_ID: {id} is an IP address; WebAuthn needs a domain (try localhost)"
        )));
    }
    let origins = if explicit.is_empty() {
        default_origins(inputs)
    } else {
        explicit
    };
    if let Some(bad) = origins.iter().find(|o| !under(o, &id)) {
        return Err(ConfigError(format!(
            "WEBAUTHN_RP_ID: {id} is not a registrable suffix of the host of {} (set WEBAUTHN_ORIGINS, or an RP ID every origin's host ends with)",
            bad.origin().ascii_serialization()
        )));
    }
    Ok(RelyingParty { id, origins })
}

fn default_party(explicit: Vec<Url>, inputs: &Inputs<'_>) -> Option<RelyingParty> {
    let public = inputs.public_url.domain()?;
    let id = match inputs.frontend_url.and_then(Url::domain) {
        Some(front) if front == public => public.to_owned(),
        Some(front) => match (registrable(front), registrable(public)) {
            (Some(a), Some(b)) if a == b => a.to_owned(),
            _ => public.to_owned(),
        },
        None => public.to_owned(),
    };
    let origins = if explicit.is_empty() {
        default_origins(inputs)
    } else {
        explicit
    };
    let origins = origins.into_iter().filter(|o| under(o, &id)).collect();
    Some(RelyingParty { id, origins })
}

/// PUBLIC_URL's, FRONTEND_URL's and CORS_ALLOWED_ORIGINS' origins, once each.
fn default_origins(inputs: &Inputs<'_>) -> Vec<Url> {
    let mut origins: Vec<Url> = Vec::new();
    let candidates = [Some(inputs.public_url.clone()), inputs.frontend_url.cloned()]
        .into_iter()
        .flatten()
        .chain(inputs.cors_origins.iter().filter_map(|o| Url::parse(o).ok()));
    for url in candidates {
        if let Ok(o) = Url::parse(&url.origin().ascii_serialization())
            && !origins.contains(&o)
        {
            origins.push(o);
        }
    }
    origins
}

/// An origin as WEBAUTHN_ORIGINS gives it: `https://host[:port]` or a native app's `android:apk-key-hash:…`.
fn origin(value: &str) -> Result<Url, &'static str> {
    let value = value.trim();
    if value.starts_with("android:apk-key-hash:") {
        return Url::parse(value).map_err(|_| "not a valid android:apk-key-hash: origin");
    }
    let url = Url::parse(value).map_err(|_| "expected an origin such as https://app.example.com")?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected an http:// or https:// origin");
    }
    if url.path() != "/" || url.query().is_some() {
        return Err("an origin has no path");
    }
    Url::parse(&url.origin().ascii_serialization()).map_err(|_| "expected an origin")
}

/// Whether `id` is a registrable suffix of `origin`'s host: the host itself,
/// or a parent domain of it that is not a public suffix (`com`, `co.uk`).
/// Native apps' origins carry no host and pass.
fn under(origin: &Url, id: &str) -> bool {
    if origin.scheme() == "android" {
        return true;
    }
    let Some(host) = origin.domain() else {
        return false;
    };
    host == id || (host.ends_with(&format!(".{id}")) && !DEFAULT_PROVIDER.is_effective_tld(id))
}

/// The registrable domain (eTLD+1) of `host`, when it has one.
fn registrable(host: &str) -> Option<&str> {
    DEFAULT_PROVIDER.effective_tld_plus_one(host).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(
        rp_id: Option<&str>,
        origins: &[&str],
        public: &str,
        front: Option<&str>,
    ) -> Result<Option<RelyingParty>, String> {
        let public = Url::parse(public).unwrap();
        let front = front.map(|f| Url::parse(f).unwrap());
        let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
        resolve(&Inputs {
            rp_id,
            origins: &origins,
            attestation: Attestation::None,
            public_url: &public,
            frontend_url: front.as_ref(),
            cors_origins: &[],
        })
        .map(|c| c.relying_party)
        .map_err(|e| e.0)
    }

    #[test]
    fn the_default_is_the_domain_the_app_and_authql_share() {
        let rp = resolved(None, &[], "https://auth.example.com", Some("https://app.example.com"))
            .unwrap()
            .unwrap();
        assert_eq!(rp.id, "example.com");
        assert_eq!(rp.origins.len(), 2);
        let rp = resolved(None, &[], "https://auth.example.com", Some("https://other.org"))
            .unwrap()
            .unwrap();
        assert_eq!(rp.id, "auth.example.com");
        assert_eq!(rp.origins, vec![Url::parse("https://auth.example.com").unwrap()]);
        let rp = resolved(None, &[], "https://a.github.io", Some("https://b.github.io"))
            .unwrap()
            .unwrap();
        assert_eq!(rp.id, "a.github.io", "a public suffix is nobody's RP ID");
    }

    #[test]
    fn localhost_works_and_an_ip_address_switches_passkeys_off() {
        let rp = resolved(None, &[], "http://localhost:8080", Some("http://localhost:5173"))
            .unwrap()
            .unwrap();
        assert_eq!(rp.id, "localhost");
        assert_eq!(rp.origins.len(), 2);
        assert_eq!(resolved(None, &[], "http://127.0.0.1:8080", None), Ok(None));
    }

    #[test]
    fn an_explicit_rp_id_must_be_a_registrable_suffix_of_every_origin() {
        let rp = resolved(
            Some("example.com"),
            &["https://app.example.com", "android:apk-key-hash:abc"],
            "https://auth.example.com",
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(rp.origins.len(), 2);
        for (id, origins) in [
            ("example.com", &["https://example.org"][..]),
            ("com", &["https://app.example.com"][..]),
            ("xample.com", &["https://app.example.com"][..]),
            ("127.0.0.1", &["http://127.0.0.1:8080"][..]),
        ] {
            let e = resolved(Some(id), origins, "https://auth.example.com", None).unwrap_err();
            assert!(e.starts_with("WEBAUTHN_RP_ID: "), "{e}");
        }
        let e = resolved(
            None,
            &["https://app.example.com/login"],
            "https://auth.example.com",
            None,
        )
        .unwrap_err();
        assert!(e.starts_with("WEBAUTHN_ORIGINS: "), "{e}");
    }
}
