//! Revocation notices between instances: a change committed on one instance
//! is pushed to the others (Redis pub/sub with REDIS_URL, else PostgreSQL
//! LISTEN/NOTIFY), which drop their cached sessions and tell their sockets at
//! once; with the push channel cut, the session cache's time-to-live still
//! ends the session there.
//!
//! The PostgreSQL tests run when TEST_DATABASE_URL is PostgreSQL; the Redis
//! ones need a Redis (see shared_limits.rs) and run on every backend.

use std::time::Duration;

use authql::config::Secret;
use authql::sessions::Notice;
use serde_json::json;
use tokio::sync::broadcast;

use crate::helpers::{TestApp, code, spawn_app_beside, spawn_app_with};
use crate::proxy::Proxy;
use crate::session_events::{connect, json_of, next, send};
use crate::shared_limits::test_redis;

/// Which channel carries the notices.
#[derive(Clone, Copy, Debug)]
enum Channel {
    Postgres,
    Redis,
}

fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

/// A first instance using `channel`, or None (said) when the test cannot run here.
async fn first_on(channel: Channel) -> Option<(TestApp, Option<url::Url>)> {
    match channel {
        Channel::Postgres if !on_postgres() => {
            eprintln!("skipped: TEST_DATABASE_URL is not PostgreSQL");
            None
        }
        Channel::Postgres => Some((spawn_app_with(|_| {}).await, None)),
        Channel::Redis => {
            let redis = test_redis().await?;
            let prefix = format!("authql-test-{}:", uuid::Uuid::new_v4().simple());
            let app = spawn_app_with(|c| {
                c.redis_url = Some(Secret::new(redis.as_str()));
                c.redis_key_prefix = prefix;
            })
            .await;
            Some((app, Some(redis)))
        }
    }
}

/// The next notice `heard` gives that matches `wanted`, within 10 s.
async fn hear(heard: &mut broadcast::Receiver<Notice>, wanted: impl Fn(&Notice) -> bool) -> Notice {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match heard.recv().await {
                Ok(notice) if wanted(&notice) => return notice,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the notices ended"),
            }
        }
    })
    .await
    .expect("the notice within 10 s")
}

/// Waits until `app`'s push listener is connected (it clears its cache then).
async fn listening(heard: &mut broadcast::Receiver<Notice>) {
    hear(heard, |n| matches!(n, Notice::Reset)).await;
}

async fn user_id(app: &TestApp, access: &str) -> uuid::Uuid {
    let me = app.gql_as(access, "{ me { id } }", json!({})).await;
    me["data"]["me"]["id"].as_str().unwrap().parse().unwrap()
}

async fn a_logout_all_is_refused_at_once_on_the_other_instance(channel: Channel) {
    let Some((first, _)) = first_on(channel).await else {
        return;
    };
    let issuer = first.state.config.public_url.clone();
    let second = spawn_app_beside(&first, |c| c.public_url = issuer).await;
    let mut heard = second.state.sessions.heard();
    listening(&mut heard).await;
    let tokens = first.user_with_tokens("ann@example.com").await;
    let id = user_id(&first, &tokens.access).await;

    // A socket on the second instance watches the session...
    let mut socket = connect(&second).await;
    let init =
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", tokens.access) } });
    send(&mut socket, init).await;
    assert_eq!(json_of(next(&mut socket).await)["type"], "connection_ack");
    let query = "subscription { sessionEvents { kind } }";
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    // ...and the second instance has the session cached, alive.
    assert!(second.me(&tokens.access).await["data"]["me"].is_object());

    let ended = first.gql_as(&tokens.access, "mutation { logoutAll }", json!({})).await;
    assert_eq!(ended["data"]["logoutAll"], 1, "{ended}");
    hear(&mut heard, |n| *n == Notice::Account(id)).await;
    assert_eq!(
        code(&second.me(&tokens.access).await),
        Some("UNAUTHENTICATED"),
        "refused on the other instance once it heard"
    );
    let event = json_of(next(&mut socket).await);
    assert_eq!(
        event["payload"]["data"]["sessionEvents"]["kind"], "SESSION_ENDED",
        "{event}"
    );
}

#[tokio::test]
async fn a_logout_all_is_refused_at_once_on_another_instance_over_postgres() {
    a_logout_all_is_refused_at_once_on_the_other_instance(Channel::Postgres).await;
}

#[tokio::test]
async fn a_logout_all_is_refused_at_once_on_another_instance_over_redis() {
    a_logout_all_is_refused_at_once_on_the_other_instance(Channel::Redis).await;
}

/// With the second instance's push connection cut, its requests still
/// answer, and the cache's time-to-live ends the session there; when the
/// connection is back the listener reconnects and clears its cache.
async fn with_the_push_cut_the_cache_lifetime_still_ends_it(channel: Channel) {
    let Some((first, redis)) = first_on(channel).await else {
        return;
    };
    let issuer = first.state.config.public_url.clone();
    let (target, url) = match &redis {
        Some(redis) => (
            format!("{}:{}", redis.host_str().unwrap(), redis.port().unwrap_or(6379)),
            redis.clone(),
        ),
        None => {
            let url = url::Url::parse(first.state.config.database_url.expose()).unwrap();
            (
                format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432)),
                url,
            )
        }
    };
    let proxy = Proxy::start(target).await;
    let mut through = url.clone();
    through.set_port(Some(proxy.port)).unwrap();
    let through = Secret::new(through.as_str());
    let second = spawn_app_beside(&first, |c| {
        c.public_url = issuer;
        match channel {
            Channel::Redis => c.redis_url = Some(through),
            Channel::Postgres => c.push_database_url = Some(through),
        }
    })
    .await;
    let mut heard = second.state.sessions.heard();
    listening(&mut heard).await;
    let tokens = first.user_with_tokens("bob@example.com").await;
    assert!(second.me(&tokens.access).await["data"]["me"].is_object());

    proxy.cut();
    first.gql_as(&tokens.access, "mutation { logoutAll }", json!({})).await;
    // Requests keep answering: alive from the cache, then refused once it expires.
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let me = second.me(&tokens.access).await;
            match code(&me) {
                Some("UNAUTHENTICATED") => return,
                None if me["data"]["me"].is_object() => {}
                _ => panic!("an answer while the push is cut: {me}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "refused within the cache's lifetime");
    assert!(
        !std::iter::from_fn(|| heard.try_recv().ok()).any(|n| n == Notice::Reset),
        "the listener stayed cut meanwhile"
    );

    proxy.restore();
    listening(&mut heard).await;
}

#[tokio::test]
async fn with_the_listener_cut_the_cache_lifetime_still_ends_a_session_over_postgres() {
    with_the_push_cut_the_cache_lifetime_still_ends_it(Channel::Postgres).await;
}

#[tokio::test]
async fn with_the_subscriber_cut_the_cache_lifetime_still_ends_a_session_over_redis() {
    with_the_push_cut_the_cache_lifetime_still_ends_it(Channel::Redis).await;
}
