//! With REDIS_URL, rate limits are shared by every instance; while Redis is
//! down, each instance still limits on its own.
//!
//! Needs a Redis server: TEST_REDIS_URL, or redis://127.0.0.1:6379. Without
//! one these tests say so and pass, unless REQUIRE_TEST_REDIS=1 (CI sets it).

use authql::config::Secret;

use crate::helpers::{PASSWORD, TestApp, code, spawn_app_beside, spawn_app_with};
use crate::proxy::Proxy;

const WRONG: &str = "Not-The-Password-At-All-9";

pub async fn test_redis() -> Option<url::Url> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let url = url::Url::parse(&url).expect("TEST_REDIS_URL is a URL");
    let addr = (
        url.host_str().unwrap_or("127.0.0.1").to_owned(),
        url.port().unwrap_or(6379),
    );
    let reachable = tokio::time::timeout(std::time::Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .is_ok_and(|c| c.is_ok());
    if reachable {
        return Some(url);
    }
    assert!(
        std::env::var("REQUIRE_TEST_REDIS").as_deref() != Ok("1"),
        "no Redis at {url}"
    );
    eprintln!("skipped: no Redis at {url}");
    None
}

/// An instance limiting through `redis`, under keys no other test uses.
async fn app_on_redis(redis: &url::Url) -> TestApp {
    app_on_redis_with(redis, |_| {}).await
}

