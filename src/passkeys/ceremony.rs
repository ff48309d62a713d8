//! The ceremony store: the state of a registration or sign-in between its
//! start and its finish, in the database (any instance finishes it), never
//! in the client's hands. Single use, five minutes, bound to what started
//! it: the session of a registration, the account an email named, and that
//! account's security stamp.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::crypto::{random_token, token_hash};
use crate::db;
use crate::entities::passkey_ceremonies::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, AppResult};

/// How long a ceremony may take, as webauthn-rs's own timeout.
const TTL: Duration = Duration::from_secs(300);

/// What a ceremony is for; one kind never finishes as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Adding a passkey to the signed-in account of a session.
    Registration,
    /// A sign-in with no email: any account's discoverable passkey.
    SignIn,
    /// A sign-in for a named email: only that account's passkeys (none if no account has it).
    SignInNamed,
    /// A new account's first passkey; its state carries the sign-up.
    Signup,
    /// The second factor of a login whose password was right; its state names the login's MFA token.
    SecondFactor,
    /// A step-up of the signed-in session that started it, with one of its account's passkeys.
    StepUp,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::SignIn => "sign_in",
            Self::SignInNamed => "sign_in_named",
            Self::Signup => "signup",
            Self::SecondFactor => "second_factor",
            Self::StepUp => "step_up",
        }
    }
}

/// What started a ceremony, and what finishing it must match.
pub struct Binding {
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub stamp: Option<i64>,
}

/// Stores a ceremony's `state`; returns the id the client finishes it with
/// (stored only as a hash).
///
/// # Errors
/// When the state cannot be serialised or the database fails.
pub async fn create(
    conn: &impl ConnectionTrait,
    kind: Kind,
    binding: Binding,
    state: &impl Serialize,
) -> AppResult<String> {
    let token = random_token();
    let state = serde_json::to_string(state).map_err(|e| AppError::internal(format!("ceremony state: {e}")))?;
    ActiveModel {
        id: Set(Uuid::new_v4()),
        token_hash: Set(token_hash(&token)),
        kind: Set(kind.as_str().to_owned()),
        user_id: Set(binding.user_id),
        session_id: Set(binding.session_id),
        stamp: Set(binding.stamp),
        state: Set(state),
        created_at: Set(db::now()),
        expires_at: Set(db::after(TTL)),
        used_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// A live ceremony of one of `kinds`, spent now, and its state. Spent before
/// its answer is checked, so a challenge is tried once; of two concurrent
/// finishes exactly one gets it. `bound` checks the row before it is spent,
/// so whoever may not finish a ceremony cannot spend it either.
///
/// # Errors
/// `INVALID_TOKEN` when it is unknown, spent, expired, of another kind, or
/// `bound` refuses it.
pub async fn spend<S: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    token: &str,
    kinds: &[Kind],
    bound: impl FnOnce(&Model) -> bool,
) -> AppResult<(Model, S)> {
    // Our ids are 43 characters; do not hash megabytes for an attacker.
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::InvalidToken);
    }
    let row = Entity::find()
        .filter(Column::TokenHash.eq(token_hash(token)))
        .filter(Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(db::now()))
        .one(conn)
        .await?
        .ok_or(AppError::InvalidToken)?;
    if !bound(&row) {
        return Err(AppError::InvalidToken);
    }
    let spent = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(db::now()))
        .filter(Column::Id.eq(row.id))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(AppError::InvalidToken);
    }
    let state = serde_json::from_str(&row.state).map_err(|e| AppError::internal(format!("ceremony state: {e}")))?;
    Ok((row, state))
}

/// A ceremony's state spent as JSON (by a finish that takes several kinds), read as `S`.
///
/// # Errors
/// When it is not an `S`: a ceremony of another kind or version.
pub fn state<S: DeserializeOwned>(state: serde_json::Value) -> AppResult<S> {
    serde_json::from_value(state).map_err(|e| AppError::internal(format!("ceremony state: {e}")))
}

/// Whether `row` was started as `kind`.
pub fn is(row: &Model, kind: Kind) -> bool {
    row.kind == kind.as_str()
}

/// Deletes ceremonies that expired, or were spent, over a day ago.
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
