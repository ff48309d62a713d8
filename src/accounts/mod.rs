//! Accounts: sign-up, confirmation, login, password recovery and deletion.

mod admin;
mod confirm;
mod delete;
mod login;
pub mod password;
mod recovery;
mod signup;
pub mod validate;

pub use admin::{MAX_PAGE, MadeAdmin, list_users, make_admin, set_active};
pub use confirm::{confirm_email, resend_confirmation};
pub use delete::delete_account;
pub use login::{Credentials, LoginOutcome, login};
pub use recovery::{change_password, forgot_password, reset_password};
pub use signup::{NewAccount, SignupOutcome, signup};
pub(crate) use signup::{ensure_free, taken_field};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::users;
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::sessions::ClientInfo;
use crate::sessions::auth::Principal;
use crate::state::AppState;

/// Role names as stored.
pub const ROLE_USER: &str = "USER";
/// The administrator role.
pub const ROLE_ADMIN: &str = "ADMIN";

/// The user with this (normalised) email.
///
/// # Errors
/// When the database fails.
pub async fn find_by_email(conn: &impl ConnectionTrait, email: &str) -> AppResult<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(conn)
        .await?)
}

/// The user with this id, read from the writer so it reflects the latest change.
///
/// # Errors
/// [`AppError::Unauthenticated`] if the user is gone; database errors.
pub async fn fresh_user(state: &AppState, id: Uuid) -> AppResult<users::Model> {
    users::Entity::find_by_id(id)
        .one(&state.db.write)
        .await?
        .ok_or(AppError::Unauthenticated)
}

/// The caller's account, once `password` proves it is them again (for
/// changing the password or deleting the account); a wrong one is recorded.
///
/// # Errors
/// `INVALID_CREDENTIALS` for a wrong password; `RATE_LIMITED`; database errors.
pub(crate) async fn confirm_password(
    state: &AppState,
    caller: &Principal,
    password: &str,
    client: &ClientInfo,
) -> AppResult<users::Model> {
    state
        .limits
        .check(Limit::Password, client.ip, Some(&caller.user().id.to_string()))
        .await?;
    let user = fresh_user(state, caller.user().id).await?;
    if !state.passwords.verify(password, user.password_hash.as_deref()).await? {
        events::record(&state.db.write, user.id, EventKind::LoginFailed, client).await?;
        return Err(AppError::InvalidCredentials);
    }
    Ok(user)
}

/// Runs `work` after the response, for requests whose answer must not depend
/// on whether an account exists. Each run must be one transaction, so a
/// failed one leaves nothing behind: while the database is out of reach it
/// is run again, for about half a minute, so a short outage loses no mail.
/// Other failures are logged.
pub fn in_background<F, Fut>(work: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<()>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut delay = std::time::Duration::from_millis(250);
        loop {
            match work().await {
                Ok(()) => return,
                Err(AppError::Unavailable(_)) if delay < std::time::Duration::from_secs(20) => {
                    tracing::info!(retry_in = ?delay, "database out of reach or busy: background work will run again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return e.log(),
            }
        }
    });
}
