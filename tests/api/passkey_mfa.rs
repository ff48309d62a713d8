//! A passkey as the second factor of a password login, and as a step-up:
//! offered only where a second factor is due, limited to the account's own
//! passkeys, counted as `verifyMfa`'s codes are, and bound to the login or
//! session that started it.

use authql::config::RequireMfa;
use serde_json::{Value, json};

use crate::account_security::age_sessions;
use crate::helpers::{PASSWORD, TestApp, Tokens, code, spawn_app_with};
use crate::mfa::{enrolled, mfa_token, verify};
use crate::passkey_device::Device;
use crate::passkeys::{FINISH_SIGN_IN, add_passkey, amr, passkey_app, passkey_config};

const ANN: &str = "ann@example.com";
const START_SECOND_FACTOR: &str = "mutation($t: String) { startPasskeySignIn(mfaToken: $t) { id options } }";
const START_STEP_UP: &str = "mutation { startPasskeyStepUp { id options } }";
const FINISH_STEP_UP: &str =
    "mutation($c: ID!, $cred: JSON!) { finishPasskeyStepUp(ceremonyId: $c, credential: $cred) }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { mfaRequired mfaToken mfaMethods auth { accessToken } } }";
/// A sensitive operation without side effects: revoking a session that does not exist.
const SENSITIVE: &str = "mutation { revokeSession(id: \"00000000-0000-4000-8000-000000000000\") }";

/// Starts the passkey step of the login of `mfa_token`.
async fn start_second_factor(app: &TestApp, mfa_token: &str) -> Value {
    app.gql(START_SECOND_FACTOR, json!({ "t": mfa_token })).await
}

/// The passkey step of the login of `mfa_token`, answered by `device` with
/// `options` opened to every passkey (as an attacker's browser would).
async fn second_factor_with(app: &TestApp, mfa_token: &str, device: &mut Device, open: bool) -> Value {
    let r = start_second_factor(app, mfa_token).await;
    let started = &r["data"]["startPasskeySignIn"];
    assert!(started["id"].is_string(), "{r}");
    let mut options = started["options"].clone();
    if open {
        options["allowCredentials"] = json!([]);
    }
    let credential = device.get(&options).await;
    app.gql(FINISH_SIGN_IN, json!({ "c": started["id"], "cred": credential }))
        .await
}

/// Ann with TOTP and a passkey on `device`.
async fn ann_with_totp_and_passkey(app: &TestApp, device: &mut Device) -> Tokens {
    let (tokens, _, _) = enrolled(app, ANN).await;
    let r = add_passkey(app, &tokens.access, device).await;
    assert!(r["errors"].is_null(), "{r}");
    tokens
}

#[tokio::test]
async fn a_passkey_finishes_a_login_that_asks_for_a_second_factor() {
    let app = passkey_app().await;
    let mut device = Device::new();
    ann_with_totp_and_passkey(&app, &mut device).await;
    let bob = app.user_with_tokens("bob@example.com").await;
    let r = add_passkey(&app, &bob.access, &mut Device::new()).await;
    assert!(r["errors"].is_null(), "{r}");

    let r = app.gql(LOGIN, json!({ "e": ANN, "p": PASSWORD })).await;
    assert_eq!(
        r["data"]["login"]["mfaMethods"],
        json!(["TOTP", "RECOVERY_CODE", "PASSKEY"]),
        "{r}"
    );
    let token = r["data"]["login"]["mfaToken"].as_str().unwrap().to_owned();
    let started = start_second_factor(&app, &token).await;
    let listed = started["data"]["startPasskeySignIn"]["options"]["allowCredentials"]
        .as_array()
        .unwrap_or_else(|| panic!("{started}"))
        .clone();
    assert_eq!(listed.len(), 1, "Ann's passkey only: {started}");
    let r = second_factor_with(&app, &token, &mut device, false).await;
    let signed_in = &r["data"]["finishPasskeySignIn"];
    assert_eq!(signed_in["mfaRequired"], false, "{r}");
    let access = signed_in["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(amr(access), json!(["pwd", "pop", "mfa"]));
    assert_eq!(signed_in["auth"]["user"]["email"], ANN, "{r}");

    // The login's token is spent.
    let r = verify(&app, &token, "123456", "TOTP").await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    let r = start_second_factor(&app, &token).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    // verifyMfa takes codes, never a passkey.
    let token = mfa_token(&app, ANN).await;
    let r = verify(&app, &token, "anything", "PASSKEY").await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "method", "{r}");
}

#[tokio::test]
async fn a_passkey_alone_makes_no_password_login_ask_for_a_second_factor() {
    let app = passkey_app().await;
    let tokens = app.user_with_tokens(ANN).await;
    let r = add_passkey(&app, &tokens.access, &mut Device::new()).await;
    assert!(r["errors"].is_null(), "{r}");
    let r = app.gql(LOGIN, json!({ "e": ANN, "p": PASSWORD })).await;
    assert_eq!(r["data"]["login"]["mfaRequired"], false, "{r}");
    let access = r["data"]["login"]["auth"]["accessToken"].as_str().unwrap();
    assert_eq!(amr(access), json!(["pwd"]));
}

