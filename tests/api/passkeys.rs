//! Passkeys as their owner uses them: add, list, rename, delete (never the
//! last way in), sign in discoverable or for an email, on any instance.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app_beside, spawn_app_with};
use crate::passkey_device::{Device, ORIGIN, RP_ID};

pub const START_REGISTRATION: &str = "mutation { startPasskeyRegistration { id options } }";
pub const FINISH_REGISTRATION: &str = "mutation($c: ID!, $cred: JSON!, $n: String) { finishPasskeyRegistration(ceremonyId: $c, credential: $cred, name: $n) { id name createdAt lastUsedAt backupEligible backedUp } }";
pub const START_SIGN_IN: &str = "mutation($e: String) { startPasskeySignIn(email: $e) { id options } }";
pub const FINISH_SIGN_IN: &str = "mutation($c: ID!, $cred: JSON!) { finishPasskeySignIn(ceremonyId: $c, credential: $cred) { mfaRequired auth { accessToken refreshToken user { email } } } }";
const LIST: &str = "{ passkeys { id name lastUsedAt backupEligible backedUp } }";
const RENAME: &str = "mutation($id: ID!, $n: String!) { renamePasskey(id: $id, name: $n) { id name } }";
const DELETE: &str = "mutation($id: ID!) { deletePasskey(id: $id) }";

/// Passkeys on for `localhost`, used from [`ORIGIN`].
pub fn passkey_config() -> authql::config::webauthn::WebauthnConfig {
    authql::config::webauthn::WebauthnConfig {
        relying_party: Some(authql::config::webauthn::RelyingParty {
            id: RP_ID.to_owned(),
            origins: vec![url::Url::parse(ORIGIN).unwrap()],
        }),
        attestation: authql::config::webauthn::Attestation::None,
    }
}

/// The test app with [`passkey_config`].
pub async fn passkey_app() -> TestApp {
    spawn_app_with(|c| c.webauthn = passkey_config()).await
}

/// Starts a registration as `access`: the ceremony's id and options.
pub async fn start_registration(app: &TestApp, access: &str) -> (String, Value) {
    let r = app.gql_as(access, START_REGISTRATION, json!({})).await;
    let started = &r["data"]["startPasskeyRegistration"];
    assert!(started["id"].is_string(), "{r}");
    (started["id"].as_str().unwrap().to_owned(), started["options"].clone())
}

/// Adds a passkey made by `device` to `access`'s account; returns the answer.
pub async fn add_passkey(app: &TestApp, access: &str, device: &mut Device) -> Value {
    let (id, options) = start_registration(app, access).await;
    let credential = device.create(&options).await;
    app.gql_as(access, FINISH_REGISTRATION, json!({ "c": id, "cred": credential }))
        .await
}

/// Starts a sign-in (for `email`, or discoverable).
pub async fn start_sign_in(app: &TestApp, email: Option<&str>) -> (String, Value) {
    let r = app.gql(START_SIGN_IN, json!({ "e": email })).await;
    let started = &r["data"]["startPasskeySignIn"];
    assert!(started["id"].is_string(), "{r}");
    (started["id"].as_str().unwrap().to_owned(), started["options"].clone())
}

/// A whole sign-in with `device`; the answer of `finishPasskeySignIn`.
pub async fn sign_in(app: &TestApp, email: Option<&str>, device: &mut Device) -> Value {
    let (id, options) = start_sign_in(app, email).await;
    let credential = device.get(&options).await;
    app.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": credential })).await
}

/// A whole sign-in for `email` by `device` with whichever of its passkeys
/// it holds, whatever the options list (an attacker's browser); the answer.
pub async fn sign_in_with_any(app: &TestApp, email: &str, device: &mut Device) -> Value {
    let (id, mut options) = start_sign_in(app, Some(email)).await;
    options["allowCredentials"] = json!([]);
    let credential = device.get(&options).await;
    app.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": credential })).await
}

/// The `amr` claim of an access token.
pub fn amr(access: &str) -> Value {
    use base64::Engine;
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["amr"].clone()
}

#[tokio::test]
async fn a_passkey_is_added_listed_renamed_and_deleted() {
    let app = passkey_app().await;
    let tokens = app.user_with_tokens("ann@example.com").await;
    let (id, options) = start_registration(&app, &tokens.access).await;
    assert_eq!(options["rp"]["id"], RP_ID, "{options}");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"], "required",
        "{options}"
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"], "required",
        "{options}"
    );
    assert!(
        options.get("publicKey").is_none() && options["challenge"].is_string(),
        "{options}"
    );

    let mut device = Device::new();
    let credential = device.create(&options).await;
    let r = app
        .gql_as(
            &tokens.access,
            FINISH_REGISTRATION,
            json!({ "c": id, "cred": credential }),
        )
        .await;
    let added = &r["data"]["finishPasskeyRegistration"];
    assert_eq!(added["name"], "Passkey", "an authenticator of no known model: {r}");
    assert!(added["lastUsedAt"].is_null(), "{r}");
    assert_eq!(
        app.mail.wait_for("ann@example.com").await.subject(),
        "Confirm your email address"
    );
    let notice = app.mail.wait_for_nth("ann@example.com", 2).await;
    assert_eq!(notice.subject(), "A passkey was added to your account");
    let me = app.me(&tokens.access).await;
    assert_eq!(me["data"]["me"]["providers"], json!(["password", "passkey"]), "{me}");

    let key = added["id"].as_str().unwrap();
    let r = app
        .gql_as(&tokens.access, RENAME, json!({ "id": key, "n": "  Laptop  " }))
        .await;
    assert_eq!(r["data"]["renamePasskey"]["name"], "Laptop", "{r}");
    let r = app.gql_as(&tokens.access, RENAME, json!({ "id": key, "n": " " })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "name", "{r}");
    let list = app.gql_as(&tokens.access, LIST, json!({})).await;
    assert_eq!(list["data"]["passkeys"][0]["name"], "Laptop", "{list}");

    // Someone else's session cannot see, rename or delete it.
    let bob = app.user_with_tokens("bob@example.com").await;
    let r = app.gql_as(&bob.access, LIST, json!({})).await;
    assert_eq!(r["data"]["passkeys"], json!([]), "{r}");
    let r = app.gql_as(&bob.access, DELETE, json!({ "id": key })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");

    let r = app.gql_as(&tokens.access, DELETE, json!({ "id": key })).await;
    assert_eq!(r["data"]["deletePasskey"], true, "{r}");
    let notice = app.mail.wait_for_nth("ann@example.com", 3).await;
    assert_eq!(notice.subject(), "A passkey was removed from your account");
    let kinds = app.event_kinds(&tokens.access).await;
    assert!(
        kinds.contains(&"PASSKEY_ADDED".to_owned()) && kinds.contains(&"PASSKEY_REMOVED".to_owned()),
        "{kinds:?}"
    );
    let r = sign_in(&app, None, &mut device).await;
    assert_eq!(
        code(&r),
        Some("INVALID_CREDENTIALS"),
        "a deleted passkey signs in no more: {r}"
    );
}

