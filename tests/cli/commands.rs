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
