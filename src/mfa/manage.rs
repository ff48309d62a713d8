//! What the owner (or an operator) does with MFA once it is on: switch it off, replace the
//! recovery codes, and hear when a recovery code is used.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Mfa, recovery_codes};
use crate::client::ClientInfo;
use crate::db::Tx;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::{Event, RevokeReason};

impl Mfa {
    /// Checks a TOTP or recovery code of an account with MFA on; a spent
    /// recovery code is reported to the owner.
    ///
    /// # Errors
    /// `MFA_NOT_ENABLED`, `INVALID_CODE`, `RATE_LIMITED`; database errors.
    pub(super) async fn second_factor(&self, user_id: Uuid, code: &str, client: &ClientInfo) -> AppResult<()> {
        let user = reread_from_writer(&self.db, user_id).await?;
        if user.totp_enabled_at.is_none() {
            return Err(AppError::MfaNotEnabled);
        }
        self.limits
            .check(Limit::Code, client.ip, Some(Key::Owner(user_id)))
            .await?;
        let attempt = self.take_from_budget(user_id, client).await?;
        if self.check_totp(self.db.writer(), &user, code).await? {
            self.give_back(attempt).await;
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        if recovery_codes::spend(&*tx, &self.crypto, user_id, code).await? {
            self.recovery_code_used(&mut tx, &user).await?;
            self.give_back_on_commit(&mut tx, attempt);
            tx.commit().await?;
            return Ok(());
        }
        self.wrong_code(&mut tx, &user, attempt, client).await?;
        tx.commit().await?;
        Err(AppError::InvalidCode)
    }

    /// Tells `user`, when `tx` commits, that a recovery code was spent and how many are left.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn recovery_code_used(&self, tx: &mut Tx, user: &users::Model) -> AppResult<()> {
        let remaining = one_time::count_live(&**tx, user.id, Purpose::RecoveryCode).await?;
        self.notify(tx, templates::recovery_code_used(&user.email, remaining))
            .await
    }

    /// Switches the caller's MFA off with a TOTP or recovery code. Every
    /// outstanding proof of the account (links, login steps, mailed codes,
    /// other sessions' sign-ins) stops working, and the owner is told.
    ///
    /// # Errors
    /// `MFA_NOT_ENABLED`, `INVALID_CODE`, `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn disable(&self, caller: &Principal, code: &str, client: &ClientInfo) -> AppResult<()> {
        let user_id = caller.user().id;
        self.second_factor(user_id, code, client).await?;
        let user = reread_from_writer(&self.db, user_id).await?;
        let mut tx = self.db.begin().await?;
        switch_off(&mut tx, user_id).await?;
        self.sessions.renew_stamp(&mut tx, user_id, Some(caller)).await?;
        events::record(&*tx, user_id, EventKind::MfaDisabled, client).await?;
        self.webhooks
            .emit(&mut tx, Event::mfa_disabled(user_id, "totp", "owner"))
            .await?;
        self.notify(&mut tx, templates::mfa_disabled(&user.email)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An operator switches MFA off for an owner who lost both the
    /// authenticator and the recovery codes (after checking who they are,
    /// outside authql). Every session ends, the event is recorded and the
    /// owner is told. False when MFA was not on.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when the account is gone; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn reset_by_operator(&self, user_id: Uuid) -> AppResult<bool> {
        let user = reread_from_writer(&self.db, user_id).await?;
        if user.totp_enabled_at.is_none() {
            return Ok(false);
        }
        let mut tx = self.db.begin().await?;
        switch_off(&mut tx, user_id).await?;
        self.sessions.renew_stamp(&mut tx, user_id, None).await?;
        self.sessions
            .revoke_all(&mut tx, user_id, None, RevokeReason::Recovered)
            .await?;
        self.webhooks
            .emit(&mut tx, Event::mfa_disabled(user_id, "totp", "operator"))
            .await?;
        let operator = ClientInfo {
            ip: None,
            user_agent: Some("authql reset-mfa (operator)".to_owned()),
        };
        events::record(&*tx, user_id, EventKind::MfaResetByOperator, &operator).await?;
        self.notify(&mut tx, templates::mfa_reset_by_operator(&user.email))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A new set of recovery codes for the caller, given a TOTP or recovery
    /// code; the old set stops working, and the owner is told.
    ///
    /// # Errors
    /// `MFA_NOT_ENABLED`, `INVALID_CODE`, `RATE_LIMITED`; database errors.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Principal,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<Vec<String>> {
        let user_id = caller.user().id;
        self.second_factor(user_id, code, client).await?;
        let user = reread_from_writer(&self.db, user_id).await?;
        let mut tx = self.db.begin().await?;
        let codes = recovery_codes::replace(&*tx, &self.crypto, user_id).await?;
        self.sessions.renew_stamp(&mut tx, user_id, Some(caller)).await?;
        events::record(&*tx, user_id, EventKind::RecoveryCodesRegenerated, client).await?;
        self.notify(&mut tx, templates::recovery_codes_regenerated(&user.email))
            .await?;
        tx.commit().await?;
        Ok(codes)
    }
}

impl Mfa {
    /// Turns TOTP off for `user_id` in `tx`, with its recovery codes, for a
    /// caller that renews the security stamp itself (an undo of an email change).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn switch_off_in(&self, tx: &mut Tx, user_id: Uuid) -> AppResult<()> {
        switch_off(tx, user_id).await
    }
}

/// Turns TOTP off for `user_id` in `tx`: the secret and the recovery codes
/// go (the caller renews the security stamp).
async fn switch_off(tx: &mut Tx, user_id: Uuid) -> AppResult<()> {
    users::Entity::update_many()
        .col_expr(users::Column::TotpSecret, Expr::value(None::<String>))
        .col_expr(
            users::Column::TotpEnabledAt,
            Expr::value(None::<chrono::DateTime<chrono::Utc>>),
        )
        .col_expr(users::Column::TotpLastStep, Expr::value(None::<i64>))
        .filter(users::Column::Id.eq(user_id))
        .exec(&**tx)
        .await?;
    one_time::invalidate_all(&**tx, user_id, Purpose::RecoveryCode).await
}
