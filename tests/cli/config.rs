//! Bad configuration stops the start with one line; production refuses weak setups.

use std::process::Command;

use crate::{SECRET_KEY, authql, refuses};

#[test]
fn a_bad_value_stops_the_start_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let err = refuses(authql(dir.path()).env("ACCESS_TOKEN_TTL", "soon"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ACCESS_TOKEN_TTL") && err.contains("30s, 15m or 1d"),
        "{err}"
    );

    let err = refuses(authql(dir.path()).env("LISTEN_ADDR", "everywhere"));
    assert!(err.contains("LISTEN_ADDR") && err.lines().count() == 1, "{err}");
    let err = refuses(authql(dir.path()).env("APP_ENV", "staging"));
    assert!(err.contains("APP_ENV") && err.contains("production"), "{err}");
    let err = refuses(authql(dir.path()).env("SMTP_URL", "http://mail.example.com"));
    assert!(err.contains("SMTP_URL") && err.lines().count() == 1, "{err}");
}

#[test]
fn production_refuses_missing_secrets_and_unapproved_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let prod = |cmd: &mut Command| {
        cmd.env("APP_ENV", "production")
            .env("PUBLIC_URL", "https://auth.example.com");
    };
    let mut cmd = authql(dir.path());
    prod(&mut cmd);
    let err = refuses(&mut cmd);
    assert!(err.contains("SECRET_KEY"), "{err}");

    let mut cmd = authql(dir.path());
    prod(&mut cmd);
    let err = refuses(cmd.env("SECRET_KEY", "too-short"));
    assert!(err.contains("SECRET_KEY") && !err.contains("too-short"), "{err}");

    let mut cmd = authql(dir.path());
    prod(&mut cmd);
    let err = refuses(cmd.env("SECRET_KEY", SECRET_KEY));
    assert!(err.contains("ALLOW_SQLITE_IN_PRODUCTION"), "{err}");
    assert!(
        !dir.path().join("data/secret.key").exists(),
        "production never generates a key"
    );
}

#[test]
fn production_refuses_plain_http_and_guessable_keys() {
    let dir = tempfile::tempdir().unwrap();
    let prod = |public_url: &str, key: &str| {
        let mut cmd = authql(dir.path());
        cmd.env("APP_ENV", "production")
            .env("PUBLIC_URL", public_url)
            .env("SECRET_KEY", key)
            .env("ALLOW_SQLITE_IN_PRODUCTION", "true");
        cmd
    };
    let err = refuses(&mut prod("http://auth.example.com", SECRET_KEY));
    assert!(err.contains("PUBLIC_URL") && err.contains("https"), "{err}");
    for weak in [
        "a".repeat(40),
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmn".to_owned(),
        "password".repeat(5),
    ] {
        let err = refuses(&mut prod("https://auth.example.com", &weak));
        assert!(err.contains("SECRET_KEY") && !err.contains(&weak), "{weak}: {err}");
    }
    // Tests may still serve plain HTTP in production mode when they say so.
    let mut allowed = prod("http://auth.example.com", SECRET_KEY);
    allowed.env("ALLOW_INSECURE_PUBLIC_URL", "true").arg("migrate");
    let out = allowed.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
