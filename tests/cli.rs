//! The `authql` binary itself: configuration errors, development secrets, and logs free of secrets.

#[path = "api/smtp.rs"]
#[allow(dead_code)]
mod smtp;
#[path = "api/smtp_session.rs"]
#[allow(dead_code)]
mod smtp_session;
#[path = "api/tls.rs"]
#[allow(dead_code)]
mod tls;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";
const SECRET_KEY: &str = "cli-test-master-key-0123456789-abcdefghij";

fn authql(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authql"));
    // A clean environment: only what each test sets (and PATH).
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    cmd.env("DATA_DIR", dir.join("data")).env("LISTEN_ADDR", "127.0.0.1:0");
    cmd.env("PASSWORD_HASH_MEMORY_KIB", "256")
        .env("PASSWORD_HASH_ITERATIONS", "1");
    cmd
}

/// Runs the binary expecting it to refuse to start; returns its stderr.
fn refuses(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_bad_value_stops_the_start_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let err = refuses(authql(dir.path()).env("ACCESS_TOKEN_TTL", "soon"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ACCESS_TOKEN_TTL") && err.contains("30s, 15m or 1d"),
        "{err}"
    );

    let err = refuses(authql(dir.path()).env("LISTEN_ADDR", "everywhere"));
    assert!(err.contains("LISTEN_ADDR") && err.lines().count() == 1, "{err}");
    let err = refuses(authql(dir.path()).env("APP_ENV", "staging"));
    assert!(err.contains("APP_ENV") && err.contains("production"), "{err}");
    let err = refuses(authql(dir.path()).env("SMTP_URL", "http://mail.example.com"));
    assert!(err.contains("SMTP_URL") && err.lines().count() == 1, "{err}");
}

#[test]
fn production_refuses_missing_secrets_and_unapproved_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let prod = |cmd: &mut Command| {
        cmd.env("APP_ENV", "production")
            .env("PUBLIC_URL", "https://auth.example.com");
    };
    let mut cmd = authql(dir.path());
    prod(&mut cmd);
    let err = refuses(&mut cmd);
    assert!(err.contains("SECRET_KEY"), "{err}");

    let mut cmd = authql(dir.path());
    prod(&mut cmd);
    let err = refuses(cmd.env("SECRET_KEY", "too-short"));
    assert!(err.contains("SECRET_KEY") && !err.contains("too-short"), "{err}");

    let mut cmd = authql(dir.path());
    prod(&mut cmd);
    let err = refuses(cmd.env("SECRET_KEY", SECRET_KEY));
    assert!(err.contains("ALLOW_SQLITE_IN_PRODUCTION"), "{err}");
    assert!(
        !dir.path().join("data/secret.key").exists(),
        "production never generates a key"
    );
}

struct Server {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl Server {
    fn start(mut cmd: Command) -> Self {
        let child = cmd
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            port: 0,
            output: Arc::new(Mutex::new(String::new())),
        };
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(server.child.stdout.take().unwrap()),
            Box::new(server.child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let output = server.output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.port == 0 {
            let log = server.output.lock().unwrap().clone();
            server.port = log
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find_map(|v| (v["fields"]["message"] == "authql is serving").then(|| v["fields"]["port"].as_u64()))
                .flatten()
                .map_or(0, |p| p as u16);
            assert!(Instant::now() < deadline, "the server did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut req = reqwest::Client::new()
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    fn stop(self) -> String {
        let output = self.output.clone();
        drop(self);
        // Let the reader threads drain what the process wrote last.
        std::thread::sleep(Duration::from_millis(100));
        output.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SIGNUP: &str = "mutation($e: String!, $p: String!) { signup(input: { email: $e, password: $p }) { auth { accessToken refreshToken } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { auth { accessToken refreshToken } } }";

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
    reqwest::get(confirm.link()).await.unwrap();

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

    let log = server.stop();
    assert!(
        log.contains("/confirm/[redacted]"),
        "the confirmation request is logged, redacted:\n{log}"
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

#[test]
fn migrate_and_keygen_commands() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = authql(dir.path()).arg("migrate").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(dir.path().join("data/authql.db").exists());

    let out = authql(dir.path()).args(["keygen", "--secret"]).output().unwrap();
    let secret = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success() && secret.trim().len() >= 43, "{secret}");

    let out = authql(dir.path()).arg("keygen").output().unwrap();
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success() && said.contains("published now, signing in 10m"),
        "{said}"
    );
}

#[tokio::test]
async fn create_admin_makes_an_administrator_who_can_list_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let create = |email: &str, stdin: &str| {
        let mut child = authql(dir.path())
            .args(["create-admin", email])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = create("boss@example.com", "password\n");
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password:"),
        "names the field"
    );

    let made = create("boss@example.com", "Correct-Horse-Battery-Staple-42\n");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(String::from_utf8_lossy(&made.stdout).contains("created the administrator account"));

    let server = Server::start(authql(dir.path()));
    let login = server
        .gql(
            LOGIN,
            json!({ "e": "boss@example.com", "p": "Correct-Horse-Battery-Staple-42" }),
            None,
        )
        .await;
    let token = login["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .expect("confirmed, can log in");
    let users = server
        .gql("{ users { totalCount nodes { email role } } }", json!({}), Some(token))
        .await;
    assert_eq!(users["data"]["users"]["nodes"][0]["role"], "ADMIN", "{users}");
    let secrets_logged = server.stop().contains("Correct-Horse");
    assert!(!secrets_logged);

    // An existing account is promoted without a password.
    let promoted = create("boss@example.com", "");
    assert!(String::from_utf8_lossy(&promoted.stdout).contains("is now an administrator"));
}
