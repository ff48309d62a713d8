//! Webhooks as administrators run them: only administrators with a recent
//! proof manage endpoints (audited, the secret shown once), the delivery
//! log pages and redelivers under the same webhook-id, a deleted account's
//! last events still go out, and finished deliveries are pruned.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::admin::admin;
use crate::helpers::{PASSWORD, code, spawn_app_with};
use crate::webhook_receiver::Receiver;
use crate::webhooks::{CREATE, DELIVERIES, UPDATE, fast_webhooks, register, settled_log};

const ROTATE: &str = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }";
const DELETE: &str = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }";
const REDELIVER: &str = "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id status attempts } }";

#[tokio::test]
async fn only_administrators_with_a_recent_proof_manage_endpoints_and_each_change_is_audited() {
    let app = spawn_app_with(fast_webhooks).await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    let user = app.user_with_tokens("ann@example.com").await;
    let create = json!({ "url": receiver.url() });
    assert_eq!(code(&app.gql(CREATE, create.clone()).await), Some("UNAUTHENTICATED"));
    assert_eq!(
        code(&app.gql_as(&user.access, CREATE, create.clone()).await),
        Some("FORBIDDEN")
    );
    let listed = app.gql_as(&user.access, "{ webhookEndpoints { id } }", json!({})).await;
    assert_eq!(code(&listed), Some("FORBIDDEN"), "{listed}");
    assert_eq!(app.count("webhook_endpoints").await, 0);

    let (id, secret) = register(&app, &root, &receiver.url(), Some(&["user.created"])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let stored = app
        .scalar("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE secret LIKE '%whsec_%'")
        .await;
    assert_eq!(stored, 0, "the secret is sealed at rest, never stored as given");
    let listed = app
        .gql_as(&root, "{ webhookEndpoints { id url events enabled } }", json!({}))
        .await;
    assert_eq!(
        listed["data"]["webhookEndpoints"][0]["events"],
        json!(["user.created"]),
        "{listed}"
    );
    assert!(!listed.to_string().contains(&secret), "the secret is shown once");

    // An administrator's token from an old sign-in cannot add, change, rotate or delete one.
    crate::account_security::age_sessions(&app, "root@example.com").await;
    for (query, vars) in [
        (CREATE, create),
        (UPDATE, json!({ "id": id, "url": "http://127.0.0.1:9/elsewhere" })),
        (ROTATE, json!({ "id": id })),
        (DELETE, json!({ "id": id })),
    ] {
        let r = app.gql_as(&root, query, vars).await;
        assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "{query}: {r}");
    }
    assert_eq!(app.count("webhook_endpoints").await, 1);
    let fresh = app.login_tokens("root@example.com", PASSWORD).await.access;
    let moved = app
        .gql_as(
            &fresh,
            UPDATE,
            json!({ "id": id, "events": ["user.deleted", "user.created"] }),
        )
        .await;
    assert_eq!(
        moved["data"]["updateWebhookEndpoint"]["events"],
        json!(["user.created", "user.deleted"]),
        "{moved}"
    );
    assert_eq!(
        app.gql_as(&fresh, ROTATE, json!({ "id": id })).await["errors"],
        json!(null)
    );
    assert_eq!(
        app.gql_as(&fresh, DELETE, json!({ "id": id })).await["data"]["deleteWebhookEndpoint"],
        true
    );
    let audit = app
        .gql_as(&fresh, "{ auditLog(first: 10) { nodes { kind actorId } } }", json!({}))
        .await;
    let kinds: Vec<&str> = audit["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "WEBHOOK_ENDPOINT_DELETED",
            "WEBHOOK_SECRET_ROTATED",
            "WEBHOOK_ENDPOINT_UPDATED",
            "WEBHOOK_ENDPOINT_CREATED"
        ],
        "{audit}"
    );
}

