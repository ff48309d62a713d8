//! Undo links of email changes: the oldest one wins. A thief who moved the
//! account twice cannot take it back with the undo link of their own move
//! once the owner undid the first, and what the thief added since goes.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code, spawn_app_with, unlimited_mail_per_address};
use crate::smtp::Received;

const CHANGE_EMAIL: &str = "mutation($e: String!, $p: String) { changeEmail(newEmail: $e, password: $p) }";
const CONFIRM: &str = "mutation($t: String!) { confirmEmail(token: $t) }";
const OWNER: &str = "owner@example.com";
const THIEF_B: &str = "thief-b@example.com";
const THIEF_C: &str = "thief-c@example.com";

/// The first mail to `to` with `subject` after the first `seen` ones.
async fn mail_after(app: &TestApp, to: &str, seen: usize, subject: &str) -> Received {
    let mut n = seen + 1;
    loop {
        let mail = app.mail.wait_for_nth(to, n).await;
        if mail.subject() == subject {
            return mail;
        }
        n += 1;
    }
}

/// Moves the account of `access` from `from` to `to` (with `password` when
/// given) and returns the undo link mailed to `from`.
async fn move_account(app: &TestApp, access: &str, password: Option<&str>, from: &str, to: &str) -> String {
    let (seen_to, seen_from) = (app.mail.to(to).len(), app.mail.to(from).len());
    let r = app
        .gql_as(access, CHANGE_EMAIL, json!({ "e": to, "p": password }))
        .await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    let confirm = mail_after(app, to, seen_to, "Confirm your new email address").await;
    assert_eq!(
        app.gql(CONFIRM, json!({ "t": confirm.token() })).await["data"]["confirmEmail"],
        true
    );
    mail_after(app, from, seen_from, "Your email address was changed")
        .await
        .token()
}

fn access_of(login: &Value) -> String {
    login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("signed in: {login}"))
        .to_owned()
}

async fn reset_password(app: &TestApp, email: &str, new_password: &str) {
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

/// A thief with the owner's password moves A→B→C; the owner undoes the
/// first move and resets the password; the undo link of the thief's own
/// move (to B) must not take the account back.
#[tokio::test]
async fn an_undo_chain_ends_with_the_owner_in_the_account() {
    let app = spawn_app_with(unlimited_mail_per_address).await;
    let owner = app.user_with_tokens(OWNER).await;
    let u1 = move_account(&app, &owner.access, None, OWNER, THIEF_B).await;
    let thief = access_of(&app.login(THIEF_B, PASSWORD).await);
    let u2 = move_account(&app, &thief, Some(PASSWORD), THIEF_B, THIEF_C).await;

    let r = app.gql(CONFIRM, json!({ "t": u1 })).await;
    assert_eq!(r["data"]["confirmEmail"], true, "the owner undoes the first move: {r}");
    let chosen = "Tulip-Chosen-Passphrase-2026";
    reset_password(&app, OWNER, chosen).await;
    let owner = access_of(&app.login(OWNER, chosen).await);

    let r = app.gql(CONFIRM, json!({ "t": u2 })).await;
    assert_eq!(
        code(&r),
        Some("INVALID_TOKEN"),
        "the thief's later undo died with the owner's: {r}"
    );
    let me = app.me(&owner).await;
    assert_eq!(me["data"]["me"]["email"], OWNER, "the owner is still in: {me}");
    assert_eq!(code(&app.login(THIEF_B, PASSWORD).await), Some("INVALID_CREDENTIALS"));
}

/// The thief spends the undo link of their own move, changes the password
/// and moves again: none of it spends the owner's earlier undo link.
#[tokio::test]
async fn nothing_the_thief_does_spends_the_owners_earlier_undo_link() {
    let app = spawn_app_with(unlimited_mail_per_address).await;
    let owner = app.user_with_tokens(OWNER).await;
    let u1 = move_account(&app, &owner.access, None, OWNER, THIEF_B).await;
    let thief = access_of(&app.login(THIEF_B, PASSWORD).await);
    let u2 = move_account(&app, &thief, Some(PASSWORD), THIEF_B, THIEF_C).await;
    assert_eq!(app.gql(CONFIRM, json!({ "t": u2 })).await["data"]["confirmEmail"], true);
    let thief = access_of(&app.login(THIEF_B, PASSWORD).await);
    let changed = app
        .gql_as(
            &thief,
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "Thief-Chosen-Passphrase-99" } }),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    move_account(&app, &thief, Some("Thief-Chosen-Passphrase-99"), THIEF_B, THIEF_C).await;

    let r = app.gql(CONFIRM, json!({ "t": u1 })).await;
    assert_eq!(r["data"]["confirmEmail"], true, "the owner's undo still works: {r}");
    let chosen = "Tulip-Chosen-Passphrase-2026";
    reset_password(&app, OWNER, chosen).await;
    let owner = access_of(&app.login(OWNER, chosen).await);
    assert_eq!(app.me(&owner).await["data"]["me"]["email"], OWNER);
    assert_eq!(code(&app.me(&thief).await), Some("UNAUTHENTICATED"), "the thief is out");
}

