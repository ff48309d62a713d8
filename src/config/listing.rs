//! `check-config`'s listing, as Keycloak's `show-config`: every setting by
//! the variable that sets it, where its value came from (flag, env, .env or
//! default), secrets masked. Settings come from clap's own list of
//! arguments, so a new one appears without an edit here.

use std::collections::BTreeSet;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Settings read from the environment by pattern rather than as flags: the
/// sign-in providers' (named after each provider), the rate limits' (named
/// after each class) and the log levels.
const ENV_ONLY: [&str; 6] = ["GOOGLE_", "GITHUB_", "OIDC_", "OAUTH_", "RATE_LIMIT_", "RUST_LOG"];
/// What a masked secret shows.
const MASK: &str = "****";

/// The variables `.env` set: those it holds that the environment did not
/// already have (the environment wins, as dotenvy does not override it).
#[derive(Debug, Default)]
pub struct FromDotenv(BTreeSet<String>);

/// Loads `.env` (searched from the working directory up) into the
/// environment, and tells which variables came from it.
///
/// # Errors
/// When a `.env` exists but cannot be read or parsed.
pub fn load_dotenv() -> Result<FromDotenv, dotenvy::Error> {
    let before: BTreeSet<String> = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()).collect();
    let path = match dotenvy::dotenv() {
        Ok(path) => path,
        Err(e) if e.not_found() => return Ok(FromDotenv::default()),
        Err(e) => return Err(e),
    };
    Ok(FromDotenv(
        keys_of(&path)?.into_iter().filter(|k| !before.contains(k)).collect(),
    ))
}

fn keys_of(path: &Path) -> Result<Vec<String>, dotenvy::Error> {
    dotenvy::from_path_iter(path)?
        .map(|pair| pair.map(|(key, _)| key))
        .collect()
}

/// One line per setting, sorted by variable: `NAME=value  (source)`, or
/// `NAME  (not set)`. `command` and `matches` are the parsed command line.
pub fn listing(command: &Command, matches: &ArgMatches, dotenv: &FromDotenv) -> Vec<String> {
    let env_source = |name: &str| if dotenv.0.contains(name) { ".env" } else { "env" };
    let mut lines: Vec<(String, String)> = Vec::new();
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env().and_then(|n| n.to_str()) else {
            continue;
        };
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => env_source(name),
            Some(ValueSource::DefaultValue) => "default",
            _ => {
                lines.push((name.to_owned(), format!("{name}  (not set)")));
                continue;
            }
        };
        let raw = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy()).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        let secret = arg.is_hide_env_values_set() || secret_by_name(name);
        lines.push((
            name.to_owned(),
            format!("{name}={}  ({source})", shown(name, &raw, secret)),
        ));
    }
    for (name, value) in std::env::vars() {
        if ENV_ONLY.iter().any(|prefix| name.starts_with(prefix)) {
            let line = format!(
                "{name}={}  ({})",
                shown(&name, &value, secret_by_name(&name)),
                env_source(&name)
            );
            lines.push((name, line));
        }
    }
    for (name, default) in super::oauth::env_defaults() {
        if !lines.iter().any(|(listed, _)| *listed == name) {
            lines.push((name.clone(), format!("{name}={default}  (default)")));
        }
    }
    lines.sort();
    lines.into_iter().map(|(_, line)| line).collect()
}

/// Names that hold a secret whatever declares them (a rate limit's class,
/// such as RATE_LIMIT_PASSWORD, only names what it limits).
fn secret_by_name(name: &str) -> bool {
    !name.starts_with("RATE_LIMIT_")
        && ["_SECRET", "_PASSWORD", "_KEY", "_TOKEN"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// `value` as it may be printed. A URL keeps its shape with its password
/// (and any secret-looking query value) masked; any other secret is masked whole.
fn shown(name: &str, value: &str, secret: bool) -> String {
    if value.is_empty() {
        return String::new();
    }
    if name.ends_with("_URL")
        && let Ok(mut url) = url::Url::parse(value)
        && url.has_host()
    {
        if url.password().is_some() {
            let _ = url.set_password(Some(MASK));
        }
        // A secret may sit in any parameter's value (PostgreSQL's
        // `options=-c password=…`), so a value that names one is masked too.
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let hides = |(k, v): &(String, String)| secret_parameter(k) || secret_parameter(v);
        if pairs.iter().any(hides) {
            let mut query = url.query_pairs_mut();
            query.clear();
            for pair in &pairs {
                query.append_pair(&pair.0, if hides(pair) { MASK } else { &pair.1 });
            }
        }
        // Nothing a connection needs is in a fragment: whatever is there is masked.
        if url.fragment().is_some_and(|f| !f.is_empty()) {
            url.set_fragment(Some(MASK));
        }
        return url.to_string();
    }
    if secret { MASK.to_owned() } else { value.to_owned() }
}

fn secret_parameter(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "secret", "token", "key"].iter().any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_and_secrets_are_masked() {
        assert_eq!(
            shown("DATABASE_URL", "postgres://user:pw-9@db:5432/authql", true),
            "postgres://user:****@db:5432/authql"
        );
        assert_eq!(
            shown(
                "DATABASE_URL",
                "mysql://root@db/test?password=pw-9&ssl-mode=required",
                true
            ),
            "mysql://root@db/test?password=****&ssl-mode=required"
        );
        assert_eq!(shown("REDIS_URL", "redis://cache:6379", true), "redis://cache:6379");
        // A password inside another parameter's value, or in a fragment.
        assert_eq!(
            shown(
                "DATABASE_URL",
                "postgres://u@db/a?options=-c%20password%3Dpw-9&sslmode=require",
                true
            ),
            "postgres://u@db/a?options=****&sslmode=require"
        );
        assert_eq!(
            shown("DATABASE_URL", "postgres://u@db/a#pw-9", true),
            "postgres://u@db/a#****"
        );
        assert_eq!(shown("SECRET_KEY", "abc:def//ghi", true), "****");
        assert_eq!(
            shown(
                "OIDC_CORP_CLIENT_SECRET",
                "pw-9",
                secret_by_name("OIDC_CORP_CLIENT_SECRET")
            ),
            "****"
        );
        assert_eq!(shown("ACCESS_TOKEN_TTL", "30m", false), "30m");
        assert!(!secret_by_name("RATE_LIMIT_PASSWORD") && secret_by_name("SMTP_PASSWORD"));
        // A secret URL that does not parse is masked whole.
        assert_eq!(shown("SMTP_URL", "smtp://us er:pw-9@[bad", true), "****");
    }
}
