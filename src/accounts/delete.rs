//! Deleting one's own account, with everything that belongs to it.

use sea_orm::EntityTrait;

use super::Accounts;
use crate::client::ClientInfo;
use crate::entities::users;
use crate::error::AppResult;
use crate::sessions::Principal;

impl Accounts {
    /// Deletes the caller's account after checking their password. Sessions,
    /// tokens and security events go with it (foreign keys cascade).
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` when the password is wrong; `RATE_LIMITED` after too many tries.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn delete_account(&self, caller: &Principal, password: &str, client: &ClientInfo) -> AppResult<()> {
        let user = self.reauthenticate(caller, password, client).await?;
        let mut tx = self.db.begin().await?;
        users::Entity::delete_by_id(user.id).exec(&*tx).await?;
        self.sessions.evict_user_on_commit(&mut tx, user.id);
        tx.commit().await?;
        tracing::info!(user_id = %user.id, "account deleted");
        Ok(())
    }
}
