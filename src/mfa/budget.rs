//! The wrong second-factor codes one account may get (SECOND_FACTOR), across
//! logins and step-ups: a try takes a cell before its code is looked at, a
//! right code gives it back, and the wrong code that takes the last one
//! tells the owner.

use uuid::Uuid;

use super::Mfa;
use crate::client::ClientInfo;
use crate::db::Tx;
use crate::entities::users;
use crate::error::AppResult;
use crate::events::{self, EventKind};
use crate::limits::{Key, Limit, Taken};
use crate::mail::templates;

/// One try's cell of the account's budget, taken before its code is checked.
#[must_use = "a try ends right (give it back) or wrong (keep it)"]
pub(super) struct Try(Taken);

impl Mfa {
    /// Takes a try from `user_id`'s budget of wrong codes, before a code is
    /// checked, so racers cannot check more codes than the budget holds.
    ///
    /// # Errors
    /// `RATE_LIMITED` when the budget is spent: even a right code waits.
    pub(super) async fn take_from_budget(&self, user_id: Uuid, client: &ClientInfo) -> AppResult<Try> {
        let taken = self
            .limits
            .take(Limit::SecondFactor, client.ip, Some(Key::Owner(user_id)))
            .await?;
        Ok(Try(taken))
    }

    /// The code was right: the try goes back to the budget once `tx` commits.
    pub(super) fn give_back_on_commit(&self, tx: &mut Tx, attempt: Try) {
        let (limits, tasks) = (self.limits.clone(), self.sessions.tasks().clone());
        tx.after_commit(move || {
            tasks.spawn(async move { limits.give_back(attempt.0).await });
        });
    }

    /// The code was right, and nothing else is written about it (or no
    /// code was looked at): the try goes back to the budget.
    pub(super) async fn give_back(&self, attempt: Try) {
        self.limits.give_back(attempt.0).await;
    }

    /// The code was wrong: the try stays spent, and when it was the budget's
    /// last, the owner is told in `tx`, once per time it runs out.
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn wrong_code(
        &self,
        tx: &mut Tx,
        user: &users::Model,
        attempt: Try,
        client: &ClientInfo,
    ) -> AppResult<()> {
        if !attempt.0.was_last() {
            return Ok(());
        }
        events::record(&**tx, user.id, EventKind::SecondFactorLimited, client).await?;
        self.notify(tx, templates::second_factor_limited(&user.email)).await
    }
}
