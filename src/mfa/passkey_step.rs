//! The second step of a login finished with a passkey. The ceremony is
//! `passkeys`'; what it spends here is the login's: the MFA token's tries
//! and the account's SECOND_FACTOR budget count a passkey's answer as they
//! count a code, taken before it is looked at, and the session it opens is
//! the login's, on the device its password came from.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::budget::Try;
use super::{Method, Mfa};
use crate::client::ClientInfo;
use crate::db::{self, Tx};
use crate::entities::{one_time_tokens, users};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::sessions::AuthBundle;
use crate::tokens::one_time::{self, Purpose};

/// A login waiting for its second factor, as a passkey ceremony binds to it.
pub struct PendingLogin {
    /// The MFA token's row: a ceremony refers to it, never holding the token.
    pub token_id: Uuid,
    pub user: users::Model,
}

/// One try of a login's second factor with a passkey, in its transaction:
/// the token's try and the budget's are taken; the passkey's answer decides
/// whether it ends with [`Mfa::passkey_accepted`] or [`Mfa::passkey_refused`].
#[must_use = "a try ends accepted or refused"]
pub struct PasskeyTry {
    tx: Tx,
    row: one_time_tokens::Model,
    user: users::Model,
    attempt: Try,
}

impl PasskeyTry {
    /// The account whose login this is.
    pub fn user(&self) -> &users::Model {
        &self.user
    }

    /// The try's transaction: the passkey's use is written in it, so it
    /// counts only with the session it opens.
    pub fn tx(&self) -> &Tx {
        &self.tx
    }
}

impl Mfa {
    /// The login waiting behind `mfa_token`, for a passkey ceremony to start.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a spent, expired, stale or unknown token, or one
    /// tried five times; `FORBIDDEN` for an account switched off meanwhile.
    pub async fn pending_login(&self, mfa_token: &str) -> AppResult<PendingLogin> {
        let (row, user) = self.pending(mfa_token).await?;
        Ok(PendingLogin { token_id: row.id, user })
    }

    /// Takes a try of the login `token_id` of `user_id`, and one of the
    /// account's budget, before a passkey's answer is looked at.
    ///
    /// # Errors
    /// `INVALID_TOKEN` when the login is over (spent, expired, stale, out of
    /// tries, or another account's); `RATE_LIMITED`; `FORBIDDEN` for an
    /// account switched off meanwhile.
    pub async fn begin_passkey_try(&self, token_id: Uuid, user_id: Uuid, client: &ClientInfo) -> AppResult<PasskeyTry> {
        self.limits.check(Limit::Code, client.ip, None).await?;
        let row = live_login(&self.db.read, token_id).await?;
        if row.user_id != user_id {
            return Err(AppError::InvalidToken);
        }
        let (row, user) = self.pending_row(row).await?;
        self.limits.check(Limit::Code, None, Some(Key::Owner(user.id))).await?;
        let attempt = self.take_from_budget(user.id, client).await?;
        let tx = self.db.begin().await?;
        if !one_time::take_try(&*tx, row.id, super::MAX_ATTEMPTS).await? {
            self.give_back(attempt).await;
            return Err(AppError::InvalidToken);
        }
        Ok(PasskeyTry { tx, row, user, attempt })
    }

    /// The passkey's answer did not verify: the try stays spent, as a wrong code's.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn passkey_refused(&self, attempt: PasskeyTry, client: &ClientInfo) -> AppResult<()> {
        let PasskeyTry {
            mut tx, user, attempt, ..
        } = attempt;
        events::record(&*tx, user.id, EventKind::MfaFailed, client).await?;
        self.wrong_code(&mut tx, &user, attempt, client).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The passkey's answer verified: the MFA token is spent and the login's
    /// session opens, in the try's transaction.
    ///
    /// # Errors
    /// `INVALID_TOKEN` when a racer spent the token first (nothing is kept);
    /// when the database fails.
    pub async fn passkey_accepted(&self, attempt: PasskeyTry, client: &ClientInfo) -> AppResult<AuthBundle> {
        let PasskeyTry {
            mut tx,
            row,
            user,
            attempt,
        } = attempt;
        one_time::spend(&*tx, row.id).await?;
        self.give_back_on_commit(&mut tx, attempt);
        self.open_login(tx, &row, user, Method::Passkey, client).await
    }
}

/// The live MFA token row `id`, without spending it: a ceremony refers to a
/// login by its token's row, never holding the token itself.
///
/// # Errors
/// `INVALID_TOKEN` when it is spent, expired, stale or not a login's.
async fn live_login(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<one_time_tokens::Model> {
    one_time_tokens::Entity::find_by_id(id)
        .filter(one_time_tokens::Column::Purpose.eq(Purpose::MfaLogin.as_str()))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .filter(one_time_tokens::Column::ExpiresAt.gt(db::now()))
        .filter(one_time::stamp_is_current())
        .one(conn)
        .await?
        .ok_or(AppError::InvalidToken)
}