#[tokio::test]
async fn the_log_pages_newest_first_and_a_redelivery_keeps_the_webhook_id() {
    let app = spawn_app_with(fast_webhooks).await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    let (id, secret) = register(&app, &root, &receiver.url(), Some(&["user.created"])).await;
    for n in 0..5 {
        app.signup(&format!("user{n}@example.com"), PASSWORD).await;
    }
    receiver.wait_until("five sign-ups", |hits| hits.len() == 5).await;
    settled_log(&app, &root, &id).await;
    let page = |after: Option<String>| {
        let app = &app;
        let root = &root;
        let id = &id;
        async move {
            let r = app
                .gql_as(root, DELIVERIES, json!({ "id": id, "first": 2, "after": after }))
                .await;
            r["data"]["webhookDeliveries"]
                .as_array()
                .unwrap_or_else(|| panic!("{r}"))
                .clone()
        }
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let rows = page(after.clone()).await;
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 2);
        after = rows.last().map(|d| d["id"].as_str().unwrap().to_owned());
        seen.extend(rows);
    }
    assert_eq!(seen.len(), 5, "every delivery once across the pages");
    let times: Vec<&str> = seen.iter().map(|d| d["createdAt"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert!(seen.iter().all(|d| d["status"] == "DELIVERED" && d["attempts"] == 1));
    let bad = app
        .gql_as(&root, DELIVERIES, json!({ "id": id, "after": "msg_nope" }))
        .await;
    assert_eq!(code(&bad), Some("BAD_USER_INPUT"), "{bad}");

    let oldest = seen.last().unwrap()["id"].as_str().unwrap().to_owned();
    let again = app.gql_as(&root, REDELIVER, json!({ "id": oldest })).await;
    assert_eq!(again["data"]["redeliverWebhook"]["id"], oldest.as_str(), "{again}");
    let hits = receiver.wait_until("the redelivery", |hits| hits.len() == 6).await;
    let resent: Vec<_> = hits.iter().filter(|h| h.id == oldest).collect();
    assert_eq!(resent.len(), 2, "the same webhook-id, so the receiver can drop it");
    assert_eq!(resent[0].body, resent[1].body, "the same message");
    assert!(resent[1].signed_by(&secret));
    let unknown = app
        .gql_as(
            &root,
            REDELIVER,
            json!({ "id": "msg_00000000000000000000000000000000" }),
        )
        .await;
    assert_eq!(code(&unknown), Some("BAD_USER_INPUT"), "{unknown}");
    assert_eq!(unknown["errors"][0]["extensions"]["field"], "deliveryId", "{unknown}");
}

#[tokio::test]
async fn a_deleted_accounts_pending_events_still_go_out() {
    let app = spawn_app_with(fast_webhooks).await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    register(&app, &root, &receiver.url(), None).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let ann_id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = app
        .gql_as(
            &root,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": ann_id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteUser"], true, "{deleted}");
    receiver
        .wait_until("a failed try of each", |hits| hits.len() >= 4)
        .await;
    receiver.answer(200);
    let want = [
        "user.created",
        "user.email_confirmed",
        "session.created",
        "user.deleted",
    ];
    let hits = receiver
        .wait_until("Ann's events, her deletion last made", |hits| {
            want.iter()
                .all(|k| hits.iter().any(|h| h.kind() == *k && h.body.contains(&ann_id)))
        })
        .await;
    let gone = hits.iter().find(|h| h.kind() == "user.deleted").unwrap().json();
    assert_eq!(
        gone["data"],
        json!({ "userId": ann_id, "email": "ann@example.com", "byAdmin": true })
    );
}

#[tokio::test]
async fn finished_deliveries_are_pruned_after_webhook_retention() {
    let app = spawn_app_with(|c| {
        fast_webhooks(c);
        c.webhooks.retention = Duration::from_secs(3600);
    })
    .await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    let (id, _) = register(&app, &root, &receiver.url(), Some(&["user.created"])).await;
    app.signup("old@example.com", PASSWORD).await;
    receiver.wait_until("the sign-up", |hits| hits.len() == 1).await;
    settled_log(&app, &root, &id).await;
    let two_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2)).format("%Y-%m-%d %H:%M:%S");
    let db = app.state.db.writer();
    db.execute_unprepared(&format!("UPDATE webhook_deliveries SET created_at = '{two_hours_ago}'"))
        .await
        .unwrap();
    receiver.answer(503);
    app.signup("new@example.com", PASSWORD).await;
    // A pending delivery as old stays: it is still being tried.
    receiver
        .wait_until("a try of the new one", |hits| hits.len() == 2)
        .await;
    db.execute_unprepared(&format!(
        "UPDATE webhook_deliveries SET created_at = '{two_hours_ago}' WHERE status = 'PENDING'"
    ))
    .await
    .unwrap();
    authql::jobs::prune(&app.state).await.unwrap();
    assert_eq!(
        app.count("webhook_deliveries").await,
        1,
        "the delivered one went, the pending one stays"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'")
            .await,
        1
    );
}
