//! Single-use tokens and codes (mailed links, login steps, codes), stored
//! only as hashes. A token that proves who someone is records the account's
//! security stamp when issued and works only while it is current (see
//! `sessions::stamp`).

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::crypto::{random_token, token_hash};
use crate::db;
use crate::entities::one_time_tokens::{Column, Entity, Model};
use crate::entities::users;
use crate::error::{AppError, AppResult};

/// What a one-time token may be used for; a token of one purpose never serves another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    ConfirmEmail,
    ResetPassword,
    /// Carries a login from the password to the second factor.
    MfaLogin,
    /// A six-digit code mailed to finish a login.
    LoginOtp,
    /// A six-digit code mailed to confirm a sensitive action (step-up).
    StepUpOtp,
    /// A single-use recovery code for when the authenticator is lost.
    RecoveryCode,
    /// Confirms a new address (the payload) of an email change.
    ChangeEmail,
    /// Restores the old address (the payload) after an email change.
    UndoEmailChange,
    /// Trades a provider sign-in for tokens (`exchangeLoginCode`); the payload names the provider.
    LoginCode,
    /// Binds a browser flow to the signed-in account that asked to link the provider (the payload).
    LinkIntent,
    /// Ends a link flow: the identity it verified (the payload), linked only
    /// by the account that asked (`completeLinkIdentity`).
    LinkCode,
}

impl Purpose {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmEmail => "confirm_email",
            Self::ResetPassword => "reset_password",
            Self::MfaLogin => "mfa_login",
            Self::LoginOtp => "login_otp",
            Self::StepUpOtp => "step_up_otp",
            Self::RecoveryCode => "recovery_code",
            Self::ChangeEmail => "change_email",
            Self::UndoEmailChange => "undo_email_change",
            Self::LoginCode => "login_code",
            Self::LinkIntent => "link_intent",
            Self::LinkCode => "link_code",
        }
    }

    /// Whether a token of this purpose dies when the account's credentials
    /// change. Recovery codes are credentials themselves, and an undo link
    /// exists to reverse a change (its own rules are in `accounts`).
    pub fn stamped(self) -> bool {
        !matches!(self, Self::RecoveryCode | Self::UndoEmailChange)
    }

    /// How long a token of this purpose lives.
    pub fn ttl(self) -> Duration {
        match self {
            Self::ConfirmEmail | Self::ChangeEmail => Duration::from_secs(24 * 3600),
            Self::UndoEmailChange => Duration::from_secs(72 * 3600),
            Self::ResetPassword => Duration::from_secs(3600),
            Self::MfaLogin => Duration::from_secs(300),
            Self::LinkIntent => Duration::from_secs(600),
            Self::LoginCode | Self::LinkCode => Duration::from_secs(60),
            Self::LoginOtp | Self::StepUpOtp => Duration::from_secs(600),
            // Until replaced or used. Ten years, not forever: sqlx binds instants
            // as MySQL TIMESTAMPs, which end in January 2038.
            Self::RecoveryCode => Duration::from_secs(10 * 365 * 24 * 3600),
        }
    }
}

/// Creates a token for `user_id`; returns the token itself, which is never stored.
///
/// # Errors
/// When the database fails.
pub async fn create(conn: &impl ConnectionTrait, user_id: Uuid, purpose: Purpose) -> AppResult<String> {
    create_carrying(conn, user_id, purpose, None).await
}

/// Like [`create`], for a token that carries `payload` (see the purposes).
///
/// # Errors
/// When the database fails.
pub async fn create_carrying(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
    payload: Option<String>,
) -> AppResult<String> {
    let token = random_token();
    insert_row(conn, user_id, purpose, token_hash(&token), payload).await?;
    Ok(token)
}

/// Stores a live token of `purpose` for `user_id` under `hash`, expiring after the purpose's lifetime.
///
/// # Errors
/// When the database fails.
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
    hash: String,
) -> AppResult<()> {
    insert_row(conn, user_id, purpose, hash, None).await
}

/// Inserts the row in one statement that reads the account's security stamp
/// as it writes it (`INSERT … SELECT … FROM users`), so a stamp renewed in
/// the same transaction, or committed just before, is the one recorded.
async fn insert_row(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
    hash: String,
    payload: Option<String>,
) -> AppResult<()> {
    let stamp = if purpose.stamped() {
        Expr::col((users::Entity, users::Column::SecurityStamp))
    } else {
        Expr::value(None::<i64>)
    };
    let row = Query::select()
        .exprs([
            Expr::value(Uuid::new_v4()),
            Expr::value(purpose.as_str()),
            Expr::value(hash),
            Expr::value(user_id),
            Expr::value(db::now()),
            Expr::value(db::after(purpose.ttl())),
            Expr::value(0),
            Expr::value(payload),
            stamp,
        ])
        .from(users::Entity)
        .and_where(Expr::col((users::Entity, users::Column::Id)).eq(user_id))
        .take();
    let insert = Query::insert()
        .into_table(Entity)
        .columns([
            Column::Id,
            Column::Purpose,
            Column::TokenHash,
            Column::UserId,
            Column::CreatedAt,
            Column::ExpiresAt,
            Column::Attempts,
            Column::Payload,
            Column::Stamp,
        ])
        .select_from(row)
        .map_err(|e| AppError::internal(format!("one-time token insert: {e}")))?
        .take();
    if conn.execute(&insert).await?.rows_affected() != 1 {
        // The account was deleted meanwhile.
        return Err(AppError::InvalidToken);
    }
    Ok(())
}

