//! Sign-up with a passkey and no password: the rules of `signup` exactly
//! (confirmation, nothing told about a taken address, an unconfirmed one
//! started over by a later sign-up), and ceremonies that finish once, as
//! sign-ups only.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SIGNUP, TestApp, code, spawn_app_with, unlimited_mail_per_address};
use crate::passkey_device::Device;
use crate::passkeys::{
    FINISH_REGISTRATION, passkey_app, passkey_config, sign_in, sign_in_with_any, start_registration,
};

pub const START_SIGNUP: &str = "mutation($i: PasskeySignupInput!) { startPasskeySignup(input: $i) { id options } }";
pub const FINISH_SIGNUP: &str = "mutation($c: ID!, $cred: JSON!) { finishPasskeySignup(ceremonyId: $c, credential: $cred) { confirmationRequired auth { accessToken refreshToken user { email } } } }";
const DELETE_ACCOUNT: &str = "mutation { deleteAccount }";

/// Starts a passkey sign-up for `email`: the ceremony's id and options.
pub async fn start_signup(app: &TestApp, email: &str) -> (String, Value) {
    let r = app.gql(START_SIGNUP, json!({ "i": { "email": email } })).await;
    let started = &r["data"]["startPasskeySignup"];
    assert!(started["id"].is_string(), "{r}");
    (started["id"].as_str().unwrap().to_owned(), started["options"].clone())
}

/// A whole passkey sign-up for `email` with `device`; the answer of `finishPasskeySignup`.
pub async fn passkey_signup(app: &TestApp, email: &str, device: &mut Device) -> Value {
    let (id, options) = start_signup(app, email).await;
    let credential = device.create(&options).await;
    app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": credential })).await
}

/// Opens the newest confirmation link mailed to `email` (the `n`th mail).
async fn confirm(app: &TestApp, email: &str, n: usize) {
    let link = app.mail.wait_for_nth(email, n).await.link();
    app.press_confirm(&link).await;
}

/// What a refused attempt must leave as it was: accounts, passkeys, sessions.
async fn written(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("users").await,
        app.count("passkeys").await,
        app.count("sessions").await,
    )
}

async fn app_with_passkeys() -> TestApp {
    spawn_app_with(|c| {
        unlimited_mail_per_address(c);
        c.webauthn = passkey_config();
    })
    .await
}

#[tokio::test]
async fn a_passkey_sign_up_answers_alike_for_taken_and_free_addresses() {
    let app = app_with_passkeys().await;
    let known = "known@example.com";
    app.confirmed_user(known).await;
    let pending = "pending@example.com";
    app.signup(pending, PASSWORD).await;
    let unknown = "nobody@example.com";

    let mut answers = Vec::new();
    let mut shapes = Vec::new();
    for email in [known, pending, unknown] {
        let (id, options) = start_signup(&app, email).await;
        assert_eq!(options["user"]["name"], email, "{options}");
        assert_eq!(
            options["excludeCredentials"],
            Value::Null,
            "nobody's passkeys are listed: {options}"
        );
        let mut keys: Vec<String> = options.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        shapes.push(keys);
        let credential = Device::new().create(&options).await;
        let (status, body) = app
            .post_raw(
                json!({ "query": FINISH_SIGNUP, "variables": { "c": id, "cred": credential } }).to_string(),
                None,
            )
            .await;
        answers.push((status.as_u16(), body));
    }
    assert_eq!(
        shapes[0], shapes[2],
        "the options of a taken address look like a free one's"
    );
    assert_eq!(shapes[1], shapes[2]);
    assert_eq!(answers[0], answers[2], "the answer for a confirmed address");
    assert_eq!(answers[1], answers[2], "the answer for an unconfirmed address");
    assert_eq!(
        answers[2].1,
        json!({ "data": { "finishPasskeySignup": { "confirmationRequired": true, "auth": null } } })
    );
    // The owners, not the caller, hear about it, as after `signup`.
    assert_eq!(
        app.mail.wait_for_nth(known, 2).await.subject(),
        "You already have an account"
    );
    let again = app.mail.wait_for_nth(pending, 2).await;
    assert_eq!(again.subject(), "Confirm your email address");
    assert!(again.text().contains("replaces an earlier sign-up"), "{}", again.text());
    assert_eq!(app.mail.wait_for(unknown).await.subject(), "Confirm your email address");
    assert_eq!(
        app.count("passkeys").await,
        2,
        "the confirmed account got no passkey of the stranger's"
    );
}

