//! Around every request: a request id, an access log line with secrets
//! redacted, and security headers.

use std::sync::Arc;
use std::time::Instant;

use poem::http::{HeaderValue, Uri, header};
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::Instrument as _;

/// The id of one request: from `X-Request-Id` when the caller sent a sane
/// one, made here otherwise. It is on every log line of the request, in the
/// response's `X-Request-Id`, and in GraphQL errors' `extensions.requestId`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

impl RequestId {
    /// The caller's id if it is 1 to 64 of `A-Z a-z 0-9 . _ -`, else a new one.
    fn of(req: &Request) -> Self {
        let given = req
            .header(REQUEST_ID)
            .filter(|id| (1..=64).contains(&id.len()))
            .filter(|id| {
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            });
        // 128 bits from the thread's generator: no system call per request.
        Self(given.map_or_else(
            || format!("{:032x}", rand::RngExt::random::<u128>(&mut rand::rng())),
            str::to_owned,
        ))
    }
}

/// Gives the request its id, logs it and adds headers every response should carry.
///
/// # Errors
/// Never: errors of the inner endpoint become responses here.
pub async fn observe<E: Endpoint>(ep: Arc<E>, mut req: Request) -> Result<Response> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = redact(req.uri());
    let raw_path = req.uri().path().to_owned();
    let id = RequestId::of(&req);
    req.extensions_mut().insert(id.clone());
    // `operation` is filled in by the GraphQL endpoint.
    let span = tracing::info_span!("request", request_id = %id.0, operation = tracing::field::Empty);
    let mut resp = match ep.call(req).instrument(span.clone()).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    let _entered = span.enter();
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Token-bearing URLs (confirmation links) must not leak through Referer.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    crate::telemetry::http_request(&raw_path, resp.status().as_u16(), start.elapsed());
    tracing::info!(
        target: "authql::access",
        %method,
        path = %path,
        status = resp.status().as_u16(),
        ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(resp)
}

/// The URI as logged: query values and token-like path segments replaced.
///
/// Confirmation links carry their token in the path and reset links in the
/// query; GET GraphQL requests carry whole documents. None of it is logged.
pub fn redact(uri: &Uri) -> String {
    let mut out = String::new();
    let mut after_confirm = false;
    for (i, segment) in uri.path().split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if after_confirm || looks_like_token(segment) {
            out.push_str("[redacted]");
        } else {
            out.push_str(segment);
        }
        after_confirm = segment == "confirm";
    }
    if let Some(query) = uri.query() {
        let keys: Vec<String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let key: String = pair.split('=').next().unwrap_or_default().chars().take(32).collect();
                format!("{key}=[redacted]")
            })
            .collect();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

fn looks_like_token(segment: &str) -> bool {
    segment.len() >= 20
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_the_log() {
        let token = "Yb2V3kq0o6nCkq2C7F9cY1yq0a8W7s4x2Z3t5u6v7w8";
        let logged = redact(&format!("/confirm/{token}").parse().unwrap());
        assert_eq!(logged, "/confirm/[redacted]");
        let logged = redact(&format!("/reset-password?token={token}&x=1").parse().unwrap());
        assert_eq!(logged, "/reset-password?token=[redacted]&x=[redacted]");
        let logged = redact(&"/graphql?query=%7Bme%7D".parse().unwrap());
        assert_eq!(logged, "/graphql?query=[redacted]");
        assert_eq!(
            redact(&"/.well-known/jwks.json".parse().unwrap()),
            "/.well-known/jwks.json"
        );
        assert_eq!(redact(&format!("/x/{token}/y").parse().unwrap()), "/x/[redacted]/y");
    }
}
