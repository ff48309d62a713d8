//! Passkey sign-in load for `bench/run.py` (`BENCH_ONLY=passkeys`): wrk
//! cannot sign a challenge, so this client does what a browser does. It
//! signs up `connections` accounts with a passkey each (the tests' software
//! authenticator, P-256), then `connections` clients sign in with them for
//! `seconds`, each sign-in the whole ceremony: `startPasskeySignIn`
//! (discoverable), the authenticator's signature, `finishPasskeySignIn`.
//!
//! `cargo run --release --example passkey_load -- URL [seconds] [connections]`
//! prints one line as the wrk script does, counting sign-ins (two requests
//! each): `BENCH_RESULT {"requests", "duration_us", "p50_us", "p99_us", "errors", "socket_errors"}`.
//! The server needs passkeys for RP ID `localhost` used from
//! `http://localhost:5173` (WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS), and sign-up
//! without confirmation.

#[path = "../tests/api/passkey_device.rs"]
#[allow(dead_code)]
mod passkey_device;

use std::time::{Duration, Instant};

use passkey_device::Device;
use serde_json::{Value, json};

const START_SIGNUP: &str = "mutation($i: PasskeySignupInput!) { startPasskeySignup(input: $i) { id options } }";
const FINISH_SIGNUP: &str =
    "mutation($c: ID!, $k: JSON!) { finishPasskeySignup(ceremonyId: $c, credential: $k) { auth { accessToken } } }";
const START_SIGN_IN: &str = "mutation { startPasskeySignIn { id options } }";
const FINISH_SIGN_IN: &str =
    "mutation($c: ID!, $k: JSON!) { finishPasskeySignIn(ceremonyId: $c, credential: $k) { auth { accessToken } } }";

/// One GraphQL call; `None` when it did not answer 200 with data.
async fn gql(http: &reqwest::Client, url: &str, query: &str, variables: Value) -> Option<Value> {
    let answer: Value = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer.get("errors").is_none().then(|| answer["data"].clone())
}

/// A new account whose only credential is a passkey on the returned device.
async fn account(http: &reqwest::Client, url: &str, n: usize) -> Device {
    let mut device = Device::new();
    let email = format!("passkey{n}-{}@example.com", uuid::Uuid::new_v4().simple());
    let started = gql(http, url, START_SIGNUP, json!({ "i": { "email": email } }))
        .await
        .expect("startPasskeySignup (are passkeys on for localhost?)");
    let made = device.create(&started["startPasskeySignup"]["options"]).await;
    let id = &started["startPasskeySignup"]["id"];
    let done = gql(http, url, FINISH_SIGNUP, json!({ "c": id, "k": made }))
        .await
        .expect("finishPasskeySignup");
    assert!(
        done["finishPasskeySignup"]["auth"]["accessToken"].is_string(),
        "sign-up without confirmation expected: {done}"
    );
    device
}

/// Whole sign-ins with `device` until `until`: their latencies, and how many failed.
async fn client(http: &reqwest::Client, url: &str, mut device: Device, until: Instant) -> (Vec<Duration>, u64) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while Instant::now() < until {
        let began = Instant::now();
        let signed_in = async {
            let started = gql(http, url, START_SIGN_IN, json!({})).await?;
            let used = device.get(&started["startPasskeySignIn"]["options"]).await;
            let id = &started["startPasskeySignIn"]["id"];
            let done = gql(http, url, FINISH_SIGN_IN, json!({ "c": id, "k": used })).await?;
            done["finishPasskeySignIn"]["auth"]["accessToken"].as_str().map(|_| ())
        };
        match signed_in.await {
            Some(()) => latencies.push(began.elapsed()),
            None => errors += 1,
        }
    }
    (latencies, errors)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("usage: passkey_load URL [seconds] [connections]");
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let connections: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let url = format!("{}/graphql", base.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .expect("HTTP client");
        let mut devices = Vec::new();
        for n in 0..connections {
            devices.push(account(&http, &url, n).await);
        }
        let began = Instant::now();
        let until = began + Duration::from_secs(seconds);
        let runs = devices.into_iter().map(|d| client(&http, &url, d, until));
        let results = futures_util::future::join_all(runs).await;
        let elapsed = began.elapsed();
        let errors: u64 = results.iter().map(|(_, e)| e).sum();
        let mut latencies: Vec<Duration> = results.into_iter().flat_map(|(l, _)| l).collect();
        latencies.sort();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0, |d| d.as_micros())
        };
        let result = json!({
            "requests": latencies.len(),
            "duration_us": elapsed.as_micros(),
            "p50_us": at(0.5),
            "p99_us": at(0.99),
            "errors": errors,
            "socket_errors": 0,
        });
        println!("BENCH_RESULT {result}");
    });
}
