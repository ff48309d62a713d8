//! `/confirm/{token}`: the link in the confirmation mail.
//!
//! Opening the link (a GET) changes nothing: mail scanners and link
//! previews open links too, and must not confirm a sign-up someone else
//! made with this address. The page has one button that POSTs the token;
//! with FRONTEND_URL the browser goes to the web app instead, which calls
//! `confirmEmail`.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::responses::{html_form_page, html_page};
use super::status::status_of;
use crate::error::ErrorCode;
use crate::state::AppState;

/// Asks the person who opened the link to confirm: a button, or the web app.
#[handler]
pub fn ask(Path(token): Path<String>, Data(state): Data<&AppState>) -> Response {
    if state.config.frontend_url.is_some() {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &token)
            .finish();
        return see_other(&state.config.frontend_link(&format!("/confirm-email?{query}")));
    }
    let action = format!(
        "/confirm/{}",
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    html_form_page(
        "Confirm your email address",
        "Press the button to confirm that this address is yours and finish creating your account.",
        &action,
        "Confirm my email address",
    )
}

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
        return see_other(&state.config.frontend_link(&path));
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
            "This confirmation link is invalid, already used, expired, or replaced by a newer sign-up. You can ask for a new one.",
        ),
    }
}

fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}
