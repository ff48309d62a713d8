//! Passkeys added and removed reach the app's backend as `passkey.added`
//! and `passkey.removed`, whichever way they come and go.

use serde_json::json;

use crate::admin::admin;
use crate::helpers::{TestApp, spawn_app_with};
use crate::passkey_device::Device;
use crate::passkeys::{add_passkey, passkey_config};
use crate::webhook_receiver::Receiver;
use crate::webhooks::{fast_webhooks, register};

async fn app() -> TestApp {
    spawn_app_with(|c| {
        fast_webhooks(c);
        c.webauthn = passkey_config();
    })
    .await
}

#[tokio::test]
async fn a_passkey_added_and_deleted_is_told_to_the_backend() {
    let app = app().await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    register(
        &app,
        &root,
        &receiver.url(),
        Some(&["passkey.added", "passkey.removed"]),
    )
    .await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let (mut first, mut second) = (Device::new(), Device::new());
    let added = add_passkey(&app, &ann.access, &mut first).await;
    let added_id = added["data"]["finishPasskeyRegistration"]["id"].clone();
    add_passkey(&app, &ann.access, &mut second).await;

    let told = receiver.wait_until("two passkey.added", |hits| hits.len() >= 2).await;
    assert!(
        told.iter().all(|h| h.kind() == "passkey.added"),
        "{:?}",
        told.iter().map(|h| h.kind()).collect::<Vec<_>>()
    );
    assert_eq!(told[0].json()["data"]["passkeyId"], added_id, "{}", told[0].json());

    let r = app
        .gql_as(
            &ann.access,
            "mutation($id: ID!) { deletePasskey(id: $id) }",
            json!({ "id": added_id }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let removed = receiver.wait_for("passkey.removed").await.json();
    assert_eq!(removed["data"]["passkeyId"], added_id, "{removed}");
}
