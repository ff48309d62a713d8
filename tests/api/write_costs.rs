//! What the everyday operations cost the database's writer: a sign-up, a
//! password login and a refresh are one write transaction each (besides the
//! password hash), so on SQLite, where every write waits for the one writer,
//! each holds it once. Counted by `db::count_writer_uses` around the domain
//! call the resolver makes.

use authql::accounts::{Email, LoginAttempt, LoginName, LoginOutcome, NewAccount};
use authql::client::ClientInfo;
use authql::db::count_writer_uses;
use authql::error::Field;
use authql::mfa::Method;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::mfa::{code_in, enrolled};

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("write-costs/1.0".into()),
    }
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        email: Email::parse(Field::Email, email).unwrap(),
        password: PASSWORD.into(),
        username: Some("writer".into()),
        display_name: Some("Writer".into()),
        first_name: None,
        last_name: None,
        phone_number: None,
    }
}

/// The right password for `email`, presenting `device`.
fn password_attempt<'a>(email: &str, device: Option<&'a str>) -> LoginAttempt<'a> {
    LoginAttempt {
        name: LoginName::Email(Email::parse(Field::Email, email).unwrap()),
        password: PASSWORD,
        device,
    }
}

/// A password login of `email`, presenting `device`; returns the writer
/// uses and the device credential it was given.
async fn login(app: &TestApp, email: &str, device: Option<&str>) -> (u32, String) {
    let attempt = password_attempt(email, device);
    let (outcome, uses) = count_writer_uses(app.state.accounts.login(attempt, &client())).await;
    let Ok(LoginOutcome::SignedIn(auth)) = outcome else {
        panic!("the login signs in");
    };
    (
        uses,
        auth.device_token.expect("a password login gives a device credential"),
    )
}

#[tokio::test]
async fn a_signup_is_one_write_transaction() {
    let app = spawn_app().await;
    let (outcome, uses) = count_writer_uses(app.state.accounts.signup(new_account("new@example.com"), &client())).await;
    assert!(outcome.unwrap().confirmation_required);
    assert_eq!(
        uses, 1,
        "the account, its event, its link and its mail in one transaction"
    );
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn a_signup_that_signs_in_is_still_one_write_transaction() {
    let app = spawn_app_with(|c| c.require_email_confirmation = false).await;
    let (outcome, uses) =
        count_writer_uses(app.state.accounts.signup(new_account("open@example.com"), &client())).await;
    assert!(outcome.unwrap().auth.is_some(), "confirmation off: signed in at once");
    assert_eq!(uses, 1, "the account and its first session in one transaction");
}

#[tokio::test]
async fn a_password_login_is_one_write_transaction_with_or_without_a_known_device() {
    let app = spawn_app().await;
    app.confirmed_user("login@example.com").await;
    let (first, device) = login(&app, "login@example.com", None).await;
    assert_eq!(
        first, 1,
        "the session, its refresh token, the device and the event in one transaction"
    );
    let (again, renewed) = login(&app, "login@example.com", Some(&device)).await;
    assert_ne!(renewed, device);
    assert_eq!(again, 1, "finding the known device does not queue on the writer");
}

#[tokio::test]
async fn a_refresh_is_one_write() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("refresh@example.com").await;
    let (rotated, uses) = count_writer_uses(app.state.sessions.rotate(&tokens.refresh, &client())).await;
    let rotated = rotated.unwrap();
    assert_eq!(uses, 1, "the successor's insert, in the refresh writer's next batch");
    // Presenting it again within the grace window writes nothing: the same successor.
    let (again, uses) = count_writer_uses(app.state.sessions.rotate(&tokens.refresh, &client())).await;
    assert_eq!(again.unwrap().refresh_token, rotated.refresh_token);
    assert_eq!(uses, 0);
}

#[tokio::test]
async fn each_step_of_an_mfa_login_is_one_write_transaction() {
    let app = spawn_app().await;
    let (_, authenticator, recovery) = enrolled(&app, "mfa@example.com").await;
    let password_step = || async {
        let attempt = password_attempt("mfa@example.com", None);
        let (outcome, uses) = count_writer_uses(app.state.accounts.login(attempt, &client())).await;
        let Ok(LoginOutcome::MfaRequired(challenge)) = outcome else {
            panic!("the password opens the second step");
        };
        assert_eq!(uses, 1, "the MFA token");
        challenge.token
    };
    let mfa = &app.state.mfa;

    let token = password_step().await;
    let (wrong, uses) = count_writer_uses(mfa.finish_login(&token, "000000", Method::Totp, &client())).await;
    assert!(wrong.is_err());
    assert_eq!(uses, 1, "the attempt and its event");
    let code = authenticator.code(1);
    let (auth, uses) = count_writer_uses(mfa.finish_login(&token, &code, Method::Totp, &client())).await;
    assert!(auth.unwrap().device_token.is_some());
    assert_eq!(uses, 1, "the code's step, the token, the session and its device");

    let token = password_step().await;
    let (auth, uses) = count_writer_uses(mfa.finish_login(&token, &recovery[0], Method::RecoveryCode, &client())).await;
    assert!(auth.is_ok());
    assert_eq!(
        uses, 1,
        "the recovery code, the token, the session and the owner's notice"
    );
}

#[tokio::test]
async fn a_login_continued_by_a_mailed_code_is_one_write_transaction_a_step() {
    let app = spawn_app_with(|c| c.mfa.login_email_otp = authql::config::LoginEmailOtp::Always).await;
    app.confirmed_user("mailed@example.com").await;
    let attempt = password_attempt("mailed@example.com", None);
    let (outcome, uses) = count_writer_uses(app.state.accounts.login(attempt, &client())).await;
    let Ok(LoginOutcome::MfaRequired(challenge)) = outcome else {
        panic!("the password opens the second step");
    };
    assert_eq!(uses, 1, "the MFA token, the code and its mail in one transaction");
    let code = code_in(&app.mail.wait_for_nth("mailed@example.com", 2).await);
    let (auth, uses) = count_writer_uses(app.state.mfa.finish_login(
        &challenge.token,
        &code,
        Method::EmailOtp,
        &client(),
    ))
    .await;
    assert!(auth.is_ok());
    assert_eq!(uses, 1);
}
