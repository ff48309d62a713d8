//! Health checks and the JWKS document.

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, handler};

use crate::state::AppState;

/// Liveness: the process answers HTTP.
#[handler]
pub fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[handler]
pub async fn readyz(Data(state): Data<&AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Response::builder().body("ok"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .body("database unavailable")
        }
    }
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
