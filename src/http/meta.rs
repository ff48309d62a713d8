//! Health checks and the JWKS document.

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, handler};

use crate::health::Readiness;
use crate::state::AppState;

/// Liveness: the process answers HTTP.
#[handler]
pub fn healthz() -> &'static str {
    "ok"
}

/// Readiness, as JSON: `status` is `ok` (200) or `unavailable` (503) with
/// each check's word, or `stopping` (503) once the instance shuts down.
#[handler]
pub async fn readyz(Data(state): Data<&AppState>) -> Response {
    let (ready, body) = match state.health.readiness().await {
        Readiness::Stopping => (false, serde_json::json!({ "status": "stopping" })),
        Readiness::Checked(checks) => {
            let word = |ok: bool| if ok { "ok" } else { "unavailable" };
            let optional = |check: Option<bool>, absent: &'static str| check.map_or(absent, word);
            let migrations = match (checks.migrations, checks.database) {
                (true, _) => "ok",
                (false, true) => "pending",
                (false, false) => "unavailable",
            };
            let body = serde_json::json!({
                "status": word(checks.ready()),
                "checks": {
                    "database": word(checks.database),
                    "migrations": migrations,
                    "redis": optional(checks.redis, "not configured"),
                    "smtp": optional(checks.smtp, "files"),
                }
            });
            (checks.ready(), body)
        }
    };
    Response::builder()
        .status(if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        })
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

/// The public keys that verify access tokens.
#[handler]
pub fn jwks(Data(state): Data<&AppState>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .body(state.keys.jwks())
}
