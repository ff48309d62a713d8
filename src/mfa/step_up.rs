//! Step-up: a signed-in user proves again, with a mailed code, that they are
//! at the keyboard; their session counts as verified for ten minutes.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Mfa;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::sessions;
use crate::error::{AppError, AppResult};
use crate::limits::Limit;
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::codes;
use crate::tokens::one_time::Purpose;

/// How long a verified session stays verified.
pub const VERIFIED_FOR: Duration = Duration::from_secs(600);

impl Mfa {
    /// Mails the caller a six-digit code; the newest code is the one that works.
    ///
    /// # Errors
    /// `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all)]
    pub async fn send_step_up_code(&self, caller: &Principal, client: &ClientInfo) -> AppResult<()> {
        self.mail_code(caller.user(), Purpose::StepUpOtp, templates::step_up_code, client)
            .await
    }

    /// Spends a mailed code and marks the caller's session verified for [`VERIFIED_FOR`].
    ///
    /// # Errors
    /// `INVALID_CODE` for a wrong, used or expired code; `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all)]
    pub async fn verify_step_up_code(&self, caller: &Principal, code: &str, client: &ClientInfo) -> AppResult<()> {
        let user_id = caller.user().id;
        self.limits
            .check(Limit::Code, client.ip, Some(&user_id.to_string()))
            .await?;
        let mut tx = self.db.begin().await?;
        if !codes::spend(&*tx, &self.crypto, user_id, Purpose::StepUpOtp, code).await? {
            return Err(AppError::InvalidCode);
        }
        sessions::Entity::update_many()
            .col_expr(sessions::Column::StepUpUntil, Expr::value(db::after(VERIFIED_FOR)))
            .filter(sessions::Column::Id.eq(caller.session().id))
            .exec(&*tx)
            .await?;
        self.sessions.evict_user_on_commit(&mut tx, user_id);
        tx.commit().await?;
        Ok(())
    }
}
