//! The security stamp: one number per account that moves on with every
//! change of its credentials or address (password set, reset or removed, TOTP
//! on or off, recovery codes replaced, passkeys, email changed or restored,
//! identities linked or unlinked, a claim, deactivation, a role change).
//!
//! Every proof issued for an account records the stamp it was issued under:
//! one-time tokens and codes (`tokens::one_time`), and each session's last
//! proof of identity, its sign-in or step-up (`proof_stamp`). A proof whose
//! stamp is not the account's current one is refused. This one check
//! replaces the separate "old proofs die" paths each change used to have,
//! so a new kind of proof or of change is covered by construction.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Principal, Sessions};
use crate::db::Tx;
use crate::entities::{sessions, users};
use crate::error::{AppError, AppResult};

impl Sessions {
    /// Moves `user_id`'s security stamp on in `tx`: once it commits, every
    /// proof issued for the account before stops counting (mailed links,
    /// login steps, mailed codes, login and link codes, and the sign-ins and
    /// step-ups of its sessions). `by` is the caller who made the change with
    /// a proof of their own: their session's proof carries over.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn renew_stamp(&self, tx: &mut Tx, user_id: Uuid, by: Option<&Principal>) -> AppResult<()> {
        users::Entity::update_many()
            .col_expr(
                users::Column::SecurityStamp,
                Expr::col(users::Column::SecurityStamp).add(1),
            )
            .filter(users::Column::Id.eq(user_id))
            .exec(&**tx)
            .await?;
        if let Some(caller) = by.filter(|c| c.user().id == user_id) {
            sessions::Entity::update_many()
                .col_expr(sessions::Column::ProofStamp, Expr::from(current_stamp_of(user_id)))
                .filter(sessions::Column::Id.eq(caller.session().id))
                .exec(&**tx)
                .await?;
        }
        self.evict_user_on_commit(tx, user_id);
        Ok(())
    }
}

impl Sessions {
    /// Holds `user`'s stamp as it was when `user` was read, in `tx`: a
    /// sign-in checks its credential against that account, and opens a
    /// session or a second step only if nothing changed since. The statement
    /// writes the row (to the value it has), so until `tx` ends a change of
    /// credentials waits for it (and then ends what it opened), or has
    /// committed already and this refuses.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` when the stamp moved on (or the account is gone):
    /// what was checked is no longer the account's credential.
    pub async fn hold_stamp(&self, tx: &Tx, user: &users::Model) -> AppResult<()> {
        let held = users::Entity::update_many()
            .col_expr(users::Column::SecurityStamp, Expr::col(users::Column::SecurityStamp))
            .filter(users::Column::Id.eq(user.id))
            .filter(users::Column::SecurityStamp.eq(user.security_stamp))
            .exec(&**tx)
            .await?;
        if held.rows_affected == 0 {
            return Err(AppError::InvalidCredentials);
        }
        Ok(())
    }
}

/// `SELECT security_stamp FROM users WHERE id = user_id`, for use inside a statement.
pub fn current_stamp_of(user_id: Uuid) -> SelectStatement {
    Query::select()
        .column(users::Column::SecurityStamp)
        .from(users::Entity)
        .and_where(Expr::col((users::Entity, users::Column::Id)).eq(user_id))
        .take()
}
