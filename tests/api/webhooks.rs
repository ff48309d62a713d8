//! Webhooks: administrators register endpoints, and every change to an
//! account is delivered to them after its commit, signed by the Standard
//! Webhooks scheme (checked here by a receiver that verifies signatures as
//! the reference libraries do).

use std::collections::HashSet;
use std::time::Duration;

use authql::config::Config;
use serde_json::{Value, json};

use crate::admin::admin;
use crate::helpers::{PASSWORD, TestApp, code, spawn_app_with};
use crate::webhook_receiver::{Hit, Receiver, free_port};

pub const CREATE: &str = "mutation($url: String!, $events: [String!]) {
    createWebhookEndpoint(url: $url, events: $events) { secret endpoint { id url events enabled createdAt } } }";
pub const UPDATE: &str = "mutation($id: ID!, $url: String, $events: [String!], $enabled: Boolean) {
    updateWebhookEndpoint(id: $id, url: $url, events: $events, enabled: $enabled) { id url events enabled } }";
const ROTATE: &str = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id } } }";
const ENDPOINTS: &str = "{ webhookEndpoints { id url events enabled } }";
pub const DELIVERIES: &str = "query($id: ID!, $first: Int, $after: String) {
    webhookDeliveries(endpointId: $id, first: $first, after: $after) {
        id eventType attempts status lastStatusCode createdAt deliveredAt } }";

/// Webhooks that retry within a second and may go to loopback.
pub fn fast_webhooks(config: &mut Config) {
    config.webhooks.allow_private = true;
    config.webhooks.https_only = false;
    config.webhooks.poll_interval = Duration::from_millis(100);
    config.webhooks.retry_schedule = vec![Duration::from_millis(300); 6];
}

/// An endpoint registered by `admin` for `events` (all when `None`): its id and secret.
pub async fn register(app: &TestApp, admin: &str, url: &str, events: Option<&[&str]>) -> (String, String) {
    let made = app.gql_as(admin, CREATE, json!({ "url": url, "events": events })).await;
    let made = &made["data"]["createWebhookEndpoint"];
    assert!(made["secret"].is_string(), "{made}");
    (
        made["endpoint"]["id"].as_str().unwrap().to_owned(),
        made["secret"].as_str().unwrap().to_owned(),
    )
}

