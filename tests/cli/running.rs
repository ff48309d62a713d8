//! A serving binary: development keys kept, secrets kept out of logs, no write lost to a kill.

use serde_json::{Value, json};

use crate::server::{LOGIN, SIGNUP, Server};
use crate::{PASSWORD, SECRET_KEY, authql, smtp};

#[tokio::test]
async fn a_development_key_is_generated_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    // The issuer is PUBLIC_URL; pin it, since each run listens on a new port.
    let mut cmd = authql(dir.path());
    cmd.env("REQUIRE_EMAIL_CONFIRMATION", "false")
        .env("PUBLIC_URL", "http://auth.test");
    let first = Server::start(cmd);
    let r = first
        .gql(SIGNUP, json!({ "e": "dev@example.com", "p": PASSWORD }), None)
        .await;
    let access = r["data"]["signup"]["auth"]["accessToken"].as_str().unwrap().to_owned();
    let log = first.stop();
    assert!(log.contains("generated a development key"), "{log}");
    let key = std::fs::read_to_string(dir.path().join("data/secret.key")).unwrap();

    let mut cmd = authql(dir.path());
    cmd.env("REQUIRE_EMAIL_CONFIRMATION", "false")
        .env("PUBLIC_URL", "http://auth.test");
    let second = Server::start(cmd);
    // Same key file, same sealed signing key: the first run's token still verifies.
    let me = second.gql("{ me { email } }", json!({}), Some(&access)).await;
    assert_eq!(me["data"]["me"]["email"], "dev@example.com", "{me}");
    let log = second.stop();
    assert!(!log.contains("generated a development key"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/secret.key")).unwrap(),
        key
    );
    assert!(!log.contains(key.trim()), "the key is never logged");
}

#[tokio::test]
async fn passwords_and_tokens_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let sink = smtp::MailSink::start().await;
    let mut cmd = authql(dir.path());
    cmd.env("SMTP_URL", sink.url())
        .env("SECRET_KEY", SECRET_KEY)
        .env("MAIL_POLL_INTERVAL", "100ms")
        .env(
            "RUST_LOG",
            "trace,hyper=info,h2=info,rustls=info,mio=info,tokio_cron_scheduler=info",
        );
    let server = Server::start(cmd);
    let email = "secret@example.com";
    let new_password = "Another-Quite-Long-Passphrase-77";
    let mut secrets = vec![PASSWORD.to_owned(), new_password.to_owned(), SECRET_KEY.to_owned()];

    server.gql(SIGNUP, json!({ "e": email, "p": PASSWORD }), None).await;
    let confirm = sink.wait_for(email).await;
    secrets.push(confirm.token());
    reqwest::Client::new().post(confirm.link()).send().await.unwrap();

    let r = server.gql(LOGIN, json!({ "e": email, "p": PASSWORD }), None).await;
    let auth = &r["data"]["login"]["auth"];
    secrets.push(auth["accessToken"].as_str().unwrap().to_owned());
    secrets.push(auth["refreshToken"].as_str().unwrap().to_owned());
    let refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }";
    let r = server.gql(refresh, json!({ "t": auth["refreshToken"] }), None).await;
    secrets.push(r["data"]["refreshToken"]["refreshToken"].as_str().unwrap().to_owned());
    // A wrong password and a reused token take the error paths too.
    server
        .gql(LOGIN, json!({ "e": email, "p": "Wrong-Password-For-Secret-1" }), None)
        .await;
    secrets.push("Wrong-Password-For-Secret-1".to_owned());

    server
        .gql(
            "mutation($e: String!) { forgotPassword(email: $e) }",
            json!({ "e": email }),
            None,
        )
        .await;
    let reset = sink.wait_for_nth(email, 2).await;
    secrets.push(reset.token());
    // The reset link's page lives on the frontend, but a request with the token in its query is logged here too.
    reqwest::get(server.url(&format!("/reset-password?token={}", reset.token())))
        .await
        .unwrap();
    let reset_mutation = "mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) }";
    let r = server
        .gql(reset_mutation, json!({ "t": reset.token(), "p": new_password }), None)
        .await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");
    // GET queries carry their document in the URL.
    reqwest::get(server.url(&format!("/graphql?query=%7Bme%7Bid%7D%7D&token={}", secrets[3])))
        .await
        .unwrap();

    // A support ticket's request id finds the request's log lines.
    reqwest::Client::new()
        .get(server.url("/healthz"))
        .header("x-request-id", "ticket-4711")
        .send()
        .await
        .unwrap();

    let log = server.stop();
    assert!(
        log.contains("/confirm/[redacted]"),
        "the confirmation request is logged, redacted:\n{log}"
    );
    assert!(log.contains("ticket-4711"), "the request id is on its log lines");
    assert!(
        log.contains("operation"),
        "the GraphQL operation is on the access log line:\n{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes when the output is not a terminal"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the log: {secret:.12}…"
        );
    }
}

