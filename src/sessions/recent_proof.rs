//! The step-up rule: a sensitive operation needs proof of identity from the
//! last STEP_UP_WINDOW. The session's own sign-in counts, and so does a
//! step-up (a mailed code, or a TOTP or recovery code, checked by `mfa`);
//! either only while the account's security stamp is the one it was made
//! under (`stamp`): a change of credentials elsewhere makes it stale.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Principal, Sessions};
use crate::db::{self, Tx};
use crate::entities::sessions;
use crate::error::{AppError, AppResult};

impl Sessions {
    /// Whether `caller` proved who they are recently enough for a sensitive
    /// operation: their session signed in, or stepped up, within
    /// STEP_UP_WINDOW, and the account's credentials did not change since
    /// (other than by this session).
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED` otherwise.
    pub fn require_recent_proof(&self, caller: &Principal) -> AppResult<()> {
        let session = caller.session();
        let current = session.proof_stamp == caller.user().security_stamp;
        let signed_in_recently = session.created_at > db::before(self.policy.step_up_window);
        let stepped_up = session.step_up_until.is_some_and(|until| until > db::now());
        if current && (signed_in_recently || stepped_up) {
            Ok(())
        } else {
            Err(AppError::StepUpRequired)
        }
    }

    /// Marks `caller`'s session as having proved itself now, for
    /// STEP_UP_WINDOW, under the account's current security stamp.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_stepped_up(&self, tx: &mut Tx, caller: &Principal) -> AppResult<()> {
        let session = caller.session().id;
        sessions::Entity::update_many()
            .col_expr(
                sessions::Column::StepUpUntil,
                Expr::value(db::after(self.policy.step_up_window)),
            )
            .col_expr(
                sessions::Column::ProofStamp,
                Expr::from(super::stamp::current_stamp_of(caller.user().id)),
            )
            .filter(sessions::Column::Id.eq(session))
            .exec(&**tx)
            .await?;
        self.evict_session_on_commit(tx, session);
        Ok(())
    }
}
