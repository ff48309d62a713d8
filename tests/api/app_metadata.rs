//! App metadata: administrators set it, the owner reads it, and access
//! tokens carry it (claim `app_metadata`) from the next refresh, verifiable
//! with the JWKS alone.

use serde_json::json;

use crate::admin::admin;
use crate::helpers::{code, spawn_app_with};
use crate::jwks::verify_with_jwks;
use crate::webhook_receiver::Receiver;
use crate::webhooks::{fast_webhooks, register};

const SET: &str = "mutation($id: ID!, $m: JSON!) { setAppMetadata(id: $id, metadata: $m) { id appMetadata } }";

#[tokio::test]
async fn metadata_an_administrator_sets_is_in_the_next_access_token() {
    let app = spawn_app_with(fast_webhooks).await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    register(&app, &root, &receiver.url(), Some(&["user.updated"])).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let roles = json!({ "roles": ["editor"], "plan": "pro", "tenant": { "id": 42 } });

    let own = app
        .gql_as(&ann.access, SET, json!({ "id": id, "m": { "roles": ["admin"] } }))
        .await;
    assert_eq!(code(&own), Some("FORBIDDEN"), "a user cannot write it: {own}");
    let before = verify_with_jwks(&app, &ann.access).await;
    assert_eq!(before["app_metadata"], json!({}), "{before}");

    let set = app.gql_as(&root, SET, json!({ "id": id, "m": roles })).await;
    assert_eq!(set["data"]["setAppMetadata"]["appMetadata"], roles, "{set}");
    let mine = app.gql_as(&ann.access, "{ me { appMetadata } }", json!({})).await;
    assert_eq!(mine["data"]["me"]["appMetadata"], roles, "the owner reads it: {mine}");
    // The token in hand is unchanged; the next refresh carries it.
    assert_eq!(verify_with_jwks(&app, &ann.access).await["app_metadata"], json!({}));
    let refreshed = app.refresh(&ann.refresh).await;
    let access = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    let claims = verify_with_jwks(&app, access).await;
    assert_eq!(claims["app_metadata"], roles, "{claims}");
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["role"], "USER", "it grants the app's roles, not authql's");

    let hit = receiver.wait_for("user.updated").await.json();
    assert_eq!(
        hit["data"],
        json!({ "userId": id, "changes": { "appMetadata": roles } }),
        "{hit}"
    );
    let audit = app
        .gql_as(&root, "{ auditLog(first: 5) { nodes { kind userId } } }", json!({}))
        .await;
    assert!(
        audit["data"]["auditLog"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "APP_METADATA_SET" && e["userId"] == id.as_str()),
        "{audit}"
    );
}

#[tokio::test]
async fn metadata_is_a_small_object_set_with_a_recent_proof() {
    let app = spawn_app_with(|_| {}).await;
    let root = admin(&app).await.access;
    let ann = app.user_with_tokens("ann@example.com").await;
    let id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let big = json!({ "blob": "x".repeat(2100) });
    for bad in [json!([1, 2]), json!("admin"), json!(7), big] {
        let r = app.gql_as(&root, SET, json!({ "id": id, "m": bad })).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "metadata", "{r}");
    }
    let just_fits = json!({ "b": "x".repeat(2048 - 8) });
    assert_eq!(just_fits.to_string().len(), 2048);
    let r = app.gql_as(&root, SET, json!({ "id": id, "m": just_fits })).await;
    assert!(r["errors"].is_null(), "2 KiB is allowed: {r}");

    crate::account_security::age_sessions(&app, "root@example.com").await;
    let r = app
        .gql_as(&root, SET, json!({ "id": id, "m": { "roles": ["owner"] } }))
        .await;
    assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "{r}");
    let mine = app.gql_as(&ann.access, "{ me { appMetadata } }", json!({})).await;
    assert_eq!(mine["data"]["me"]["appMetadata"], just_fits, "nothing changed: {mine}");
}
