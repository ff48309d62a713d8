//! SIGTERM: unready first, serving through SHUTDOWN_DRAIN, then every
//! answered rotation committed and every queued mail sent once (by this
//! instance or the next), and exit 0; a second signal ends at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::server::{SIGNUP, Server};
use crate::smtp::MailSink;
use crate::{PASSWORD, SECRET_KEY, authql};

const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }";
const FORGOT: &str = "mutation($e: String!) { forgotPassword(email: $e) }";
const CHAINS: usize = 16;

fn instance(dir: &std::path::Path, sink: &MailSink) -> std::process::Command {
    let mut cmd = authql(dir);
    cmd.env("SMTP_URL", sink.url())
        .env("SECRET_KEY", SECRET_KEY)
        .env("PUBLIC_URL", "http://auth.test")
        .env("REQUIRE_EMAIL_CONFIRMATION", "false")
        .env("RATE_LIMITS", "false")
        .env("REFRESH_REUSE_GRACE", "1h")
        .env("MAIL_POLL_INTERVAL", "100ms")
        .env("SHUTDOWN_DRAIN", "1s")
        .env("SHUTDOWN_TIMEOUT", "20s");
    cmd
}

/// Posts `query` until the server stops answering; `answer` says whether to go on.
async fn until_gone(url: String, mut next: impl FnMut() -> (String, Value), mut answer: impl FnMut(Value) -> bool) {
    let http = reqwest::Client::new();
    loop {
        let (query, variables) = next();
        let Ok(resp) = http
            .post(&url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
        else {
            return;
        };
        let Ok(body) = resp.json::<Value>().await else { return };
        if !answer(body) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_everything_in_flight_commits_every_rotation_and_loses_no_mail() {
    let dir = tempfile::tempdir().unwrap();
    let sink = MailSink::start().await;
    let mut server = Server::start(instance(dir.path(), &sink));
    let email = |i: usize| format!("term{i}@example.com");
    let mut chains = Vec::new();
    for i in 0..CHAINS {
        let r = server.gql(SIGNUP, json!({ "e": email(i), "p": PASSWORD }), None).await;
        let token = r["data"]["signup"]["auth"]["refreshToken"].as_str().unwrap().to_owned();
        chains.push(Arc::new(Mutex::new((token, 0u32))));
    }
    let failures = Arc::new(Mutex::new(Vec::<Value>::new()));
    let url = server.url("/graphql");
    let mut tasks = Vec::new();
    for chain in &chains {
        let (chain, failures) = (chain.clone(), failures.clone());
        let next = {
            let chain = chain.clone();
            move || (REFRESH.to_owned(), json!({ "t": chain.lock().unwrap().0 }))
        };
        tasks.push(tokio::spawn(until_gone(url.clone(), next, move |answer| {
            match answer["data"]["refreshToken"]["refreshToken"].as_str() {
                Some(token) => {
                    let mut c = chain.lock().unwrap();
                    *c = (token.to_owned(), c.1 + 1);
                    true
                }
                None => {
                    failures.lock().unwrap().push(answer);
                    false
                }
            }
        })));
    }
    // Password resets: each one answered is a mail queued. A fixed number,
    // so the mail to wait for does not grow with the machine's speed.
    let asked = Arc::new(AtomicUsize::new(0));
    for sender in 0..4 {
        let (asked, failures) = (asked.clone(), failures.clone());
        let mut n = sender;
        let next = move || {
            n += 4;
            (FORGOT.to_owned(), json!({ "e": email(n % CHAINS) }))
        };
        let mut left = 40;
        tasks.push(tokio::spawn(until_gone(url.clone(), next, move |answer| {
            if answer["data"]["forgotPassword"] == true {
                asked.fetch_add(1, Ordering::SeqCst);
                left -= 1;
                left > 0
            } else {
                failures.lock().unwrap().push(answer);
                false
            }
        })));
    }
    // Readiness as a load balancer sees it, until the listener is gone.
    let ready_url = server.url("/readyz");
    let probes = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            match reqwest::get(&ready_url).await {
                Ok(resp) => seen.push(resp.status().as_u16()),
                Err(_) => return seen,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    while chains.iter().any(|c| c.lock().unwrap().1 < 3) || asked.load(Ordering::SeqCst) < 16 {
        assert!(failures.lock().unwrap().is_empty(), "{:?}", failures.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    server.signal("TERM");
    let exit = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(40)));
    let log = server.output();
    assert_eq!(exit, Ok(Some(0)), "a clean stop exits 0:\n{log}");
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        failures.lock().unwrap().is_empty(),
        "nothing refused while stopping: {:?}",
        failures.lock().unwrap()
    );
    let seen = probes.await.unwrap();
    let first_unready = seen.iter().position(|s| *s == 503);
    assert!(
        first_unready.is_some(),
        "/readyz went 503 before the listener closed: {seen:?}"
    );
    assert!(
        seen[..first_unready.unwrap()].iter().all(|s| *s == 200)
            && seen[first_unready.unwrap()..].iter().all(|s| *s == 503),
        "ready, then unready until gone: {seen:?}"
    );

    let server = Server::start(instance(dir.path(), &sink));
    for (i, chain) in chains.iter().enumerate() {
        let token = chain.lock().unwrap().0.clone();
        let r = server.gql(REFRESH, json!({ "t": token }), None).await;
        assert!(
            r["data"]["refreshToken"]["refreshToken"].is_string(),
            "chain {i}'s last answered rotation is in the database: {r}"
        );
    }
    let asked = asked.load(Ordering::SeqCst);
    let resets = || -> Vec<_> {
        sink.all()
            .into_iter()
            .filter(|m| m.subject() == "Reset your password")
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while resets().iter().map(|m| m.token()).collect::<HashSet<_>>().len() < asked {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{asked} resets asked for, {} mailed",
            resets().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ids_per_token: HashMap<String, HashSet<String>> = HashMap::new();
    for mail in resets() {
        ids_per_token.entry(mail.token()).or_default().insert(mail.message_id());
    }
    assert_eq!(
        ids_per_token.len(),
        asked,
        "every reset asked for, and no other, is mailed"
    );
    assert!(
        ids_per_token.values().all(|ids| ids.len() == 1),
        "each mail under one Message-ID: {ids_per_token:?}"
    );
    drop(server);
}

#[tokio::test]
async fn a_second_signal_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = MailSink::start().await;
    let mut cmd = instance(dir.path(), &sink);
    cmd.env("SHUTDOWN_DRAIN", "1h");
    let mut server = Server::start(cmd);
    server.signal("TERM");
    // Unready: the first signal was heard and the drain has begun.
    loop {
        let status = reqwest::get(server.url("/readyz")).await.unwrap().status();
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.signal("INT");
    let exit = server.wait_exit(Duration::from_secs(30));
    let log = server.output();
    assert!(
        matches!(exit, Ok(Some(code)) if code != 0),
        "a forced stop ends well before the hour's drain, not as a clean one: {exit:?}\n{log}"
    );
}
