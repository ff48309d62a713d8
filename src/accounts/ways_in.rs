//! The ways into an account besides its password (linked identities,
//! passkeys) and its second factor, as the recoveries see them: an undo of
//! an email change removes those added since the change, a claim removes
//! them all, and a reset names those that remain. Whoever changed the
//! address, or pre-registered it, could otherwise keep signing in, or lock
//! the owner out with an authenticator only they hold.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::Accounts;
use crate::client::ClientInfo;
use crate::db::Tx;
use crate::entities::{identities, passkeys, users};
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::webhooks::Event;

/// Which of an account's ways in a recovery removes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Added {
    /// Those added at or after this moment: the change being undone.
    Since(DateTime<Utc>),
    /// All of them: nothing set up before the address was proven is the owner's for sure.
    Ever,
}

impl Added {
    fn covers(self, at: DateTime<Utc>) -> bool {
        match self {
            Self::Since(since) => at >= since,
            Self::Ever => true,
        }
    }
}

impl Accounts {
    /// Removes from `user`, in `tx`, the linked identities, passkeys and
    /// second factor (TOTP with its recovery codes) that `added` covers;
    /// returns them in words, for the owner's notice.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn remove_ways_in(
        &self,
        tx: &mut Tx,
        user: &users::Model,
        added: Added,
        client: &ClientInfo,
    ) -> AppResult<Vec<String>> {
        let mut removed = Vec::new();
        let linked = identities::Entity::find()
            .filter(identities::Column::UserId.eq(user.id))
            .all(&**tx)
            .await?;
        let linked: Vec<_> = linked.into_iter().filter(|i| added.covers(i.created_at)).collect();
        if !linked.is_empty() {
            identities::Entity::delete_many()
                .filter(identities::Column::Id.is_in(linked.iter().map(|i| i.id)))
                .exec(&**tx)
                .await?;
            events::record(&**tx, user.id, EventKind::IdentityUnlinked, client).await?;
            let unlinked = linked
                .iter()
                .map(|i| Event::identity_unlinked(user.id, &i.provider))
                .collect();
            self.webhooks.emit_all(tx, unlinked).await?;
            removed.extend(linked.iter().map(|i| format!("sign-in with {}", i.provider)));
        }
        let keys = passkeys_of(&**tx, user.id).await?;
        let keys: Vec<_> = keys.into_iter().filter(|p| added.covers(p.created_at)).collect();
        if !keys.is_empty() {
            passkeys::Entity::delete_many()
                .filter(passkeys::Column::Id.is_in(keys.iter().map(|p| p.id)))
                .exec(&**tx)
                .await?;
            events::record(&**tx, user.id, EventKind::PasskeyRemoved, client).await?;
            let gone = keys.iter().map(|p| Event::passkey_removed(user.id, p.id)).collect();
            self.webhooks.emit_all(tx, gone).await?;
            removed.extend(keys.iter().map(|p| format!("passkey \"{}\"", p.name)));
        }
        let enabled = user.totp_enabled_at.filter(|at| added.covers(*at));
        // A claim also drops a secret set up but never turned on: it is nobody's second factor yet.
        if enabled.is_some() || (matches!(added, Added::Ever) && user.totp_secret.is_some()) {
            self.mfa.switch_off_in(tx, user.id).await?;
        }
        if enabled.is_some() {
            events::record(&**tx, user.id, EventKind::MfaDisabled, client).await?;
            self.webhooks
                .emit(tx, Event::mfa_disabled(user.id, "totp", "recovery"))
                .await?;
            removed.push("two-step verification (its authenticator app and recovery codes)".to_owned());
        }
        Ok(removed)
    }
}

/// `user_id`'s ways in besides its password, in words: its linked
/// identities and passkeys, oldest first.
///
/// # Errors
/// When the database fails.
pub(super) async fn remaining_ways_in(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<Vec<String>> {
    let linked = identities::Entity::find()
        .filter(identities::Column::UserId.eq(user_id))
        .order_by_asc(identities::Column::CreatedAt)
        .all(conn)
        .await?;
    let keys = passkeys_of(conn, user_id).await?;
    Ok(linked
        .iter()
        .map(|i| format!("sign-in with {}", i.provider))
        .chain(keys.iter().map(|p| format!("passkey \"{}\"", p.name)))
        .collect())
}

async fn passkeys_of(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<Vec<passkeys::Model>> {
    Ok(passkeys::Entity::find()
        .filter(passkeys::Column::UserId.eq(user_id))
        .order_by_asc(passkeys::Column::CreatedAt)
        .all(conn)
        .await?)
}
