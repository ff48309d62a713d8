//! Resolvers for the caller's profile.

use async_graphql::{Context, InputObject, MaybeUndefined, Object};

use super::context::{principal, state};
use super::errors::GqlResult;
use super::types::User;
use crate::profile::{self, ProfileUpdate};

/// Profile fields to change: an absent field is kept, `null` or `""` clears it.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub username: MaybeUndefined<String>,
    pub display_name: MaybeUndefined<String>,
    pub first_name: MaybeUndefined<String>,
    pub last_name: MaybeUndefined<String>,
    pub phone_number: MaybeUndefined<String>,
}

/// Absent → keep (`None`); `null` → clear (`Some(None)`); a value → set.
fn change(field: MaybeUndefined<String>) -> Option<Option<String>> {
    match field {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Changes the caller's names, username or phone number.
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> GqlResult<User> {
        let caller = principal(ctx).await?;
        let changes = ProfileUpdate {
            username: change(input.username),
            display_name: change(input.display_name),
            first_name: change(input.first_name),
            last_name: change(input.last_name),
            phone_number: change(input.phone_number),
        };
        let user = profile::update(state(ctx)?, caller.user().id, changes).await?;
        Ok(User::from(&user))
    }
}