#[tokio::test]
async fn a_squatters_pending_passkey_is_gone_once_the_owner_signs_up_and_confirms() {
    let app = app_with_passkeys().await;
    let email = "ann@example.com";
    let mut squatters_device = Device::new();
    let r = passkey_signup(&app, email, &mut squatters_device).await;
    assert_eq!(r["data"]["finishPasskeySignup"]["confirmationRequired"], true, "{r}");
    let r = sign_in(&app, None, &mut squatters_device).await;
    assert_eq!(code(&r), Some("EMAIL_NOT_CONFIRMED"), "not before confirmation: {r}");
    let squatters_link = app.mail.wait_for_nth(email, 1).await.link();

    // The owner signs up with a password and confirms.
    app.signup(email, PASSWORD).await;
    confirm(&app, email, 2).await;
    let stale = app.http.post(&squatters_link).send().await.unwrap();
    assert_eq!(stale.status(), 400, "the squatter's link died with the later sign-up");
    let r = sign_in(&app, None, &mut squatters_device).await;
    assert_eq!(
        code(&r),
        Some("INVALID_CREDENTIALS"),
        "the squatter's passkey is gone: {r}"
    );
    let r = sign_in_with_any(&app, email, &mut squatters_device).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{r}");
    assert_eq!(app.count("passkeys").await, 0);
    assert!(app.login(email, PASSWORD).await["data"]["login"]["auth"]["accessToken"].is_string());
}

#[tokio::test]
async fn a_squatters_password_is_gone_once_the_owner_signs_up_with_a_passkey() {
    let app = app_with_passkeys().await;
    let email = "ann@example.com";
    app.signup(email, "Squatter-Chosen-Passphrase-31").await;
    let mut owners_device = Device::new();
    let r = passkey_signup(&app, email, &mut owners_device).await;
    assert_eq!(r["data"]["finishPasskeySignup"]["confirmationRequired"], true, "{r}");
    confirm(&app, email, 2).await;
    let r = app.login(email, "Squatter-Chosen-Passphrase-31").await;
    assert_eq!(
        code(&r),
        Some("INVALID_CREDENTIALS"),
        "the squatter's password is gone: {r}"
    );
    let r = sign_in(&app, None, &mut owners_device).await;
    assert_eq!(
        r["data"]["finishPasskeySignIn"]["auth"]["user"]["email"], email,
        "the owner's passkey signs in: {r}"
    );
    // A later sign-up of the squatter's replaces the owner's passkey no more: the address is confirmed.
    let r = passkey_signup(&app, email, &mut Device::new()).await;
    assert_eq!(r["data"]["finishPasskeySignup"]["confirmationRequired"], true, "{r}");
    assert_eq!(app.count("passkeys").await, 1);
    assert!(
        sign_in(&app, None, &mut owners_device).await["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string()
    );
}

#[tokio::test]
async fn a_sign_up_ceremony_finishes_once_and_only_as_a_sign_up() {
    let app = passkey_app().await;
    let mut device = Device::new();
    let (id, options) = start_signup(&app, "ann@example.com").await;
    let credential = device.create(&options).await;
    let r = app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": credential })).await;
    assert!(r["errors"].is_null(), "{r}");
    let before = written(&app).await;
    let r = app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": credential })).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "a replayed sign-up: {r}");
    let again = Device::new().create(&options).await;
    let r = app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": again })).await;
    assert_eq!(
        code(&r),
        Some("INVALID_TOKEN"),
        "a fresh answer on a spent ceremony: {r}"
    );

    // Mallory's answer to her own ceremony, on Ann's.
    let (anns, _) = start_signup(&app, "ann2@example.com").await;
    let (_, mallorys) = start_signup(&app, "mallory@example.com").await;
    let credential = Device::new().create(&mallorys).await;
    let r = app.gql(FINISH_SIGNUP, json!({ "c": anns, "cred": credential })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "another ceremony's answer: {r}");
    let r = app.gql(FINISH_SIGNUP, json!({ "c": anns, "cred": credential })).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "and the ceremony is spent: {r}");

    // A registration's ceremony does not make an account, nor a sign-up's a passkey for a session.
    let bob = app.user_with_tokens("bob@example.com").await;
    let before = (before.0 + 1, before.1, before.2 + 1);
    assert_eq!(written(&app).await, before);
    let (registration, options) = start_registration(&app, &bob.access).await;
    let credential = Device::new().create(&options).await;
    let r = app
        .gql(FINISH_SIGNUP, json!({ "c": registration, "cred": credential }))
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    let (signup, options) = start_signup(&app, "carol@example.com").await;
    let credential = Device::new().create(&options).await;
    let r = app
        .gql_as(
            &bob.access,
            FINISH_REGISTRATION,
            json!({ "c": signup, "cred": credential }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    assert_eq!(written(&app).await, before, "nothing was written");
}

#[tokio::test]
async fn an_account_made_with_a_passkey_confirms_signs_in_and_deletes_itself_without_a_password() {
    let app = passkey_app().await;
    let email = "ann@example.com";
    let r = app
        .gql(START_SIGNUP, json!({ "i": { "email": email, "username": "x" } }))
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "the checks of signup: {r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "username", "{r}");
    let r = app
        .gql(
            START_SIGNUP,
            json!({ "i": { "email": email, "username": "ann", "displayName": "Ann" } }),
        )
        .await;
    let options = &r["data"]["startPasskeySignup"]["options"];
    assert_eq!(options["user"]["displayName"], "Ann", "{r}");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "{r}");
    let mut device = Device::new();
    let credential = device.create(options).await;
    let id = r["data"]["startPasskeySignup"]["id"].clone();
    let r = app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": credential })).await;
    assert_eq!(r["data"]["finishPasskeySignup"]["confirmationRequired"], true, "{r}");
    let confirmation = app.mail.wait_for(email).await;
    assert_eq!(confirmation.subject(), "Confirm your email address");
    confirm(&app, email, 1).await;

    let r = sign_in(&app, None, &mut device).await;
    let access = r["data"]["finishPasskeySignIn"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let me = app
        .gql_as(
            &access,
            "{ me { email username displayName emailVerified providers } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "email": email, "username": "ann", "displayName": "Ann", "emailVerified": true, "providers": ["passkey"] })
    );
    assert_eq!(code(&app.login(email, PASSWORD).await), Some("INVALID_CREDENTIALS"));

    crate::account_security::age_sessions(&app, email).await;
    let r = app.gql_as(&access, DELETE_ACCOUNT, json!({})).await;
    assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "an old session cannot: {r}");
    let r = sign_in(&app, Some(email), &mut device).await;
    let fresh = r["data"]["finishPasskeySignIn"]["auth"]["accessToken"]
        .as_str()
        .unwrap();
    let r = app.gql_as(fresh, DELETE_ACCOUNT, json!({})).await;
    assert_eq!(r["data"]["deleteAccount"], true, "{r}");
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("passkeys").await, 0);
}