#[tokio::test]
async fn a_passkey_signs_in_without_an_email_or_for_one() {
    let app = passkey_app().await;
    let tokens = app.user_with_tokens("ann@example.com").await;
    let mut device = Device::new();
    let r = add_passkey(&app, &tokens.access, &mut device).await;
    assert!(r["errors"].is_null(), "{r}");

    let (_, options) = start_sign_in(&app, None).await;
    assert_eq!(options["allowCredentials"], json!([]), "discoverable: {options}");
    assert_eq!(options["userVerification"], "required", "{options}");
    let r = sign_in(&app, None, &mut device).await;
    let auth = &r["data"]["finishPasskeySignIn"]["auth"];
    assert_eq!(auth["user"]["email"], "ann@example.com", "{r}");
    assert_eq!(r["data"]["finishPasskeySignIn"]["mfaRequired"], false, "{r}");
    let access = auth["accessToken"].as_str().unwrap();
    assert_eq!(amr(access), json!(["pop", "user", "mfa"]));
    // A fresh sign-in: sensitive operations need no further proof.
    let probe = "mutation { revokeSession(id: \"00000000-0000-4000-8000-000000000000\") }";
    let r = app.gql_as(access, probe, json!({})).await;
    assert_eq!(r["data"]["revokeSession"], false, "{r}");
    let list = app.gql_as(access, LIST, json!({})).await;
    assert!(list["data"]["passkeys"][0]["lastUsedAt"].is_string(), "{list}");

    let (_, options) = start_sign_in(&app, Some("ANN@example.com")).await;
    let listed = options["allowCredentials"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{options}");
    let r = sign_in(&app, Some("ann@example.com"), &mut device).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );

    // An unknown address gets options of the same shape, the same each time.
    let (_, nobody) = start_sign_in(&app, Some("nobody@example.com")).await;
    let (_, again) = start_sign_in(&app, Some("nobody@example.com")).await;
    assert!(!nobody["allowCredentials"].as_array().unwrap().is_empty(), "{nobody}");
    assert_eq!(nobody["allowCredentials"], again["allowCredentials"]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&nobody), keys(&options));
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_deleted() {
    let app = passkey_app().await;
    let tokens = app.user_with_tokens("ann@example.com").await;
    let mut device = Device::new();
    let first = add_passkey(&app, &tokens.access, &mut device).await;
    let first = first["data"]["finishPasskeyRegistration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An account without a password, as one made by a provider sign-in.
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .writer()
        .execute_unprepared("UPDATE users SET password_hash = NULL")
        .await
        .unwrap();
    let r = app.gql_as(&tokens.access, DELETE, json!({ "id": first })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(app.count("passkeys").await, 1);

    let mut other = Device::new();
    let second = add_passkey(&app, &tokens.access, &mut other).await;
    assert!(second["errors"].is_null(), "{second}");
    let r = app.gql_as(&tokens.access, DELETE, json!({ "id": first })).await;
    assert_eq!(r["data"]["deletePasskey"], true, "with another passkey left: {r}");
    let second = second["data"]["finishPasskeyRegistration"]["id"].as_str().unwrap();
    let r = app.gql_as(&tokens.access, DELETE, json!({ "id": second })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    let r = sign_in(&app, None, &mut other).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );
}

#[tokio::test]
async fn a_ceremony_started_on_one_instance_finishes_on_another() {
    let first = passkey_app().await;
    // Behind one PUBLIC_URL, as a deployment's instances are: tokens of one work on the other.
    let public_url = first.state.config.public_url.clone();
    let second = spawn_app_beside(&first, |c| c.public_url = public_url).await;
    let tokens = first.user_with_tokens("ann@example.com").await;
    let mut device = Device::new();
    let (id, options) = start_registration(&first, &tokens.access).await;
    let credential = device.create(&options).await;
    let r = second
        .gql_as(
            &tokens.access,
            FINISH_REGISTRATION,
            json!({ "c": id, "cred": credential }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");

    let (id, options) = start_sign_in(&second, None).await;
    let credential = device.get(&options).await;
    let r = first.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": credential })).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );
}
