//! Hooks the app's backend answers while a request waits: one that may
//! refuse a sign-up (HOOK_BEFORE_SIGNUP_URL), one that adds claims to a new
//! session's access tokens (HOOK_ACCESS_TOKEN_URL). Each call is a POST
//! signed like a webhook (Standard Webhooks, HOOK_SECRET), cut at
//! HOOK_TIMEOUT; a failure (no answer in time, an error status, a malformed
//! answer) follows the hook's policy (HOOK_*_ON_FAILURE), is counted and
//! logged.
//!
//! Owns nothing stored. May call: `webhooks` (signing), `client`, `config`,
//! `error`.

mod signup;
mod token;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;

pub use signup::SignupFacts;
pub use token::RESERVED;

use crate::config::integrations::HookConfig;
use crate::error::{AppError, AppResult};
use crate::webhooks::signing;

/// Most of an answer read.
const ANSWER_CAP: usize = 16 * 1024;

/// The hooks. Cheap to clone.
#[derive(Clone)]
pub struct Hooks {
    config: std::sync::Arc<HookConfig>,
    http: reqwest::Client,
}

impl Hooks {
    /// The hooks of `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot start.
    pub fn new(config: HookConfig) -> AppResult<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("authql-hooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::internal(format!("hook HTTP client: {e}")))?;
        Ok(Self {
            config: std::sync::Arc::new(config),
            http,
        })
    }

    /// POSTs `{type, timestamp, data}` to `url`, signed; the JSON answer of
    /// a 2xx, or why there is none.
    async fn call(&self, name: &'static str, url: &Url, kind: &str, data: Value) -> Result<Value, String> {
        let started = Instant::now();
        let answer = tokio::time::timeout(self.config.timeout, self.post(url, kind, data)).await;
        let elapsed = started.elapsed();
        ::metrics::histogram!("authql_hook_duration_seconds", "hook" => name).record(elapsed.as_secs_f64());
        let answer = answer.unwrap_or_else(|_| Err(format!("no answer within {:?}", self.config.timeout)));
        if let Err(why) = &answer {
            ::metrics::counter!("authql_hook_failures_total", "hook" => name).increment(1);
            tracing::warn!(hook = name, %why, ms = elapsed.as_millis(), "hook failed");
        }
        answer
    }

    async fn post(&self, url: &Url, kind: &str, data: Value) -> Result<Value, String> {
        let body = json!({
            "type": kind,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "data": data,
        })
        .to_string();
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signing::signature_header(std::slice::from_ref(&self.config.key), &id, timestamp, &body);
        let mut response = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "cannot connect".to_owned()
                }
            })?;
        let status = response.status();
        let mut text = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| "the answer broke off".to_owned())? {
            text.extend_from_slice(&chunk);
            if text.len() > ANSWER_CAP {
                return Err(format!("the answer is over {ANSWER_CAP} bytes"));
            }
        }
        if !status.is_success() {
            return Err(format!("answered {}", status.as_u16()));
        }
        serde_json::from_slice(&text).map_err(|_| "the answer is not JSON".to_owned())
    }

    /// The timeout, for tests and logs.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }
}
