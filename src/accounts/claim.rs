//! A claim: the first proof of an address's mailbox on an account nobody
//! had confirmed, by a sign-in provider that verified the address or by a
//! reset mailed to it. Anyone can sign up with someone else's address (and
//! use the account at once without REQUIRE_EMAIL_CONFIRMATION, or hold it
//! until its owner arrives), so whatever was set up before the proof may be
//! a squatter's: all of it goes (ways in, devices, pending changes, sessions
//! and the profile), and the account keeps the claimant's credential alone.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::Accounts;
use super::ways_in::Added;
use crate::client::ClientInfo;
use crate::db::{self, Tx};
use crate::entities::{avatars, devices, users};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventKind};
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::{Event, RevokeReason};

/// How the claimant proved the mailbox, and so the one credential the account keeps.
pub enum Claimant {
    /// A sign-in provider that verified the address: the password goes too.
    Provider,
    /// A reset mailed to the address: this new password hash replaces the old one.
    Password(String),
}

impl Accounts {
    /// Confirms `user_id`'s address for whoever just proved its mailbox, in
    /// `tx`, if nobody had: then its password (but the claimant's own),
    /// identities, passkeys, TOTP secret with its recovery codes, known
    /// devices, pending changes of address and sessions go, and the security
    /// stamp moves on. Returns what was removed, in words, for the owner's
    /// notice; `None`, with nothing changed, when the address was confirmed
    /// already (the caller goes on as for any confirmed account).
    ///
    /// # Errors
    /// `INVALID_TOKEN` when the account is gone; database errors.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn claim(
        &self,
        tx: &mut Tx,
        user_id: Uuid,
        claimant: Claimant,
        client: &ClientInfo,
    ) -> AppResult<Option<Vec<String>>> {
        // Decided by the write itself: two proofs at once claim the account once.
        let now = db::now();
        let confirmed = users::Entity::update_many()
            .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user_id))
            .filter(users::Column::EmailVerifiedAt.is_null())
            .exec(&**tx)
            .await?;
        if confirmed.rows_affected == 0 {
            return Ok(None);
        }
        let user = users::Entity::find_by_id(user_id)
            .one(&**tx)
            .await?
            .ok_or(AppError::InvalidToken)?;
        let mut removed = Vec::new();
        let password = match claimant {
            Claimant::Provider => {
                if user.password_hash.is_some() {
                    removed.push("the password".to_owned());
                }
                None
            }
            Claimant::Password(hash) => Some(hash),
        };
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(password))
            .filter(users::Column::Id.eq(user_id))
            .exec(&**tx)
            .await?;
        removed.extend(self.remove_ways_in(tx, &user, Added::Ever, client).await?);
        if self.clear_profile(tx, &user).await? {
            removed.push("the profile (names, username, phone number, avatar)".to_owned());
        }
        let known_devices = devices::Entity::find()
            .filter(devices::Column::UserId.eq(user_id))
            .count(&**tx)
            .await?;
        if known_devices > 0 {
            self.sessions.forget_devices(tx, user_id).await?;
            removed.push(format!("{known_devices} known device(s)"));
        }
        let mut pending = 0;
        for purpose in [Purpose::ChangeEmail, Purpose::UndoEmailChange] {
            pending += one_time::count_live(&**tx, user_id, purpose).await?;
            one_time::invalidate_all(&**tx, user_id, purpose).await?;
        }
        if pending > 0 {
            removed.push("a pending change of address".to_owned());
        }
        let ended = self
            .sessions
            .revoke_all(tx, user_id, None, RevokeReason::Recovered)
            .await?;
        if ended > 0 {
            removed.push(format!("{ended} session(s), now signed out"));
        }
        self.sessions.renew_stamp(tx, user_id, None).await?;
        events::record(&**tx, user_id, EventKind::EmailConfirmed, client).await?;
        self.webhooks
            .emit(tx, Event::email_confirmed(user_id, &user.email))
            .await?;
        Ok(Some(removed))
    }
}

impl Accounts {
    /// Empties what the profile of `user` holds, in `tx`: a squatter's
    /// names, username, phone number and avatar are not the owner's, and an
    /// app may show them, message the number or greet the owner by them.
    /// Whether there was anything; a `user.updated` event names the fields.
    async fn clear_profile(&self, tx: &mut Tx, user: &users::Model) -> AppResult<bool> {
        let set: Vec<&str> = [
            ("username", user.username.is_some()),
            ("displayName", user.display_name.is_some()),
            ("firstName", user.first_name.is_some()),
            ("lastName", user.last_name.is_some()),
            ("phoneNumber", user.phone_number.is_some()),
            ("avatarUrl", user.avatar_key.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, is_set)| is_set.then_some(field))
        .collect();
        if set.is_empty() {
            return Ok(false);
        }
        let none = || Expr::value(Option::<String>::None);
        users::Entity::update_many()
            .col_expr(users::Column::Username, none())
            .col_expr(users::Column::DisplayName, none())
            .col_expr(users::Column::FirstName, none())
            .col_expr(users::Column::LastName, none())
            .col_expr(users::Column::PhoneNumber, none())
            .col_expr(users::Column::AvatarKey, none())
            .filter(users::Column::Id.eq(user.id))
            .exec(&**tx)
            .await?;
        avatars::Entity::delete_many()
            .filter(avatars::Column::UserId.eq(user.id))
            .exec(&**tx)
            .await?;
        let cleared: serde_json::Map<_, _> = set
            .into_iter()
            .map(|field| (field.to_owned(), serde_json::Value::Null))
            .collect();
        self.webhooks
            .emit(tx, Event::user_updated(user.id, cleared.into()))
            .await?;
        Ok(true)
    }
}
