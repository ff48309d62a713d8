//! `GET /metrics`: the Prometheus text format. A scrape reads memory only:
//! the database-wide gauges are refreshed by a job (`jobs::refresh_gauges`),
//! so however often anyone scrapes, the database sees none of it.

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, handler};

use crate::state::AppState;

/// Every metric of this instance.
#[handler]
pub fn metrics(Data(state): Data<&AppState>) -> Response {
    let Ok(recorder) = crate::telemetry::recorder() else {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body("no metrics recorder");
    };
    state.gauges.publish();
    let (in_use, idle) = state.db.pool_connections();
    ::metrics::gauge!("authql_db_connections", "state" => "in_use").set(f64::from(in_use));
    ::metrics::gauge!("authql_db_connections", "state" => "idle").set(f64::from(idle));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(recorder.render())
}
