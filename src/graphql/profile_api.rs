//! Resolvers for the caller's profile.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Upload};

use super::context::{client, principal, state};
use super::errors::GqlResult;
use super::types::User;
use crate::error::{AppError, Field};
use crate::profile::ProfileUpdate;

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
        let user = state(ctx)?
            .profile
            .update(caller.user().id, changes, client(ctx)?)
            .await?;
        Ok(User::from(&user))
    }

    /// Sets the caller's avatar from a PNG, JPEG, GIF or WebP image (GraphQL multipart request).
    async fn upload_avatar(&self, ctx: &Context<'_>, file: Upload) -> GqlResult<User> {
        let caller = principal(ctx).await?;
        let state = state(ctx)?;
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::bad_input(Field::File, "send the image as a GraphQL multipart upload"))?;
        let user = state
            .profile
            .upload_avatar(caller.user().id, upload.content.to_vec(), client(ctx)?)
            .await?;
        Ok(User::from(&user))
    }

    /// Removes the caller's avatar.
    async fn delete_avatar(&self, ctx: &Context<'_>) -> GqlResult<User> {
        let caller = principal(ctx).await?;
        let user = state(ctx)?.profile.delete_avatar(caller.user().id).await?;
        Ok(User::from(&user))
    }
}
