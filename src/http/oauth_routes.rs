//! `/auth/{provider}` starts a sign-in with a provider, `/auth/{provider}/callback`
//! finishes it, and `/oauth/callback` is the page that shows its outcome when
//! there is no FRONTEND_URL. Every failure ends in a redirect with `?error=`,
//! never in a 500.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::cookies;
use super::responses::html_page;
use super::status::status_of;
use crate::error::ErrorCode;
use crate::oauth::{Callback, FLOW_SECONDS, FlowEnd, Refused, StartRequest};
use crate::state::AppState;

/// The flow's cookie: sealed, HttpOnly, sent back only to `/auth`.
const COOKIE: &str = "authql_oauth";

#[derive(Deserialize)]
pub struct StartParams {
    redirect_to: Option<String>,
    /// The app's PKCE challenge (S256) for the login code.
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// A link intent from `linkIdentity`.
    link: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct OutcomeParams {
    code: Option<String>,
    error: Option<String>,
    link_code: Option<String>,
}

/// Sends the browser to the provider, with the flow in a cookie.
#[handler]
pub async fn start(
    Path(provider): Path<String>,
    Query(params): Query<StartParams>,
    Data(state): Data<&AppState>,
) -> Response {
    let request = StartRequest {
        redirect_to: params.redirect_to.as_deref(),
        code_challenge: params.code_challenge.as_deref(),
        code_challenge_method: params.code_challenge_method.as_deref(),
        link: params.link.as_deref(),
    };
    let started = state.oauth.start(&provider, request).await;
    match started {
        Ok(started) => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, started.location)
            .header(header::SET_COOKIE, cookie(state, &started.cookie, FLOW_SECONDS))
            .header(header::CACHE_CONTROL, "no-store")
            .finish(),
        // A refused redirect_to is never where the browser goes: the refusal says where.
        Err(Refused { target, error }) => {
            error.log();
            redirect(&with_param(&target, "error", error.code().as_str()))
        }
    }
}

/// Finishes the flow and sends the browser on with a login code or an error.
#[handler]
pub async fn callback(
    req: &Request,
    Path(provider): Path<String>,
    Query(params): Query<CallbackParams>,
    Data(state): Data<&AppState>,
) -> Response {
    let client = super::client_of(req, state);
    let sealed = flow_cookie(req);
    let callback = Callback {
        code: params.code,
        state: params.state,
        error: params.error,
    };
    let finished = state
        .oauth
        .finish(&provider, callback, sealed.as_deref(), &client)
        .await;
    let location = match &finished.outcome {
        Ok(FlowEnd::LoginCode(code)) => with_param(&finished.target, "code", code),
        Ok(FlowEnd::LinkCode(code)) => with_param(&finished.target, "link_code", code),
        Err(e) => with_param(&finished.target, "error", e.code().as_str()),
    };
    let mut response = redirect(&location);
    if let Ok(expired) = cookie(state, "", 0).parse() {
        response.headers_mut().insert(header::SET_COOKIE, expired);
    }
    response
}

/// The end of a flow without FRONTEND_URL: the code to trade, or what went wrong.
#[handler]
pub fn outcome(Query(params): Query<OutcomeParams>) -> Response {
    if let (Some(code), None) = (&params.link_code, &params.error) {
        return html_page(
            StatusCode::OK,
            "Almost linked",
            &format!(
                "Your app finishes the link with completeLinkIdentity, signed in as the account that asked (it works once, for 60 seconds): {code}"
            ),
        );
    }
    match (params.code, params.error) {
        (Some(code), None) => html_page(
            StatusCode::OK,
            "Signed in",
            &format!(
                "Your app can now trade this one-time code with exchangeLoginCode (it works once, for 60 seconds): {code}"
            ),
        ),
        (_, error) => {
            let code = error.unwrap_or_else(|| ErrorCode::InvalidToken.as_str().to_owned());
            // A passing outage says so in its status too, so monitors and
            // clients that retry see it for what it is.
            match ErrorCode::ALL.into_iter().find(|c| c.as_str() == code) {
                Some(passing @ (ErrorCode::ServiceUnavailable | ErrorCode::RateLimited)) => html_page(
                    status_of(passing),
                    "Try again later",
                    &format!(
                        "The sign-in could not finish just now ({code}). Start again from the app in a few minutes."
                    ),
                ),
                _ => html_page(
                    StatusCode::BAD_REQUEST,
                    "Sign-in failed",
                    &format!("The sign-in did not finish ({code}). Start again from the app."),
                ),
            }
        }
    }
}

/// The flow cookie the browser sent, if any.
fn flow_cookie(req: &Request) -> Option<String> {
    cookies::read(req, COOKIE)
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let https = state.config.public_url.scheme() == "https";
    let max_age = std::time::Duration::from_secs(u64::try_from(max_age).unwrap_or(0));
    cookies::set(COOKIE, value, "/auth", cookies::SameSite::Lax, max_age, https)
}

fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// `target` with `key=value` added to its query.
fn with_param(target: &str, key: &str, value: &str) -> String {
    match url::Url::parse(target) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair(key, value);
            url.to_string()
        }
        // An app's custom scheme that the url crate cannot parse.
        Err(_) => {
            let separator = if target.contains('?') { '&' } else { '?' };
            let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            format!("{target}{separator}{key}={value}")
        }
    }
}