#[tokio::test]
async fn without_confirmation_a_passkey_sign_up_signs_in_at_once() {
    let app = spawn_app_with(|c| {
        c.webauthn = passkey_config();
        c.require_email_confirmation = false;
    })
    .await;
    let mut device = Device::new();
    let r = passkey_signup(&app, "fay@example.com", &mut device).await;
    let signed_up = &r["data"]["finishPasskeySignup"];
    assert_eq!(signed_up["confirmationRequired"], false, "{r}");
    let access = signed_up["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(crate::passkeys::amr(access), json!(["pop", "user", "mfa"]));
    let r = passkey_signup(&app, "fay@example.com", &mut Device::new()).await;
    assert_eq!(code(&r), Some("EMAIL_TAKEN"), "{r}");
    let r = app
        .gql(
            SIGNUP,
            json!({ "input": { "email": "fay@example.com", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(code(&r), Some("EMAIL_TAKEN"), "{r}");
    assert_eq!(app.count("passkeys").await, 1);
}

/// `credential` (what `toJSON()` gives for a "none" attestation, which signs
/// nothing) made to name `id` instead of the credential it made: what an
/// attacker's own authenticator can send.
fn naming(credential: &Value, id: &str) -> Value {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let raw = URL_SAFE_NO_PAD
        .decode(credential["response"]["attestationObject"].as_str().unwrap())
        .unwrap();
    let mut object: ciborium::Value = ciborium::from_reader(raw.as_slice()).unwrap();
    let wanted = URL_SAFE_NO_PAD.decode(id).unwrap();
    for (key, value) in object.as_map_mut().unwrap() {
        if key.as_text() == Some("authData") {
            let data = value.as_bytes().unwrap().clone();
            // rpIdHash 32, flags 1, counter 4, AAGUID 16, then the id's length and the id.
            let len = usize::from(u16::from_be_bytes([data[53], data[54]]));
            let mut forged = data[..53].to_vec();
            forged.extend_from_slice(&u16::try_from(wanted.len()).unwrap().to_be_bytes());
            forged.extend_from_slice(&wanted);
            forged.extend_from_slice(&data[55 + len..]);
            *value = ciborium::Value::Bytes(forged);
        }
    }
    let mut bytes = Vec::new();
    ciborium::into_writer(&object, &mut bytes).unwrap();
    let mut forged = credential.clone();
    forged["id"] = json!(id);
    forged["rawId"] = json!(id);
    forged["response"]["attestationObject"] = json!(URL_SAFE_NO_PAD.encode(bytes));
    forged
}

/// A sign-up naming a credential id that is registered already gets one
/// answer whether or not its address is taken: otherwise an attacker who
/// registered an id of their own could tell taken addresses by it.
#[tokio::test]
async fn a_sign_up_naming_a_registered_passkey_answers_alike_for_taken_and_free_addresses() {
    let app = app_with_passkeys().await;
    app.confirmed_user("known@example.com").await;
    let mut device = Device::new();
    let (id, options) = start_signup(&app, "throwaway@example.com").await;
    let theirs = device.create(&options).await;
    let r = app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": theirs })).await;
    assert!(r["errors"].is_null(), "{r}");
    let taken_id = theirs["id"].as_str().unwrap();

    let mut answers = Vec::new();
    for email in ["known@example.com", "free@example.com"] {
        let (id, options) = start_signup(&app, email).await;
        let forged = naming(&Device::new().create(&options).await, taken_id);
        let before = written(&app).await;
        let r = app.gql(FINISH_SIGNUP, json!({ "c": id, "cred": forged })).await;
        assert_eq!(written(&app).await, before, "{email}: nothing written: {r}");
        answers.push((
            code(&r).map(str::to_owned),
            r["errors"][0]["message"].clone(),
            r["data"].clone(),
        ));
    }
    assert_eq!(answers[0], answers[1], "taken and free addresses answered alike");
}