#[tokio::test]
async fn a_killed_process_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut cmd = authql(dir.path());
        cmd.env("REQUIRE_EMAIL_CONFIRMATION", "false")
            .env("PUBLIC_URL", "http://auth.test");
        cmd
    };
    let server = Server::start(cmd());
    let refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }";
    let mut latest = Vec::new();
    for i in 0..10 {
        let r = server
            .gql(
                SIGNUP,
                json!({ "e": format!("kill{i}@example.com"), "p": PASSWORD }),
                None,
            )
            .await;
        let token = r["data"]["signup"]["auth"]["refreshToken"].as_str().unwrap().to_owned();
        let r = server.gql(refresh, json!({ "t": token }), None).await;
        latest.push(r["data"]["refreshToken"]["refreshToken"].as_str().unwrap().to_owned());
    }
    drop(server); // SIGKILL: no shutdown, no flush

    let server = Server::start(cmd());
    for (i, token) in latest.iter().enumerate() {
        let r = server
            .gql(
                LOGIN,
                json!({ "e": format!("kill{i}@example.com"), "p": PASSWORD }),
                None,
            )
            .await;
        assert!(
            r["data"]["login"]["auth"]["accessToken"].is_string(),
            "account {i} survived: {r}"
        );
        let r = server.gql(refresh, json!({ "t": token }), None).await;
        assert!(
            r["data"]["refreshToken"]["refreshToken"].is_string(),
            "rotation {i} survived: {r}"
        );
    }
}

/// Rotations are written in batches (group commit): a kill while batches are
/// in flight loses no rotation that was answered. Each chain's last answered
/// token still works after the restart (a rotation that committed but was
/// never answered gives the same successor within the reuse grace).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_during_batched_rotations_loses_no_answered_one() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut cmd = authql(dir.path());
        cmd.env("REQUIRE_EMAIL_CONFIRMATION", "false")
            .env("PUBLIC_URL", "http://auth.test")
            .env("REFRESH_REUSE_GRACE", "1h")
            .env("RATE_LIMITS", "false");
        cmd
    };
    let server = Server::start(cmd());
    let refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }";
    let mut chains = Vec::new();
    for i in 0..16 {
        let r = server
            .gql(
                SIGNUP,
                json!({ "e": format!("batch{i}@example.com"), "p": PASSWORD }),
                None,
            )
            .await;
        let token = r["data"]["signup"]["auth"]["refreshToken"].as_str().unwrap().to_owned();
        chains.push(std::sync::Arc::new(std::sync::Mutex::new((token, 0u32))));
    }
    let url = server.url("/graphql");
    let mut tasks = Vec::new();
    for chain in &chains {
        let (chain, url) = (chain.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let token = chain.lock().unwrap().0.clone();
                let body = json!({ "query": refresh, "variables": { "t": token } });
                let Ok(resp) = http.post(&url).json(&body).send().await else {
                    return;
                };
                let Ok(answer) = resp.json::<Value>().await else { return };
                let next = answer["data"]["refreshToken"]["refreshToken"]
                    .as_str()
                    .map(str::to_owned);
                match next {
                    Some(next) => {
                        let mut c = chain.lock().unwrap();
                        *c = (next, c.1 + 1);
                    }
                    None => panic!("a rotation failed while the server was up: {answer}"),
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    drop(server); // SIGKILL while rotations are in flight
    for task in tasks {
        task.await.unwrap();
    }
    let rotated: u32 = chains.iter().map(|c| c.lock().unwrap().1).sum();
    assert!(rotated >= 16, "the chains rotated before the kill ({rotated})");

    let server = Server::start(cmd());
    for (i, chain) in chains.iter().enumerate() {
        let token = chain.lock().unwrap().0.clone();
        let r = server.gql(refresh, json!({ "t": token }), None).await;
        assert!(
            r["data"]["refreshToken"]["refreshToken"].is_string(),
            "chain {i}'s last answered rotation survived: {r}"
        );
    }
}
