//! `authql remove-passkeys`: an operator removes every passkey of an
//! account, for an owner whose passkey was lost or stolen and who cannot
//! sign in to delete it (after checking who they are, outside authql).

use uuid::Uuid;

use super::{Passkeys, store};
use crate::audit;
use crate::client::ClientInfo;
use crate::entities::users::reread_from_writer;
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::mail::templates;
use crate::webhooks::{Event, RevokeReason};

impl Passkeys {
    /// Removes every passkey of `user_id`: the security stamp moves on,
    /// every session ends (some may have been opened with the lost
    /// passkey), the removal is recorded in the account's events and the
    /// audit log (with no administrator: an operator at the command line),
    /// and the owner is told. Returns how many there were; with none,
    /// nothing changes.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when the account is gone; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn remove_by_operator(&self, user_id: Uuid) -> AppResult<u64> {
        let parts = self.parts();
        let user = reread_from_writer(&parts.db, user_id).await?;
        let mut tx = parts.db.begin().await?;
        let removed = store::remove_all(&*tx, user_id).await?;
        if removed.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let told = removed.iter().map(|id| Event::passkey_removed(user_id, *id)).collect();
        parts.webhooks.emit_all(&mut tx, told).await?;
        let removed = removed.len() as u64;
        parts.sessions.renew_stamp(&mut tx, user_id, None).await?;
        parts
            .sessions
            .revoke_all(&mut tx, user_id, None, RevokeReason::Recovered)
            .await?;
        let operator = ClientInfo {
            ip: None,
            user_agent: Some("authql remove-passkeys (operator)".to_owned()),
        };
        let kind = EventKind::PasskeysRemovedByOperator;
        events::record(&*tx, user_id, kind, &operator).await?;
        audit::record_by_operator(&*tx, kind.as_str(), user_id).await?;
        parts
            .outbox
            .enqueue(&mut tx, templates::passkeys_removed_by_operator(&user.email, removed))
            .await?;
        tx.commit().await?;
        Ok(removed)
    }
}
