//! Health checks and the JWKS document.

use std::time::Duration;

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, handler};

use crate::state::AppState;

/// Liveness: the process answers HTTP.
#[handler]
pub fn healthz() -> &'static str {
    "ok"
}

/// A check that has not answered by then counts as failed.
const CHECK_WITHIN: Duration = Duration::from_secs(2);

/// Readiness, as JSON: `status` is `ok` (200) when the database answers, its
/// migrations are applied and (with REDIS_URL) Redis answers; `unavailable`
/// (503) otherwise. SMTP is reported but does not make an instance unready:
/// mail waits in the outbox, and every instance shares the one relay.
#[handler]
pub async fn readyz(Data(state): Data<&AppState>) -> Response {
    let (database, migrations, redis, smtp) = tokio::join!(
        within(state.db.ping()),
        within(state.db.migrations_applied()),
        within(state.limits.redis_answers()),
        within(state.outbox.smtp_answers()),
    );
    let database = matches!(database, Some(Ok(())));
    let migrations = matches!(migrations, Some(Ok(true)));
    // Not configured (`Some(None)`) is fine; no answer in time is not.
    let redis_ok = matches!(redis, Some(None | Some(true)));
    let ready = database && migrations && redis_ok;
    if !ready {
        tracing::warn!(database, migrations, redis_ok, "not ready");
    }
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let optional = |answer: Option<Option<bool>>, absent: &'static str| match answer {
        Some(None) => absent,
        Some(Some(ok)) => word(ok),
        None => "unavailable",
    };
    let body = serde_json::json!({
        "status": word(ready),
        "checks": {
            "database": word(database),
            "migrations": if migrations { "ok" } else if database { "pending" } else { "unavailable" },
            "redis": optional(redis, "not configured"),
            "smtp": optional(smtp, "files"),
        }
    });
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

/// `check`'s answer, or `None` when it did not come within [`CHECK_WITHIN`].
async fn within<T>(check: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(CHECK_WITHIN, check).await.ok()
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
