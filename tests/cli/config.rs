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
    let err = refuses(authql(dir.path()).env("PWNED_PASSWORDS_URL", "ftp://range.example.com/"));
    assert!(err.contains("PWNED_PASSWORDS_URL") && err.lines().count() == 1, "{err}");
    let err = refuses(authql(dir.path()).env("PASSWORD_BLOCKLIST_FILE", dir.path().join("missing.txt")));
    assert!(
        err.contains("PASSWORD_BLOCKLIST_FILE") && err.contains("missing.txt"),
        "{err}"
    );
    let err = refuses(authql(dir.path()).env("RATE_LIMIT_PASSWORD", "ip:30/2s,account:ten/1m"));
    assert!(
        err.contains("RATE_LIMIT_PASSWORD") && err.contains("positive whole number") && err.lines().count() == 1,
        "{err}"
    );
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

#[test]
fn check_config_prints_the_configuration_without_secrets_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = authql(dir.path())
        .args(["check-config", "--connect"])
        .env("SECRET_KEY", SECRET_KEY)
        .env("SMTP_URL", "smtp://mailer:smtp-password-9@127.0.0.1:1")
        .env("OIDC_PROVIDERS", "corp")
        .env("OIDC_CORP_ISSUER", "https://id.example.com")
        .env("OIDC_CORP_CLIENT_ID", "authql")
        .env("OIDC_CORP_CLIENT_SECRET", "corp-client-secret-5")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [SECRET_KEY, "smtp-password-9", "corp-client-secret-5"] {
        assert!(!said.contains(secret), "a secret was printed: {said}");
    }
    assert!(said.contains("ACCESS_TOKEN_TTL=30m  (default)"), "{said}");
    assert!(said.contains("OIDC_CORP_LINK_BY_EMAIL=false  (default)"), "{said}");
    assert!(
        said.contains("SMTP_URL=smtp://mailer:****@127.0.0.1:1  (env)"),
        "{said}"
    );
    // Nothing answers SMTP there: named, and a failure.
    assert!(!out.status.success());
    assert!(said.contains("SMTP_URL"), "{said}");

    let ok = authql(dir.path()).args(["check-config", "--connect"]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("configuration is valid"));

    let err = refuses(authql(dir.path()).args(["check-config"]).env("OIDC_PROVIDERS", "corp"));
    assert!(err.contains("OIDC_CORP_ISSUER"), "{err}");
    let out = authql(dir.path())
        .args(["check-config", "--connect"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

/// `check-config` lists every setting by its variable, as Keycloak's
/// show-config does: where each value came from, and secrets masked.
#[test]
fn check_config_lists_each_setting_with_its_source_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("SECRET_KEY={SECRET_KEY}\nMAIL_FROM=\"authql <dotenv@example.com>\"\nJWT_AUDIENCE=from-dotenv\n"),
    )
    .unwrap();
    let out = authql(dir.path())
        .args(["--access-token-ttl", "15m", "check-config"])
        .env(
            "DATABASE_URL",
            "postgres://user:db-password-7@db.example.com:5432/authql",
        )
        // The environment wins over .env.
        .env("JWT_AUDIENCE", "from-env")
        .env("REDIS_URL", "redis://:redis-password-8@cache.example.com:6379/2")
        .env("OIDC_PROVIDERS", "corp")
        .env("OIDC_CORP_ISSUER", "https://id.example.com")
        .env("OIDC_CORP_CLIENT_ID", "authql")
        .env("OIDC_CORP_CLIENT_SECRET", "corp-client-secret-5")
        .env("RATE_LIMIT_PASSWORD", "ip:30/2s")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    for secret in [SECRET_KEY, "db-password-7", "redis-password-8", "corp-client-secret-5"] {
        assert!(!said.contains(secret), "a secret was printed: {said}");
    }
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "ACCESS_TOKEN_TTL=15m  (flag)",
        "DATABASE_URL=postgres://user:****@db.example.com:5432/authql  (env)",
        "REDIS_URL=redis://:****@cache.example.com:6379/2  (env)",
        "SECRET_KEY=****  (.env)",
        "MAIL_FROM=authql <dotenv@example.com>  (.env)",
        "JWT_AUDIENCE=from-env  (env)",
        "REFRESH_TOKEN_TTL=1d  (default)",
        "PASSWORD_HASH_MEMORY_KIB=256  (env)",
        "PUBLIC_URL  (not set)",
        "OIDC_CORP_CLIENT_ID=authql  (env)",
        "OIDC_CORP_CLIENT_SECRET=****  (env)",
        "RATE_LIMIT_PASSWORD=ip:30/2s  (env)",
    ] {
        assert!(lines.contains(&expected), "no line {expected:?} in:\n{stdout}");
    }
    // Every setting `--help` names has its line.
    let help = authql(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for variable in help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
    {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{variable}=")) || l.starts_with(&format!("{variable}  "))),
            "{variable} is not listed:\n{stdout}"
        );
    }
}
