//! Multi-factor authentication: TOTP enrolment, the second step of a login
//! by TOTP or recovery code, and step-up codes. Mailed login codes are in
//! `account_security`.

use serde_json::{Value, json};
use totp_rs::{Builder, Secret, Totp};

use crate::helpers::{TestApp, Tokens, code, spawn_app};

const SETUP: &str = "mutation { setupMfa { secret otpauthUri qrCodePng } }";
const ENABLE: &str = "mutation($c: String!) { enableMfa(code: $c) { codes } }";
const VERIFY: &str = "mutation($i: VerifyMfaInput!) { verifyMfa(input: $i) { accessToken refreshToken } }";
pub const LOGIN: &str =
    "mutation($e: String!) { login(input: { email: $e, password: \"Correct-Horse-Battery-Staple-42\" }) {
    mfaRequired mfaToken mfaMethods auth { accessToken } } }";

/// An authenticator app: the same RFC 6238 arithmetic, from the secret setupMfa showed.
pub struct Authenticator(Totp);

impl Authenticator {
    /// The code of the current 30-second step, or of `ahead` steps later (each step is accepted once).
    pub fn code(&self, ahead: u64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.0.generate(now + 30 * ahead).to_string()
    }
}

/// A signed-in user with MFA on: their tokens, authenticator and recovery codes.
pub async fn enrolled(app: &TestApp, email: &str) -> (Tokens, Authenticator, Vec<String>) {
    let me = app.user_with_tokens(email).await;
    let (authenticator, codes) = enrol(app, &me.access, email).await;
    (me, authenticator, codes)
}

/// Turns TOTP on for the account of `access` (whose address is `email`):
/// its authenticator and recovery codes.
pub async fn enrol(app: &TestApp, access: &str, email: &str) -> (Authenticator, Vec<String>) {
    let setup = app.gql_as(access, SETUP, json!({})).await;
    let secret = setup["data"]["setupMfa"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{setup}"));
    let secret = Secret::try_from_base32(secret).unwrap();
    let built = Builder::new()
        .with_secret(secret)
        .with_account_name(email.to_owned())
        .build();
    let app_totp = Authenticator(built.unwrap());
    let enabled = app.gql_as(access, ENABLE, json!({ "c": app_totp.code(0) })).await;
    let codes = enabled["data"]["enableMfa"]["codes"]
        .as_array()
        .unwrap_or_else(|| panic!("{enabled}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (app_totp, codes)
}

/// The six-digit code of a mailed "Your … code is 123456." line.
pub fn code_in(mail: &crate::smtp::Received) -> String {
    let text = mail.text();
    let word = text
        .split_whitespace()
        .find(|w| w.len() == 7 && w.ends_with('.') && w[..6].chars().all(|c| c.is_ascii_digit()));
    word.unwrap_or_else(|| panic!("no code in {text}"))[..6].to_owned()
}

pub async fn mfa_token(app: &TestApp, email: &str) -> String {
    let r = app.gql(LOGIN, json!({ "e": email })).await;
    assert_eq!(r["data"]["login"]["mfaRequired"], true, "{r}");
    assert!(
        r["data"]["login"]["auth"].is_null(),
        "no session before the second factor"
    );
    r["data"]["login"]["mfaToken"].as_str().unwrap().to_owned()
}

pub async fn verify(app: &TestApp, token: &str, code: &str, method: &str) -> Value {
    app.gql(
        VERIFY,
        json!({ "i": { "mfaToken": token, "code": code, "method": method } }),
    )
    .await
}

#[tokio::test]
async fn enrolment_turns_on_a_second_step_that_a_totp_code_finishes_once() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("totp@example.com").await;
    let setup = app.gql_as(&me.access, SETUP, json!({})).await;
    let s = &setup["data"]["setupMfa"];
    assert!(
        s["otpauthUri"].as_str().unwrap().starts_with("otpauth://totp/"),
        "{setup}"
    );
    let qr = s["qrCodePng"]
        .as_str()
        .unwrap()
        .strip_prefix("data:image/png;base64,")
        .unwrap();
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(qr).unwrap();
    assert!(image::load_from_memory_with_format(&png, image::ImageFormat::Png).is_ok());
    // Not on until a code proves the app has the secret.
    assert_eq!(
        app.gql(LOGIN, json!({ "e": "totp@example.com" })).await["data"]["login"]["mfaRequired"],
        false
    );
    assert_eq!(
        code(&app.gql_as(&me.access, ENABLE, json!({ "c": "000000" })).await),
        Some("INVALID_CODE")
    );

    let (me, totp, codes) = enrolled(&app, "totp2@example.com").await;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        app.gql_as(&me.access, "{ me { mfaEnabled } }", json!({})).await["data"]["me"]["mfaEnabled"],
        true
    );
    assert_eq!(
        code(&app.gql_as(&me.access, SETUP, json!({})).await),
        Some("MFA_ALREADY_ENABLED")
    );

    let token = mfa_token(&app, "totp2@example.com").await;
    let r = app.gql(LOGIN, json!({ "e": "totp2@example.com" })).await;
    assert_eq!(r["data"]["login"]["mfaMethods"], json!(["TOTP", "RECOVERY_CODE"]));
    assert_eq!(
        code(&app.me(&token).await),
        Some("UNAUTHENTICATED"),
        "an MFA token is no access token"
    );
    let next = totp.code(1);
    let signed = verify(&app, &token, &next, "TOTP").await;
    let access = signed["data"]["verifyMfa"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{signed}"));
    assert_eq!(app.me(access).await["data"]["me"]["email"], "totp2@example.com");
    // The token is spent, and the code's time step cannot be used again.
    assert_eq!(
        code(&verify(&app, &token, &totp.code(1), "TOTP").await),
        Some("INVALID_TOKEN")
    );
    let again = mfa_token(&app, "totp2@example.com").await;
    assert_eq!(code(&verify(&app, &again, &next, "TOTP").await), Some("INVALID_CODE"));
}

#[tokio::test]
async fn recovery_codes_work_once_and_a_new_set_replaces_the_old() {
    let app = spawn_app().await;
    let (me, _totp, codes) = enrolled(&app, "lost@example.com").await;
    let token = mfa_token(&app, "lost@example.com").await;
    let typed = codes[0].to_uppercase().replace('-', " ");
    assert!(verify(&app, &token, &typed, "RECOVERY_CODE").await["data"]["verifyMfa"].is_object());
    let token = mfa_token(&app, "lost@example.com").await;
    assert_eq!(
        code(&verify(&app, &token, &codes[0], "RECOVERY_CODE").await),
        Some("INVALID_CODE")
    );

    let regen = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) { codes } }";
    let fresh = app.gql_as(&me.access, regen, json!({ "c": codes[1] })).await;
    let fresh = fresh["data"]["regenerateRecoveryCodes"]["codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    // A login started before the codes changed is over (the security stamp moved on).
    assert_eq!(
        code(&verify(&app, &token, &fresh, "RECOVERY_CODE").await),
        Some("INVALID_TOKEN")
    );
    let token = mfa_token(&app, "lost@example.com").await;
    assert_eq!(
        code(&verify(&app, &token, &codes[2], "RECOVERY_CODE").await),
        Some("INVALID_CODE")
    );
    assert!(verify(&app, &token, &fresh, "RECOVERY_CODE").await["data"]["verifyMfa"].is_object());
}

#[tokio::test]
async fn five_wrong_codes_end_the_login() {
    let app = spawn_app().await;
    let (_, totp, _) = enrolled(&app, "guess@example.com").await;
    let token = mfa_token(&app, "guess@example.com").await;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        assert_eq!(code(&verify(&app, &token, guess, "TOTP").await), Some("INVALID_CODE"));
    }
    assert_eq!(
        code(&verify(&app, &token, &totp.code(1), "TOTP").await),
        Some("INVALID_TOKEN")
    );
    assert_eq!(
        code(&verify(&app, "not-a-token", &totp.code(1), "TOTP").await),
        Some("INVALID_TOKEN")
    );
}

