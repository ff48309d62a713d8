//! `GET /metrics`: the Prometheus text format, with what is measured at
//! scrape time (outbox, sessions, database pools) refreshed first.

use std::time::Duration;

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, handler};

use crate::state::AppState;

/// Scrape-time database reads give up after this, leaving the last values.
const READ_WITHIN: Duration = Duration::from_secs(2);

/// Every metric of this instance.
#[handler]
pub async fn metrics(Data(state): Data<&AppState>) -> Response {
    let Ok(recorder) = crate::telemetry::recorder() else {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body("no metrics recorder");
    };
    if let Ok(Ok((depth, oldest))) = tokio::time::timeout(READ_WITHIN, state.outbox.backlog()).await {
        ::metrics::gauge!("authql_mail_outbox_depth").set(depth as f64);
        ::metrics::gauge!("authql_mail_outbox_oldest_due_seconds").set(oldest.map_or(0.0, |age| age.as_secs_f64()));
    }
    if let Ok(Ok(active)) = tokio::time::timeout(READ_WITHIN, state.sessions.count_active()).await {
        ::metrics::gauge!("authql_sessions_active").set(active as f64);
    }
    let (in_use, idle) = state.db.pool_connections();
    ::metrics::gauge!("authql_db_connections", "state" => "in_use").set(f64::from(in_use));
    ::metrics::gauge!("authql_db_connections", "state" => "idle").set(f64::from(idle));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(recorder.render())
}
