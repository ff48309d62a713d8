//! Metrics in the Prometheus text format: the recorder every module's
//! `metrics::` calls feed, and the sampled gauges a scrape publishes.
//!
//! Labels are bounded: routes are a fixed list, GraphQL operations are the
//! schema's root fields (never client-chosen operation names or aliases),
//! outcomes and classes are enums.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds, for every latency histogram.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process's recorder, installed once (several servers in one test process share it).
///
/// # Errors
/// When another recorder was installed first.
pub fn recorder() -> Result<&'static PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())?;
            ::metrics::gauge!("authql_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The route label of a request path: one of a fixed few.
pub fn route_of(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/.well-known/jwks.json" => "/.well-known/jwks.json",
        "/oauth/callback" => "/oauth/callback",
        p if p.starts_with("/auth/") && p.ends_with("/callback") => "/auth/{provider}/callback",
        p if p.starts_with("/auth/") => "/auth/{provider}",
        p if p.starts_with("/confirm/") => "/confirm/{token}",
        p if p.starts_with("/avatars/") => "/avatars/{key}",
        p if p.starts_with("/graphiql/") => "/graphiql/{asset}",
        _ => "other",
    }
}

/// The status label: a static string for the statuses authql answers, so
/// counting a request allocates nothing.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        302 => "302",
        303 => "303",
        304 => "304",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// Records one HTTP request.
pub fn http_request(path: &str, status: u16, took: Duration) {
    let route = route_of(path);
    ::metrics::counter!("authql_http_requests_total", "route" => route, "status" => status_label(status)).increment(1);
    ::metrics::histogram!("authql_http_request_duration_seconds", "route" => route).record(took.as_secs_f64());
}

/// Gauges of the shared database (live sessions, the mail outbox), sampled
/// by a job and kept here; a scrape publishes them without a query.
#[derive(Default)]
pub struct Sampled {
    taken: AtomicBool,
    sessions_active: AtomicU64,
    outbox_depth: AtomicU64,
    outbox_oldest_due_ms: AtomicU64,
}

impl Sampled {
    /// Keeps one sample: live sessions, mail waiting, and how long the longest-due mail has waited.
    pub fn record(&self, sessions_active: u64, outbox_depth: u64, oldest_due: Option<Duration>) {
        self.sessions_active.store(sessions_active, Ordering::Relaxed);
        self.outbox_depth.store(outbox_depth, Ordering::Relaxed);
        let waited = oldest_due.map_or(0, |age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
        self.outbox_oldest_due_ms.store(waited, Ordering::Relaxed);
        self.taken.store(true, Ordering::Release);
    }

    /// Sets the gauges from the last sample, if one was taken: several
    /// servers in one process (tests) share the recorder, so each sets its
    /// own values just before rendering them.
    pub fn publish(&self) {
        if !self.taken.load(Ordering::Acquire) {
            return;
        }
        let get = |value: &AtomicU64| value.load(Ordering::Relaxed) as f64;
        ::metrics::gauge!("authql_sessions_active").set(get(&self.sessions_active));
        ::metrics::gauge!("authql_mail_outbox_depth").set(get(&self.outbox_depth));
        ::metrics::gauge!("authql_mail_outbox_oldest_due_seconds").set(get(&self.outbox_oldest_due_ms) / 1000.0);
    }
}
