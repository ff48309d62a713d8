//! What an undo of an email change takes away besides the address: the ways
//! into the account added since the change (linked identities, passkeys, a
//! second factor). Whoever changed the address could otherwise keep signing
//! in, or lock the owner out with an authenticator only they hold.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Accounts;
use crate::client::ClientInfo;
use crate::db::Tx;
use crate::entities::{identities, users};
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::passkeys;
use crate::webhooks::Event;

impl Accounts {
    /// Removes from `user` what was added at or after `since`, in `tx`;
    /// returns it in words, for the owner's notice.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn remove_added_since(
        &self,
        tx: &mut Tx,
        user: &users::Model,
        since: DateTime<Utc>,
        client: &ClientInfo,
    ) -> AppResult<Vec<String>> {
        let mut removed = Vec::new();
        let added = identities::Entity::find()
            .filter(identities::Column::UserId.eq(user.id))
            .filter(identities::Column::CreatedAt.gte(since))
            .all(&**tx)
            .await?;
        if !added.is_empty() {
            identities::Entity::delete_many()
                .filter(identities::Column::Id.is_in(added.iter().map(|i| i.id)))
                .exec(&**tx)
                .await?;
            events::record(&**tx, user.id, EventKind::IdentityUnlinked, client).await?;
            let unlinked = added
                .iter()
                .map(|i| Event::identity_unlinked(user.id, &i.provider))
                .collect();
            self.webhooks.emit_all(tx, unlinked).await?;
            removed.extend(added.iter().map(|i| format!("sign-in with {}", i.provider)));
        }
        let passkeys = passkeys::remove_added_since(&**tx, user.id, since).await?;
        if !passkeys.is_empty() {
            events::record(&**tx, user.id, EventKind::PasskeyRemoved, client).await?;
            removed.extend(passkeys.iter().map(|name| format!("the passkey \"{name}\"")));
        }
        if user.totp_enabled_at.is_some_and(|at| at >= since) {
            self.mfa.switch_off_in(tx, user.id).await?;
            events::record(&**tx, user.id, EventKind::MfaDisabled, client).await?;
            self.webhooks
                .emit(tx, Event::mfa_disabled(user.id, "totp", "recovery"))
                .await?;
            removed.push("two-step verification (its authenticator app and recovery codes)".to_owned());
        }
        Ok(removed)
    }
}
