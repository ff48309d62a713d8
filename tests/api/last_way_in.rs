//! The last way in: an account keeps at least one way to sign in, and every
//! way counts, whichever is being removed. A password, a linked identity and
//! a passkey each keep the account reachable, so `unlinkIdentity` counts
//! passkeys and `deletePasskey` counts identities and the password.

use serde_json::{Value, json};

use crate::helpers::code;
use crate::oauth::{app_with_config, exchange, sign_in};
use crate::oidc_provider::Provider;
use crate::passkey_device::Device;
use crate::passkeys::{add_passkey, passkey_config, sign_in as passkey_sign_in};

const UNLINK: &str = "mutation { unlinkIdentity(provider: \"test\") { providers } }";
const DELETE: &str = "mutation($id: ID!) { deletePasskey(id: $id) }";

fn passkey_id(added: &Value) -> String {
    added["data"]["finishPasskeyRegistration"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a passkey is added: {added}"))
        .to_owned()
}

/// An account made by a provider sign-in has no password: its identity and
/// its passkeys are its ways in, and either may go while the other stays.
#[tokio::test]
async fn identities_and_passkeys_each_count_as_a_way_in() {
    let provider = Provider::start().await;
    let app = app_with_config(&provider, |_| {}, |c| c.webauthn = passkey_config()).await;
    provider.sign_in_as("pia-1", "pia@example.com", true);
    let login_code = sign_in(&app).await.expect("signed in");
    let r = exchange(&app, &login_code).await;
    let access = r["data"]["exchangeLoginCode"]["auth"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();

    let mut first = Device::new();
    let id = passkey_id(&add_passkey(&app, &access, &mut first).await);
    let r = app.gql_as(&access, DELETE, json!({ "id": id })).await;
    assert_eq!(r["data"]["deletePasskey"], true, "the identity is still a way in: {r}");

    let mut second = Device::new();
    let id = passkey_id(&add_passkey(&app, &access, &mut second).await);
    let r = app.gql_as(&access, UNLINK, json!({})).await;
    assert_eq!(
        r["data"]["unlinkIdentity"]["providers"],
        json!(["passkey"]),
        "the passkey is still a way in: {r}"
    );
    let r = app.gql_as(&access, DELETE, json!({ "id": id })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "the last way in stays: {r}");
    let r = passkey_sign_in(&app, None, &mut second).await;
    assert_eq!(
        r["data"]["finishPasskeySignIn"]["auth"]["user"]["email"], "pia@example.com",
        "{r}"
    );
}
