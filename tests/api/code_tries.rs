//! Wrong second-factor codes: a mailed code and an MFA token each take five
//! tries, counted so that racers get no more, and SECOND_FACTOR bounds the
//! wrong codes of one account across logins and step-ups.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, code, spawn_app_with};
use crate::mfa::{code_in, enrolled, mfa_token, verify};

const SEND_OTP: &str = "mutation { sendOtp }";
const VERIFY_OTP: &str = "mutation($c: String!) { verifyOtp(code: $c) }";
const VERIFY_STEP_UP: &str = "mutation($c: String!) { verifyStepUp(code: $c) }";
const SEND_LOGIN_OTP: &str = "mutation($t: String!) { sendLoginOtp(mfaToken: $t) }";
const LIMIT_NOTICES: &str =
    "SELECT COUNT(*) AS n FROM mail_outbox WHERE subject = 'Someone is trying to get past your second step'";

/// `n` six-digit codes that are not `right`.
fn wrong_codes(right: &str, n: u32) -> Vec<String> {
    let right: u32 = right.parse().unwrap();
    (1..=n).map(|k| format!("{:06}", (right + k) % 1_000_000)).collect()
}

/// An app without rate limits: whatever stops a guess here is the code's own count.
async fn unlimited(tweak: impl FnOnce(&mut authql::config::Config)) -> TestApp {
    spawn_app_with(|c| {
        c.limits.enabled = false;
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn the_sixth_guess_of_a_mailed_step_up_code_fails_even_when_right() {
    let app = unlimited(|_| {}).await;
    let email = "guessed@example.com";
    let me = app.user_with_tokens(email).await;
    assert_eq!(
        app.gql_as(&me.access, SEND_OTP, json!({})).await["data"]["sendOtp"],
        true
    );
    let otp = code_in(&app.mail.wait_for_nth(email, 2).await);
    for guess in wrong_codes(&otp, 5) {
        let r = app.gql_as(&me.access, VERIFY_OTP, json!({ "c": guess })).await;
        assert_eq!(code(&r), Some("INVALID_CODE"), "{r}");
    }
    let r = app.gql_as(&me.access, VERIFY_OTP, json!({ "c": otp })).await;
    assert_eq!(code(&r), Some("INVALID_CODE"), "five wrong tries spent the code: {r}");

    // A new code has five tries of its own.
    assert_eq!(
        app.gql_as(&me.access, SEND_OTP, json!({})).await["data"]["sendOtp"],
        true
    );
    let otp = code_in(&app.mail.wait_for_nth(email, 3).await);
    let r = app.gql_as(&me.access, VERIFY_OTP, json!({ "c": otp })).await;
    assert_eq!(r["data"]["verifyOtp"], true, "{r}");
}

/// Every MFA token of an account waits for the same mailed login code, so
/// the code counts its own tries: two logins do not give it ten.
#[tokio::test]
async fn a_mailed_login_code_is_spent_after_five_wrong_tries_across_logins() {
    let app = unlimited(|c| c.mfa.login_email_otp = authql::config::LoginEmailOtp::Always).await;
    let email = "twice@example.com";
    app.confirmed_user(email).await;
    let first = mfa_token(&app, email).await;
    app.mail.wait_for_nth(email, 2).await;
    let second = mfa_token(&app, email).await;
    let otp = code_in(&app.mail.wait_for_nth(email, 3).await);
    let guesses = wrong_codes(&otp, 5);
    for (n, guess) in guesses.iter().enumerate() {
        let token = if n < 3 { &first } else { &second };
        assert_eq!(
            code(&verify(&app, token, guess, "EMAIL_OTP").await),
            Some("INVALID_CODE")
        );
    }
    let r = verify(&app, &second, &otp, "EMAIL_OTP").await;
    assert_eq!(code(&r), Some("INVALID_CODE"), "the code took five wrong tries: {r}");

    // The second login has tries left: a new code finishes it.
    assert_eq!(
        app.gql(SEND_LOGIN_OTP, json!({ "t": second })).await["data"]["sendLoginOtp"],
        true
    );
    let otp = code_in(&app.mail.wait_for_nth(email, 4).await);
    let r = verify(&app, &second, &otp, "EMAIL_OTP").await;
    assert!(r["data"]["verifyMfa"]["accessToken"].is_string(), "{r}");
}

#[tokio::test]
async fn concurrent_wrong_codes_on_one_mfa_token_get_five_tries_in_all() {
    let app = unlimited(|_| {}).await;
    let email = "racer@example.com";
    let (_, totp, _) = enrolled(&app, email).await;
    let token = mfa_token(&app, email).await;
    let near: Vec<String> = (0..3).map(|ahead| totp.code(ahead)).collect();
    let guesses: Vec<String> = (0..30u32)
        .map(|n| format!("{:06}", 100_000 + n))
        .filter(|g| !near.contains(g))
        .take(24)
        .collect();
    let answers = join_all(guesses.iter().map(|g| verify(&app, &token, g, "TOTP"))).await;
    let codes: Vec<&str> = answers.iter().map(|a| code(a).unwrap_or("none")).collect();
    let tried = codes.iter().filter(|c| **c == "INVALID_CODE").count();
    assert!(tried <= 5, "{tried} codes were tried on one MFA token: {codes:?}");
    assert!(
        codes.iter().all(|c| *c == "INVALID_CODE" || *c == "INVALID_TOKEN"),
        "{codes:?}"
    );
    let r = verify(&app, &token, &totp.code(1), "TOTP").await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
}

/// SECOND_FACTOR counts wrong codes of an account wherever they are given;
/// right ones cost nothing. Once it runs out, even a right code waits, and
/// the owner is told once.
#[tokio::test]
async fn the_accounts_second_factor_budget_runs_out_across_logins_and_step_ups() {
    let app = spawn_app_with(|c| {
        // CODE (ten a minute) off, so only the budget stops these tries.
        let vars = |name: &str| match name {
            "RATE_LIMIT_SECOND_FACTOR" => Some("account:4/1d".to_owned()),
            "RATE_LIMIT_CODE" => Some("off".to_owned()),
            _ => None,
        };
        c.limits.quotas = authql::limits::Quotas::from_vars(vars).unwrap();
    })
    .await;
    let email = "budget@example.com";
    let (me, totp, recovery) = enrolled(&app, email).await;
    let token = mfa_token(&app, email).await;
    let r = verify(&app, &token, &totp.code(1), "TOTP").await;
    assert!(r["data"]["verifyMfa"]["accessToken"].is_string(), "{r}");

    let token = mfa_token(&app, email).await;
    for guess in wrong_codes(&totp.code(1), 3) {
        assert_eq!(code(&verify(&app, &token, &guess, "TOTP").await), Some("INVALID_CODE"));
    }
    assert_eq!(app.scalar(LIMIT_NOTICES).await, 0);
    let r = app
        .gql_as(&me.access, VERIFY_STEP_UP, json!({ "c": "not-a-code" }))
        .await;
    assert_eq!(
        code(&r),
        Some("INVALID_CODE"),
        "the fourth wrong code, in a step-up: {r}"
    );
    assert_eq!(app.scalar(LIMIT_NOTICES).await, 1, "the owner is told when it runs out");

    let fresh = mfa_token(&app, email).await;
    let refused = [
        verify(&app, &fresh, &recovery[0], "RECOVERY_CODE").await,
        verify(&app, &token, &recovery[1], "RECOVERY_CODE").await,
        app.gql_as(&me.access, VERIFY_STEP_UP, json!({ "c": recovery[2] }))
            .await,
        app.gql_as(&me.access, VERIFY_STEP_UP, json!({ "c": "not-a-code" }))
            .await,
    ];
    for r in refused {
        assert_eq!(code(&r), Some("RATE_LIMITED"), "{r}");
    }
    assert_eq!(app.scalar(LIMIT_NOTICES).await, 1, "one notice, not one per try");
    let notice = notice_to(&app, email).await;
    assert!(notice.text().contains("change your password"), "{}", notice.text());
    assert!(!notice.text().contains("not-a-code"));
}

/// The limit notice once it has arrived (other mail to `email` may come first).
async fn notice_to(app: &TestApp, email: &str) -> crate::smtp::Received {
    for n in 1.. {
        let mail = app.mail.wait_for_nth(email, n).await;
        if mail.subject() == "Someone is trying to get past your second step" {
            return mail;
        }
    }
    unreachable!()
}
