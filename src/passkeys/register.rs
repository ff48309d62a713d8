//! Adding a passkey to the signed-in caller's account: sensitive (the
//! step-up rule), bound to the session that started it, and a new way in,
//! so the account's security stamp moves on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential};

use super::ceremony::{self, Binding, Kind};
use super::manage::PasskeyName;
use super::{Passkeys, Started, store, wire};
use crate::client::ClientInfo;
use crate::entities::passkeys;
use crate::entities::users::reread_from_writer;
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::limits::Limit;
use crate::mail::templates;
use crate::sessions::Principal;
use crate::webhooks::Event;

impl Passkeys {
    /// Starts adding a passkey to the caller's account. Sensitive: it needs a
    /// recent sign-in or step-up.
    ///
    /// # Errors
    /// `FORBIDDEN` when passkeys are off; `STEP_UP_REQUIRED`; `RATE_LIMITED`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn start_registration(&self, caller: &Principal, client: &ClientInfo) -> AppResult<Started> {
        let webauthn = self.webauthn()?;
        let parts = self.parts();
        parts.sessions.require_recent_proof(caller)?;
        parts.limits.check(Limit::Password, client.ip, None).await?;
        let user = caller.user();
        let existing = passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user.id))
            .order_by_asc(passkeys::Column::CreatedAt)
            .all(parts.db.writer())
            .await?;
        // The authenticator refuses to make a second passkey beside one it already holds for the account.
        let exclude = existing
            .iter()
            .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
            .collect::<Vec<_>>();
        let display = user.display_name.as_deref().unwrap_or(&user.email);
        let (ccr, state) = webauthn
            .start_passkey_registration(user.id, &user.email, display, Some(exclude).filter(|e| !e.is_empty()))
            .map_err(|e| AppError::internal(format!("passkey registration start: {e}")))?;
        let options = wire::creation_options(&ccr, self.attestation())?;
        let binding = Binding {
            user_id: Some(user.id),
            session_id: Some(caller.session().id),
            stamp: Some(user.security_stamp),
        };
        let id = ceremony::create(parts.db.writer(), Kind::Registration, binding, &state).await?;
        Ok(Started { id, options })
    }

    /// Finishes adding a passkey with the authenticator's answer
    /// (`PublicKeyCredential.toJSON()`), named `name` or after its
    /// authenticator. Only the session that started the ceremony may finish
    /// it, and only while the account's credentials are as they were.
    ///
    /// # Errors
    /// `INVALID_TOKEN` for a ceremony that is not the caller's, spent,
    /// expired, or started before a change of credentials; `BAD_USER_INPUT`
    /// on `credential` for an answer that does not verify (another origin or
    /// RP ID, no user verification, a passkey already registered) and on
    /// `name`; `FORBIDDEN` when passkeys are off.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn finish_registration(
        &self,
        caller: &Principal,
        ceremony_id: &str,
        credential: serde_json::Value,
        name: Option<PasskeyName>,
        client: &ClientInfo,
    ) -> AppResult<passkeys::Model> {
        self.webauthn()?;
        let parts = self.parts();
        let answer: RegisterPublicKeyCredential = wire::answer(credential)?;
        let (user_id, session_id) = (caller.user().id, caller.session().id);
        let (row, state): (_, PasskeyRegistration) =
            ceremony::spend(parts.db.writer(), ceremony_id, &[Kind::Registration], |row| {
                row.user_id == Some(user_id) && row.session_id == Some(session_id)
            })
            .await?;
        let user = reread_from_writer(&parts.db, user_id).await?;
        if row.stamp != Some(user.security_stamp) {
            return Err(AppError::InvalidToken);
        }
        let new = self.verified(&answer, &state, name)?;
        let mut tx = parts.db.begin().await?;
        // What was checked is the account's credentials as they are now (see `hold_stamp`).
        parts.sessions.hold_stamp(&tx, &user).await?;
        let added = store::attach(&*tx, user.id, &new).await?;
        events::record(&*tx, user.id, EventKind::PasskeyAdded, client).await?;
        let told = Event::passkey_added(user.id, added.id, &added.name);
        parts.webhooks.emit(&mut tx, told).await?;
        // A new way in: every other proof issued before it stops counting.
        parts.sessions.renew_stamp(&mut tx, user.id, Some(caller)).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::passkey_added(&user.email, &added.name))
            .await?;
        tx.commit().await?;
        Ok(added)
    }
}

/// The webauthn-rs credential stored in `row`.
///
/// # Errors
/// When the stored credential cannot be read back.
pub(super) fn stored(row: &passkeys::Model) -> AppResult<Passkey> {
    serde_json::from_str(&row.credential).map_err(|e| AppError::internal(format!("stored passkey {}: {e}", row.id)))
}
