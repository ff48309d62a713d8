//! TOTP (RFC 6238): enrolment with a sealed secret, checks that accept each
//! time step once, and switching it off.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use super::{Mfa, recovery_codes};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::Principal;
use crate::webhooks::Event;

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

impl Mfa {
    fn generator(&self, email: &str, secret: Vec<u8>) -> AppResult<Totp> {
        Builder::new()
            .with_secret(secret)
            .with_issuer(Some(self.issuer.to_string()))
            .with_account_name(email.to_owned())
            .build()
            .map_err(|e| AppError::internal(format!("TOTP: {e}")))
    }

    /// Starts enrolment: a new secret, stored sealed and not active until [`Mfa::enable`].
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `MFA_ALREADY_ENABLED`; database errors.
    /// Sensitive: it needs a recent proof of identity, so an access token
    /// stolen from an older session cannot enrol the thief's authenticator.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn setup(&self, caller: &Principal) -> AppResult<Enrolment> {
        self.sessions.require_recent_proof(caller)?;
        let user_id = caller.user().id;
        let user = reread_from_writer(&self.db, user_id).await?;
        if user.totp_enabled_at.is_some() {
            return Err(AppError::MfaAlreadyEnabled);
        }
        let secret = Secret::generate();
        let bytes = secret.as_bytes().to_vec();
        let sealed = self.crypto.seal(&bytes, &seal_purpose(user_id))?;
        users::Entity::update_many()
            .col_expr(users::Column::TotpSecret, Expr::value(sealed))
            .col_expr(users::Column::TotpLastStep, Expr::value(None::<i64>))
            .filter(users::Column::Id.eq(user_id))
            .filter(users::Column::TotpEnabledAt.is_null())
            .exec(self.db.writer())
            .await?;
        let totp = self.generator(&user.email, bytes)?;
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
    /// most once (a code seen, even by an eavesdropper, never works again);
    /// the step is recorded on `conn`, which may be a transaction.
    ///
    /// # Errors
    /// When the database fails or the sealed secret cannot be opened.
    pub async fn check_totp(&self, conn: &impl ConnectionTrait, user: &users::Model, code: &str) -> AppResult<bool> {
        let Some(sealed) = &user.totp_secret else {
            return Ok(false);
        };
        let code = code.trim();
        if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
            return Ok(false);
        }
        let secret = self.crypto.open(sealed, &seal_purpose(user.id))?;
        let Some(step) = self.generator(&user.email, secret)?.check_current(code) else {
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
            .exec(conn)
            .await?;
        Ok(fresh.rows_affected == 1)
    }

    /// Finishes enrolment with a current code; returns the recovery codes
    /// (shown once) and tells the owner. Sensitive, like [`Mfa::setup`].
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `MFA_ALREADY_ENABLED`; `BAD_USER_INPUT` before
    /// [`Mfa::setup`]; `INVALID_CODE`; `RATE_LIMITED`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn enable(&self, caller: &Principal, code: &str, client: &ClientInfo) -> AppResult<Vec<String>> {
        self.sessions.require_recent_proof(caller)?;
        let user_id = caller.user().id;
        let user = reread_from_writer(&self.db, user_id).await?;
        if user.totp_enabled_at.is_some() {
            return Err(AppError::MfaAlreadyEnabled);
        }
        if user.totp_secret.is_none() {
            return Err(AppError::bad_input(Field::Code, "start with setupMfa"));
        }
        self.limits
            .check(Limit::Code, client.ip, Some(Key::Owner(user_id)))
            .await?;
        if !self.check_totp(self.db.writer(), &user, code).await? {
            return Err(AppError::InvalidCode);
        }
        let mut tx = self.db.begin().await?;
        users::Entity::update_many()
            .col_expr(users::Column::TotpEnabledAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(user_id))
            .exec(&*tx)
            .await?;
        let codes = recovery_codes::replace(&*tx, &self.crypto, user_id).await?;
        self.sessions.renew_stamp(&mut tx, user_id, Some(caller)).await?;
        events::record(&*tx, user_id, EventKind::MfaEnabled, client).await?;
        self.webhooks.emit(&mut tx, Event::mfa_enabled(user_id, "totp")).await?;
        self.notify(&mut tx, templates::mfa_enabled(&user.email)).await?;
        tx.commit().await?;
        Ok(codes)
    }
}
