//! Per-request context: who is calling from where, authenticated on first need,
//! and the cookies of the request and its answer.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use async_graphql::Context;
use tokio::sync::OnceCell;

use super::delivery::{IncomingCookies, OutgoingCookies};
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
    /// The request's cookies and how they may be used.
    pub(super) cookies: IncomingCookies,
    /// Whether a resolver spent the refresh cookie (its successor then goes to the cookie too).
    pub(super) used_refresh_cookie: AtomicBool,
    /// Cookies for the HTTP layer to set on the answer.
    pub(super) outgoing: Mutex<OutgoingCookies>,
}

impl RequestInfo {
    /// A request from `client`, with the token of its `Authorization: Bearer`
    /// header and what the HTTP layer made of its cookies.
    pub fn new(client: ClientInfo, bearer: Option<String>, cookies: IncomingCookies) -> Self {
        Self {
            client,
            bearer,
            principal: OnceCell::new(),
            cookies,
            used_refresh_cookie: AtomicBool::new(false),
            outgoing: Mutex::new(OutgoingCookies::default()),
        }
    }

    /// A WebSocket connection's context: `principal` authenticated it at
    /// connection init; it carries no cookies.
    pub fn authenticated(client: ClientInfo, principal: Principal) -> Self {
        let info = Self::new(client, None, IncomingCookies::default());
        let _ = info.principal.set(principal);
        info
    }

    /// The cookies the request's resolvers want set.
    pub fn take_outgoing(&self) -> OutgoingCookies {
        self.outgoing
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
}

/// This request's [`RequestInfo`].
pub(super) fn request_info<'a>(ctx: &Context<'a>) -> GqlResult<&'a RequestInfo> {
    Ok(ctx.data::<std::sync::Arc<RequestInfo>>()?)
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
    if let Some(principal) = info.principal.get() {
        return Ok(principal);
    }
    let sessions = &state(ctx)?.sessions;
    let bearer = info.bearer.as_deref().ok_or(AppError::Unauthenticated)?;
    Ok(info.principal.get_or_try_init(|| sessions.authenticate(bearer)).await?)
}
