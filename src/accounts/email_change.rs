//! Changing the address an account signs in with: a link to the new address
//! makes the change, and the old address gets a link that undoes it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::ways_in::Added;
use super::{Accounts, Email, find_by_email};
use crate::client::ClientInfo;
use crate::db::{self, Tx};
use crate::entities::one_time_tokens;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult, Field, unique_violation};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::{Event, RevokeReason};

impl Accounts {
    /// Mails a link to `new_email` that moves the caller's account there.
    /// Sensitive: `password`, when given, is the proof; otherwise the
    /// session needs a recent one. A taken address answers exactly like a
    /// free one; its owner gets a notice instead of a link. An address that
    /// had its day's mail (MAIL_DAILY) gets nothing, with the same answer.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `INVALID_CREDENTIALS` for a wrong password;
    /// `BAD_USER_INPUT` on `newEmail` for the caller's own address; `RATE_LIMITED`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn change_email(
        &self,
        caller: &Principal,
        new_email: Email,
        password: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        match password {
            Some(password) => {
                self.reauthenticate(caller, password, client).await?;
            }
            None => self.sessions.require_recent_proof(caller)?,
        }
        self.limits
            .check(Limit::Mail, client.ip, Some(Key::Account(new_email.as_str())))
            .await?;
        let user = reread_from_writer(&self.db, caller.user().id).await?;
        if user.email == new_email.as_str() {
            return Err(AppError::bad_input(Field::NewEmail, "this is already your address"));
        }
        if !self.daily_mail_left(&new_email).await {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        if let Some(owner) = find_by_email(&*tx, &new_email).await? {
            // To the owner's address as stored, never the one typed.
            let mail = templates::address_wanted(&owner.email);
            self.outbox.enqueue(&mut tx, mail).await?;
        } else {
            one_time::invalidate_all(&*tx, user.id, Purpose::ChangeEmail).await?;
            let payload = Some(new_email.as_str().to_owned());
            let token = one_time::create_carrying(&*tx, user.id, Purpose::ChangeEmail, payload).await?;
            let mail = templates::confirm_new_email(new_email.as_str(), &self.confirm_link(&token));
            self.outbox.enqueue(&mut tx, mail).await?;
            events::record(&*tx, user.id, EventKind::EmailChangeRequested, client).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves the account of a spent change link to its new address; the old
    /// address is told, with a link that undoes it for 72 hours.
    ///
    /// # Errors
    /// `INVALID_TOKEN` when the account is gone or the address was taken meanwhile.
    pub(super) async fn apply_email_change(
        &self,
        tx: &mut Tx,
        link: one_time_tokens::Model,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let new_email = link.payload.ok_or(AppError::InvalidToken)?;
        let user = users::Entity::find_by_id(link.user_id)
            .one(&**tx)
            .await?
            .ok_or(AppError::InvalidToken)?;
        move_to(tx, user.id, &new_email).await?;
        self.sessions.drop_hook_claims(tx, user.id).await?;
        let change = Event::user_updated(user.id, serde_json::json!({ "email": new_email }));
        self.webhooks.emit(tx, change).await?;
        self.sessions.renew_stamp(tx, user.id, None).await?;
        let undo =
            one_time::create_carrying(&**tx, user.id, Purpose::UndoEmailChange, Some(user.email.clone())).await?;
        let mail = templates::email_changed(&user.email, &new_email, &self.confirm_link(&undo));
        self.outbox.enqueue(tx, mail).await?;
        events::record(&**tx, user.id, EventKind::EmailChanged, client).await?;
        Ok(())
    }

    /// Moves the account of a spent undo link back to its old address and
    /// ends every session: whoever changed it is signed out. Undo links form
    /// a chain and the oldest wins: this one spends every undo link issued
    /// after it (the later moves), never an earlier one, and removes the
    /// identities, passkeys and second factor added since its change. The address
    /// being left and the address restored are both told.
    ///
    /// # Errors
    /// `INVALID_TOKEN` when the account is gone or the old address was taken meanwhile.
    pub(super) async fn undo_email_change(
        &self,
        tx: &mut Tx,
        link: one_time_tokens::Model,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let changed_at = link.created_at;
        let leaving = users::Entity::find_by_id(link.user_id)
            .one(&**tx)
            .await?
            .ok_or(AppError::InvalidToken)?;
        let old_email = link.payload.ok_or(AppError::InvalidToken)?;
        // Whoever signed up with the freed address since, without confirming
        // it, has no claim to it: that would otherwise block the undo.
        let squatters = users::Entity::find()
            .filter(users::Column::Email.eq(old_email.as_str()))
            .filter(users::Column::EmailVerifiedAt.is_null())
            .filter(users::Column::Id.ne(link.user_id))
            .all(&**tx)
            .await?;
        for squatter in &squatters {
            users::Entity::delete_by_id(squatter.id).exec(&**tx).await?;
            self.webhooks
                .emit(tx, Event::user_deleted(squatter.id, &squatter.email, false))
                .await?;
        }
        move_to(tx, link.user_id, &old_email).await?;
        self.sessions.drop_hook_claims(tx, link.user_id).await?;
        let change = Event::user_updated(link.user_id, serde_json::json!({ "email": old_email }));
        self.webhooks.emit(tx, change).await?;
        spend_later_undo_links(tx, link.user_id, changed_at).await?;
        let removed = self
            .remove_ways_in(tx, &leaving, Added::Since(changed_at), client)
            .await?;
        let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
        self.sessions
            .revoke_all(tx, link.user_id, None, RevokeReason::Recovered)
            .await?;
        self.sessions.renew_stamp(tx, link.user_id, None).await?;
        let mail = templates::email_restored(&old_email, &self.links.frontend("/forgot-password"), &removed);
        self.outbox.enqueue(tx, mail).await?;
        if leaving.email != old_email {
            self.outbox.enqueue(tx, templates::email_undone(&leaving.email)).await?;
        }
        events::record(&**tx, link.user_id, EventKind::EmailChangeUndone, client).await?;
        Ok(())
    }
}

/// Spends `user_id`'s undo links issued after `changed_at`: the later moves
/// cannot be undone past an earlier undo (their links would take the
/// account back from its owner).
async fn spend_later_undo_links(tx: &Tx, user_id: Uuid, changed_at: DateTime<Utc>) -> AppResult<()> {
    one_time_tokens::Entity::update_many()
        .col_expr(one_time_tokens::Column::UsedAt, Expr::value(db::now()))
        .filter(one_time_tokens::Column::UserId.eq(user_id))
        .filter(one_time_tokens::Column::Purpose.eq(Purpose::UndoEmailChange.as_str()))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .filter(one_time_tokens::Column::CreatedAt.gt(changed_at))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// Sets `user_id`'s address to `email`, confirmed (its link was just opened).
async fn move_to(tx: &Tx, user_id: uuid::Uuid, email: &str) -> AppResult<()> {
    let now = db::now();
    let moved = users::Entity::update_many()
        .col_expr(users::Column::Email, Expr::value(email))
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .exec(&**tx)
        .await;
    match moved {
        Ok(done) if done.rows_affected == 1 => Ok(()),
        Ok(_) => Err(AppError::InvalidToken),
        // Someone signed up with the address since the link was mailed.
        Err(e) if unique_violation(&e).is_some() => Err(AppError::InvalidToken),
        Err(e) => Err(e.into()),
    }
}
