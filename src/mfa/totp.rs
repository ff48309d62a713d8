//! TOTP (RFC 6238): enrolment with a sealed secret, checks that accept each
//! time step once, and switching it off.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, TransactionTrait};
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use super::recovery;
use crate::accounts::fresh_user;
use crate::db;
use crate::entities::users;
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::sessions::ClientInfo;
use crate::state::AppState;
use crate::tokens::one_time::{self, Purpose};

/// What an authenticator app needs to enrol.
pub struct Enrolment {
    /// Base32, for typing in.
    pub secret: String,
    pub otpauth_uri: String,
    /// `data:image/png;base64,…` of the URI as a QR code.
    pub qr_code_png: String,
}

fn seal_purpose(user_id: Uuid) -> String {
    format!("totp:{user_id}")
}

fn generator(state: &AppState, email: &str, secret: Vec<u8>) -> AppResult<Totp> {
    let issuer = state.config.public_url.host_str().unwrap_or("authql").to_owned();
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(email.to_owned())
        .build()
        .map_err(|e| AppError::internal(format!("TOTP: {e}")))
}

/// Starts enrolment: a new secret, stored sealed and not active until [`enable`].
///
/// # Errors
/// `MFA_ALREADY_ENABLED`; database errors.
#[tracing::instrument(skip(state))]
pub async fn setup(state: &AppState, user_id: Uuid) -> AppResult<Enrolment> {
    let user = fresh_user(state, user_id).await?;
    if user.totp_enabled_at.is_some() {
        return Err(AppError::MfaAlreadyEnabled);
    }
    let secret = Secret::generate();
    let bytes = secret.as_bytes().to_vec();
    let sealed = state.crypto.seal(&bytes, &seal_purpose(user_id))?;
    users::Entity::update_many()
        .col_expr(users::Column::TotpSecret, Expr::value(sealed))
        .col_expr(users::Column::TotpLastStep, Expr::value(None::<i64>))
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::TotpEnabledAt.is_null())
        .exec(&state.db.write)
        .await?;
    let totp = generator(state, &user.email, bytes)?;
    let png = totp
        .to_qr_png()
        .map_err(|e| AppError::internal(format!("QR code: {e}")))?;
    Ok(Enrolment {
        secret: secret.to_base32(),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| AppError::internal(format!("TOTP URI: {e}")))?,
        qr_code_png: format!("data:image/png;base64,{}", STANDARD.encode(png)),
    })
}

/// Whether `code` is `user`'s current TOTP code, accepting each time step at
/// most once (a code seen, even by an eavesdropper, never works again).
///
/// # Errors
/// When the database fails or the sealed secret cannot be opened.
pub async fn check(state: &AppState, user: &users::Model, code: &str) -> AppResult<bool> {
    let Some(sealed) = &user.totp_secret else {
        return Ok(false);
    };
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(false);
    }
    let secret = state.crypto.open(sealed, &seal_purpose(user.id))?;
    let Some(step) = generator(state, &user.email, secret)?.check_current(code) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let fresh = users::Entity::update_many()
        .col_expr(users::Column::TotpLastStep, Expr::value(step))
        .filter(users::Column::Id.eq(user.id))
        .filter(
            Condition::any()
                .add(users::Column::TotpLastStep.is_null())
                .add(users::Column::TotpLastStep.lt(step)),
        )
        .exec(&state.db.write)
        .await?;
    Ok(fresh.rows_affected == 1)
}

/// Finishes enrolment with a current code; returns the recovery codes (shown once).
///
/// # Errors
/// `MFA_ALREADY_ENABLED`; `BAD_USER_INPUT` before [`setup`]; `INVALID_CODE`; `RATE_LIMITED`.
#[tracing::instrument(skip(state, code, client))]
pub async fn enable(state: &AppState, user_id: Uuid, code: &str, client: &ClientInfo) -> AppResult<Vec<String>> {
    let user = fresh_user(state, user_id).await?;
    if user.totp_enabled_at.is_some() {
        return Err(AppError::MfaAlreadyEnabled);
    }
    if user.totp_secret.is_none() {
        return Err(AppError::bad_input("code", "start with setupMfa"));
    }
    state
        .limits
        .check(Limit::Code, client.ip, Some(&user_id.to_string()))
        .await?;
    if !check(state, &user, code).await? {
        return Err(AppError::InvalidCode);
    }
    let txn = state.db.write.begin().await?;
    users::Entity::update_many()
        .col_expr(users::Column::TotpEnabledAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    let codes = recovery::replace(&txn, &state.crypto, user_id).await?;
    events::record(&txn, user_id, EventKind::MfaEnabled, client).await?;
    txn.commit().await?;
    state.live.forget_user(user_id);
    Ok(codes)
}

/// Checks a TOTP or recovery code of an account with MFA on.
async fn second_factor(state: &AppState, user_id: Uuid, code: &str, client: &ClientInfo) -> AppResult<()> {
    let user = fresh_user(state, user_id).await?;
    if user.totp_enabled_at.is_none() {
        return Err(AppError::MfaNotEnabled);
    }
    state
        .limits
        .check(Limit::Code, client.ip, Some(&user_id.to_string()))
        .await?;
    if check(state, &user, code).await? || recovery::spend(&state.db.write, &state.crypto, user_id, code).await? {
        Ok(())
    } else {
        Err(AppError::InvalidCode)
    }
}

/// Switches MFA off with a TOTP or recovery code.
///
/// # Errors
/// `MFA_NOT_ENABLED`, `INVALID_CODE`, `RATE_LIMITED`; database errors.
#[tracing::instrument(skip(state, code, client))]
pub async fn disable(state: &AppState, user_id: Uuid, code: &str, client: &ClientInfo) -> AppResult<()> {
    second_factor(state, user_id, code, client).await?;
    let txn = state.db.write.begin().await?;
    users::Entity::update_many()
        .col_expr(users::Column::TotpSecret, Expr::value(None::<String>))
        .col_expr(
            users::Column::TotpEnabledAt,
            Expr::value(None::<chrono::DateTime<chrono::Utc>>),
        )
        .col_expr(users::Column::TotpLastStep, Expr::value(None::<i64>))
        .filter(users::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    one_time::invalidate_all(&txn, user_id, Purpose::RecoveryCode).await?;
    events::record(&txn, user_id, EventKind::MfaDisabled, client).await?;
    txn.commit().await?;
    state.live.forget_user(user_id);
    Ok(())
}

/// A new set of recovery codes, given a TOTP or recovery code; the old set stops working.
///
/// # Errors
/// `MFA_NOT_ENABLED`, `INVALID_CODE`, `RATE_LIMITED`; database errors.
#[tracing::instrument(skip(state, code, client))]
pub async fn regenerate_recovery_codes(
    state: &AppState,
    user_id: Uuid,
    code: &str,
    client: &ClientInfo,
) -> AppResult<Vec<String>> {
    second_factor(state, user_id, code, client).await?;
    let txn = state.db.write.begin().await?;
    let codes = recovery::replace(&txn, &state.crypto, user_id).await?;
    events::record(&txn, user_id, EventKind::RecoveryCodesRegenerated, client).await?;
    txn.commit().await?;
    Ok(codes)
}
