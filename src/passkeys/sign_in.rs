//! Signing in with a passkey: discoverable (no email: empty
//! allowCredentials, so browsers offer their passkeys, autofill included)
//! or for a named email (that account's passkeys; an unknown email gets
//! stable decoys, so the options tell nothing). A verified assertion is two
//! factors and opens a session through `Sessions::open`, like every way in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential, WebauthnError};

use super::ceremony::{self, Binding, Kind};
use super::register::stored;
use super::{Passkeys, Started, wire};
use crate::client::ClientInfo;
use crate::crypto::token_hash;
use crate::db;
use crate::entities::{passkeys, users};
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::sessions::{AuthBundle, SignInMethod};

impl Passkeys {
    /// Starts a sign-in: discoverable without `email`, else limited to the
    /// passkeys of the account with that (normalised) address. Counts in the
    /// client's PASSWORD bucket.
    ///
    /// # Errors
    /// `FORBIDDEN` when passkeys are off; `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn start_sign_in(&self, email: Option<&str>, client: &ClientInfo) -> AppResult<Started> {
        let webauthn = self.webauthn()?;
        let parts = self.parts();
        parts.limits.check(Limit::Password, client.ip, None).await?;
        let (rcr, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| AppError::internal(format!("passkey sign-in start: {e}")))?;
        let Some(email) = email else {
            let options = wire::request_options(&rcr, None)?;
            let binding = Binding {
                user_id: None,
                session_id: None,
                stamp: None,
            };
            let id = ceremony::create(parts.db.writer(), Kind::SignIn, binding, &state).await?;
            return Ok(Started { id, options });
        };
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&parts.db.read)
            .await?;
        let own = match &user {
            Some(user) => passkeys::Entity::find()
                .filter(passkeys::Column::UserId.eq(user.id))
                .order_by_asc(passkeys::Column::CreatedAt)
                .all(&parts.db.read)
                .await?
                .into_iter()
                .map(|p| p.credential_id)
                .collect(),
            None => Vec::new(),
        };
        // An account without passkeys gets decoys too, or the options would tell it exists.
        let allowed = if own.is_empty() { self.decoys(email)? } else { own };
        let options = wire::request_options(&rcr, Some(&allowed))?;
        let binding = Binding {
            user_id: user.as_ref().map(|u| u.id),
            session_id: None,
            stamp: user.as_ref().map(|u| u.security_stamp),
        };
        let id = ceremony::create(parts.db.writer(), Kind::SignInNamed, binding, &state).await?;
        Ok(Started { id, options })
    }

    /// Credential ids that look like an account's and are the same every
    /// time for `email`, unguessable without the master key.
    fn decoys(&self, email: &str) -> AppResult<Vec<String>> {
        let key = self.parts().crypto.code_hash("passkey-decoys", "");
        let generator = WebauthnFakeCredentialGenerator::<FakePasskeyDistribution>::new(key.as_bytes())
            .map_err(|e| AppError::internal(format!("passkey decoys: {e}")))?;
        let ids = generator
            .generate(email.as_bytes())
            .map_err(|e| AppError::internal(format!("passkey decoys: {e}")))?;
        Ok(ids.iter().map(|id| URL_SAFE_NO_PAD.encode(id)).collect())
    }

    /// Finishes a sign-in with the authenticator's answer: the passkey must
    /// be registered (to the named account, for a sign-in that named one),
    /// answer the ceremony's challenge for authql's RP ID from one of its
    /// origins, with user verification, and a signature counter that did not
    /// go back. A failure counts per client and per passkey, never in the
    /// account's bucket. Nothing is written on a failure but the spent
    /// ceremony (and, for a counter that went back, the event and the mail).
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a ceremony that is spent, expired, of another
    /// kind, or started before the account's credentials changed;
    /// `INVALID_CREDENTIALS` for an answer that does not verify;
    /// `BAD_USER_INPUT` on `credential` for one that is not an answer;
    /// `FORBIDDEN` for a switched-off account; `EMAIL_NOT_CONFIRMED`; `RATE_LIMITED`.
    #[tracing::instrument(skip_all)]
    pub async fn finish_sign_in(
        &self,
        ceremony_id: &str,
        credential: serde_json::Value,
        client: &ClientInfo,
    ) -> AppResult<AuthBundle> {
        let webauthn = self.webauthn()?;
        let parts = self.parts();
        let answer: PublicKeyCredential = serde_json::from_value(credential).map_err(|_| {
            AppError::bad_input(Field::Credential, "expected what PublicKeyCredential.toJSON() returns")
        })?;
        let (row, state): (_, DiscoverableAuthentication) = ceremony::spend(
            parts.db.writer(),
            ceremony_id,
            &[Kind::SignIn, Kind::SignInNamed],
            |_| true,
        )
        .await?;
        let credential_key = token_hash(&URL_SAFE_NO_PAD.encode(answer.get_credential_id()));
        let found = passkeys::Entity::find()
            .filter(passkeys::Column::CredentialKey.eq(credential_key))
            .one(parts.db.writer())
            .await?;
        let taken = parts
            .limits
            .take(Limit::Password, client.ip, found.as_ref().map(|p| Key::Passkey(p.id)))
            .await?;
        let Some(passkey) = found else {
            return Err(AppError::InvalidCredentials);
        };
        if ceremony::is(&row, Kind::SignInNamed) && row.user_id != Some(passkey.user_id) {
            return Err(AppError::InvalidCredentials);
        }
        let user = users::Entity::find_by_id(passkey.user_id)
            .one(parts.db.writer())
            .await?
            .ok_or(AppError::InvalidCredentials)?;
        if row.stamp.is_some_and(|stamp| stamp != user.security_stamp) {
            return Err(AppError::InvalidToken);
        }
        let mut credential = stored(&passkey)?;
        let result = match webauthn.finish_discoverable_authentication_v2(&answer, state, &credential) {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.cloned(&user, &passkey, client).await?;
                return Err(AppError::InvalidCredentials);
            }
            Err(e) => {
                tracing::info!(error = %e, "passkey sign-in refused");
                return Err(AppError::InvalidCredentials);
            }
        };
        if !user.active {
            return Err(AppError::Forbidden("this account is disabled"));
        }
        if parts.require_confirmation && user.email_verified_at.is_none() {
            return Err(AppError::EmailNotConfirmed);
        }
        credential.update_credential(&result);
        let serialised = serde_json::to_string(&credential)
            .map_err(|e| AppError::internal(format!("passkey serialisation: {e}")))?;
        let mut tx = parts.db.begin().await?;
        // Conditional on the counter read: of two sign-ins racing with one counter value, one wins.
        let updated = passkeys::Entity::update_many()
            .col_expr(passkeys::Column::Credential, Expr::value(serialised))
            .col_expr(passkeys::Column::SignCount, Expr::value(i64::from(result.counter())))
            .col_expr(passkeys::Column::BackupEligible, Expr::value(result.backup_eligible()))
            .col_expr(passkeys::Column::BackedUp, Expr::value(result.backup_state()))
            .col_expr(passkeys::Column::LastUsedAt, Expr::value(db::now()))
            .filter(passkeys::Column::Id.eq(passkey.id))
            .filter(passkeys::Column::SignCount.eq(passkey.sign_count))
            .exec(&*tx)
            .await?;
        if updated.rows_affected != 1 {
            return Err(AppError::InvalidCredentials);
        }
        let (session, refresh) = parts
            .sessions
            .open(&mut tx, &user, client, SignInMethod::Passkey)
            .await?;
        tx.commit().await?;
        parts.limits.give_back(taken).await;
        parts.sessions.bundle(user, &session, refresh)
    }

    /// Records and tells the owner that `passkey` answered with a counter
    /// lower than one seen before: a copy of it may be in use.
    async fn cloned(&self, user: &users::Model, passkey: &passkeys::Model, client: &ClientInfo) -> AppResult<()> {
        tracing::warn!(user_id = %user.id, passkey = %passkey.id, "a passkey's signature counter went back: refused");
        let parts = self.parts();
        let mut tx = parts.db.begin().await?;
        events::record(&*tx, user.id, EventKind::PasskeyCloneDetected, client).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::passkey_cloned(&user.email, &passkey.name))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
