//! A password reset by mail is a proof of the mailbox. On an account whose
//! address nobody had confirmed it is the first such proof, a claim as a
//! provider's is: whatever was set up before (passkeys, identities, TOTP,
//! recovery codes, devices, pending address changes, sessions) may be a
//! squatter's and goes. On a confirmed account it proves the mailbox only:
//! the owner's other ways in stay, and the notice names them.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code};
use crate::mfa::enrol;
use crate::oauth::{app_with_config, link_provider, signed_in_user};
use crate::oidc_provider::Provider;
use crate::passkey_device::Device;
use crate::passkeys::{add_passkey, passkey_config, sign_in as passkey_sign_in};
use crate::smtp::Received;

const ERIN: &str = "erin@example.com";
const SQUATTERS_PASSWORD: &str = "Squatter-Chosen-Passphrase-31";
const OWNERS_PASSWORD: &str = "Owner-Chosen-Passphrase-2026";
const SIGNUP: &str = "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken } } }";

/// The first mail to `to` with `subject` after the first `seen` ones.
async fn mail_after(app: &TestApp, to: &str, seen: usize, subject: &str) -> Received {
    for n in seen + 1.. {
        let mail = app.mail.wait_for_nth(to, n).await;
        if mail.subject() == subject {
            return mail;
        }
    }
    unreachable!()
}

/// `forgotPassword(email)` and `resetPassword` with the mailed token.
async fn reset_by_mail(app: &TestApp, email: &str, new_password: &str) {
    let seen = app.mail.to(email).len();
    app.gql(
        "mutation($e: String!) { forgotPassword(email: $e) }",
        json!({ "e": email }),
    )
    .await;
    let token = mail_after(app, email, seen, "Reset your password").await.token();
    let r = app
        .gql(
            "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) }",
            json!({ "i": { "token": token, "newPassword": new_password } }),
        )
        .await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");
}

fn access_of(login: &Value) -> String {
    login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("signed in: {login}"))
        .to_owned()
}

fn passkey_name(added: &Value) -> String {
    added["data"]["finishPasskeyRegistration"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("a passkey is added: {added}"))
        .to_owned()
}

/// Without REQUIRE_EMAIL_CONFIRMATION a squatter signs up with the owner's
/// address and sets up every way in there is; the owner takes the account
/// back the way the README offers, by resetting the password.
#[tokio::test]
async fn a_first_reset_of_an_unconfirmed_account_leaves_nothing_of_the_squatter() {
    let provider = Provider::start().await;
    let app = app_with_config(
        &provider,
        |_| {},
        |c| {
            c.require_email_confirmation = false;
            c.webauthn = passkey_config();
        },
    )
    .await;
    let r = app
        .gql(
            SIGNUP,
            json!({ "i": { "email": ERIN, "password": SQUATTERS_PASSWORD } }),
        )
        .await;
    let squatter = r["data"]["signup"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let mut squatters_device = Device::new();
    let name = passkey_name(&add_passkey(&app, &squatter, &mut squatters_device).await);
    provider.sign_in_as("squatter-sub", "squatter@evil.example", true);
    assert_eq!(link_provider(&app, &squatter).await, Ok(()));
    let (_, recovery_codes) = enrol(&app, &squatter, ERIN).await;
    let r = app
        .gql_as(
            &squatter,
            "mutation($e: String!, $p: String) { changeEmail(newEmail: $e, password: $p) }",
            json!({ "e": "squatter2@evil.example", "p": SQUATTERS_PASSWORD }),
        )
        .await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    let pending_change = app.mail.wait_for("squatter2@evil.example").await.token();

    let seen = app.mail.to(ERIN).len();
    reset_by_mail(&app, ERIN, OWNERS_PASSWORD).await;

    let r = passkey_sign_in(&app, None, &mut squatters_device).await;
    assert!(
        r["data"]["finishPasskeySignIn"].is_null() && code(&r).is_some(),
        "the squatter's passkey no longer signs in: {r}"
    );
    assert_eq!(
        code(&app.me(&squatter).await),
        Some("UNAUTHENTICATED"),
        "the squatter's session ended"
    );
    let login = app.login(ERIN, OWNERS_PASSWORD).await;
    assert_eq!(
        login["data"]["login"]["mfaRequired"], false,
        "the squatter's authenticator does not stand between the owner and the account: {login}"
    );
    let owner = access_of(&login);
    let owner_id = app.me(&owner).await["data"]["me"]["id"].clone();
    provider.sign_in_as("squatter-sub", "squatter@evil.example", true);
    assert_ne!(
        signed_in_user(&app).await["id"],
        owner_id,
        "the squatter's provider account no longer signs in to the owner's"
    );
    let r = app
        .gql_as(
            &owner,
            "mutation($c: String!) { verifyStepUp(code: $c) }",
            json!({ "c": recovery_codes[0] }),
        )
        .await;
    assert_eq!(
        code(&r),
        Some("MFA_NOT_ENABLED"),
        "the recovery codes went with the TOTP: {r}"
    );
    let r = app
        .gql(
            "mutation($t: String!) { confirmEmail(token: $t) }",
            json!({ "t": pending_change }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "the squatter's pending change: {r}");
    let me = app
        .gql_as(
            &owner,
            "{ me { email emailVerified providers } passkeys { id } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["emailVerified"], true, "{me}");
    assert_eq!(me["data"]["me"]["providers"], json!(["password"]), "{me}");
    assert_eq!(me["data"]["passkeys"], json!([]), "{me}");

    let notice = mail_after(&app, ERIN, seen, "Your account was reset to your new password").await;
    let text = notice.text();
    for removed in [
        format!("passkey \"{name}\""),
        "sign-in with test".to_owned(),
        "two-step verification".to_owned(),
        "pending change".to_owned(),
    ] {
        assert!(text.contains(&removed), "the notice names {removed:?}: {text}");
    }
}

/// A reset of a confirmed account proves the mailbox only: the owner's
/// passkeys and identities stay, and the notice says which remain, so an
/// owner who did not set one up can remove it.
#[tokio::test]
async fn a_reset_of_a_confirmed_account_keeps_the_owners_ways_in_and_names_them() {
    let provider = Provider::start().await;
    let app = app_with_config(&provider, |_| {}, |c| c.webauthn = passkey_config()).await;
    let owner = app.user_with_tokens(ERIN).await;
    let mut device = Device::new();
    let name = passkey_name(&add_passkey(&app, &owner.access, &mut device).await);
    provider.sign_in_as("erin-sub", "erin.work@example.org", true);
    assert_eq!(link_provider(&app, &owner.access).await, Ok(()));
    let owner_id = app.me(&owner.access).await["data"]["me"]["id"].clone();

    let seen = app.mail.to(ERIN).len();
    reset_by_mail(&app, ERIN, OWNERS_PASSWORD).await;

    assert_eq!(code(&app.login(ERIN, PASSWORD).await), Some("INVALID_CREDENTIALS"));
    let r = passkey_sign_in(&app, Some(ERIN), &mut device).await;
    assert_eq!(
        r["data"]["finishPasskeySignIn"]["auth"]["user"]["email"], ERIN,
        "the owner's passkey still signs in: {r}"
    );
    assert_eq!(
        signed_in_user(&app).await["id"],
        owner_id,
        "so does the owner's provider"
    );
    let notice = mail_after(&app, ERIN, seen, "Your password was changed").await;
    let text = notice.text();
    for remaining in [format!("passkey \"{name}\""), "sign-in with test".to_owned()] {
        assert!(text.contains(&remaining), "the notice names {remaining:?}: {text}");
    }
}