/// [`app_on_redis`], after `tweak` has adjusted the configuration.
async fn app_on_redis_with(redis: &url::Url, tweak: impl FnOnce(&mut authql::config::Config)) -> TestApp {
    let prefix = format!("authql-test-{}:", uuid::Uuid::new_v4().simple());
    spawn_app_with(|c| {
        c.redis_url = Some(Secret::new(redis.as_str()));
        c.redis_key_prefix = prefix;
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn password_guesses_count_on_every_instance() {
    let Some(redis) = test_redis().await else { return };
    let a = app_on_redis(&redis).await;
    let b = spawn_app_beside(&a, |_| {}).await;
    a.confirmed_user("shared@example.com").await;
    for app in [&a, &b].repeat(5) {
        assert_eq!(
            code(&app.login("shared@example.com", WRONG).await),
            Some("INVALID_CREDENTIALS")
        );
    }
    // Ten guesses in all, five on each: both instances now refuse.
    for app in [&a, &b] {
        assert_eq!(
            code(&app.login("shared@example.com", PASSWORD).await),
            Some("RATE_LIMITED")
        );
    }
    // An instance that counts alone has seen none of them.
    let alone = spawn_app_beside(&a, |c| c.redis_url = None).await;
    let r = alone.login("shared@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["auth"].is_object(), "{r}");
}

/// An app whose Redis connections go through a proxy the test can cut; `None` without a test Redis.
async fn app_behind_redis_proxy() -> Option<(crate::helpers::TestApp, Proxy)> {
    let redis = test_redis().await?;
    let target = format!("{}:{}", redis.host_str().unwrap(), redis.port().unwrap_or(6379));
    let proxy = Proxy::start(target).await;
    let mut through = redis.clone();
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(proxy.port)).unwrap();
    Some((app_on_redis(&through).await, proxy))
}

#[tokio::test]
async fn while_redis_is_down_each_instance_limits_on_its_own() {
    let Some((app, proxy)) = app_behind_redis_proxy().await else {
        return;
    };
    app.confirmed_user("down@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            code(&app.login("down@example.com", WRONG).await),
            Some("INVALID_CREDENTIALS")
        );
    }

    // The recorder is the process's: other tests may add to it, never take away.
    let fallbacks = || {
        let text = authql::telemetry::recorder().unwrap().render();
        text.lines()
            .find(|l| l.starts_with("authql_rate_limit_fallbacks_total "))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = fallbacks();
    proxy.cut();
    // Answers still come, and guesses are still limited: by this instance's own count.
    for _ in 0..10 {
        assert_eq!(
            code(&app.login("down@example.com", WRONG).await),
            Some("INVALID_CREDENTIALS")
        );
    }
    assert!(fallbacks() >= before + 10.0, "each fallback is counted");
    assert_eq!(
        code(&app.login("down@example.com", PASSWORD).await),
        Some("RATE_LIMITED")
    );

    // Back on Redis, which counted only the first five guesses.
    proxy.restore();
    for _ in 0..50 {
        let r = app.login("down@example.com", PASSWORD).await;
        if r["data"]["login"]["auth"].is_object() {
            return;
        }
        assert_eq!(code(&r), Some("RATE_LIMITED"), "{r}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the limits never went back to Redis");
}

/// Every instance shares the one Redis, and the limits fall back to each
/// instance's own buckets without it: a Redis outage is reported, but does
/// not take every instance out of its load balancer at once.
#[tokio::test]
async fn readiness_reports_a_redis_cut_but_stays_ready() {
    let Some((app, proxy)) = app_behind_redis_proxy().await else {
        return;
    };
    let ready = |app: &crate::helpers::TestApp| {
        let url = app.url("/readyz");
        let http = app.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = ready(&app).await;
    assert_eq!(
        (status, &body["checks"]["redis"]),
        (200, &serde_json::json!("ok")),
        "{body}"
    );
    proxy.cut();
    // Checks are kept for a second: a later round sees the cut.
    let mut answer = ready(&app).await;
    for _ in 0..50 {
        if answer.1["checks"]["redis"] != "ok" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = ready(&app).await;
    }
    let (status, body) = answer;
    assert_eq!(
        (status, &body["checks"]["redis"]),
        (200, &serde_json::json!("unavailable")),
        "reported, still ready: {body}"
    );
    proxy.restore();
    for _ in 0..50 {
        if ready(&app).await.1["checks"]["redis"] == "ok" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("Redis never reported back after it came back");
}

/// SECOND_FACTOR in Redis: every instance spends one budget, and a right
/// code gives its try back there too.
#[tokio::test]
async fn the_second_factor_budget_is_shared_and_right_codes_cost_nothing() {
    use crate::mfa::{enrolled, mfa_token, verify};
    let Some(redis) = test_redis().await else { return };
    let a = app_on_redis_with(&redis, |c| {
        let vars = |name: &str| (name == "RATE_LIMIT_SECOND_FACTOR").then(|| "account:3/1d".to_owned());
        c.limits.quotas = authql::limits::Quotas::from_vars(vars).unwrap();
    })
    .await;
    let email = "budget@example.com";
    let (_, _, recovery) = enrolled(&a, email).await;
    // Started after the mail `enrolled` waits for: its outbox worker could send it.
    let b = spawn_app_beside(&a, |_| {}).await;
    for (app, right) in [(&a, &recovery[0]), (&b, &recovery[1])] {
        let token = mfa_token(app, email).await;
        let r = verify(app, &token, right, "RECOVERY_CODE").await;
        assert!(r["data"]["verifyMfa"]["accessToken"].is_string(), "{r}");
    }
    let token = mfa_token(&a, email).await;
    for (app, guess) in [(&a, "wrong-one"), (&b, "wrong-two"), (&a, "wrong-three")] {
        assert_eq!(
            code(&verify(app, &token, guess, "RECOVERY_CODE").await),
            Some("INVALID_CODE")
        );
    }
    let notices =
        "SELECT COUNT(*) AS n FROM mail_outbox WHERE subject = 'Someone is trying to get past your second step'";
    assert_eq!(
        a.scalar(notices).await,
        1,
        "the wrong code that emptied it told the owner"
    );
    for app in [&a, &b] {
        let fresh = mfa_token(app, email).await;
        let r = verify(app, &fresh, &recovery[2], "RECOVERY_CODE").await;
        assert_eq!(code(&r), Some("RATE_LIMITED"), "{r}");
    }
}

/// MAIL's bucket per client and address lives in Redis too.
#[tokio::test]
async fn a_clients_mail_bucket_for_an_address_is_shared() {
    let Some(redis) = test_redis().await else { return };
    let a = app_on_redis_with(&redis, |c| {
        c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
    })
    .await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let forgot = serde_json::json!({ "query": "mutation { forgotPassword(email: \"x@example.com\") }" });
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for app in [&a, &b, &a] {
        let r = app.post_with(&from("203.0.113.5"), &forgot).await;
        assert_eq!(r["data"]["forgotPassword"], true, "{r}");
    }
    let r = b.post_with(&from("203.0.113.5"), &forgot).await;
    assert_eq!(code(&r), Some("RATE_LIMITED"), "{r}");
    let r = b.post_with(&from("203.0.113.6"), &forgot).await;
    assert_eq!(r["data"]["forgotPassword"], true, "another client: {r}");
}
