//! The commands besides `serve`: migrate, keygen, create-admin.

use std::process::Stdio;

use serde_json::json;

use crate::authql;
use crate::server::{LOGIN, Server};

#[test]
fn migrate_and_keygen_commands() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = authql(dir.path()).arg("migrate").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(dir.path().join("data/authql.db").exists());

    let out = authql(dir.path()).args(["keygen", "--secret"]).output().unwrap();
    let secret = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success() && secret.trim().len() >= 43, "{secret}");

    let out = authql(dir.path()).arg("keygen").output().unwrap();
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success() && said.contains("published now, signing in 10m"),
        "{said}"
    );
}

#[tokio::test]
async fn create_admin_makes_an_administrator_who_can_list_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let create = |email: &str, stdin: &str| {
        let mut child = authql(dir.path())
            .args(["create-admin", email])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = create("boss@example.com", "password\n");
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password:"),
        "names the field"
    );

    let made = create("boss@example.com", "Correct-Horse-Battery-Staple-42\n");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(said.contains("created the administrator account"), "{said}");
    assert!(
        said.contains("REQUIRE_MFA=admins") && said.contains("setupMfa"),
        "says the administrator must enrol a second factor first: {said}"
    );

    let server = Server::start(authql(dir.path()));
    let login = server
        .gql(
            LOGIN,
            json!({ "e": "boss@example.com", "p": "Correct-Horse-Battery-Staple-42" }),
            None,
        )
        .await;
    let token = login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .expect("confirmed, can log in");
    let list = "{ users { totalCount nodes { email role } } }";
    // REQUIRE_MFA=admins by default: nothing but enrolling until a second factor is on.
    let users = server.gql(list, json!({}), Some(token)).await;
    assert_eq!(users["errors"][0]["extensions"]["code"], "FORBIDDEN", "{users}");
    let setup = server
        .gql("mutation { setupMfa { secret } }", json!({}), Some(token))
        .await;
    let secret = setup["data"]["setupMfa"]["secret"]
        .as_str()
        .expect("enrolling is allowed");
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .with_account_name("boss@example.com".to_owned())
        .build()
        .unwrap();
    let enabled = server
        .gql(
            "mutation($c: String!) { enableMfa(code: $c) { codes } }",
            json!({ "c": totp.generate_current().to_string() }),
            Some(token),
        )
        .await;
    assert!(enabled["data"]["enableMfa"]["codes"].is_array(), "{enabled}");
    let users = server.gql(list, json!({}), Some(token)).await;
    assert_eq!(users["data"]["users"]["nodes"][0]["role"], "ADMIN", "{users}");
    let secrets_logged = server.stop().contains("Correct-Horse");
    assert!(!secrets_logged);

    // An existing account is promoted without a password.
    let promoted = create("boss@example.com", "");
    assert!(String::from_utf8_lossy(&promoted.stdout).contains("is now an administrator"));
}

#[tokio::test]
async fn a_failing_keygen_says_why() {
    use sea_orm::{ConnectionTrait, Database};
    let dir = tempfile::tempdir().unwrap();
    let out = authql(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The database refuses new signing keys, with a reason of its own.
    let url = format!("sqlite://{}", dir.path().join("data/authql.db").display());
    let db = Database::connect(url).await.unwrap();
    db.execute_unprepared(
        "CREATE TRIGGER frozen BEFORE INSERT ON signing_keys BEGIN SELECT RAISE(ABORT, 'signing keys are frozen'); END",
    )
    .await
    .unwrap();
    db.close().await.unwrap();

    let out = authql(dir.path()).arg("keygen").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("cannot store the new signing key"), "{said}");
    assert!(
        said.contains("signing keys are frozen"),
        "the cause reaches the operator: {said}"
    );
}

