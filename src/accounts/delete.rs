//! Deleting one's own account, with everything that belongs to it.

use sea_orm::EntityTrait;

use super::confirm_password;
use crate::entities::users;
use crate::error::AppResult;
use crate::sessions::ClientInfo;
use crate::sessions::auth::Principal;
use crate::state::AppState;

/// Deletes the caller's account after checking their password. Sessions,
/// tokens and security events go with it (foreign keys cascade).
///
/// # Errors
/// `INVALID_CREDENTIALS` when the password is wrong; `RATE_LIMITED` after too many tries.
#[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
pub async fn delete_account(
    state: &AppState,
    caller: &Principal,
    password: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    let user = confirm_password(state, caller, password, client).await?;
    users::Entity::delete_by_id(user.id).exec(&state.db.write).await?;
    state.live.forget_user(user.id);
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(())
}
