//! Forgotten, reset and changed passwords.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::{confirm_password, find_by_email, in_background, validate};
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mail::{self, templates};
use crate::sessions::ClientInfo;
use crate::sessions::auth::Principal;
use crate::sessions::store;
use crate::state::AppState;
use crate::tokens::one_time::{self, Purpose};

/// Mails a reset link if `email` belongs to an active account. The answer is
/// the same either way, and the work happens after it.
///
/// # Errors
/// `BAD_USER_INPUT` when `email` is not an email address (which reveals nothing).
#[tracing::instrument(skip_all)]
pub async fn forgot_password(state: &AppState, email: &str, client: &ClientInfo) -> AppResult<()> {
    let email = validate::email("email", email)?;
    state.limits.check(Limit::Mail, client.ip, Some(&email)).await?;
    let (state, client) = (state.clone(), client.clone());
    in_background(move || mail_reset_link(state.clone(), email.clone(), client.clone()));
    Ok(())
}

/// The work of [`forgot_password`], in one transaction.
async fn mail_reset_link(state: AppState, email: String, client: ClientInfo) -> AppResult<()> {
    let Some(user) = find_by_email(&state.db.read, &email).await? else {
        return Ok(());
    };
    if !user.active {
        return Ok(());
    }
    let txn = state.db.write.begin().await?;
    one_time::invalidate_all(&txn, user.id, Purpose::ResetPassword).await?;
    let token = one_time::create(&txn, user.id, Purpose::ResetPassword).await?;
    let link = state.config.frontend_link(&format!("/reset-password?token={token}"));
    mail::enqueue(&txn, &state, templates::reset_password(&email, &link)).await?;
    events::record(&txn, user.id, EventKind::PasswordResetRequested, &client).await?;
    txn.commit().await?;
    state.outbox.wake();
    Ok(())
}

/// Sets a new password with a mailed reset token and ends every session of the account.
///
/// # Errors
/// `INVALID_TOKEN` for an unknown, spent, expired or non-reset token;
/// `BAD_USER_INPUT` on `newPassword` for a weak password (the token stays usable).
#[tracing::instrument(skip_all)]
pub async fn reset_password(state: &AppState, token: &str, new_password: &str, client: &ClientInfo) -> AppResult<()> {
    state.limits.check(Limit::MailedToken, client.ip, None).await?;
    let row = one_time::find(&state.db.read, token, Purpose::ResetPassword).await?;
    let user = users::Entity::find_by_id(row.user_id)
        .one(&state.db.read)
        .await?
        .ok_or(AppError::InvalidToken)?;
    validate::password("newPassword", new_password, &user.email, user.username.as_deref())?;
    let hash = state.passwords.hash(new_password).await?;
    let txn = state.db.write.begin().await?;
    one_time::consume(&txn, token, Purpose::ResetPassword).await?;
    set_password(&txn, user.id, hash, true).await?;
    store::revoke_all(&txn, user.id, None).await?;
    one_time::invalidate_all(&txn, user.id, Purpose::ResetPassword).await?;
    events::record(&txn, user.id, EventKind::PasswordReset, client).await?;
    mail::enqueue(&txn, state, templates::password_changed(&user.email)).await?;
    txn.commit().await?;
    state.live.forget_user(user.id);
    state.outbox.wake();
    Ok(())
}

/// Changes the caller's password and ends their other sessions.
///
/// # Errors
/// `INVALID_CREDENTIALS` when `current` is wrong; `BAD_USER_INPUT` on `newPassword`.
#[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
pub async fn change_password(
    state: &AppState,
    caller: &Principal,
    current: &str,
    new_password: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    let user = confirm_password(state, caller, current, client).await?;
    validate::password("newPassword", new_password, &user.email, user.username.as_deref())?;
    let hash = state.passwords.hash(new_password).await?;
    let txn = state.db.write.begin().await?;
    set_password(&txn, user.id, hash, false).await?;
    store::revoke_all(&txn, user.id, Some(caller.session().id)).await?;
    events::record(&txn, user.id, EventKind::PasswordChanged, client).await?;
    mail::enqueue(&txn, state, templates::password_changed(&user.email)).await?;
    txn.commit().await?;
    state.live.forget_user(user.id);
    state.outbox.wake();
    Ok(())
}

/// Stores a new hash; a reset also proves the mailbox, so it confirms the address.
async fn set_password(conn: &impl ConnectionTrait, user_id: Uuid, hash: String, confirms_email: bool) -> AppResult<()> {
    let now = db::now();
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id));
    if confirms_email {
        update = update.col_expr(
            users::Column::EmailVerifiedAt,
            Expr::col(users::Column::EmailVerifiedAt).if_null(now),
        );
    }
    update.exec(conn).await?;
    Ok(())
}