#[test]
fn keygen_revokes_previous_keys_only_with_now() {
    let dir = tempfile::tempdir().unwrap();
    let out = authql(dir.path())
        .args(["keygen", "--revoke-previous"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "--revoke-previous needs --now");
    let out = authql(dir.path())
        .args(["keygen", "--now", "--revoke-previous"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("every previous key is revoked"), "{said}");
}

#[test]
fn reset_mfa_names_an_unknown_account_and_leaves_accounts_without_mfa_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = authql(dir.path())
        .args(["reset-mfa", "nobody@example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("email: no account"));
    let mut child = authql(dir.path())
        .args(["create-admin", "plain@example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"Correct-Horse-Battery-Staple-42\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let out = authql(dir.path())
        .args(["reset-mfa", "plain@example.com"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing changed"));
}

/// The server and CLI of `dir` with passkeys on (for `localhost`), signing
/// up without confirmation and with no second factor required.
fn with_passkeys(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = authql(dir);
    cmd.env("WEBAUTHN_RP_ID", crate::passkey_device::RP_ID)
        .env("WEBAUTHN_ORIGINS", crate::passkey_device::ORIGIN)
        .env("REQUIRE_EMAIL_CONFIRMATION", "false")
        .env("REQUIRE_MFA", "off");
    cmd
}

/// A whole discoverable passkey sign-in with `device`; the answer.
async fn passkey_sign_in(server: &Server, device: &mut crate::passkey_device::Device) -> serde_json::Value {
    let started = server
        .gql("mutation { startPasskeySignIn { id options } }", json!({}), None)
        .await;
    let started = &started["data"]["startPasskeySignIn"];
    let credential = device.get(&started["options"]).await;
    server
        .gql(
            "mutation($c: ID!, $cred: JSON!) { finishPasskeySignIn(ceremonyId: $c, credential: $cred) { auth { accessToken } } }",
            json!({ "c": started["id"], "cred": credential }),
            None,
        )
        .await
}

#[tokio::test]
async fn reset_mfa_keeps_passkeys_and_remove_passkeys_removes_them_records_and_mails() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(with_passkeys(dir.path()));
    let email = "ann@example.com";
    let r = server
        .gql(crate::server::SIGNUP, json!({ "e": email, "p": crate::PASSWORD }), None)
        .await;
    let access = r["data"]["signup"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let started = server
        .gql(
            "mutation { startPasskeyRegistration { id options } }",
            json!({}),
            Some(&access),
        )
        .await;
    let started = &started["data"]["startPasskeyRegistration"];
    let mut device = crate::passkey_device::Device::new();
    let credential = device.create(&started["options"]).await;
    let added = server
        .gql(
            "mutation($c: ID!, $cred: JSON!) { finishPasskeyRegistration(ceremonyId: $c, credential: $cred) { id } }",
            json!({ "c": started["id"], "cred": credential }),
            Some(&access),
        )
        .await;
    assert!(added["errors"].is_null(), "{added}");
    let setup = server
        .gql("mutation { setupMfa { secret } }", json!({}), Some(&access))
        .await;
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(setup["data"]["setupMfa"]["secret"].as_str().unwrap()).unwrap())
        .with_account_name(email.to_owned())
        .build()
        .unwrap();
    let enabled = server
        .gql(
            "mutation($c: String!) { enableMfa(code: $c) { codes } }",
            json!({ "c": totp.generate_current().to_string() }),
            Some(&access),
        )
        .await;
    assert!(enabled["data"]["enableMfa"]["codes"].is_array(), "{enabled}");

    let out = with_passkeys(dir.path()).args(["reset-mfa", email]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("two-step verification is off"));
    let r = passkey_sign_in(&server, &mut device).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "reset-mfa left the passkey: {r}"
    );
    let fresh = r["data"]["finishPasskeySignIn"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = with_passkeys(dir.path())
        .args(["remove-passkeys", email])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("removed 1 passkey(s) of ann@example.com"), "{said}");
    let r = passkey_sign_in(&server, &mut device).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS",
        "the passkey is gone: {r}"
    );
    // Sessions end at once on the instance that ends them, within a second on the others.
    let mut me = json!(null);
    for _ in 0..40 {
        me = server.gql("{ me { id } }", json!({}), Some(&fresh)).await;
        if me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{me}");
    let login = server
        .gql(crate::server::LOGIN, json!({ "e": email, "p": crate::PASSWORD }), None)
        .await;
    let access = login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("the password still signs in: {login}"));
    let events = server
        .gql("{ securityEvents(first: 5) { kind } }", json!({}), Some(access))
        .await;
    assert!(
        events.to_string().contains("PASSKEYS_REMOVED_BY_OPERATOR"),
        "recorded: {events}"
    );
    let out = with_passkeys(dir.path())
        .args(["remove-passkeys", email])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("had no passkey; nothing changed"));
    let out = with_passkeys(dir.path())
        .args(["remove-passkeys", "nobody@example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("email: no account"));
    drop(server);

    use sea_orm::{ConnectionTrait, Database};
    let url = format!("sqlite://{}", dir.path().join("data/authql.db").display());
    let db = Database::connect(url).await.unwrap();
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'PASSKEYS_REMOVED_BY_OPERATOR' AND actor_id IS NULL")
            .await,
        1,
        "in the audit log, by no administrator"
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM mail_outbox WHERE subject = 'Your passkeys were removed'").await,
        1,
        "the owner is mailed"
    );
}