/// The log of endpoint `id` once no delivery in it is pending (the receiver
/// answers before the sender records the answer).
pub async fn settled_log(app: &TestApp, admin: &str, id: &str) -> Vec<Value> {
    for _ in 0..200 {
        let log = app.gql_as(admin, DELIVERIES, json!({ "id": id, "first": 100 })).await;
        let rows = log["data"]["webhookDeliveries"]
            .as_array()
            .unwrap_or_else(|| panic!("{log}"))
            .clone();
        if rows.iter().all(|d| d["status"] != "PENDING") {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries of {id} stayed pending");
}

/// A running app with fast webhooks, its administrator's access token, a
/// receiver, and an endpoint for every event: (app, admin, receiver, endpoint id, secret).
async fn wired() -> (TestApp, String, Receiver, String, String) {
    let app = spawn_app_with(fast_webhooks).await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    let (id, secret) = register(&app, &root, &receiver.url(), None).await;
    (app, root, receiver, id, secret)
}

fn kinds(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(Hit::kind).collect()
}

#[tokio::test]
async fn every_change_is_delivered_once_after_its_commit_signed_by_the_standard() {
    let (app, _root, receiver, _id, secret) = wired().await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let ann_id = app.me(&ann.access).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile = "mutation { updateProfile(input: { displayName: \"Ann A.\" }) { id } }";
    assert!(app.gql_as(&ann.access, profile, json!({})).await["errors"].is_null());
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";
    let new_password = "Another-Horse-Battery-Staple-43";
    let changed = app
        .gql_as(
            &ann.access,
            change,
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": new_password } }),
        )
        .await;
    assert!(changed["errors"].is_null(), "{changed}");
    assert!(app.gql_as(&ann.access, "mutation { logout }", json!({})).await["errors"].is_null());

    let expected = [
        "user.created",
        "user.email_confirmed",
        "session.created",
        "user.updated",
        "password.changed",
        "session.revoked",
    ];
    let hits = receiver
        .wait_until("each change once", |hits| {
            expected.iter().all(|k| hits.iter().any(|h| h.kind() == *k))
        })
        .await;
    // The administrator's own sign-in is an event too; Ann's are the rest.
    let anns: Vec<&Hit> = hits.iter().filter(|h| h.body.contains(&ann_id)).collect();
    let mut seen: Vec<String> = anns.iter().map(|h| h.kind()).collect();
    seen.sort();
    let mut want: Vec<String> = expected.iter().map(|k| (*k).to_owned()).collect();
    want.sort();
    assert_eq!(seen, want, "each change once, nothing else");
    let ids: HashSet<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids.len(), hits.len(), "one webhook-id per event and endpoint");
    for hit in &hits {
        assert!(hit.signed_by(&secret), "signature of {}: {}", hit.kind(), hit.signature);
        assert!(hit.id.starts_with("msg_"), "{}", hit.id);
        let body = hit.json();
        assert!(body["timestamp"].is_string() && body["data"].is_object(), "{body}");
        for secret_word in [
            "password_hash",
            "passwordHash",
            "token",
            PASSWORD,
            new_password,
            "argon2",
        ] {
            assert!(
                !hit.body.contains(secret_word),
                "{} carries {secret_word}: {}",
                hit.kind(),
                hit.body
            );
        }
    }
    let created = receiver.wait_for("user.created").await.json();
    assert_eq!(created["data"]["user"]["email"], "ann@example.com", "{created}");
    assert_eq!(created["data"]["provider"], "password", "{created}");
    let updated = receiver.wait_for("user.updated").await.json();
    assert_eq!(
        updated["data"]["changes"],
        json!({ "displayName": "Ann A." }),
        "{updated}"
    );
    let revoked = receiver.wait_for("session.revoked").await.json();
    assert_eq!(revoked["data"]["reason"], "logout", "{revoked}");
    assert!(
        !hits[0].signed_by("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "another secret does not verify"
    );

    // Nothing more comes: each change was sent once.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.hits().len(), hits.len(), "{:?}", kinds(&receiver.hits()));
}

#[tokio::test]
async fn a_rolled_back_change_sends_nothing() {
    let (app, _root, receiver, _id, _secret) = wired().await;
    let webhooks = &app.state.webhooks;
    let event =
        |name: &str| authql::webhooks::Event::user_updated(uuid::Uuid::new_v4(), json!({ "displayName": name }));
    // A change whose transaction fails after its event was written...
    let mut tx = app.state.db.begin().await.unwrap();
    webhooks.emit(&mut tx, event("rolled back")).await.unwrap();
    use sea_orm::ConnectionTrait;
    assert!(tx.execute_unprepared("UPDATE no_such_table SET x = 1").await.is_err());
    drop(tx);
    // ...one rolled back outright, and one that commits.
    let mut tx = app.state.db.begin().await.unwrap();
    webhooks.emit(&mut tx, event("rolled back too")).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    webhooks.emit(&mut tx, event("committed")).await.unwrap();
    tx.commit().await.unwrap();

    receiver
        .wait_until("the committed change", |hits| {
            hits.iter().any(|h| h.body.contains("committed"))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let hits = receiver.hits();
    assert!(
        !hits.iter().any(|h| h.body.contains("rolled back")),
        "a rolled-back change was sent: {:?}",
        hits.iter().map(|h| &h.body).collect::<Vec<_>>()
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE payload LIKE '%rolled back%'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_with_the_same_webhook_id() {
    let app = spawn_app_with(fast_webhooks).await;
    let root = admin(&app).await.access;
    let port = free_port();
    let (id, secret) = register(&app, &root, &format!("http://127.0.0.1:{port}/hook"), None).await;
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        app.confirmed_user(email).await;
    }
    // Every delivery is tried, and fails, while nothing listens.
    for _ in 0..200 {
        let log = app.gql_as(&root, DELIVERIES, json!({ "id": id, "first": 100 })).await;
        let log = log["data"]["webhookDeliveries"].as_array().unwrap().clone();
        if log.len() >= 6 && log.iter().all(|d| d["attempts"].as_i64() >= Some(1)) {
            assert!(
                log.iter()
                    .all(|d| d["status"] == "PENDING" && d["deliveredAt"].is_null()),
                "{log:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending: Vec<String> =
        app.gql_as(&root, DELIVERIES, json!({ "id": id, "first": 100 })).await["data"]["webhookDeliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(pending.len(), 6, "three sign-ups and three confirmations");

    let receiver = Receiver::start_on(port).await;
    let hits = receiver
        .wait_until("every waiting event", |hits| {
            pending.iter().all(|id| hits.iter().any(|h| &h.id == id))
        })
        .await;
    assert!(hits.iter().all(|h| h.signed_by(&secret)));
    for d in settled_log(&app, &root, &id).await {
        assert_eq!(d["status"], "DELIVERED", "{d}");
        assert!(d["attempts"].as_i64().unwrap() >= 2, "{d}");
        assert_eq!(d["lastStatusCode"], 204, "{d}");
    }
}

#[tokio::test]
async fn gone_switches_the_endpoint_off_and_mails_the_administrators() {
    let (app, root, receiver, id, _secret) = wired().await;
    receiver.answer(410);
    app.confirmed_user("ann@example.com").await;
    let mail = app.mail.wait_for("root@example.com").await;
    assert!(
        mail.subject().contains("webhook endpoint was switched off"),
        "{}",
        mail.subject()
    );
    assert!(mail.text().contains("410"), "{}", mail.text());
    let listed = app.gql_as(&root, ENDPOINTS, json!({})).await;
    assert_eq!(listed["data"]["webhookEndpoints"][0]["enabled"], false, "{listed}");
    let tried = receiver.hits().len();

    // While it is off, events wait; switched on again, they go out.
    app.confirmed_user("bob@example.com").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.hits().len(),
        tried,
        "nothing is sent to a switched-off endpoint"
    );
    receiver.answer(200);
    let on = app.gql_as(&root, UPDATE, json!({ "id": id, "enabled": true })).await;
    assert_eq!(on["data"]["updateWebhookEndpoint"]["enabled"], true, "{on}");
    receiver
        .wait_until("bob's sign-up", |hits| {
            hits.iter().any(|h| h.body.contains("bob@example.com"))
        })
        .await;
    let log = app.gql_as(&root, DELIVERIES, json!({ "id": id, "first": 100 })).await;
    let statuses: Vec<(&str, &str)> = log["data"]["webhookDeliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["eventType"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert!(
        statuses.contains(&("user.created", "FAILED")),
        "the one answered 410: {statuses:?}"
    );
}

#[tokio::test]
async fn private_addresses_are_refused_without_webhook_allow_private() {
    let app = spawn_app_with(|c| {
        fast_webhooks(c);
        c.webhooks.allow_private = false;
    })
    .await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url(),
        format!("http://localhost:{}/hook", receiver.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]:8080/hook".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        "http://[::ffff:127.0.0.1]/hook".to_owned(),
    ] {
        let refused = app.gql_as(&root, CREATE, json!({ "url": url })).await;
        assert_eq!(code(&refused), Some("BAD_USER_INPUT"), "{url}: {refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "url", "{refused}");
    }
    assert_eq!(app.count("webhook_endpoints").await, 0);

    // A name that resolves inward after it was registered connects nowhere:
    // the check after DNS refuses it on every attempt.
    let (id, _) = register(&app, &root, "http://93.184.215.14/hook", None).await;
    let sneaky = format!("http://localhost:{}/hook", receiver.port);
    let sql = format!("UPDATE webhook_endpoints SET url = '{sneaky}'");
    use sea_orm::ConnectionTrait;
    app.state.db.writer().execute_unprepared(&sql).await.unwrap();
    app.confirmed_user("ann@example.com").await;
    for _ in 0..200 {
        if app
            .scalar("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE attempts >= 2")
            .await
            >= 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = app.gql_as(&root, DELIVERIES, json!({ "id": id })).await;
    assert!(
        log["data"]["webhookDeliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["attempts"].as_i64() >= Some(2) && d["deliveredAt"].is_null()),
        "{log}"
    );
    assert!(receiver.hits().is_empty(), "the receiver on loopback was reached");
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_for_its_overlap() {
    let app = spawn_app_with(|c| {
        fast_webhooks(c);
        c.webhooks.rotation_overlap = Duration::from_secs(3);
    })
    .await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    let (id, old) = register(&app, &root, &receiver.url(), Some(&["user.created"])).await;
    let rotated = app.gql_as(&root, ROTATE, json!({ "id": id })).await;
    let new = rotated["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    app.signup("ann@example.com", PASSWORD).await;
    let hit = receiver.wait_for("user.created").await;
    assert_eq!(hit.signature.split(' ').count(), 2, "{}", hit.signature);
    assert!(hit.signed_by(&old), "the old secret still verifies during the overlap");
    assert!(hit.signed_by(&new), "the new one too");

    tokio::time::sleep(Duration::from_secs(3)).await;
    app.signup("bob@example.com", PASSWORD).await;
    let hits = receiver
        .wait_until("bob's sign-up", |hits| hits.iter().any(|h| h.body.contains("bob@")))
        .await;
    let bob = hits.iter().find(|h| h.body.contains("bob@")).unwrap();
    assert_eq!(bob.signature.split(' ').count(), 1, "{}", bob.signature);
    assert!(
        bob.signed_by(&new) && !bob.signed_by(&old),
        "after the overlap only the new secret signs"
    );
}

#[tokio::test]
async fn an_endpoint_gets_only_the_types_it_asked_for() {
    let (app, root, receiver, _all, _) = wired().await;
    let deleted_only = Receiver::start().await;
    register(&app, &root, &deleted_only.url(), Some(&["user.deleted"])).await;
    let bad = app
        .gql_as(
            &root,
            CREATE,
            json!({ "url": deleted_only.url(), "events": ["user.exploded"] }),
        )
        .await;
    assert_eq!(code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "events", "{bad}");

    let ann = app.user_with_tokens("ann@example.com").await;
    let gone = app
        .gql_as(
            &ann.access,
            "mutation($p: String) { deleteAccount(password: $p) }",
            json!({ "p": PASSWORD }),
        )
        .await;
    assert!(gone["errors"].is_null(), "{gone}");
    let deleted = deleted_only.wait_for("user.deleted").await.json();
    assert_eq!(deleted["data"]["email"], "ann@example.com", "{deleted}");
    receiver.wait_for("user.deleted").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(kinds(&deleted_only.hits()), ["user.deleted"]);
}

#[tokio::test]
async fn each_ended_session_is_an_event_that_says_why() {
    let app = spawn_app_with(|c| {
        fast_webhooks(c);
        c.tokens.reuse_grace = Duration::from_millis(100);
    })
    .await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    register(&app, &root, &receiver.url(), Some(&["session.revoked", "user.updated"])).await;
    let ann = app.user_with_tokens("ann@example.com").await;
    let ann_id = app.me(&ann.access).await["data"]["me"]["id"].clone();
    let login = || app.login_tokens("ann@example.com", PASSWORD);

    login().await;
    assert!(app.gql_as(&ann.access, "mutation { logoutAll }", json!({})).await["errors"].is_null());
    let (one, _two) = (login().await, login().await);
    let revoke = "mutation($id: ID!) { revokeUserSessions(id: $id) }";
    assert!(app.gql_as(&root, revoke, json!({ "id": ann_id })).await["errors"].is_null());
    assert!(app.gql_as(&one.access, "{ me { id } }", json!({})).await["errors"].is_array());
    let stolen = login().await;
    assert!(app.refresh(&stolen.refresh).await["errors"].is_null());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(code(&app.refresh(&stolen.refresh).await), Some("INVALID_TOKEN"));
    let (keeper, other) = (login().await, login().await);
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";
    let new_password = "Another-Horse-Battery-Staple-43";
    let i = json!({ "i": { "currentPassword": PASSWORD, "newPassword": new_password } });
    assert!(app.gql_as(&keeper.access, change, i).await["errors"].is_null());
    let _ = other;
    let set_active = "mutation($id: ID!) { setUserActive(id: $id, active: false) { active } }";
    assert!(app.gql_as(&root, set_active, json!({ "id": ann_id })).await["errors"].is_null());

    let reasons = |hits: &[Hit]| -> Vec<String> {
        let mut r: Vec<String> = hits
            .iter()
            .filter(|h| h.kind() == "session.revoked")
            .map(|h| h.json()["data"]["reason"].as_str().unwrap().to_owned())
            .collect();
        r.sort();
        r
    };
    let want = [
        "admin",
        "admin",
        "deactivated",
        "logout_all",
        "logout_all",
        "password_changed",
        "reuse_detected",
    ];
    let hits = receiver
        .wait_until("every ended session", |hits| reasons(hits).len() >= want.len())
        .await;
    assert_eq!(reasons(&hits), want);
    let sessions: HashSet<String> = hits
        .iter()
        .filter(|h| h.kind() == "session.revoked")
        .map(|h| h.json()["data"]["sessionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sessions.len(), want.len(), "one event per session");
    let updated: Vec<Value> = hits
        .iter()
        .filter(|h| h.kind() == "user.updated")
        .map(Hit::json)
        .collect();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["data"]["changes"], json!({ "active": false }), "{updated:?}");
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_cut_off_and_tried_again() {
    let app = spawn_app_with(|c| {
        fast_webhooks(c);
        c.webhooks.timeout = Duration::from_secs(1);
    })
    .await;
    let root = admin(&app).await.access;
    let receiver = Receiver::start().await;
    receiver.slow_down(Duration::from_secs(3));
    let (id, _) = register(&app, &root, &receiver.url(), Some(&["user.created"])).await;
    app.signup("ann@example.com", PASSWORD).await;
    receiver.wait_until("a first try", |hits| !hits.is_empty()).await;
    receiver.slow_down(Duration::ZERO);
    let hits = receiver.wait_until("a second try", |hits| hits.len() >= 2).await;
    assert_eq!(hits[0].id, hits[1].id, "the same message, tried again");
    for _ in 0..100 {
        let log = app.gql_as(&root, DELIVERIES, json!({ "id": id })).await;
        let d = &log["data"]["webhookDeliveries"][0];
        if d["status"] == "DELIVERED" {
            assert!(d["attempts"].as_i64().unwrap() >= 2, "{d}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the second try was not recorded as delivered");
}