/// Whatever second factor the thief enrolled after the move goes with the
/// undo, and the owner is told: it would lock the owner out otherwise.
#[tokio::test]
async fn an_undo_removes_the_second_factors_added_since_the_change() {
    let app = spawn_app_with(unlimited_mail_per_address).await;
    let owner = app.user_with_tokens(OWNER).await;
    let u1 = move_account(&app, &owner.access, None, OWNER, THIEF_B).await;
    let thief = access_of(&app.login(THIEF_B, PASSWORD).await);
    let setup = app.gql_as(&thief, "mutation { setupMfa { secret } }", json!({})).await;
    let secret = setup["data"]["setupMfa"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{setup}"));
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .with_account_name(THIEF_B.to_owned())
        .build()
        .unwrap();
    let enabled = app
        .gql_as(
            &thief,
            "mutation($c: String!) { enableMfa(code: $c) { codes } }",
            json!({ "c": totp.generate_current().to_string() }),
        )
        .await;
    assert!(enabled["data"]["enableMfa"]["codes"].is_array(), "{enabled}");

    let seen = app.mail.to(OWNER).len();
    assert_eq!(app.gql(CONFIRM, json!({ "t": u1 })).await["data"]["confirmEmail"], true);
    let login = app.login(OWNER, PASSWORD).await;
    assert_eq!(
        login["data"]["login"]["mfaRequired"], false,
        "the thief's TOTP is gone: {login}"
    );
    let restored = mail_after(&app, OWNER, seen, "Your email address was restored").await;
    assert!(
        restored.text().contains("two-step verification"),
        "the owner is told what was removed: {}",
        restored.text()
    );
}

/// A passkey the thief added after the move goes with the undo, as their
/// identities and second factors do, and the owner's notice names it: it
/// would otherwise keep signing the thief in after the owner's reset.
#[tokio::test]
async fn an_undo_removes_the_passkeys_added_since_the_change() {
    use crate::passkey_device::Device;
    use crate::passkeys::{add_passkey, passkey_config, sign_in};
    let app = spawn_app_with(|c| {
        unlimited_mail_per_address(c);
        c.webauthn = passkey_config();
    })
    .await;
    let owner = app.user_with_tokens(OWNER).await;
    let mut owners_device = Device::new();
    let r = add_passkey(&app, &owner.access, &mut owners_device).await;
    assert!(
        r["errors"].is_null(),
        "the owner's own passkey, from before the move: {r}"
    );
    let u1 = move_account(&app, &owner.access, None, OWNER, THIEF_B).await;
    let thief = access_of(&app.login(THIEF_B, PASSWORD).await);
    let mut thiefs_device = Device::new();
    let added = add_passkey(&app, &thief, &mut thiefs_device).await;
    let name = added["data"]["finishPasskeyRegistration"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("the thief adds a passkey: {added}"))
        .to_owned();
    let r = sign_in(&app, None, &mut thiefs_device).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "before the undo the thief's passkey signs in: {r}"
    );

    let seen = app.mail.to(OWNER).len();
    assert_eq!(app.gql(CONFIRM, json!({ "t": u1 })).await["data"]["confirmEmail"], true);
    let r = sign_in(&app, None, &mut thiefs_device).await;
    assert!(
        r["data"]["finishPasskeySignIn"].is_null() && code(&r).is_some(),
        "the thief's passkey no longer signs in: {r}"
    );
    let r = sign_in(&app, Some(OWNER), &mut owners_device).await;
    assert_eq!(
        r["data"]["finishPasskeySignIn"]["auth"]["user"]["email"], OWNER,
        "the owner's passkey from before the move stays: {r}"
    );
    let restored = mail_after(&app, OWNER, seen, "Your email address was restored").await;
    let text = restored.text();
    assert!(
        text.contains(&format!("passkey \"{name}\"")),
        "the owner is told which passkey went: {text}"
    );
}
