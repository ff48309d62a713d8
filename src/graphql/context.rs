//! Per-request context: who is calling from where, authenticated on first need.

use async_graphql::Context;
use tokio::sync::OnceCell;

use super::errors::GqlResult;
use crate::client::ClientInfo;
use crate::error::AppError;
use crate::sessions::Principal;
use crate::state::AppState;

/// What the HTTP layer knows about a request.
pub struct RequestInfo {
    pub client: ClientInfo,
    bearer: Option<String>,
    principal: OnceCell<Principal>,
    /// The known-device credential of the request's cookie.
    device_cookie: Option<String>,
    /// A device credential a login issued, for the HTTP layer to set as a cookie.
    issued_device: std::sync::Mutex<Option<String>>,
}

impl RequestInfo {
    /// A request from `client`, with the token of its `Authorization: Bearer`
    /// header and the device credential of its cookie.
    pub fn new(client: ClientInfo, bearer: Option<String>, device_cookie: Option<String>) -> Self {
        Self {
            client,
            bearer,
            principal: OnceCell::new(),
            device_cookie,
            issued_device: std::sync::Mutex::new(None),
        }
    }

    /// The device credential a login of this request issued, if any.
    pub fn issued_device(&self) -> Option<String> {
        self.issued_device.lock().ok().and_then(|mut d| d.take())
    }
}

/// The device credential a login presents: the one in its input, or else its cookie's.
pub fn presented_device<'a>(ctx: &Context<'a>, given: Option<&'a str>) -> GqlResult<Option<&'a str>> {
    let info = ctx.data::<std::sync::Arc<RequestInfo>>()?;
    Ok(given.or(info.device_cookie.as_deref()))
}

/// Hands a newly issued device credential to the HTTP layer, which sets it
/// as a cookie for browsers.
pub fn hand_over_device(ctx: &Context<'_>, device_token: Option<&str>) -> GqlResult<()> {
    if let Some(token) = device_token {
        let info = ctx.data::<std::sync::Arc<RequestInfo>>()?;
        if let Ok(mut issued) = info.issued_device.lock() {
            *issued = Some(token.to_owned());
        }
    }
    Ok(())
}

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> GqlResult<&'a AppState> {
    Ok(ctx.data::<AppState>()?)
}

/// Where the request came from.
pub fn client<'a>(ctx: &Context<'a>) -> GqlResult<&'a ClientInfo> {
    Ok(&ctx.data::<std::sync::Arc<RequestInfo>>()?.client)
}

/// The authenticated caller; checked once per request, on the first field that needs it.
///
/// # Errors
/// `UNAUTHENTICATED` without a valid access token of a live session.
pub async fn principal<'a>(ctx: &Context<'a>) -> GqlResult<&'a Principal> {
    let info = ctx.data::<std::sync::Arc<RequestInfo>>()?;
    let sessions = &state(ctx)?.sessions;
    let bearer = info.bearer.as_deref().ok_or(AppError::Unauthenticated)?;
    Ok(info.principal.get_or_try_init(|| sessions.authenticate(bearer)).await?)
}
