//! Sign-up: a new account, or (for a taken email) the very same answer and a mail to the owner.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait};
use uuid::Uuid;

use super::{ROLE_USER, find_by_email, validate};
use crate::db;
use crate::entities::{mail_outbox, users};
use crate::error::{AppError, AppResult, unique_violation, violates};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mail::{self, templates};
use crate::sessions::ClientInfo;
use crate::sessions::store::{self, AuthBundle};
use crate::state::AppState;
use crate::tokens::one_time::{self, Purpose};

/// Sign-up input as given by the client.
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

/// The answer to a sign-up.
pub struct SignupOutcome {
    pub confirmation_required: bool,
    /// Set only when confirmation is switched off.
    pub auth: Option<AuthBundle>,
}

/// Creates an account and mails a confirmation link.
///
/// With confirmation on, a taken email gets the same answer as a new one
/// (and its owner a mail), after the same password hashing, so neither the
/// answer nor its timing tells whether the address is registered.
///
/// # Errors
/// `BAD_USER_INPUT` for invalid fields or a taken username or phone number;
/// `EMAIL_TAKEN` only when confirmation is off.
#[tracing::instrument(skip_all)]
pub async fn signup(state: &AppState, input: NewAccount, client: &ClientInfo) -> AppResult<SignupOutcome> {
    let email = validate::email("email", &input.email)?;
    state.limits.check(Limit::Signup, client.ip, None).await?;
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
    let display_name = validate::name("displayName", input.display_name.as_deref())?;
    let first_name = validate::name("firstName", input.first_name.as_deref())?;
    let last_name = validate::name("lastName", input.last_name.as_deref())?;
    validate::password("password", &input.password, &email, username.as_deref())?;
    ensure_free(state, username.as_deref(), phone.as_deref(), None).await?;
    let password_hash = state.passwords.hash(&input.password).await?;

    let txn = state.db.write.begin().await?;
    let inserted = users::ActiveModel {
        username: Set(username),
        display_name: Set(display_name),
        first_name: Set(first_name),
        last_name: Set(last_name),
        phone_number: Set(phone),
        ..new_user(email.clone(), password_hash)
    }
    .insert(&txn)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(e) => {
            txn.rollback().await?;
            let Some(constraint) = unique_violation(&e) else {
                return Err(e.into());
            };
            if violates(&constraint, "users", "email") {
                return already_registered(state, &email).await;
            }
            return Err(taken_field(&constraint).unwrap_or_else(|| e.into()));
        }
    };
    events::record(&txn, user.id, EventKind::SignedUp, client).await?;
    let token = one_time::create(&txn, user.id, Purpose::ConfirmEmail).await?;
    mail::enqueue(
        &txn,
        state,
        templates::confirm_email(&email, &confirm_link(state, &token)),
    )
    .await?;
    let auth = if state.config.require_email_confirmation {
        None
    } else {
        let (session, refresh) = store::open(&txn, state, user.id, client, &["pwd"]).await?;
        events::record(&txn, user.id, EventKind::LoginSucceeded, client).await?;
        Some((session, refresh))
    };
    txn.commit().await?;
    state.outbox.wake();
    let auth = auth
        .map(|(session, refresh)| store::bundle(state, user, &session, refresh))
        .transpose()?;
    Ok(SignupOutcome {
        confirmation_required: state.config.require_email_confirmation,
        auth,
    })
}

/// The link in a confirmation mail.
pub(super) fn confirm_link(state: &AppState, token: &str) -> String {
    state.config.public_link(&format!("/confirm/{token}"))
}

/// Usernames and phone numbers are public handles: saying one is taken reveals no email.
/// `owner`'s own handles do not count as taken.
pub(crate) async fn ensure_free(
    state: &AppState,
    username: Option<&str>,
    phone: Option<&str>,
    owner: Option<Uuid>,
) -> AppResult<()> {
    let checks = [
        (users::Column::Username, username, "username", "this username is taken"),
        (
            users::Column::PhoneNumber,
            phone,
            "phoneNumber",
            "this phone number is taken",
        ),
    ];
    for (column, value, field, message) in checks {
        let Some(value) = value else { continue };
        let mut query = users::Entity::find().filter(column.eq(value));
        if let Some(owner) = owner {
            query = query.filter(users::Column::Id.ne(owner));
        }
        if query.count(&state.db.read).await? > 0 {
            return Err(AppError::bad_input(field, message));
        }
    }
    Ok(())
}

/// A new, unconfirmed, active USER account with a password and nothing else.
pub(crate) fn new_user(email: String, password_hash: String) -> users::ActiveModel {
    let now = db::now();
    users::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        username: Set(None),
        password_hash: Set(Some(password_hash)),
        email_verified_at: Set(None),
        display_name: Set(None),
        first_name: Set(None),
        last_name: Set(None),
        phone_number: Set(None),
        avatar_key: Set(None),
        role: Set(ROLE_USER.to_owned()),
        active: Set(true),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        last_active_at: Set(None),
    }
}

/// The field error for a unique violation that raced past [`ensure_free`].
pub(crate) fn taken_field(constraint: &str) -> Option<AppError> {
    if violates(constraint, "users", "username") {
        Some(AppError::bad_input("username", "this username is taken"))
    } else if violates(constraint, "users", "phone_number") {
        Some(AppError::bad_input("phoneNumber", "this phone number is taken"))
    } else {
        None
    }
}

/// The owner of a taken address hears about it; the caller hears what a new sign-up hears.
async fn already_registered(state: &AppState, email: &str) -> AppResult<SignupOutcome> {
    if !state.config.require_email_confirmation {
        return Err(AppError::EmailTaken);
    }
    let user = find_by_email(&state.db.write, email)
        .await?
        .ok_or_else(|| AppError::internal("taken email has no user"))?;
    let unconfirmed = user.email_verified_at.is_none();
    let subject = if unconfirmed {
        templates::CONFIRM_SUBJECT
    } else {
        templates::EXISTS_SUBJECT
    };
    // A burst of sign-ups for one address sends one such mail, not one each.
    let recent = mail_outbox::Entity::find()
        .filter(mail_outbox::Column::Recipient.eq(email))
        .filter(mail_outbox::Column::Subject.eq(subject))
        .filter(mail_outbox::Column::CreatedAt.gt(db::before(std::time::Duration::from_secs(60))))
        .count(&state.db.write)
        .await?;
    if recent == 0 {
        let txn = state.db.write.begin().await?;
        let mail = if unconfirmed {
            let token = one_time::create(&txn, user.id, Purpose::ConfirmEmail).await?;
            templates::confirm_email(email, &confirm_link(state, &token))
        } else {
            templates::account_exists(email, &state.config.frontend_link("/forgot-password"))
        };
        mail::enqueue(&txn, state, mail).await?;
        txn.commit().await?;
        state.outbox.wake();
    }
    Ok(SignupOutcome {
        confirmation_required: true,
        auth: None,
    })
}
