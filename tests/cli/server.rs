//! A running `authql` child process, its output collected, and GraphQL calls to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Server {
    child: Child,
    pub port: u16,
    output: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(mut cmd: Command) -> Self {
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

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut req = reqwest::Client::new()
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Sends `signal` (a name `kill` knows: TERM, INT) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    /// Waits for the process to exit, up to `within`; its exit code, or
    /// `None` when it is still running then (or ended by a signal).
    pub fn wait_exit(&mut self, within: Duration) -> Result<Option<i32>, String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Ok(status.code());
            }
            if Instant::now() > deadline {
                return Err(format!("still running after {within:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the process wrote so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn stop(self) -> String {
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

pub const SIGNUP: &str = "mutation($e: String!, $p: String!) { signup(input: { email: $e, password: $p }) { auth { accessToken refreshToken } } }";
pub const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { auth { accessToken refreshToken } } }";