#[tokio::test]
async fn under_require_mfa_a_passkey_is_the_second_factor() {
    let app = spawn_app_with(|c| {
        c.webauthn = passkey_config();
        c.mfa.require = RequireMfa::All;
    })
    .await;
    let tokens = app.user_with_tokens(ANN).await;
    let update = "mutation { updateProfile(input: { displayName: \"Ann\" }) { displayName } }";
    let r = app.gql_as(&tokens.access, update, json!({})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "must enrol first: {r}");
    // Adding a passkey is enrolling one.
    let mut device = Device::new();
    let r = add_passkey(&app, &tokens.access, &mut device).await;
    assert!(r["errors"].is_null(), "{r}");
    let r = app.gql_as(&tokens.access, update, json!({})).await;
    assert_eq!(r["data"]["updateProfile"]["displayName"], "Ann", "enrolled: {r}");

    let r = app.gql(LOGIN, json!({ "e": ANN, "p": PASSWORD })).await;
    assert_eq!(
        r["data"]["login"]["mfaRequired"], true,
        "the password alone is not enough: {r}"
    );
    assert_eq!(r["data"]["login"]["mfaMethods"], json!(["PASSKEY"]), "{r}");
    let token = r["data"]["login"]["mfaToken"].as_str().unwrap();
    let r = second_factor_with(&app, token, &mut device, false).await;
    let access = r["data"]["finishPasskeySignIn"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    let r = app.gql_as(access, update, json!({})).await;
    assert_eq!(r["data"]["updateProfile"]["displayName"], "Ann", "{r}");
}

#[tokio::test]
async fn another_accounts_passkey_never_finishes_a_login_and_counts_as_a_wrong_code() {
    let app = passkey_app().await;
    ann_with_totp_and_passkey(&app, &mut Device::new()).await;
    let mallory = app.user_with_tokens("mallory@example.com").await;
    let mut mallorys_device = Device::with_counter();
    let r = add_passkey(&app, &mallory.access, &mut mallorys_device).await;
    assert!(r["errors"].is_null(), "{r}");
    let sessions = app.count("sessions").await;
    let counters = "SELECT COUNT(*) AS n FROM passkeys WHERE last_used_at IS NOT NULL";

    // Mallory knows Ann's password, not her passkey.
    let token = mfa_token(&app, ANN).await;
    for _ in 0..5 {
        let r = second_factor_with(&app, &token, &mut mallorys_device, true).await;
        assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{r}");
    }
    let r = start_second_factor(&app, &token).await;
    assert_eq!(
        code(&r),
        Some("INVALID_TOKEN"),
        "five tries, then the login is over: {r}"
    );
    assert_eq!(app.count("sessions").await, sessions, "no session");
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM security_events WHERE kind = 'MFA_FAILED'")
            .await,
        5
    );
    assert_eq!(app.scalar(counters).await, 0, "no passkey counted a use");
    // A ceremony of a login finishes that login once.
    let mut device = Device::new();
    let tokens = app.user_with_tokens("carol@example.com").await;
    enrolled_totp(&app, &tokens, "carol@example.com").await;
    let r = add_passkey(&app, &tokens.access, &mut device).await;
    assert!(r["errors"].is_null(), "{r}");
    let token = mfa_token(&app, "carol@example.com").await;
    let r = start_second_factor(&app, &token).await;
    let started = r["data"]["startPasskeySignIn"].clone();
    let credential = device.get(&started["options"]).await;
    let r = app
        .gql(FINISH_SIGN_IN, json!({ "c": started["id"], "cred": credential }))
        .await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );
    let r = app
        .gql(FINISH_SIGN_IN, json!({ "c": started["id"], "cred": credential }))
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "replayed: {r}");
}

/// Turns TOTP on for `tokens`' account.
async fn enrolled_totp(app: &TestApp, tokens: &Tokens, email: &str) {
    crate::mfa::enrol(app, &tokens.access, email).await;
}

/// Steps `access`'s session up with `device`; the answer of `finishPasskeyStepUp`.
async fn step_up(app: &TestApp, access: &str, device: &mut Device) -> Value {
    let r = app.gql_as(access, START_STEP_UP, json!({})).await;
    let started = &r["data"]["startPasskeyStepUp"];
    assert!(started["id"].is_string(), "{r}");
    let credential = device.get(&started["options"]).await;
    app.gql_as(
        access,
        FINISH_STEP_UP,
        json!({ "c": started["id"], "cred": credential }),
    )
    .await
}

