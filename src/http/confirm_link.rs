//! `GET /confirm/{token}`: the link in the confirmation mail.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::responses::html_page;
use super::status::status_of;
use crate::error::ErrorCode;
use crate::state::AppState;

/// Confirms the address, then sends the browser to FRONTEND_URL (or shows a short page).
#[handler]
pub async fn confirm(req: &Request, Path(token): Path<String>, Data(state): Data<&AppState>) -> Response {
    let client = super::client_of(req, state);
    let outcome = state.accounts.confirm_email(&token, &client).await;
    if let Err(e) = &outcome {
        e.log();
    }
    if state.config.frontend_url.is_some() {
        let path = match &outcome {
            Ok(()) => "/email-confirmed".to_owned(),
            Err(e) => format!("/email-confirmed?error={}", e.code().as_str()),
        };
        return Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, state.config.frontend_link(&path))
            .header(header::CACHE_CONTROL, "no-store")
            .finish();
    }
    match outcome.map_err(|e| e.code()) {
        Ok(()) => html_page(
            StatusCode::OK,
            "Email confirmed",
            "Your email address is confirmed. You can close this page and sign in.",
        ),
        Err(code @ (ErrorCode::ServiceUnavailable | ErrorCode::RateLimited | ErrorCode::Internal)) => html_page(
            status_of(code),
            "Try again later",
            "We could not confirm your address just now. Please open the link again in a few minutes.",
        ),
        Err(code) => html_page(
            status_of(code),
            "Link not valid",
            "This confirmation link is invalid, already used or expired. You can ask for a new one.",
        ),
    }
}
