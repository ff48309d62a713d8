//! Email confirmation through the mailed token, and re-sending it.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::signup::confirm_link;
use super::{find_by_email, in_background, validate};
use crate::db;
use crate::entities::users;
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mail::{self, templates};
use crate::sessions::ClientInfo;
use crate::state::AppState;
use crate::tokens::one_time::{self, Purpose};

/// Spends a confirmation token and marks its account's address confirmed.
///
/// # Errors
/// `INVALID_TOKEN` when the token is unknown, spent, expired or not a confirmation token.
#[tracing::instrument(skip_all)]
pub async fn confirm_email(state: &AppState, token: &str, client: &ClientInfo) -> AppResult<()> {
    state.limits.check(Limit::MailedToken, client.ip, None).await?;
    let txn = state.db.write.begin().await?;
    let row = one_time::consume(&txn, token, Purpose::ConfirmEmail).await?;
    let now = db::now();
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(row.user_id))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(&txn)
        .await?;
    events::record(&txn, row.user_id, EventKind::EmailConfirmed, client).await?;
    txn.commit().await?;
    state.live.forget_user(row.user_id);
    Ok(())
}

/// Mails a new confirmation link if `email` belongs to an unconfirmed account.
/// The answer is the same either way, and the work happens after it.
///
/// # Errors
/// `BAD_USER_INPUT` when `email` is not an email address (which reveals nothing).
#[tracing::instrument(skip_all)]
pub async fn resend_confirmation(state: &AppState, email: &str, client: &ClientInfo) -> AppResult<()> {
    let email = validate::email("email", email)?;
    state.limits.check(Limit::Mail, client.ip, Some(&email)).await?;
    let state = state.clone();
    in_background(move || mail_confirmation_link(state.clone(), email.clone()));
    Ok(())
}

/// The work of [`resend_confirmation`], in one transaction.
async fn mail_confirmation_link(state: AppState, email: String) -> AppResult<()> {
    let Some(user) = find_by_email(&state.db.read, &email).await? else {
        return Ok(());
    };
    if user.email_verified_at.is_some() || !user.active {
        return Ok(());
    }
    let txn = state.db.write.begin().await?;
    // Only the newest link works, so an old mail lying around is harmless.
    one_time::invalidate_all(&txn, user.id, Purpose::ConfirmEmail).await?;
    let token = one_time::create(&txn, user.id, Purpose::ConfirmEmail).await?;
    mail::enqueue(
        &txn,
        &state,
        templates::confirm_email(&email, &confirm_link(&state, &token)),
    )
    .await?;
    txn.commit().await?;
    state.outbox.wake();
    Ok(())
}
