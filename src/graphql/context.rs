//! Per-request context: who is calling from where, with what credential, and
//! the cookies of the request and its answer. The caller is authenticated
//! anew for every operation, whatever the transport (one HTTP request, or one
//! operation of a WebSocket that lives for hours): nothing keeps a caller
//! beyond the operation it was authenticated for.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::{Context, Request, ServerResult};
use tokio::sync::OnceCell;

use super::delivery::{IncomingCookies, OutgoingCookies};
use super::errors::GqlResult;
use crate::client::ClientInfo;
use crate::error::AppError;
use crate::sessions::Principal;
use crate::state::AppState;

/// What the transport knows about a request (HTTP) or a connection (WebSocket).
pub struct RequestInfo {
    pub client: ClientInfo,
    /// The access token presented: by `Authorization: Bearer`, or a
    /// WebSocket's `connection_init`. A credential, never a verdict.
    bearer: Option<String>,
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
            cookies,
            used_refresh_cookie: AtomicBool::new(false),
            outgoing: Mutex::new(OutgoingCookies::default()),
        }
    }

    /// A WebSocket connection's context: the access token of its
    /// `connection_init`, checked again by every operation; no cookies.
    pub fn connection(client: ClientInfo, bearer: String) -> Self {
        Self::new(client, Some(bearer), IncomingCookies::default())
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
    Ok(ctx.data::<Arc<RequestInfo>>()?)
}

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> GqlResult<&'a AppState> {
    Ok(ctx.data::<AppState>()?)
}

/// Where the request came from.
pub fn client<'a>(ctx: &Context<'a>) -> GqlResult<&'a ClientInfo> {
    Ok(&request_info(ctx)?.client)
}

/// The authenticated caller of this operation: checked on the first field
/// that needs it, and again by the next operation (a batch's next one, or
/// the next one on the same WebSocket).
///
/// # Errors
/// `UNAUTHENTICATED` without a valid access token of a live session of an
/// active account; `FORBIDDEN` for an account that must enrol a second
/// factor first (REQUIRE_MFA).
pub async fn principal<'a>(ctx: &Context<'a>) -> GqlResult<&'a Principal> {
    Ok(principal_enrolling(ctx).await?.require_enrolled()?)
}

/// [`principal`], also for an account that must enrol a second factor
/// first: only for enrolling one (and stepping up to do it), `me`,
/// `logout`, `logoutAll` and `sessionEvents`.
///
/// # Errors
/// `UNAUTHENTICATED` as for [`principal`].
pub async fn principal_enrolling<'a>(ctx: &Context<'a>) -> GqlResult<&'a Principal> {
    let info = request_info(ctx)?;
    let caller = ctx.data::<OperationCaller>()?;
    let sessions = &state(ctx)?.sessions;
    let bearer = info.bearer.as_deref().ok_or(AppError::Unauthenticated)?;
    Ok(caller.0.get_or_try_init(|| sessions.authenticate(bearer)).await?)
}

/// The caller of one operation, authenticated on first need; it lives in
/// the operation's own data, so no later operation can see it.
#[derive(Default)]
pub struct OperationCaller(OnceCell<Principal>);

/// The extension that gives every operation, on every transport, its own
/// [`OperationCaller`] before it runs.
pub struct PerOperationCaller;

impl ExtensionFactory for PerOperationCaller {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerOperationCaller)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerOperationCaller {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(OperationCaller::default())).await
    }
}

/// A WebSocket connection's word that the session it carries has ended:
/// its subscriptions tell the client at once, before the socket closes.
pub struct SessionEndSignal(pub tokio::sync::watch::Receiver<bool>);

impl SessionEndSignal {
    /// Resolves once the connection saw its session end; never, if the
    /// connection went away without seeing it.
    pub fn wait(&self) -> futures_util::future::BoxFuture<'static, ()> {
        let mut ended = self.0.clone();
        Box::pin(async move {
            if ended.wait_for(|ended| *ended).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
