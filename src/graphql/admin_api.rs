//! Resolvers for administrators: listing accounts, switching them off and on,
//! their roles, sessions and app metadata.

use async_graphql::{Context, Guard, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::context::{client, principal, state};
use super::errors::{GqlError, GqlResult};
use super::types::{Role, User, UserConnection};
use crate::audit;
use crate::entities::users::Role as StoredRole;
use crate::error::{AppError, Field};
use crate::sessions::Principal;

/// Lets only administrators through: `UNAUTHENTICATED` without a valid
/// token, `FORBIDDEN` for everyone else.
pub struct AdminOnly;

impl Guard for AdminOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = principal(ctx).await?;
        if caller.user().role == StoredRole::Admin {
            Ok(())
        } else {
            Err(GqlError::from(AppError::Forbidden("administrators only")).into())
        }
    }
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Accounts, oldest first; `search` matches part of the email, username
    /// or display name, ignoring case. At most 100 a page.
    #[graphql(guard = "AdminOnly")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        #[graphql(default = 0)] offset: Option<i32>,
        search: Option<String>,
    ) -> GqlResult<UserConnection> {
        let (page, total) = state(ctx)?
            .accounts
            .list_users(
                i64::from(first.unwrap_or(20)),
                i64::from(offset.unwrap_or(0)),
                search.as_deref(),
            )
            .await?;
        Ok(UserConnection {
            nodes: page.iter().map(User::from).collect(),
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    /// One account; null when there is none.
    #[graphql(guard = "AdminOnly")]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<User>> {
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(None);
        };
        Ok(state(ctx)?.accounts.user_by_id(id).await?.as_ref().map(User::from))
    }

    /// What administrators did, newest first; `after` is a page's `endCursor`.
    #[graphql(guard = "AdminOnly")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<AuditPage> {
        let page = audit::page(&state(ctx)?.db.read, i64::from(first.unwrap_or(50)), after.as_deref()).await?;
        Ok(AuditPage {
            nodes: page
                .entries
                .into_iter()
                .map(|e| AuditEntry {
                    kind: e.kind,
                    at: e.at,
                    user_id: e.user_id.map(|id| ID(id.to_string())),
                    actor_id: e.actor_id.map(|id| ID(id.to_string())),
                    ip: e.ip,
                })
                .collect(),
            end_cursor: page.end_cursor,
            has_next_page: page.has_next_page,
        })
    }
}

/// One administrator action.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub user_id: Option<ID>,
    pub actor_id: Option<ID>,
    pub ip: Option<String>,
}

/// A page of the audit log.
#[derive(SimpleObject)]
pub struct AuditPage {
    pub nodes: Vec<AuditEntry>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// The administrator calling, and the account `id` names.
async fn admin_and_target<'a>(ctx: &Context<'a>, id: &ID) -> GqlResult<(&'a Principal, Uuid)> {
    let admin = principal(ctx).await?;
    let id = Uuid::parse_str(id).map_err(|_| AppError::bad_input(Field::Id, "no account has this id"))?;
    Ok((admin, id))
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Switches an account off (ending its sessions at once) or on again.
    #[graphql(guard = "AdminOnly")]
    async fn set_user_active(&self, ctx: &Context<'_>, id: ID, active: bool) -> GqlResult<User> {
        let (admin, id) = admin_and_target(ctx, &id).await?;
        let user = state(ctx)?.accounts.set_active(admin, id, active, client(ctx)?).await?;
        Ok(User::from(&user))
    }

    /// Ends every session of an account; returns how many.
    #[graphql(guard = "AdminOnly")]
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, id: ID) -> GqlResult<i32> {
        let (admin, id) = admin_and_target(ctx, &id).await?;
        let ended = state(ctx)?
            .accounts
            .revoke_user_sessions(admin, id, client(ctx)?)
            .await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Deletes an account with everything that belongs to it.
    #[graphql(guard = "AdminOnly")]
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let (admin, id) = admin_and_target(ctx, &id).await?;
        state(ctx)?.accounts.delete_user(admin, id, client(ctx)?).await?;
        Ok(true)
    }

    /// Gives an account a role; the last administrator cannot demote themselves.
    #[graphql(guard = "AdminOnly")]
    async fn set_user_role(&self, ctx: &Context<'_>, id: ID, role: Role) -> GqlResult<User> {
        let (admin, id) = admin_and_target(ctx, &id).await?;
        let user = state(ctx)?
            .accounts
            .set_role(admin, id, role.into(), client(ctx)?)
            .await?;
        Ok(User::from(&user))
    }

    /// Replaces an account's app metadata (a JSON object of at most 2 KiB),
    /// which access tokens carry from their next refresh. Sensitive.
    #[graphql(guard = "AdminOnly")]
    async fn set_app_metadata(&self, ctx: &Context<'_>, id: ID, metadata: Json<serde_json::Value>) -> GqlResult<User> {
        let (admin, id) = admin_and_target(ctx, &id).await?;
        let user = state(ctx)?
            .accounts
            .set_app_metadata(admin, id, metadata.0, client(ctx)?)
            .await?;
        Ok(User::from(&user))
    }

    /// Mails an account a password reset link.
    #[graphql(guard = "AdminOnly")]
    async fn send_password_reset(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let (admin, id) = admin_and_target(ctx, &id).await?;
        state(ctx)?
            .accounts
            .send_password_reset(admin.user().id, id, client(ctx)?)
            .await?;
        Ok(true)
    }
}
