//! What every assertion ceremony (a sign-in, a login's second factor, a
//! step-up) does with the authenticator's answer: find the passkey it
//! names, verify it against the ceremony's challenge, authql's RP ID and
//! origins, with user verification and a counter that did not go back, and
//! record its use only if no racer used the same counter value first.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PublicKeyCredential, WebauthnError,
};

use super::Passkeys;
use super::register::stored;
use crate::client::ClientInfo;
use crate::crypto::token_hash;
use crate::db;
use crate::entities::{passkeys, users};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::mail::templates;

/// What became of an answer.
pub(super) enum Verdict {
    /// It verified: the credential as it now is (counter, flags) and what the authenticator said.
    Verified(Box<(Passkey, AuthenticationResult)>),
    /// Its signature counter went back: a copy of the passkey may be in use.
    Cloned,
    /// It does not verify.
    Refused,
}

/// The passkey `answer` names, if one is registered.
///
/// # Errors
/// When the database fails.
pub(super) async fn find(
    conn: &impl ConnectionTrait,
    answer: &PublicKeyCredential,
) -> AppResult<Option<passkeys::Model>> {
    let key = token_hash(&URL_SAFE_NO_PAD.encode(answer.get_credential_id()));
    Ok(passkeys::Entity::find()
        .filter(passkeys::Column::CredentialKey.eq(key))
        .one(conn)
        .await?)
}

impl Passkeys {
    /// Verifies `answer` to the ceremony of `state` as one by `passkey`.
    ///
    /// # Errors
    /// When passkeys are off or the stored passkey cannot be read.
    pub(super) fn verify(
        &self,
        answer: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        passkey: &passkeys::Model,
    ) -> AppResult<Verdict> {
        let mut credential = stored(passkey)?;
        match self
            .webauthn()?
            .finish_discoverable_authentication_v2(answer, state, &credential)
        {
            Ok(result) => {
                credential.update_credential(&result);
                Ok(Verdict::Verified(Box::new((credential, result))))
            }
            Err(WebauthnError::CredentialPossibleCompromise) => Ok(Verdict::Cloned),
            Err(e) => {
                tracing::info!(error = %e, "passkey assertion refused");
                Ok(Verdict::Refused)
            }
        }
    }

    /// Records and tells the owner that `passkey` answered with a counter
    /// lower than one seen before: a copy of it may be in use. Its own
    /// transaction: called with no other open.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn cloned(
        &self,
        user: &users::Model,
        passkey: &passkeys::Model,
        client: &ClientInfo,
    ) -> AppResult<()> {
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

/// Writes the use of `passkey` (its new counter, flags, last use) in the
/// caller's transaction; false when a racer used the counter value read first.
///
/// # Errors
/// When the credential cannot be serialised or the database fails.
pub(super) async fn record_use(
    conn: &impl ConnectionTrait,
    passkey: &passkeys::Model,
    verified: &(Passkey, AuthenticationResult),
) -> AppResult<bool> {
    let (credential, result) = verified;
    let serialised =
        serde_json::to_string(credential).map_err(|e| AppError::internal(format!("passkey serialisation: {e}")))?;
    let updated = passkeys::Entity::update_many()
        .col_expr(passkeys::Column::Credential, Expr::value(serialised))
        .col_expr(passkeys::Column::SignCount, Expr::value(i64::from(result.counter())))
        .col_expr(passkeys::Column::BackupEligible, Expr::value(result.backup_eligible()))
        .col_expr(passkeys::Column::BackedUp, Expr::value(result.backup_state()))
        .col_expr(passkeys::Column::LastUsedAt, Expr::value(db::now()))
        .filter(passkeys::Column::Id.eq(passkey.id))
        .filter(passkeys::Column::SignCount.eq(passkey.sign_count))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}
