//! Sign-in providers from the environment: Google (GOOGLE_*) and any OpenID
//! Connect provider (OIDC_PROVIDERS=a,b with OIDC_<NAME>_*). Their variable
//! names depend on the provider's name, so they are read here rather than
//! declared as flags.

use std::time::Duration;

use url::Url;

use super::{ConfigError, Secret};

/// One OpenID Connect provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Lower case, as in `/auth/{name}`.
    pub name: String,
    pub display_name: String,
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    /// Other client ids whose ID tokens count as ours (native apps).
    pub extra_audiences: Vec<String>,
    /// Whether `signInWithIdToken` needs a nonce (GOOGLE_REQUIRE_NONCE, OIDC_<NAME>_REQUIRE_NONCE).
    pub require_nonce: bool,
    /// Whether the provider is trusted to verify addresses, so that a new
    /// identity with the address of an existing account links to it
    /// (GOOGLE_LINK_BY_EMAIL, default true; OIDC_<NAME>_LINK_BY_EMAIL, default false).
    pub link_by_email: bool,
}

/// GitHub (OAuth 2, no OpenID Connect).
#[derive(Clone, Debug)]
pub struct GitHubConfig {
    pub client_id: String,
    pub client_secret: Secret,
    /// Where the authorize and token endpoints live (GITHUB_AUTH_URL, GitHub Enterprise).
    pub auth_url: Url,
    /// Where the user and emails APIs live (GITHUB_API_URL).
    pub api_url: Url,
    /// As [`ProviderConfig::link_by_email`] (GITHUB_LINK_BY_EMAIL, default true).
    pub link_by_email: bool,
}

/// Sign-in with providers.
#[derive(Clone, Debug, Default)]
pub struct OAuthConfig {
    pub providers: Vec<ProviderConfig>,
    pub github: Option<GitHubConfig>,
    /// Where a flow may return besides FRONTEND_URL (OAUTH_REDIRECT_URIS),
    /// such as a mobile app's custom scheme.
    pub redirect_uris: Vec<String>,
    /// Longest wait for a provider (discovery, JWKS, token endpoint).
    pub timeout: Duration,
}

