//! REQUEST_TIMEOUT for what follows a request's head: its body must arrive
//! and its answer be ready within it, or the client gets 408 and the
//! connection closes. A client trickling a body a byte at a time holds a
//! connection for no longer than that; what the handler had begun is
//! dropped, and with it any transaction it held, which rolls back.

use std::sync::Arc;
use std::time::Duration;

use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response, Result};

/// Calls `ep` with `req`, answering 408 when it takes longer than `timeout`.
///
/// # Errors
/// What `ep` answers with.
pub async fn within<E: Endpoint>(timeout: Duration, ep: Arc<E>, req: Request) -> Result<Response> {
    match tokio::time::timeout(timeout, ep.call(req)).await {
        Ok(answer) => answer.map(IntoResponse::into_response),
        Err(_) => Ok(Response::builder()
            .status(StatusCode::REQUEST_TIMEOUT)
            .header(header::CONNECTION, "close")
            .body("the request was not received and answered within REQUEST_TIMEOUT")),
    }
}
