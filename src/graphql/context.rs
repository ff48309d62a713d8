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
}

impl RequestInfo {
    /// A request from `client`, with the token of its `Authorization: Bearer` header.
    pub fn new(client: ClientInfo, bearer: Option<String>) -> Self {
        Self {
            client,
            bearer,
            principal: OnceCell::new(),
        }
    }
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
