//! A claim: the owner of an address signs in with a provider that verified
//! it, and the account someone pre-registered with it (never confirmed)
//! becomes theirs with their sign-in alone. Whatever was set up before the
//! address was confirmed may be a squatter's, so all of it goes.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::OAuth;
use crate::accounts::federated;
use crate::client::ClientInfo;
use crate::db::Tx;
use crate::entities::{devices, identities, users};
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::mail::templates;
use crate::passkeys;
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::{Event, RevokeReason};

impl OAuth {
    /// Resets `user`, whose address nobody had confirmed and `provider` just
    /// verified, to the claimant's credentials alone, in `tx`: its password,
    /// identities, passkeys, TOTP secret with its recovery codes, known
    /// devices, pending changes of address and sessions go, the security stamp moves
    /// on, and the owner is told what was removed. Returns the account as it
    /// now is; the caller links the claimant's identity.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn claim(
        &self,
        tx: &mut Tx,
        user: users::Model,
        provider: &str,
        client: &ClientInfo,
    ) -> AppResult<users::Model> {
        let parts = self.parts();
        let mut removed = Vec::new();
        if user.password_hash.is_some() {
            removed.push("the password".to_owned());
        }
        let linked = identities::Entity::find()
            .filter(identities::Column::UserId.eq(user.id))
            .all(&**tx)
            .await?;
        if !linked.is_empty() {
            identities::Entity::delete_many()
                .filter(identities::Column::UserId.eq(user.id))
                .exec(&**tx)
                .await?;
            events::record(&**tx, user.id, EventKind::IdentityUnlinked, client).await?;
            let unlinked = linked
                .iter()
                .map(|i| Event::identity_unlinked(user.id, &i.provider))
                .collect();
            parts.webhooks.emit_all(tx, unlinked).await?;
            removed.extend(linked.iter().map(|i| format!("sign-in with {}", i.provider)));
        }
        if user.totp_secret.is_some() {
            parts.mfa.switch_off_in(tx, user.id).await?;
            if user.totp_enabled_at.is_some() {
                events::record(&**tx, user.id, EventKind::MfaDisabled, client).await?;
                parts
                    .webhooks
                    .emit(tx, Event::mfa_disabled(user.id, "totp", "recovery"))
                    .await?;
                removed.push("two-step verification (its authenticator app and recovery codes)".to_owned());
            }
        }
        let passkeys = passkeys::remove_all(&**tx, user.id).await?;
        if passkeys > 0 {
            events::record(&**tx, user.id, EventKind::PasskeyRemoved, client).await?;
            removed.push(format!("{passkeys} passkey(s)"));
        }
        let known_devices = devices::Entity::find()
            .filter(devices::Column::UserId.eq(user.id))
            .count(&**tx)
            .await?;
        if known_devices > 0 {
            parts.sessions.forget_devices(tx, user.id).await?;
            removed.push(format!("{known_devices} known device(s)"));
        }
        let mut pending = 0;
        for purpose in [Purpose::ChangeEmail, Purpose::UndoEmailChange] {
            pending += one_time::count_live(&**tx, user.id, purpose).await?;
            one_time::invalidate_all(&**tx, user.id, purpose).await?;
        }
        if pending > 0 {
            removed.push("a pending change of address".to_owned());
        }
        let ended = parts
            .sessions
            .revoke_all(tx, user.id, None, RevokeReason::Recovered)
            .await?;
        if ended > 0 {
            removed.push(format!("{ended} session(s), now signed out"));
        }
        let user = federated::claim_verified(tx, user).await?;
        parts.sessions.renew_stamp(tx, user.id, None).await?;
        events::record(&**tx, user.id, EventKind::EmailConfirmed, client).await?;
        parts
            .webhooks
            .emit(tx, Event::email_confirmed(user.id, &user.email))
            .await?;
        let notice = templates::account_claimed(&user.email, provider, &removed);
        parts.outbox.enqueue(tx, notice).await?;
        Ok(user)
    }
}
