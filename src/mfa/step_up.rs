//! Step-up: a signed-in user proves again, with a mailed code, that they are
//! at the keyboard; their session counts as verified for ten minutes.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::db;
use crate::entities::sessions;
use crate::error::{AppError, AppResult};
use crate::limits::Limit;
use crate::mail::templates;
use crate::sessions::ClientInfo;
use crate::sessions::auth::Principal;
use crate::state::AppState;
use crate::tokens::codes;
use crate::tokens::one_time::Purpose;

/// How long a verified session stays verified.
pub const VERIFIED_FOR: Duration = Duration::from_secs(600);

/// Mails the caller a six-digit code; the newest code is the one that works.
///
/// # Errors
/// `RATE_LIMITED`; database errors.
#[tracing::instrument(skip_all)]
pub async fn send_code(state: &AppState, caller: &Principal, client: &ClientInfo) -> AppResult<()> {
    super::mail_code(
        state,
        caller.user(),
        Purpose::StepUpOtp,
        templates::step_up_code,
        client,
    )
    .await
}

/// Spends a mailed code and marks the caller's session verified for [`VERIFIED_FOR`].
///
/// # Errors
/// `INVALID_CODE` for a wrong, used or expired code; `RATE_LIMITED`; database errors.
#[tracing::instrument(skip_all)]
pub async fn verify(state: &AppState, caller: &Principal, code: &str, client: &ClientInfo) -> AppResult<()> {
    let user_id = caller.user().id;
    state
        .limits
        .check(Limit::Code, client.ip, Some(&user_id.to_string()))
        .await?;
    let txn = state.db.write.begin().await?;
    if !codes::spend(&txn, &state.crypto, user_id, Purpose::StepUpOtp, code).await? {
        return Err(AppError::InvalidCode);
    }
    sessions::Entity::update_many()
        .col_expr(sessions::Column::StepUpUntil, Expr::value(db::after(VERIFIED_FOR)))
        .filter(sessions::Column::Id.eq(caller.session().id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.live.forget_user(user_id);
    Ok(())
}