#[tokio::test]
async fn a_passkey_steps_a_session_up_with_or_without_totp() {
    let app = passkey_app().await;
    for (email, with_totp) in [(ANN, false), ("tom@example.com", true)] {
        let tokens = app.user_with_tokens(email).await;
        if with_totp {
            enrolled_totp(&app, &tokens, email).await;
        }
        let mut device = Device::new();
        let r = add_passkey(&app, &tokens.access, &mut device).await;
        assert!(r["errors"].is_null(), "{r}");
        age_sessions(&app, email).await;
        let r = app.gql_as(&tokens.access, SENSITIVE, json!({})).await;
        assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "{r}");
        let r = step_up(&app, &tokens.access, &mut device).await;
        assert_eq!(r["data"]["finishPasskeyStepUp"], true, "{r}");
        let r = app.gql_as(&tokens.access, SENSITIVE, json!({})).await;
        assert_eq!(r["data"]["revokeSession"], false, "stepped up: {r}");
    }
    // Without a passkey there is nothing to step up with.
    let bob = app.user_with_tokens("bob@example.com").await;
    let r = app.gql_as(&bob.access, START_STEP_UP, json!({})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
}

#[tokio::test]
async fn a_step_up_ceremony_is_its_sessions_and_its_accounts_passkeys_only() {
    let app = passkey_app().await;
    let ann = app.user_with_tokens(ANN).await;
    let mut device = Device::with_counter();
    let r = add_passkey(&app, &ann.access, &mut device).await;
    assert!(r["errors"].is_null(), "{r}");
    let other = app.login_tokens(ANN, PASSWORD).await;
    let mallory = app.user_with_tokens("mallory@example.com").await;
    let mut mallorys_device = Device::new();
    let r = add_passkey(&app, &mallory.access, &mut mallorys_device).await;
    assert!(r["errors"].is_null(), "{r}");
    age_sessions(&app, ANN).await;
    let count = || app.scalar("SELECT COALESCE(MAX(sign_count), 0) AS n FROM passkeys");

    let r = app.gql_as(&ann.access, START_STEP_UP, json!({})).await;
    let started = r["data"]["startPasskeyStepUp"].clone();
    // Ann's other session finishes the ceremony of this one.
    let credential = device.get(&started["options"]).await;
    let r = app
        .gql_as(
            &other.access,
            FINISH_STEP_UP,
            json!({ "c": started["id"], "cred": credential }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    let before = count().await;

    // Mallory's passkey, on a ceremony of Ann's session.
    let r = app.gql_as(&ann.access, START_STEP_UP, json!({})).await;
    let started = r["data"]["startPasskeyStepUp"].clone();
    let mut open = started["options"].clone();
    open["allowCredentials"] = json!([]);
    let credential = mallorys_device.get(&open).await;
    let r = app
        .gql_as(
            &ann.access,
            FINISH_STEP_UP,
            json!({ "c": started["id"], "cred": credential }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{r}");
    for access in [&ann.access, &other.access] {
        let r = app.gql_as(access, SENSITIVE, json!({})).await;
        assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "no session stepped up: {r}");
    }
    assert_eq!(count().await, before, "no use counted");

    // The right passkey, once.
    let r = app.gql_as(&ann.access, START_STEP_UP, json!({})).await;
    let started = r["data"]["startPasskeyStepUp"].clone();
    let credential = device.get(&started["options"]).await;
    let finish = json!({ "c": started["id"], "cred": credential });
    let r = app.gql_as(&ann.access, FINISH_STEP_UP, finish.clone()).await;
    assert_eq!(r["data"]["finishPasskeyStepUp"], true, "{r}");
    let r = app.gql_as(&ann.access, FINISH_STEP_UP, finish).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "replayed: {r}");
    let r = app.gql_as(&other.access, SENSITIVE, json!({})).await;
    assert_eq!(
        code(&r),
        Some("STEP_UP_REQUIRED"),
        "only the session that stepped up: {r}"
    );
}

#[tokio::test]
async fn with_mailed_codes_a_passkey_is_offered_beside_them_and_no_code_is_mailed_unasked() {
    let app = spawn_app_with(|c| {
        c.webauthn = passkey_config();
        c.mfa.login_email_otp = authql::config::LoginEmailOtp::Always;
        // Signed in by the sign-up itself: every later password login asks for a code.
        c.require_email_confirmation = false;
    })
    .await;
    let r = app.signup(ANN, PASSWORD).await;
    let tokens = Tokens::from_auth(&r["data"]["signup"]["auth"]);
    let mut device = Device::new();
    let r = add_passkey(&app, &tokens.access, &mut device).await;
    assert!(r["errors"].is_null(), "{r}");
    let mails = app.count("mail_outbox").await;
    let r = app.gql(LOGIN, json!({ "e": ANN, "p": PASSWORD })).await;
    assert_eq!(r["data"]["login"]["mfaMethods"], json!(["EMAIL_OTP", "PASSKEY"]), "{r}");
    assert_eq!(app.count("mail_outbox").await, mails, "no code mailed unasked");
    let token = r["data"]["login"]["mfaToken"].as_str().unwrap();
    let r = second_factor_with(&app, token, &mut device, false).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );
}
