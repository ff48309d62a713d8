//! Webhooks across two instances sharing one database (PostgreSQL with
//! TEST_DATABASE_URL, else one SQLite file): one instance is killed with
//! SIGKILL while deliveries are in flight, and the receiver still gets every
//! event, exactly once by webhook-id (at least once on the wire: the killed
//! instance's claims run out and the other sends them again).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::db::TestDb;
use crate::server::{LOGIN, SIGNUP, Server};
use crate::webhook_receiver::Receiver;
use crate::{PASSWORD, SECRET_KEY, authql};

const ADMIN: &str = "root@example.com";

fn instance(dir: &std::path::Path, db: &TestDb) -> std::process::Command {
    let mut cmd = authql(dir);
    cmd.env("DATABASE_URL", &db.url)
        .env("SECRET_KEY", SECRET_KEY)
        .env("REQUIRE_EMAIL_CONFIRMATION", "false")
        .env("REQUIRE_MFA", "off")
        .env("RATE_LIMITS", "false")
        .env("WEBHOOK_ALLOW_PRIVATE", "true")
        .env("WEBHOOK_POLL_INTERVAL", "200ms")
        .env("WEBHOOK_TIMEOUT", "2s");
    cmd
}

#[tokio::test]
async fn every_event_reaches_the_receiver_once_by_id_while_an_instance_is_killed_mid_delivery() {
    let db = TestDb::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(instance(dir_a.path(), &db));
    let b = Server::start(instance(dir_b.path(), &db));
    let mut make = instance(dir_b.path(), &db);
    let mut child = make
        .args(["create-admin", ADMIN])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success(), "create-admin");

    let receiver = Receiver::start().await;
    // Slow answers, so the kill finds attempts in flight.
    receiver.slow_down(Duration::from_millis(300));
    let login = b.gql(LOGIN, json!({ "e": ADMIN, "p": PASSWORD }), None).await;
    let root = login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = "mutation($u: String!) { createWebhookEndpoint(url: $u) { secret endpoint { id } } }";
    let made = b.gql(create, json!({ "u": receiver.url() }), Some(&root)).await;
    let secret = made["data"]["createWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoint = made["data"]["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Sign-ups on the instance that will die: each is a user.created and a session.created.
    for i in 0..20 {
        let r = a
            .gql(SIGNUP, json!({ "e": format!("a{i}@example.com"), "p": PASSWORD }), None)
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    receiver.wait_until("the first attempts", |hits| hits.len() >= 3).await;
    drop(a); // SIGKILL, with attempts in flight and more claimed
    for i in 0..10 {
        let r = b
            .gql(SIGNUP, json!({ "e": format!("b{i}@example.com"), "p": PASSWORD }), None)
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }

    // Every delivery in the log, delivered (the killed instance's claims run out first).
    let mut ids = HashSet::new();
    for _ in 0..600 {
        ids.clear();
        let mut after: Option<String> = None;
        let mut all_delivered = true;
        loop {
            let page = b
                .gql(
                    "query($e: ID!, $a: String) { webhookDeliveries(endpointId: $e, first: 100, after: $a) { id status } }",
                    json!({ "e": endpoint, "a": after }),
                    Some(&root),
                )
                .await;
            let rows = page["data"]["webhookDeliveries"]
                .as_array()
                .unwrap_or_else(|| panic!("{page}"))
                .clone();
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                all_delivered &= row["status"] == "DELIVERED";
                ids.insert(row["id"].as_str().unwrap().to_owned());
            }
            after = rows.last().map(|r| r["id"].as_str().unwrap().to_owned());
        }
        if all_delivered && ids.len() == 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids.len(), 60, "thirty sign-ups, each an account and a session");

    let hits = receiver
        .wait_until("every delivery", |hits| {
            let got: HashSet<&str> = hits.iter().map(|h| h.id.as_str()).collect();
            ids.iter().all(|id| got.contains(id.as_str()))
        })
        .await;
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for hit in &hits {
        assert!(hit.signed_by(&secret), "{}", hit.id);
        *per_id.entry(hit.id.as_str()).or_default() += 1;
    }
    let distinct: HashSet<&str> = per_id.keys().copied().collect();
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(distinct, expected, "every event, and nothing else, by webhook-id");
    let repeated = per_id.values().filter(|n| **n > 1).count();
    println!(
        "{} requests for {} events; {repeated} sent again after the kill",
        hits.len(),
        ids.len()
    );
    // A receiver that deduplicates by webhook-id sees each event once.
    let bodies: HashMap<&str, &str> = hits.iter().map(|h| (h.id.as_str(), h.body.as_str())).collect();
    assert!(
        hits.iter().all(|h| bodies[h.id.as_str()] == h.body),
        "a repeat is the same message"
    );
}
