//! Sign-up: a new account, or (for a taken email) the very same answer and a mail to the owner.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::handles::{ensure_free, taken_field};
use super::new_user::new_user;
use super::{Accounts, Email, find_by_email, validate};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult, Field, unique_violation, violates};
use crate::events::{self, EventKind};
use crate::hooks::SignupFacts;
use crate::limits::{Key, Limit};
use crate::mail::{MailKind, templates};
use crate::sessions::{AuthBundle, SignInMethod};
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::Event;

/// How long a burst of sign-ups for one taken address sends one mail for.
const REPEAT_MAIL_WINDOW: Duration = Duration::from_secs(60);

/// Sign-up input as given by the client; the email is already parsed.
pub struct NewAccount {
    pub email: Email,
    pub password: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

/// The credentials and profile of a sign-up, checked and hashed.
struct Pending {
    username: Option<String>,
    display_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    password_hash: String,
    /// Whether the address gets this sign-up's mail: not past its day's (MAIL_DAILY).
    mail: bool,
}

/// The answer to a sign-up.
pub struct SignupOutcome {
    pub confirmation_required: bool,
    /// Set only when confirmation is switched off.
    pub auth: Option<AuthBundle>,
}

impl Accounts {
    /// Creates an account and mails a confirmation link.
    ///
    /// With confirmation on, a taken email gets the same answer as a new one
    /// (and its owner a mail), after the same password hashing, so neither the
    /// answer nor its timing tells whether the address is registered.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for invalid fields or a taken username or phone number;
    /// `EMAIL_TAKEN` only when confirmation is off; `FORBIDDEN` or
    /// `SERVICE_UNAVAILABLE` from the sign-up hook (nothing written then).
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, input: NewAccount, client: &ClientInfo) -> AppResult<SignupOutcome> {
        let email = input.email;
        self.limits.check(Limit::Signup, client.ip, None).await?;
        let username = input
            .username
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(validate::username)
            .transpose()?;
        let phone = input
            .phone_number
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(validate::phone)
            .transpose()?;
        let display_name = validate::name(Field::DisplayName, input.display_name.as_deref())?;
        let first_name = validate::name(Field::FirstName, input.first_name.as_deref())?;
        let last_name = validate::name(Field::LastName, input.last_name.as_deref())?;
        validate::password(Field::Password, &input.password, email.as_str(), username.as_deref())?;
        let facts = SignupFacts {
            email: email.as_str(),
            username: username.as_deref(),
            display_name: display_name.as_deref(),
            first_name: first_name.as_deref(),
            last_name: last_name.as_deref(),
            phone_number: phone.as_deref(),
            provider: "password",
        };
        self.before_signup(&facts, client).await?;
        self.screen.check(Field::Password, &input.password).await?;
        ensure_free(&self.db, username.as_deref(), phone.as_deref(), None).await?;
        // Every sign-up mails the address (a link, or "this address is
        // registered"), so it counts in the client's mail limit for the
        // address (SIGNUP counts the client already), alike whether or not
        // the address is registered; past the address's day, nothing is sent.
        self.limits
            .check_for_key(Limit::Mail, client.ip, Key::Account(email.as_str()))
            .await?;
        let mail = self.daily_mail_left(&email).await;
        let password_hash = self.passwords.hash(&input.password).await?;

        let pending = Pending {
            username,
            display_name,
            first_name,
            last_name,
            phone,
            password_hash,
            mail,
        };

        let mut tx = self.db.begin().await?;
        let inserted = users::ActiveModel {
            username: Set(pending.username.clone()),
            display_name: Set(pending.display_name.clone()),
            first_name: Set(pending.first_name.clone()),
            last_name: Set(pending.last_name.clone()),
            phone_number: Set(pending.phone.clone()),
            ..new_user(&email, pending.password_hash.clone())
        }
        .insert(&*tx)
        .await;
        let user = match inserted {
            Ok(user) => user,
            Err(e) => {
                tx.rollback().await?;
                let Some(constraint) = unique_violation(&e) else {
                    return Err(e.into());
                };
                if violates(&constraint, "users", "email") {
                    return self.already_registered(&email, pending, client).await;
                }
                return Err(taken_field(&constraint).unwrap_or_else(|| e.into()));
            }
        };
        events::record(&*tx, user.id, EventKind::SignedUp, client).await?;
        self.webhooks
            .emit(&mut tx, Event::user_created(&user, "password"))
            .await?;
        let token = one_time::create(&*tx, user.id, Purpose::ConfirmEmail).await?;
        if mail {
            let mail = templates::confirm_email(&user.email, &self.confirm_link(&token));
            self.outbox.enqueue(&mut tx, mail).await?;
        }
        let session = if self.require_confirmation {
            None
        } else {
            Some(
                self.sessions
                    .open(&mut tx, &user, client, SignInMethod::Password)
                    .await?,
            )
        };
        tx.commit().await?;
        let auth = match session {
            Some((session, refresh)) => Some(self.sessions.first_bundle(user, &session, refresh).await?),
            None => None,
        };
        Ok(SignupOutcome {
            confirmation_required: self.require_confirmation,
            auth,
        })
    }

    /// A sign-up for a taken address. Its owner hears about it; the caller
    /// hears what a new sign-up hears. An address nobody confirmed yet is not
    /// anybody's: the sign-up starts over with these credentials, and only
    /// its link confirms, so whoever signed up first with someone else's
    /// address gets nothing once the owner signs up and confirms.
    async fn already_registered(
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
    /// `pending`; earlier confirmation links stop working and a new one is
    /// mailed to its address. False when the account was confirmed meanwhile.
    async fn start_over(&self, user: &users::Model, pending: Pending, client: &ClientInfo) -> AppResult<bool> {
        let user_id = user.id;
        ensure_free(
            &self.db,
            pending.username.as_deref(),
            pending.phone.as_deref(),
            Some(user_id),
        )
        .await?;
        let changes = serde_json::json!({
            "username": pending.username,
            "displayName": pending.display_name,
            "firstName": pending.first_name,
            "lastName": pending.last_name,
            "phoneNumber": pending.phone,
        });
        let mut tx = self.db.begin().await?;
        let replaced = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(pending.password_hash))
            .col_expr(users::Column::Username, Expr::value(pending.username))
            .col_expr(users::Column::DisplayName, Expr::value(pending.display_name))
            .col_expr(users::Column::FirstName, Expr::value(pending.first_name))
            .col_expr(users::Column::LastName, Expr::value(pending.last_name))
            .col_expr(users::Column::PhoneNumber, Expr::value(pending.phone))
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
