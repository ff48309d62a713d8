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
        checked += 1;
    }
    assert_eq!(checked, 2, "two authql instances");
    assert!(
        !services["postgres"].is_badvalue() && !services["redis"].is_badvalue() && !services["mailpit"].is_badvalue()
    );
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
