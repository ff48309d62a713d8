//! A sign-up for an address an account has: the same answer as for a free
//! one. A confirmed account's owner is told; an unconfirmed account is not
//! anybody's yet, so the sign-up starts it over with its own credential and
//! whatever the earlier sign-up left (password, passkey, links) goes.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::handles::{ensure_free, taken_field};
use super::signup::{Credential, Pending, SignupOutcome};
use super::{Accounts, Email, find_by_email};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult, unique_violation};
use crate::events::{self, EventKind};
use crate::mail::{MailKind, templates};
use crate::passkeys;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::Event;

/// How long a burst of sign-ups for one taken address sends one mail for.
const REPEAT_MAIL_WINDOW: Duration = Duration::from_secs(60);

impl Accounts {
    /// A sign-up for a taken address. Its owner hears about it; the caller
    /// hears what a new sign-up hears. An address nobody confirmed yet is not
    /// anybody's: the sign-up starts over with these credentials, and only
    /// its link confirms, so whoever signed up first with someone else's
    /// address gets nothing once the owner signs up and confirms.
    pub(super) async fn already_registered(
        &self,
        email: &Email,
        pending: Pending,
        client: &ClientInfo,
    ) -> AppResult<SignupOutcome> {
        if !self.require_confirmation {
            return Err(AppError::EmailTaken);
        }
        let user = find_by_email(self.db.writer(), email)
            .await?
            .ok_or_else(|| AppError::internal("taken email has no user"))?;
        let answer = SignupOutcome {
            confirmation_required: true,
            auth: None,
        };
        let mail = pending.mail;
        if user.email_verified_at.is_none() && self.start_over(&user, pending, client).await? {
            return Ok(answer);
        }
        // Mail goes to the address on the account, never the one typed,
        // whatever matched it. A burst of sign-ups for a confirmed address
        // sends one mail, not one each.
        if mail
            && !self
                .outbox
                .sent_recently(&user.email, MailKind::AccountExists, REPEAT_MAIL_WINDOW)
                .await?
        {
            let mut tx = self.db.begin().await?;
            let mail = templates::account_exists(&user.email, &self.links.frontend("/forgot-password"));
            self.outbox.enqueue(&mut tx, mail).await?;
            tx.commit().await?;
        }
        Ok(answer)
    }

    /// Replaces the pending credentials of unconfirmed account `user` with
    /// `pending` (a password or a passkey: whichever the earlier sign-up
    /// left goes); earlier confirmation links stop working and a new one is
    /// mailed to its address. False when the account was confirmed meanwhile.
    async fn start_over(&self, user: &users::Model, pending: Pending, client: &ClientInfo) -> AppResult<bool> {
        let user_id = user.id;
        let profile = pending.profile;
        ensure_free(
            &self.db,
            profile.username.as_deref(),
            profile.phone.as_deref(),
            Some(user_id),
        )
        .await?;
        let changes = serde_json::json!({
            "username": profile.username,
            "displayName": profile.display_name,
            "firstName": profile.first_name,
            "lastName": profile.last_name,
            "phoneNumber": profile.phone,
        });
        let (password_hash, passkey) = match pending.credential {
            Credential::Password(hash) => (Some(hash), None),
            Credential::Passkey(_, passkey) => (None, Some(passkey)),
        };
        let mut tx = self.db.begin().await?;
        let replaced = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(users::Column::Username, Expr::value(profile.username))
            .col_expr(users::Column::DisplayName, Expr::value(profile.display_name))
            .col_expr(users::Column::FirstName, Expr::value(profile.first_name))
            .col_expr(users::Column::LastName, Expr::value(profile.last_name))
            .col_expr(users::Column::PhoneNumber, Expr::value(profile.phone))
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(user_id))
            // Checked in the same statement, so a confirmation racing this sign-up wins cleanly.
            .filter(users::Column::EmailVerifiedAt.is_null())
            .exec(&*tx)
            .await;
        let replaced = match replaced {
            Ok(result) => result.rows_affected,
            Err(e) => {
                let taken = unique_violation(&e).and_then(|c| taken_field(&c));
                return Err(taken.unwrap_or_else(|| e.into()));
            }
        };
        if replaced == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        // The earlier sign-up's passkey, if it left one, is no way in any more.
        let gone = passkeys::remove_all(&*tx, user_id).await?;
        let mut told: Vec<_> = gone.iter().map(|id| Event::passkey_removed(user_id, *id)).collect();
        if let Some(passkey) = &passkey {
            let added = passkeys::attach(&*tx, user_id, passkey).await?;
            told.push(Event::passkey_added(user_id, added.id, &added.name));
        }
        self.webhooks.emit_all(&mut tx, told).await?;
        // New credentials: whatever the earlier sign-up was mailed or started is over.
        self.sessions.renew_stamp(&mut tx, user_id, None).await?;
        let token = one_time::create(&*tx, user_id, Purpose::ConfirmEmail).await?;
        events::record(&*tx, user_id, EventKind::SignedUp, client).await?;
        self.webhooks
            .emit(&mut tx, Event::user_updated(user_id, changes))
            .await?;
        if pending.mail {
            let mail = templates::confirm_email_again(
                &user.email,
                &self.confirm_link(&token),
                client.user_agent_trimmed().as_deref(),
                client.ip_string().as_deref(),
            );
            self.outbox.enqueue(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
