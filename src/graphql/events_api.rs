//! The subscription: `sessionEvents` over graphql-ws, with the access token of
//! connection init (`{ "authorization": "Bearer <access token>" }`), checked
//! again by every operation.

use async_graphql::{Context, ID, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use super::context::{SessionEndSignal, principal_enrolling, state};
use super::errors::GqlResult;
use crate::sessions::watch::SessionEnded;

/// Something that happened to the subscriber's session.
#[derive(SimpleObject, Clone)]
pub struct SessionEvent {
    /// `SESSION_ENDED`: logout (here or elsewhere), revocation, a password
    /// change or reset, deactivation, or idleness; the app should sign out.
    pub kind: String,
    pub session_id: ID,
    pub at: DateTime<Utc>,
}

impl From<SessionEnded> for SessionEvent {
    fn from(e: SessionEnded) -> Self {
        Self {
            kind: "SESSION_ENDED".to_owned(),
            session_id: ID(e.session_id.to_string()),
            at: e.at,
        }
    }
}

#[derive(Default)]
pub struct SessionsSubscription;

#[Subscription(name = "Subscription")]
impl SessionsSubscription {
    /// Tells a signed-in app at once when its session ends, so it can leave
    /// the page instead of failing on its next call; then completes.
    async fn session_events(&self, ctx: &Context<'_>) -> async_graphql::Result<impl Stream<Item = SessionEvent>> {
        Ok(watch(ctx).await?.map(SessionEvent::from))
    }
}

async fn watch(ctx: &Context<'_>) -> GqlResult<impl Stream<Item = SessionEnded> + Send + 'static + use<>> {
    let caller = principal_enrolling(ctx).await?;
    let sooner = ctx.data_opt::<SessionEndSignal>().map(SessionEndSignal::wait);
    Ok(state(ctx)?.sessions.watch_end(caller, sooner)?)
}