/// Rows whose stamp is the account's current one, or that carry none by purpose.
pub(crate) fn stamp_is_current() -> Condition {
    let unstamped = [Purpose::RecoveryCode, Purpose::UndoEmailChange].map(Purpose::as_str);
    let stamp_now = Query::select()
        .column((users::Entity, users::Column::SecurityStamp))
        .from(users::Entity)
        .and_where(Expr::col((users::Entity, users::Column::Id)).equals((Entity, Column::UserId)))
        .take();
    Condition::any()
        .add(Column::Purpose.is_in(unstamped))
        .add(Expr::col((Entity, Column::Stamp)).in_subquery(stamp_now))
}

/// The live token row for `token`, without spending it.
///
/// # Errors
/// [`AppError::InvalidToken`] when the token is unknown, spent, expired or of another purpose.
pub async fn find(conn: &impl ConnectionTrait, token: &str, purpose: Purpose) -> AppResult<Model> {
    find_any(conn, token, &[purpose]).await
}

async fn find_any(conn: &impl ConnectionTrait, token: &str, purposes: &[Purpose]) -> AppResult<Model> {
    // Our tokens are 43 characters; do not hash megabytes for an attacker.
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::InvalidToken);
    }
    Entity::find()
        .filter(Column::TokenHash.eq(token_hash(token)))
        .filter(Column::Purpose.is_in(purposes.iter().map(|p| p.as_str())))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(db::now()))
        .filter(stamp_is_current())
        .one(conn)
        .await?
        .ok_or(AppError::InvalidToken)
}

/// Spends `token` if it is a live token of one of `purposes`; of two
/// concurrent spends exactly one succeeds.
///
/// # Errors
/// [`AppError::InvalidToken`] as for [`consume`].
pub async fn consume_any(conn: &impl ConnectionTrait, token: &str, purposes: &[Purpose]) -> AppResult<Model> {
    let row = find_any(conn, token, purposes).await?;
    spend(conn, row.id).await?;
    Ok(row)
}

/// Spends the token row `id`; of two concurrent spends exactly one succeeds.
///
/// # Errors
/// [`AppError::InvalidToken`] when it was spent already.
pub async fn spend(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<()> {
    let spent = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(db::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(AppError::InvalidToken);
    }
    Ok(())
}

/// Spends `token`; of two concurrent spends exactly one succeeds.
///
/// # Errors
/// [`AppError::InvalidToken`] as for [`find`], or when another request spent it first.
pub async fn consume(conn: &impl ConnectionTrait, token: &str, purpose: Purpose) -> AppResult<Model> {
    consume_any(conn, token, &[purpose]).await
}

/// Takes one of the `max` tries of the live token `id`, before what is
/// tried with it is looked at; false when it has none left (or is spent or
/// expired). One conditional update: of concurrent tries, at most `max`
/// ever get one.
///
/// # Errors
/// When the database fails.
pub async fn take_try(conn: &impl ConnectionTrait, id: Uuid, max: i32) -> AppResult<bool> {
    let taken = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(id))
        .filter(Column::Attempts.lt(max))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(db::now()))
        .exec(conn)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Spends every live token of `purpose` for `user_id`, so only a newer one works.
///
/// # Errors
/// When the database fails.
pub async fn invalidate_all(conn: &impl ConnectionTrait, user_id: Uuid, purpose: Purpose) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(db::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Live tokens of `purpose` that `user_id` holds.
///
/// # Errors
/// When the database fails.
pub async fn count_live(conn: &impl ConnectionTrait, user_id: Uuid, purpose: Purpose) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(db::now()))
        .count(conn)
        .await?)
}

/// Deletes tokens that expired, or were spent, over a day ago, in batches:
/// a spent recovery code is not kept for the ten years it could have lived.
///
/// # Errors
/// When the database fails.
pub async fn purge_expired(db: &db::Db) -> AppResult<u64> {
    let horizon = db::before(Duration::from_secs(24 * 3600));
    let old = sea_orm::Condition::any()
        .add(Column::ExpiresAt.lt(horizon))
        .add(Column::UsedAt.lt(horizon));
    Ok(db::prune::in_batches::<Entity>(db.writer(), Column::Id, old).await?)
}
