//! A claim: the owner of an address signs in with a provider that verified
//! it, and the account someone pre-registered with it (never confirmed)
//! becomes the owner's with the owner's credentials alone. Whatever the
//! squatter set up (password, identity, TOTP, recovery codes, sessions,
//! known devices, a pending change of address) stops working.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code};
use crate::mfa::enrol;
use crate::oauth::{app_with_config, exchange, link_provider, sign_in, signed_in_user};
use crate::oidc_provider::Provider;

const ERIN: &str = "erin@example.com";
const SQUATTERS_PASSWORD: &str = "Squatter-Chosen-Passphrase-31";
const SIGNUP: &str = "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken deviceToken } } }";

/// The first mail to `to` with `subject`.
async fn mail_with_subject(app: &TestApp, to: &str, subject: &str) -> crate::smtp::Received {
    for n in 1.. {
        let mail = app.mail.wait_for_nth(to, n).await;
        if mail.subject() == subject {
            return mail;
        }
    }
    unreachable!()
}

fn device_ids(r: &Value) -> Vec<Value> {
    r["data"]["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|d| d["id"].clone())
        .collect()
}

#[tokio::test]
async fn a_claim_leaves_nothing_of_what_the_squatter_set_up() {
    let provider = Provider::start().await;
    // Without confirmation, whoever signs up first with an address uses the account at once.
    let app = app_with_config(&provider, |_| {}, |c| c.require_email_confirmation = false).await;
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
    let squatters_devices = device_ids(&app.gql_as(&squatter, "{ devices { id } }", json!({})).await);
    let (_, recovery_codes) = enrol(&app, &squatter, ERIN).await;
    provider.sign_in_as("squatter-sub", "squatter@evil.example", true);
    assert_eq!(link_provider(&app, &squatter).await, Ok(()));
    let r = app
        .gql_as(
            &squatter,
            "mutation($e: String!, $p: String) { changeEmail(newEmail: $e, password: $p) }",
            json!({ "e": "squatter2@evil.example", "p": SQUATTERS_PASSWORD }),
        )
        .await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    let pending_change = app.mail.wait_for("squatter2@evil.example").await.token();
    let r = app
        .gql_as(
            &squatter,
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
            json!({ "i": {
                "username": "erin",
                "displayName": "Erin (security: reply with your code)",
                "firstName": "Not",
                "lastName": "Erin",
                "phoneNumber": "+14155552671",
            } }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");

    // The owner signs in with a provider that verified the address.
    provider.sign_in_as("erin-owner", ERIN, true);
    let login_code = sign_in(&app).await.expect("signed in");
    let r = exchange(&app, &login_code).await;
    let signed_in = &r["data"]["exchangeLoginCode"];
    assert_eq!(
        signed_in["mfaRequired"], false,
        "the squatter's authenticator does not stand between the owner and the account: {r}"
    );
    let owner = signed_in["auth"]["accessToken"].as_str().unwrap().to_owned();
    let owner_id = signed_in["auth"]["user"]["id"].clone();

    let r = app.me(&squatter).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "the squatter's session ended: {r}");
    assert_eq!(
        code(&app.login(ERIN, SQUATTERS_PASSWORD).await),
        Some("INVALID_CREDENTIALS"),
        "the squatter's password is gone"
    );
    provider.sign_in_as("squatter-sub", "squatter@evil.example", true);
    let elsewhere = signed_in_user(&app).await;
    assert_ne!(
        elsewhere["id"], owner_id,
        "the squatter's provider account no longer signs in to the claimed one"
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
            "{ me { email mfaEnabled providers username displayName firstName lastName phoneNumber } devices { id } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["email"], ERIN, "{me}");
    assert_eq!(me["data"]["me"]["providers"], json!(["test"]), "{me}");
    for field in ["username", "displayName", "firstName", "lastName", "phoneNumber"] {
        assert!(
            me["data"]["me"][field].is_null(),
            "the squatter's {field} is not the owner's: {me}"
        );
    }
    assert!(
        device_ids(&me).iter().all(|id| !squatters_devices.contains(id)),
        "the squatter's devices are forgotten: {me}"
    );

    let notice = mail_with_subject(&app, ERIN, "Your account was reset to your sign-in").await;
    let text = notice.text();
    for removed in [
        "password",
        "sign-in with test",
        "two-step verification",
        "pending change",
        "profile",
    ] {
        assert!(text.contains(removed), "the notice names {removed:?}: {text}");
    }
}

/// The squatter's passkey goes with the claim, in its transaction, and the
/// claim notice names it: it would otherwise sign the squatter in to the
/// account the owner just took back.
#[tokio::test]
async fn a_claim_removes_the_squatters_passkeys() {
    use crate::passkey_device::Device;
    use crate::passkeys::{add_passkey, passkey_config, sign_in as passkey_sign_in};
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
    let added = add_passkey(&app, &squatter, &mut squatters_device).await;
    let name = added["data"]["finishPasskeyRegistration"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("the squatter adds a passkey: {added}"))
        .to_owned();

    provider.sign_in_as("erin-owner", ERIN, true);
    let login_code = sign_in(&app).await.expect("signed in");
    let r = exchange(&app, &login_code).await;
    let owner = r["data"]["exchangeLoginCode"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("the owner signs in: {r}"))
        .to_owned();

    let r = passkey_sign_in(&app, None, &mut squatters_device).await;
    assert!(
        r["data"]["finishPasskeySignIn"].is_null() && code(&r).is_some(),
        "the squatter's passkey no longer signs in: {r}"
    );
    let r = app.gql_as(&owner, "{ passkeys { id } }", json!({})).await;
    assert_eq!(
        r["data"]["passkeys"],
        json!([]),
        "the owner's account has no passkey: {r}"
    );
    let notice = mail_with_subject(&app, ERIN, "Your account was reset to your sign-in").await;
    let text = notice.text();
    assert!(
        text.contains(&format!("passkey \"{name}\"")),
        "the notice names the squatter's passkey: {text}"
    );
}
