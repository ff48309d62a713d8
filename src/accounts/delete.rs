//! Deleting one's own account, with everything that belongs to it.

use sea_orm::EntityTrait;

use super::fresh_user;
use crate::entities::users;
use crate::error::{AppError, AppResult};
use crate::limits::Limit;
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
    state
        .limits
        .check(Limit::Password, client.ip, Some(&caller.user().id.to_string()))
        .await?;
    let user = fresh_user(state, caller.user().id).await?;
    if !state.passwords.verify(password, user.password_hash.as_deref()).await? {
        return Err(AppError::InvalidCredentials);
    }
    users::Entity::delete_by_id(user.id).exec(&state.db.write).await?;
    state.live.forget_user(user.id);
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(())
}