/// The providers the environment configures.
///
/// # Errors
/// A [`ConfigError`] naming the first variable at fault.
pub fn from_env() -> Result<OAuthConfig, ConfigError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let list = |name: &str| {
        var(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_else(Vec::new)
    };
    let mut providers = Vec::new();
    if let Some(client_id) = var("GOOGLE_CLIENT_ID") {
        let secret = var("GOOGLE_CLIENT_SECRET")
            .ok_or_else(|| ConfigError("GOOGLE_CLIENT_SECRET: required with GOOGLE_CLIENT_ID".into()))?;
        let issuer = var("GOOGLE_ISSUER").unwrap_or_else(|| "https://accounts.google.com".to_owned());
        providers.push(ProviderConfig {
            name: "google".to_owned(),
            display_name: "Google".to_owned(),
            issuer: issuer_url("GOOGLE_ISSUER", &issuer)?,
            client_id,
            client_secret: Secret::new(secret),
            scopes: vec!["email".to_owned(), "profile".to_owned()],
            extra_audiences: list("GOOGLE_ALLOWED_AUDIENCES"),
            require_nonce: flag("GOOGLE_REQUIRE_NONCE", var("GOOGLE_REQUIRE_NONCE"))?,
            // Google verifies the addresses it vouches for (those of its own domains, and others it confirmed).
            link_by_email: flag_or("GOOGLE_LINK_BY_EMAIL", var("GOOGLE_LINK_BY_EMAIL"), true)?,
        });
    }
    for name in list("OIDC_PROVIDERS") {
        let name = name.to_lowercase();
        // At most 64: a login code carries the name beside a PKCE challenge.
        if name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || providers.iter().any(|p| p.name == name)
        {
            return Err(ConfigError(format!(
                "OIDC_PROVIDERS: `{name}` must be at most 64 letters, digits or _, and named once"
            )));
        }
        let key = |suffix: &str| format!("OIDC_{}_{suffix}", name.to_uppercase());
        let required =
            |suffix: &str| var(&key(suffix)).ok_or_else(|| ConfigError(format!("{}: required", key(suffix))));
        let issuer = required("ISSUER")?;
        let scopes = list(&key("SCOPES"));
        providers.push(ProviderConfig {
            display_name: var(&key("DISPLAY_NAME")).unwrap_or_else(|| name.clone()),
            issuer: issuer_url(&key("ISSUER"), &issuer)?,
            client_id: required("CLIENT_ID")?,
            client_secret: Secret::new(required("CLIENT_SECRET")?),
            scopes: if scopes.is_empty() {
                vec!["email".to_owned(), "profile".to_owned()]
            } else {
                scopes
            },
            extra_audiences: list(&key("ALLOWED_AUDIENCES")),
            require_nonce: flag(&key("REQUIRE_NONCE"), var(&key("REQUIRE_NONCE")))?,
            // Any provider may say `email_verified` of an address it never checked (or one an
            // administrator of its tenant typed): trusted only when the operator says so.
            link_by_email: flag(&key("LINK_BY_EMAIL"), var(&key("LINK_BY_EMAIL")))?,
            name,
        });
    }
    let github = match var("GITHUB_CLIENT_ID") {
        None => None,
        Some(client_id) => Some(GitHubConfig {
            client_id,
            client_secret: Secret::new(
                var("GITHUB_CLIENT_SECRET")
                    .ok_or_else(|| ConfigError("GITHUB_CLIENT_SECRET: required with GITHUB_CLIENT_ID".into()))?,
            ),
            auth_url: issuer_url(
                "GITHUB_AUTH_URL",
                &var("GITHUB_AUTH_URL").unwrap_or_else(|| "https://github.com".to_owned()),
            )?,
            api_url: issuer_url(
                "GITHUB_API_URL",
                &var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned()),
            )?,
            link_by_email: flag_or("GITHUB_LINK_BY_EMAIL", var("GITHUB_LINK_BY_EMAIL"), true)?,
        }),
    };
    Ok(OAuthConfig {
        providers,
        github,
        redirect_uris: list("OAUTH_REDIRECT_URIS"),
        timeout: Duration::from_secs(10),
    })
}

/// The providers' settings that have a default, as `(variable, default)`,
/// for each provider the environment configures (for `check-config`, which
/// otherwise lists these variables only when set).
pub fn env_defaults() -> Vec<(String, &'static str)> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let mut defaults = Vec::new();
    if set("GOOGLE_CLIENT_ID") {
        defaults.push(("GOOGLE_LINK_BY_EMAIL".to_owned(), "true"));
    }
    if set("GITHUB_CLIENT_ID") {
        defaults.push(("GITHUB_LINK_BY_EMAIL".to_owned(), "true"));
    }
    let names = std::env::var("OIDC_PROVIDERS").unwrap_or_default();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        defaults.push((format!("OIDC_{}_LINK_BY_EMAIL", name.to_uppercase()), "false"));
    }
    defaults
}

fn issuer_url(variable: &str, value: &str) -> Result<Url, ConfigError> {
    Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .ok_or_else(|| ConfigError(format!("{variable}: expected an http(s) URL")))
}

/// A true/false setting (also 1/0, yes/no, on/off; unset is false).
fn flag(variable: &str, value: Option<String>) -> Result<bool, ConfigError> {
    flag_or(variable, value, false)
}

/// A true/false setting as [`flag`], `default` when unset.
fn flag_or(variable: &str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(ConfigError(format!("{variable}: expected true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::{flag, flag_or};

    #[test]
    fn a_flag_is_false_unless_set_and_refuses_what_is_neither() {
        assert!(!flag("X", None).unwrap());
        assert!(flag("X", Some("TRUE".into())).unwrap());
        assert!(!flag("X", Some("off".into())).unwrap());
        let err = flag("OIDC_CORP_REQUIRE_NONCE", Some("maybe".into())).unwrap_err();
        assert!(err.0.contains("OIDC_CORP_REQUIRE_NONCE"), "{err}");
        assert!(flag_or("GITHUB_LINK_BY_EMAIL", None, true).unwrap());
        assert!(!flag_or("GITHUB_LINK_BY_EMAIL", Some("false".into()), true).unwrap());
    }
}
