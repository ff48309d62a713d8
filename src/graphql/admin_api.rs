//! Resolvers for administrators: listing accounts and switching them off and on.

use async_graphql::{Context, Guard, ID, Object};
use uuid::Uuid;

use super::context::{client, principal, state};
use super::errors::{GqlError, GqlResult};
use super::types::{User, UserConnection};
use crate::entities::users::Role;
use crate::error::{AppError, Field};

/// Lets only administrators through: `UNAUTHENTICATED` without a valid
/// token, `FORBIDDEN` for everyone else.
pub struct AdminOnly;

impl Guard for AdminOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = principal(ctx).await?;
        if caller.user().role == Role::Admin {
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
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Switches an account off (ending its sessions at once) or on again.
    #[graphql(guard = "AdminOnly")]
    async fn set_user_active(&self, ctx: &Context<'_>, id: ID, active: bool) -> GqlResult<User> {
        let admin = principal(ctx).await?.user().id;
        let id = Uuid::parse_str(&id).map_err(|_| AppError::bad_input(Field::Id, "no account has this id"))?;
        let user = state(ctx)?.accounts.set_active(admin, id, active, client(ctx)?).await?;
        Ok(User::from(&user))
    }
}
