//! Email confirmation through the mailed token, and re-sending it.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Accounts, Email, find_by_email, in_background};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users;
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::Event;

impl Accounts {
    /// Spends a mailed address link: a sign-up's confirmation, an email
    /// change's link to the new address, or its undo link to the old one.
    ///
    /// # Errors
    /// `INVALID_TOKEN` when the token is unknown, spent, expired or not such a link.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_email(&self, token: &str, client: &ClientInfo) -> AppResult<()> {
        self.limits.check(Limit::MailedToken, client.ip, None).await?;
        let mut tx = self.db.begin().await?;
        let links = [Purpose::ConfirmEmail, Purpose::ChangeEmail, Purpose::UndoEmailChange];
        let row = one_time::consume_any(&*tx, token, &links).await?;
        if row.purpose == Purpose::ChangeEmail.as_str() {
            self.apply_email_change(&mut tx, row, client).await?;
            return Ok(tx.commit().await?);
        }
        if row.purpose == Purpose::UndoEmailChange.as_str() {
            self.undo_email_change(&mut tx, row, client).await?;
            return Ok(tx.commit().await?);
        }
        let now = db::now();
        let confirmed = users::Entity::update_many()
            .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(row.user_id))
            .filter(users::Column::EmailVerifiedAt.is_null())
            .exec(&*tx)
            .await?;
        events::record(&*tx, row.user_id, EventKind::EmailConfirmed, client).await?;
        if confirmed.rows_affected == 1
            && let Some(user) = users::Entity::find_by_id(row.user_id).one(&*tx).await?
        {
            self.webhooks
                .emit(&mut tx, Event::email_confirmed(user.id, &user.email))
                .await?;
        }
        self.sessions.evict_user_on_commit(&mut tx, row.user_id);
        tx.commit().await?;
        Ok(())
    }

    /// Mails a new confirmation link if `email` belongs to an unconfirmed
    /// account and has mail left today. The answer is the same either way,
    /// and the work happens after it.
    ///
    /// # Errors
    /// `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn resend_confirmation(&self, email: Email, client: &ClientInfo) -> AppResult<()> {
        self.limits
            .check(Limit::Mail, client.ip, Some(Key::Account(email.as_str())))
            .await?;
        if !self.daily_mail_left(&email).await {
            return Ok(());
        }
        let accounts = self.clone();
        in_background(self.sessions.tasks(), move || {
            let (accounts, email) = (accounts.clone(), email.clone());
            async move { accounts.mail_confirmation_link(&email).await }
        });
        Ok(())
    }

    /// The work of [`Accounts::resend_confirmation`], in one transaction.
    async fn mail_confirmation_link(&self, email: &Email) -> AppResult<()> {
        let Some(user) = find_by_email(&self.db.read, email).await? else {
            return Ok(());
        };
        if user.email_verified_at.is_some() || !user.active {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        // Only the newest link works, so an old mail lying around is harmless.
        one_time::invalidate_all(&*tx, user.id, Purpose::ConfirmEmail).await?;
        let token = one_time::create(&*tx, user.id, Purpose::ConfirmEmail).await?;
        // To the address on the account, never the one typed, whatever matched it.
        let mail = templates::confirm_email(&user.email, &self.confirm_link(&token));
        self.outbox.enqueue(&mut tx, mail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The link in a confirmation mail.
    pub(super) fn confirm_link(&self, token: &str) -> String {
        self.links.public(&format!("/confirm/{token}"))
    }
}
