//! Resolvers for login, tokens and sessions.

use async_graphql::{Context, ID, InputObject, Object};
use uuid::Uuid;

use super::context::{client, principal, principal_enrolling, state};
use super::delivery::{clear_refresh_cookie, deliver, deliver_login, presented_device, refresh_from_cookie};
use super::errors::GqlResult;
use super::types::{AuthPayload, Device, LoginPayload, SecurityEvent, Session};
use crate::accounts::{LoginAttempt, LoginName};
use crate::error::{AppError, Field};
use crate::events::{self, EventKind};

#[derive(InputObject)]
pub struct LoginInput {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: String,
    /// The credential an earlier login on this device returned in `AuthPayload.deviceToken`.
    pub device_token: Option<String>,
}

#[derive(Default)]
pub struct SessionsQuery;

#[Object]
impl SessionsQuery {
    /// The caller's live sessions, newest first.
    async fn sessions(&self, ctx: &Context<'_>) -> GqlResult<Vec<Session>> {
        let caller = principal(ctx).await?;
        let sessions = &state(ctx)?.sessions;
        let rows = sessions.list_live(caller.user()).await?;
        Ok(rows
            .iter()
            .map(|s| Session::new(s, s.id == caller.session().id, sessions.last_active(s)))
            .collect())
    }

    /// The caller's known devices, most recently used first.
    async fn devices(&self, ctx: &Context<'_>) -> GqlResult<Vec<Device>> {
        let caller = principal(ctx).await?;
        let rows = state(ctx)?.sessions.devices(caller.user().id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The caller's newest security events.
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
    ) -> GqlResult<Vec<SecurityEvent>> {
        let caller = principal(ctx).await?;
        let first = u64::try_from(first.unwrap_or(20))
            .map_err(|_| AppError::bad_input(Field::First, "must not be negative"))?;
        let rows = events::latest(&state(ctx)?.db.read, caller.user().id, first).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct SessionsMutation;

#[Object]
impl SessionsMutation {
    /// Signs in with an email or a username and a password.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> GqlResult<LoginPayload> {
        let attempt = LoginAttempt {
            name: LoginName::parse(input.email.as_deref(), input.username.as_deref())?,
            password: &input.password,
            device: presented_device(ctx, input.device_token.as_deref())?,
        };
        let outcome = state(ctx)?.accounts.login(attempt, client(ctx)?).await?;
        deliver_login(ctx, outcome)
    }

    /// Spends a refresh token for new tokens (without the argument, the one
    /// of the refresh cookie). Reusing a spent token revokes its session.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> GqlResult<AuthPayload> {
        let token = match refresh_token.as_deref() {
            Some(token) => token,
            None => refresh_from_cookie(ctx)?,
        };
        let bundle = state(ctx)?.sessions.rotate(token, client(ctx)?).await?;
        deliver(ctx, bundle)
    }

    /// Ends the caller's session.
    async fn logout(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let caller = principal_enrolling(ctx).await?;
        state(ctx)?
            .sessions
            .revoke(
                caller.user().id,
                caller.session().id,
                EventKind::LoggedOut,
                client(ctx)?,
            )
            .await?;
        clear_refresh_cookie(ctx)?;
        Ok(true)
    }

    /// Ends every session of the caller; returns how many.
    async fn logout_all(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        let caller = principal_enrolling(ctx).await?;
        let ended = state(ctx)?.sessions.logout_all(caller.user().id, client(ctx)?).await?;
        clear_refresh_cookie(ctx)?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Revokes one of the caller's device credentials; false if there is no such device.
    async fn forget_device(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        let Ok(device) = Uuid::parse_str(&id) else {
            return Ok(false);
        };
        Ok(state(ctx)?
            .sessions
            .forget_device(caller.user().id, device, client(ctx)?)
            .await?)
    }

    /// Ends one of the caller's sessions; false if there is no such live session.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        let Ok(sid) = Uuid::parse_str(&id) else {
            return Ok(false);
        };
        Ok(state(ctx)?.sessions.revoke_session(caller, sid, client(ctx)?).await?)
    }
}
