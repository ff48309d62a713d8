//! The access-token hook's claims stay true to what they were computed
//! from: a change of the account's role or app metadata drops them from its
//! sessions, and a sign-in the hook refuses under `deny` leaves no session
//! open even when its client gave up waiting.

use std::time::Duration;

use authql::config::integrations::OnFailure;
use serde_json::{Value, json};

use crate::admin::admin;
use crate::helpers::{LOGIN, PASSWORD, spawn_app_with};
use crate::hooks::hooks;
use crate::jwks::verify_with_jwks;
use crate::webhook_receiver::Receiver;

const SET_ROLE: &str = "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { role } }";
const SET_METADATA: &str = "mutation($id: ID!, $m: JSON!) { setAppMetadata(id: $id, metadata: $m) { id } }";

/// A hook that grants what the claims it is asked about say: every
/// permission to an administrator, and the plan of the app metadata.
fn grants(asked: &Value) -> (u16, Value) {
    let claims = &asked["data"]["claims"];
    let permissions = if claims["role"] == "ADMIN" {
        json!(["*"])
    } else {
        json!(["read"])
    };
    (
        200,
        json!({ "claims": { "permissions": permissions, "plan": claims["app_metadata"]["plan"] } }),
    )
}

#[tokio::test]
async fn a_demotion_or_new_metadata_drops_the_claims_the_token_hook_gave() {
    let hook = Receiver::start().await;
    hook.respond_with(grants);
    let app = spawn_app_with(|c| hooks(c, None, Some(&hook))).await;
    let root = admin(&app).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let promoted = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "ADMIN" }))
        .await;
    assert_eq!(promoted["data"]["setUserRole"]["role"], "ADMIN", "{promoted}");
    let as_admin = app.login_tokens("ann@example.com", PASSWORD).await;
    let claims = verify_with_jwks(&app, &as_admin.access).await;
    assert_eq!(claims["permissions"], json!(["*"]), "{claims}");

    let demoted = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "USER" }))
        .await;
    assert_eq!(demoted["data"]["setUserRole"]["role"], "USER", "{demoted}");
    let refreshed = app.refresh(&as_admin.refresh).await;
    let access = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    let claims = verify_with_jwks(&app, access).await;
    assert_eq!(claims["role"], "USER", "{claims}");
    assert!(
        claims.get("permissions").is_none(),
        "the administrator's permissions do not outlive the role they were given for: {claims}"
    );

    let fresh = app.login_tokens("ann@example.com", PASSWORD).await;
    let claims = verify_with_jwks(&app, &fresh.access).await;
    assert_eq!(
        claims["permissions"],
        json!(["read"]),
        "a new sign-in asks again: {claims}"
    );
    let set = app
        .gql_as(&root.access, SET_METADATA, json!({ "id": id, "m": { "plan": "pro" } }))
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let refreshed = app.refresh(&fresh.refresh).await;
    let access = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    let claims = verify_with_jwks(&app, access).await;
    assert_eq!(claims["app_metadata"], json!({ "plan": "pro" }), "{claims}");
    assert!(
        claims.get("plan").is_none() && claims.get("permissions").is_none(),
        "claims computed from the old metadata are dropped: {claims}"
    );
}

#[tokio::test]
async fn a_sign_in_refused_by_the_token_hook_leaves_no_session_though_its_client_left() {
    let hook = Receiver::start().await;
    hook.respond_with(|_| (500, json!({})));
    hook.slow_down(Duration::from_millis(1500));
    let app = spawn_app_with(|c| {
        hooks(c, None, Some(&hook));
        c.hooks.timeout = Duration::from_secs(5);
        c.hooks.token_on_failure = OnFailure::Deny;
    })
    .await;
    app.confirmed_user("ann@example.com").await;

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let body = json!({
        "query": LOGIN,
        "variables": { "input": { "email": "ann@example.com", "password": PASSWORD } },
    });
    let gave_up = impatient.post(app.url("/graphql")).json(&body).send().await;
    assert!(gave_up.is_err(), "the client left before the hook answered");
    hook.wait_until("the hook asked", |hits| !hits.is_empty()).await;

    let live = "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL";
    let mut left_open = app.scalar(live).await;
    for _ in 0..100 {
        if left_open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left_open = app.scalar(live).await;
    }
    assert_eq!(app.count("sessions").await, 1, "the sign-in opened its session");
    assert_eq!(
        left_open, 0,
        "the hook refused it: it is ended though nobody waited for the answer"
    );
}

#[tokio::test]
async fn a_demotion_while_the_token_hook_is_asked_keeps_its_claims_off_the_session() {
    let hook = Receiver::start().await;
    hook.respond_with(grants);
    let app = spawn_app_with(|c| {
        hooks(c, None, Some(&hook));
        c.hooks.timeout = Duration::from_secs(5);
    })
    .await;
    let root = admin(&app).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let promoted = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "ADMIN" }))
        .await;
    assert_eq!(promoted["data"]["setUserRole"]["role"], "ADMIN", "{promoted}");

    hook.slow_down(Duration::from_millis(1500));
    let asked_before = hook.hits().len();
    let demote_meanwhile = async {
        hook.wait_until("the hook asked", |hits| hits.len() > asked_before)
            .await;
        app.gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "USER" }))
            .await
    };
    let (signed_in, demoted) = tokio::join!(app.login_tokens("ann@example.com", PASSWORD), demote_meanwhile);
    assert_eq!(demoted["data"]["setUserRole"]["role"], "USER", "{demoted}");
    hook.slow_down(Duration::ZERO);

    let refreshed = app.refresh(&signed_in.refresh).await;
    let access = refreshed["data"]["refreshToken"]["accessToken"].as_str().unwrap();
    let claims = verify_with_jwks(&app, access).await;
    assert_eq!(claims["role"], "USER", "{claims}");
    assert!(
        claims.get("permissions").is_none(),
        "claims asked for the administrator are not kept once the role changed: {claims}"
    );
}
