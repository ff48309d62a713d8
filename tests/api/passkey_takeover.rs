//! Whoever held an address before its owner keeps no passkey in the
//! account: a squatter's goes when the owner claims the address with a
//! provider or signs up for it again, and a thief's goes when the owner
//! undoes the thief's change of address.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, code, spawn_app_with, unlimited_mail_per_address};
use crate::oauth::{app_with_config, exchange, sign_in as provider_sign_in};
use crate::oidc_provider::Provider;
use crate::passkey_device::Device;
use crate::passkeys::{add_passkey, passkey_config, sign_in, sign_in_with_any};

const ERIN: &str = "erin@example.com";
const THIEF: &str = "thief@example.com";

/// The first mail to `to` with `subject` after the first `seen` ones.
async fn mail_after(app: &TestApp, to: &str, seen: usize, subject: &str) -> crate::smtp::Received {
    let mut n = seen + 1;
    loop {
        let mail = app.mail.wait_for_nth(to, n).await;
        if mail.subject() == subject {
            return mail;
        }
        n += 1;
    }
}

/// Asserts that `device`'s passkey signs in no more, with or without an address.
async fn passkey_signs_in_no_more(app: &TestApp, device: &mut Device, email: &str) {
    let r = sign_in(app, None, device).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "discoverable: {r}");
    let r = sign_in_with_any(app, email, device).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "for the address: {r}");
}

#[tokio::test]
async fn a_claim_removes_the_squatters_passkeys() {
    let provider = Provider::start().await;
    // Without confirmation, whoever signs up first with an address uses the account at once.
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
            "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken } } }",
            json!({ "i": { "email": ERIN, "password": "Squatter-Chosen-Passphrase-31" } }),
        )
        .await;
    let squatter = r["data"]["signup"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let mut squatters_device = Device::new();
    let r = add_passkey(&app, &squatter, &mut squatters_device).await;
    assert!(r["errors"].is_null(), "{r}");

    provider.sign_in_as("erin-owner", ERIN, true);
    let login_code = provider_sign_in(&app).await.expect("signed in");
    let r = exchange(&app, &login_code).await;
    assert!(
        r["data"]["exchangeLoginCode"]["auth"]["accessToken"].is_string(),
        "the owner claimed the account: {r}"
    );
    passkey_signs_in_no_more(&app, &mut squatters_device, ERIN).await;
    assert_eq!(app.count("passkeys").await, 0);
    let notice = mail_after(&app, ERIN, 0, "Your account was reset to your sign-in").await;
    assert!(
        notice.text().contains("passkey"),
        "the notice names the passkey: {}",
        notice.text()
    );
}

#[tokio::test]
async fn an_undo_removes_the_passkeys_added_since_the_change() {
    let app = spawn_app_with(|c| {
        unlimited_mail_per_address(c);
        c.webauthn = passkey_config();
    })
    .await;
    let owner = app.user_with_tokens(ERIN).await;
    // A thief with the owner's session moves the account to an address of theirs.
    let r = app
        .gql_as(
            &owner.access,
            "mutation($e: String!) { changeEmail(newEmail: $e) }",
            json!({ "e": THIEF }),
        )
        .await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    let confirm = mail_after(&app, THIEF, 0, "Confirm your new email address").await;
    let r = app
        .gql(
            "mutation($t: String!) { confirmEmail(token: $t) }",
            json!({ "t": confirm.token() }),
        )
        .await;
    assert_eq!(r["data"]["confirmEmail"], true, "{r}");
    let undo = mail_after(&app, ERIN, 0, "Your email address was changed")
        .await
        .token();
    let thief = app.login_tokens(THIEF, PASSWORD).await;
    let mut thiefs_device = Device::new();
    let r = add_passkey(&app, &thief.access, &mut thiefs_device).await;
    assert!(r["errors"].is_null(), "{r}");

    let seen = app.mail.to(ERIN).len();
    let r = app
        .gql(
            "mutation($t: String!) { confirmEmail(token: $t) }",
            json!({ "t": undo }),
        )
        .await;
    assert_eq!(r["data"]["confirmEmail"], true, "the owner undoes the move: {r}");
    passkey_signs_in_no_more(&app, &mut thiefs_device, ERIN).await;
    let restored = mail_after(&app, ERIN, seen, "Your email address was restored").await;
    assert!(
        restored.text().contains("passkey"),
        "the owner is told what was removed: {}",
        restored.text()
    );
}
