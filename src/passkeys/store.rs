//! Passkeys as rows: a verified registration becomes one (for a signed-in
//! account, or a new one a sign-up makes in its own transaction), and the
//! events that reset an account's ways in (a claim, a sign-up that starts
//! an unconfirmed account over, an undo of a change of address, an
//! operator) remove them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential};

use super::manage::PasskeyName;
use super::{Passkeys, aaguid, wire};
use crate::config::webauthn::Attestation;
use crate::crypto::token_hash;
use crate::db;
use crate::entities::passkeys;
use crate::error::{AppError, AppResult, Field, unique_violation};

/// A registration that verified, not stored yet.
pub struct NewPasskey {
    credential: Passkey,
    /// base64url, as `allowCredentials` names it.
    credential_id: String,
    facts: wire::Registered,
    name: String,
    /// The attestation object, kept with WEBAUTHN_ATTESTATION=direct.
    attestation: Option<String>,
}

impl Passkeys {
    /// Verifies a registration's `answer` against its ceremony's `state`:
    /// authql's RP ID, one of its origins, user verification.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `credential` for an answer that does not verify.
    pub(super) fn verified(
        &self,
        answer: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
        name: Option<PasskeyName>,
    ) -> AppResult<NewPasskey> {
        let credential = self
            .webauthn()?
            .finish_passkey_registration(answer, state)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                AppError::bad_input(Field::Credential, "the authenticator's answer does not verify")
            })?;
        let facts = wire::registered(&answer.response.attestation_object)?;
        let name = name.map_or_else(
            || aaguid::default_name(facts.aaguid.as_deref()).to_owned(),
            PasskeyName::into_inner,
        );
        let attestation = (self.attestation() == Attestation::Direct)
            .then(|| URL_SAFE_NO_PAD.encode(&answer.response.attestation_object));
        Ok(NewPasskey {
            credential_id: URL_SAFE_NO_PAD.encode(credential.cred_id()),
            credential,
            facts,
            name,
            attestation,
        })
    }
}

/// Stores `new` as `user_id`'s passkey, in the caller's transaction.
///
/// # Errors
/// `BAD_USER_INPUT` on `credential` when the passkey is registered already
/// (to any account); when the database fails.
pub async fn attach(conn: &impl ConnectionTrait, user_id: Uuid, new: &NewPasskey) -> AppResult<passkeys::Model> {
    let serialised = serde_json::to_string(&new.credential)
        .map_err(|e| AppError::internal(format!("passkey serialisation: {e}")))?;
    let inserted = passkeys::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        credential_key: Set(token_hash(&new.credential_id)),
        credential_id: Set(new.credential_id.clone()),
        credential: Set(serialised),
        name: Set(new.name.clone()),
        aaguid: Set(new.facts.aaguid.clone()),
        backup_eligible: Set(new.facts.backup_eligible),
        backed_up: Set(new.facts.backed_up),
        sign_count: Set(i64::from(new.facts.sign_count)),
        attestation: Set(new.attestation.clone()),
        created_at: Set(db::now()),
        last_used_at: Set(None),
    }
    .insert(conn)
    .await;
    match inserted {
        Ok(added) => Ok(added),
        Err(e) if unique_violation(&e).is_some() => Err(AppError::bad_input(
            Field::Credential,
            "this passkey is already registered",
        )),
        Err(e) => Err(e.into()),
    }
}

impl NewPasskey {
    /// Whether a passkey with this credential id is registered already, to
    /// any account.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn is_registered(&self, conn: &impl ConnectionTrait) -> AppResult<bool> {
        let found = passkeys::Entity::find()
            .filter(passkeys::Column::CredentialKey.eq(token_hash(&self.credential_id)))
            .one(conn)
            .await?;
        Ok(found.is_some())
    }
}

/// Removes every passkey of `user_id`, in the caller's transaction (which
/// renews the security stamp); returns the ids of those there were.
///
/// # Errors
/// When the database fails.
pub async fn remove_all(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = passkeys::Entity::find()
        .filter(passkeys::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    if !ids.is_empty() {
        passkeys::Entity::delete_many()
            .filter(passkeys::Column::Id.is_in(ids.clone()))
            .exec(conn)
            .await?;
    }
    Ok(ids)
}
