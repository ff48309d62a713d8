//! The HTTP side of webhooks, safe against server-side request forgery:
//! every connection goes through a resolver that keeps public addresses
//! only (`address`), so a name that later resolves inward reaches nothing.
//! No redirects, no proxies, a timeout, and at most 1 KiB of any answer is read.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::address::{is_public, literal_ip};
use crate::config::integrations::WebhookConfig;

/// Most of an answer's body read (and logged at debug level).
const BODY_CAP: usize = 1024;

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx.
    Delivered(u16),
    /// 410 Gone: the receiver wants no more.
    Gone,
    /// Anything else: another status, a timeout, a refused address.
    Failed { status: Option<u16>, error: String },
}

/// Resolves names and keeps only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends attempts.
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
    https_only: bool,
}

impl Sender {
    /// A sender for `config`.
    ///
    /// # Errors
    /// When the TLS backend cannot start.
    pub fn new(config: &WebhookConfig) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("authql-webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private: config.allow_private,
            https_only: config.https_only,
        })
    }

    /// POSTs `body` to `url` with the Standard Webhooks headers.
    pub async fn post(&self, url: &str, msg_id: &str, timestamp: i64, signature: &str, body: String) -> Outcome {
        let failed = |error: String| Outcome::Failed { status: None, error };
        let Ok(url) = Url::parse(url) else {
            return failed("not a URL".to_owned());
        };
        if self.https_only && url.scheme() != "https" {
            return failed("https only in production".to_owned());
        }
        if !self.allow_private && literal_ip(&url).is_some_and(|ip| !is_public(ip)) {
            return failed("refused: not a public address".to_owned());
        }
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return failed("timed out".to_owned()),
            Err(e) => return failed(describe(&e)),
        };
        let status = response.status().as_u16();
        let mut head = Vec::new();
        while head.len() < BODY_CAP {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk[..chunk.len().min(BODY_CAP - head.len())]),
                _ => break,
            }
        }
        tracing::debug!(status, body = %String::from_utf8_lossy(&head), "webhook answered");
        match status {
            200..=299 => Outcome::Delivered(status),
            410 => Outcome::Gone,
            _ => Outcome::Failed {
                status: Some(status),
                error: format!("answered {status}"),
            },
        }
    }
}

/// A connection error, with its cause (a refused address says so).
fn describe(e: &reqwest::Error) -> String {
    let mut text = String::from("cannot connect");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text.chars().take(250).collect()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn names_resolving_inward_connect_nowhere() {
        let resolved = PublicOnly.resolve(Name::from_str("localhost").unwrap()).await;
        assert!(resolved.is_err());
    }
}