#[tokio::test]
async fn switching_mfa_off_needs_a_code() {
    let app = spawn_app().await;
    let (me, _totp, codes) = enrolled(&app, "off@example.com").await;
    let disable = "mutation($c: String!) { disableMfa(code: $c) }";
    assert_eq!(
        code(&app.gql_as(&me.access, disable, json!({ "c": "123456" })).await),
        Some("INVALID_CODE")
    );
    assert_eq!(
        app.gql_as(&me.access, disable, json!({ "c": codes[0] })).await["data"]["disableMfa"],
        true
    );
    let r = app.gql(LOGIN, json!({ "e": "off@example.com" })).await;
    assert!(r["data"]["login"]["auth"]["accessToken"].is_string(), "{r}");
    assert_eq!(
        code(&app.gql_as(&me.access, disable, json!({ "c": codes[1] })).await),
        Some("MFA_NOT_ENABLED")
    );
    assert_eq!(
        code(&app.gql_as(&me.access, ENABLE, json!({ "c": "123456" })).await),
        Some("BAD_USER_INPUT")
    );
}

#[tokio::test]
async fn a_mailed_step_up_code_verifies_the_session() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("step@example.com").await;
    assert_eq!(
        app.gql_as(&me.access, "mutation { sendOtp }", json!({})).await["data"]["sendOtp"],
        true
    );
    let mail = app.mail.wait_for_nth("step@example.com", 2).await;
    assert_eq!(mail.subject(), "Your verification code");
    let otp = code_in(&mail);
    let verify_otp = "mutation($c: String!) { verifyOtp(code: $c) }";
    assert_eq!(
        code(&app.gql_as(&me.access, verify_otp, json!({ "c": "000000" })).await),
        Some("INVALID_CODE")
    );
    assert_eq!(
        app.gql_as(&me.access, verify_otp, json!({ "c": otp })).await["data"]["verifyOtp"],
        true
    );
    let verified = "SELECT COUNT(*) AS n FROM sessions WHERE step_up_until IS NOT NULL";
    assert_eq!(app.scalar(verified).await, 1);
    assert_eq!(
        code(&app.gql_as(&me.access, verify_otp, json!({ "c": otp })).await),
        Some("INVALID_CODE"),
        "once"
    );
}
