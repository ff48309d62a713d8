//! Forgotten, reset and changed passwords.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::claim::Claimant;
use super::ways_in::remaining_ways_in;
use super::{Accounts, Email, find_by_email, in_background, validate};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::{Event, RevokeReason};

impl Accounts {
    /// Mails a reset link if `email` belongs to an active account and has
    /// mail left today. The answer is the same either way, and the work
    /// happens after it.
    ///
    /// # Errors
    /// `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(&self, email: Email, client: &ClientInfo) -> AppResult<()> {
        self.limits
            .check(Limit::Mail, client.ip, Some(Key::Account(email.as_str())))
            .await?;
        if !self.daily_mail_left(&email).await {
            return Ok(());
        }
        let (accounts, client) = (self.clone(), client.clone());
        in_background(self.sessions.tasks(), move || {
            let (accounts, email, client) = (accounts.clone(), email.clone(), client.clone());
            async move { accounts.mail_reset_link(&email, &client).await }
        });
        Ok(())
    }

    /// The work of [`Accounts::forgot_password`], in one transaction.
    pub(super) async fn mail_reset_link(&self, email: &Email, client: &ClientInfo) -> AppResult<()> {
        let Some(user) = find_by_email(&self.db.read, email).await? else {
            return Ok(());
        };
        if !user.active {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        one_time::invalidate_all(&*tx, user.id, Purpose::ResetPassword).await?;
        let token = one_time::create(&*tx, user.id, Purpose::ResetPassword).await?;
        let link = self.links.frontend(&format!("/reset-password?token={token}"));
        // To the address on the account, never the one typed, whatever matched it.
        self.outbox
            .enqueue(&mut tx, templates::reset_password(&user.email, &link))
            .await?;
        events::record(&*tx, user.id, EventKind::PasswordResetRequested, client).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password with a mailed reset token and ends every session of
    /// the account; every outstanding link, code and half-finished login of it
    /// stops working. The reset proves the mailbox only: a second factor
    /// stays on (the next login still needs it), and so do linked identities
    /// and passkeys, which the notice names. On an account whose address
    /// nobody had confirmed the reset is a claim ([`Accounts::claim`]): all
    /// of those go, and the new password is its one way in.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for an unknown, spent, expired or non-reset token;
    /// `BAD_USER_INPUT` on `newPassword` for a weak password (the token stays usable).
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(&self, token: &str, new_password: &str, client: &ClientInfo) -> AppResult<()> {
        self.limits.check(Limit::MailedToken, client.ip, None).await?;
        let row = one_time::find(&self.db.read, token, Purpose::ResetPassword).await?;
        let user = users::Entity::find_by_id(row.user_id)
            .one(&self.db.read)
            .await?
            .ok_or(AppError::InvalidToken)?;
        validate::password(Field::NewPassword, new_password, &user.email, user.username.as_deref())?;
        self.screen.check(Field::NewPassword, new_password).await?;
        let hash = self.passwords.hash(new_password).await?;
        let mut tx = self.db.begin().await?;
        one_time::consume(&*tx, token, Purpose::ResetPassword).await?;
        // The first proof of the mailbox on an account nobody confirmed is a claim.
        let claimed = self
            .claim(&mut tx, user.id, Claimant::Password(hash.clone()), client)
            .await?;
        let notice = match claimed {
            Some(removed) => templates::password_reset_claimed(&user.email, &removed),
            None => {
                set_password(&*tx, user.id, hash).await?;
                self.sessions
                    .revoke_all(&mut tx, user.id, None, RevokeReason::PasswordChanged)
                    .await?;
                // Whoever reset the password may not be who had the devices.
                self.sessions.forget_devices(&tx, user.id).await?;
                // Links and codes mailed before the reset, and logins half-way through, are over.
                self.sessions.renew_stamp(&mut tx, user.id, None).await?;
                templates::password_reset(&user.email, &remaining_ways_in(&*tx, user.id).await?)
            }
        };
        events::record(&*tx, user.id, EventKind::PasswordReset, client).await?;
        self.webhooks
            .emit(&mut tx, Event::password_changed(user.id, "reset"))
            .await?;
        self.outbox.enqueue(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's password and ends their other sessions; every
    /// outstanding link, code and half-finished login of the account stops working.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` when `current` is wrong; `BAD_USER_INPUT` on `newPassword`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn change_password(
        &self,
        caller: &Principal,
        current: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.reauthenticate(caller, current, client).await?;
        validate::password(Field::NewPassword, new_password, &user.email, user.username.as_deref())?;
        self.screen.check(Field::NewPassword, new_password).await?;
        let hash = self.passwords.hash(new_password).await?;
        let mut tx = self.db.begin().await?;
        set_password(&*tx, user.id, hash).await?;
        self.sessions
            .revoke_all(
                &mut tx,
                user.id,
                Some(caller.session().id),
                RevokeReason::PasswordChanged,
            )
            .await?;
        self.sessions.renew_stamp(&mut tx, user.id, Some(caller)).await?;
        events::record(&*tx, user.id, EventKind::PasswordChanged, client).await?;
        self.webhooks
            .emit(&mut tx, Event::password_changed(user.id, "changed"))
            .await?;
        self.outbox
            .enqueue(&mut tx, templates::password_changed(&user.email))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Stores a new hash.
async fn set_password(conn: &impl ConnectionTrait, user_id: Uuid, hash: String) -> AppResult<()> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}
