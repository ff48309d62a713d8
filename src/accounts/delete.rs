//! Deleting one's own account, with everything that belongs to it.

use sea_orm::EntityTrait;

use super::Accounts;
use crate::client::ClientInfo;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult, Field};
use crate::sessions::Principal;
use crate::webhooks::Event;

impl Accounts {
    /// Deletes the caller's account once they prove it is them: with their
    /// password when the account has one, else with a recent sign-in or
    /// step-up (an account that signs in only through a provider). Sessions,
    /// tokens and security events go with it (foreign keys cascade).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `password` when the account has one and it is
    /// missing; `INVALID_CREDENTIALS` when it is wrong; `STEP_UP_REQUIRED`
    /// without a password and without a recent proof; `RATE_LIMITED` after
    /// too many tries.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user().id))]
    pub async fn delete_account(
        &self,
        caller: &Principal,
        password: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = match password {
            Some(password) => self.reauthenticate(caller, password, client).await?,
            None => {
                let user = reread_from_writer(&self.db, caller.user().id).await?;
                if user.password_hash.is_some() {
                    return Err(AppError::bad_input(
                        Field::Password,
                        "give your password to delete the account",
                    ));
                }
                self.sessions.require_recent_proof(caller)?;
                user
            }
        };
        let mut tx = self.db.begin().await?;
        users::Entity::delete_by_id(user.id).exec(&*tx).await?;
        self.webhooks
            .emit(&mut tx, Event::user_deleted(user.id, &user.email, false))
            .await?;
        self.sessions.evict_user_on_commit(&mut tx, user.id);
        tx.commit().await?;
        tracing::info!(user_id = %user.id, "account deleted");
        Ok(())
    }
}
