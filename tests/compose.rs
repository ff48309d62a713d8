//! The container files: compose.yaml parses, and every setting it gives
//! authql is one authql knows (a typo would be ignored silently otherwise).
//! The images cannot be built here; this is what can be checked.

use std::collections::BTreeSet;

use yaml_rust2::{Yaml, YamlLoader};

/// Settings read from the environment without a flag (their names depend on the provider).
const PROVIDER_SETTINGS: &[&str] = &[
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_ISSUER",
    "GOOGLE_ALLOWED_AUDIENCES",
    "GOOGLE_REQUIRE_NONCE",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_AUTH_URL",
    "GITHUB_API_URL",
    "OIDC_PROVIDERS",
    "OAUTH_REDIRECT_URIS",
    "RUST_LOG",
];

/// Every variable `authql --help` names.
fn known_settings() -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authql"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let mut known: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect();
    known.extend(PROVIDER_SETTINGS.iter().map(|s| (*s).to_owned()));
    known
}

/// The keys of an `environment` mapping, following `<<` merges.
fn env_keys(environment: &Yaml, into: &mut Vec<String>) {
    let Yaml::Hash(map) = environment else { return };
    for (key, value) in map {
        match key.as_str() {
            Some("<<") => env_keys(value, into),
            Some(name) => into.push(name.to_owned()),
            None => {}
        }
    }
}

#[test]
fn compose_gives_authql_only_settings_it_knows() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/compose.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("compose.yaml parses");
    let services = &docs[0]["services"];
    let known = known_settings();
    assert!(
        known.contains("DATABASE_URL") && known.contains("SECRET_KEY"),
        "{known:?}"
    );
    let mut checked = 0;
    for (name, service) in services.as_hash().expect("services") {
        let name = name.as_str().unwrap();
        if !name.starts_with("authql") {
            continue;
        }
        // A service merges the shared definition (`<<: *authql`).
        let environment = if service["environment"].is_badvalue() {
            &service["<<"]["environment"]
        } else {
            &service["environment"]
        };
        let mut keys = Vec::new();
        env_keys(environment, &mut keys);
        assert!(keys.contains(&"DATABASE_URL".to_owned()), "{name} has its environment");
        for key in keys {
            assert!(known.contains(&key), "{name} sets {key}, which authql does not read");
        }
        // Production, with the one exception a demo on http://localhost needs.
        assert_eq!(environment["APP_ENV"].as_str(), Some("production"), "{name}");
        assert_eq!(
            environment["ALLOW_INSECURE_PUBLIC_URL"].as_str(),
            Some("true"),
            "{name}"
        );
        let public_url = environment["PUBLIC_URL"].as_str().unwrap_or_default();
        assert!(public_url.starts_with("http://localhost:"), "{name}: {public_url}");
        // Metrics on the management port, which is not published.
        assert_eq!(environment["METRICS_ADDR"].as_str(), Some("0.0.0.0:9100"), "{name}");
        let ports = service["ports"].as_vec().expect("published ports");
        for port in ports {
            let port = port.as_str().unwrap_or_default();
            assert!(!port.ends_with(":9100") && port != "9100", "{name} publishes {port}");
        }
        checked += 1;
    }
    assert_eq!(checked, 2, "two authql instances");
    assert!(
        !services["postgres"].is_badvalue() && !services["redis"].is_badvalue() && !services["mailpit"].is_badvalue()
    );
}

/// The comment lines just above the first line holding `needle`, joined.
fn comment_above(text: &str, needle: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains(needle)).expect(needle);
    let mut block: Vec<&str> = lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with('#'))
        .map(|l| l.trim())
        .collect();
    block.reverse();
    block.join(" ")
}

#[test]
fn compose_says_why_it_allows_http_and_what_a_deployment_must_fill_in() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/compose.yaml")).unwrap();
    let why = comment_above(&text, "ALLOW_INSECURE_PUBLIC_URL: ");
    assert!(why.contains("http://localhost"), "a comment says why: {why:?}");
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    let from = header
        .iter()
        .position(|l| l.contains("A real deployment must fill in"))
        .expect("the header names what a real deployment fills in");
    let named: String = header[from..].join("\n");
    for variable in [
        "PUBLIC_URL",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "MAIL_FROM",
        "TRUSTED_PROXIES",
    ] {
        assert!(named.contains(variable), "the header names {variable}");
    }
}

/// The `KEY=value` pairs of the Dockerfile's ENV instructions.
fn dockerfile_env(dockerfile: &str) -> Vec<(String, String)> {
    let joined = dockerfile.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_image_starts_in_production_with_metrics_on_an_unexposed_port() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let env = dockerfile_env(&dockerfile);
    let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("APP_ENV"), Some("production"), "{env:?}");
    assert_eq!(get("METRICS_ADDR"), Some("0.0.0.0:9100"), "{env:?}");
    assert_eq!(get("LISTEN_ADDR"), Some("0.0.0.0:8080"), "{env:?}");
    let known = known_settings();
    for (key, _) in &env {
        assert!(known.contains(key), "the image sets {key}, which authql does not read");
    }
    let exposed: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(str::split_whitespace)
        .collect();
    assert_eq!(exposed, ["8080"], "only the public port is exposed");
}

#[test]
fn the_image_runs_as_a_user_with_a_volume_and_a_health_check() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    for needed in [
        "USER authql",
        "VOLUME [\"/data\"]",
        "HEALTHCHECK",
        "/healthz",
        "--locked",
        "AS build",
    ] {
        assert!(dockerfile.contains(needed), "the Dockerfile has {needed}");
    }
}
