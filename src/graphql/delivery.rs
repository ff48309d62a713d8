//! How tokens reach the client: in the JSON answer, or in cookie mode
//! (REFRESH_TOKEN_TRANSPORT) only as HttpOnly cookies, which the HTTP layer
//! reads and sets; here resolvers say what goes where.

use std::sync::atomic::Ordering;

use async_graphql::Context;

use super::context::request_info;
use super::errors::GqlResult;
use super::types::{AuthPayload, LoginPayload};
use crate::accounts::LoginOutcome;
use crate::error::{AppError, Field};
use crate::sessions::AuthBundle;

/// What the HTTP layer read from a request's cookies, and how it may use them.
#[derive(Debug, Default)]
pub struct IncomingCookies {
    /// The known-device credential's cookie.
    pub device: Option<String>,
    /// The refresh token's cookie (read unless REFRESH_TOKEN_TRANSPORT=body).
    pub refresh: Option<String>,
    /// Tokens of the answer go into cookies, not the JSON.
    pub cookie_mode: bool,
    /// The request cannot have been made by another site's form or simple
    /// fetch: a JSON body (which needs a CORS preflight) from an Origin in
    /// CORS_ALLOWED_ORIGINS. Only then may a cookie authenticate a mutation.
    pub from_allowed_origin: bool,
}

/// What to do with the refresh token's cookie.
#[derive(Debug)]
pub enum RefreshCookie {
    Set(String),
    Clear,
}

/// Cookies for the HTTP layer to set on the answer.
#[derive(Debug, Default)]
pub struct OutgoingCookies {
    pub device: Option<String>,
    pub refresh: Option<RefreshCookie>,
}

/// The answer to a sign-in: in cookie mode (or when the refresh token came
/// from the cookie) the refresh token and device credential leave only as
/// cookies; otherwise they are in the JSON, and browsers also get the
/// device credential as a cookie.
pub fn deliver(ctx: &Context<'_>, bundle: AuthBundle) -> GqlResult<AuthPayload> {
    let info = request_info(ctx)?;
    let mut payload = AuthPayload::from(bundle);
    let cookie_mode = info.cookies.cookie_mode || info.used_refresh_cookie.load(Ordering::Relaxed);
    if let Ok(mut out) = info.outgoing.lock() {
        if cookie_mode {
            out.refresh = payload.refresh_token.take().map(RefreshCookie::Set);
            out.device = payload.device_token.take().or(out.device.take());
        } else if let Some(device) = &payload.device_token {
            out.device = Some(device.clone());
        }
    }
    Ok(payload)
}

/// [`deliver`] for a login, which may stop at its second step.
pub fn deliver_login(ctx: &Context<'_>, outcome: LoginOutcome) -> GqlResult<LoginPayload> {
    match outcome {
        LoginOutcome::SignedIn(bundle) => Ok(LoginPayload::signed_in(deliver(ctx, *bundle)?)),
        LoginOutcome::MfaRequired(challenge) => Ok(LoginPayload::from(LoginOutcome::MfaRequired(challenge))),
    }
}

/// The device credential a login presents: the one in its input, or else its cookie's.
pub fn presented_device<'a>(ctx: &Context<'a>, given: Option<&'a str>) -> GqlResult<Option<&'a str>> {
    Ok(given.or(request_info(ctx)?.cookies.device.as_deref()))
}

/// The refresh token of the request's cookie, for `refreshToken` without an argument.
///
/// # Errors
/// `FORBIDDEN` when the request could have come from another site (not
/// JSON, or an Origin not allowed); `BAD_USER_INPUT` on `refreshToken`
/// without the cookie.
pub fn refresh_from_cookie<'a>(ctx: &Context<'a>) -> GqlResult<&'a str> {
    let info = request_info(ctx)?;
    let token = info
        .cookies
        .refresh
        .as_deref()
        .ok_or_else(|| AppError::bad_input(Field::RefreshToken, "give a refresh token, or send its cookie"))?;
    if !info.cookies.from_allowed_origin {
        return Err(AppError::Forbidden(
            "a refresh cookie is accepted only in a JSON request from an origin in CORS_ALLOWED_ORIGINS",
        )
        .into());
    }
    info.used_refresh_cookie.store(true, Ordering::Relaxed);
    Ok(token)
}

/// Asks the HTTP layer to clear the refresh cookie (after a logout).
pub fn clear_refresh_cookie(ctx: &Context<'_>) -> GqlResult<()> {
    if let Ok(mut out) = request_info(ctx)?.outgoing.lock() {
        out.refresh = Some(RefreshCookie::Clear);
    }
    Ok(())
}
