//! Administration: listing accounts, switching them off and on, and making
//! the first administrator. Callers check that the caller is an administrator.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::new_user::new_user;
use super::{Accounts, Email, find_by_email, validate};
use crate::audit;
use crate::client::ClientInfo;
use crate::db;
use crate::entities::users::{self, Role};
use crate::error::{AppError, AppResult, Field};
use crate::events::{self, EventKind};
use crate::sessions::Principal;
use crate::webhooks::{Event, RevokeReason};

/// Largest page of [`list_users`].
pub const MAX_PAGE: u64 = 100;
/// Longest search text.
const MAX_SEARCH: usize = 254;

/// A LIKE pattern for values containing `text`, whose % and _ match themselves.
fn contains(text: &str) -> LikeExpr {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// What [`Accounts::make_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum MadeAdmin {
    /// An existing account became an administrator.
    Promoted,
    /// A new, confirmed administrator account was created.
    Created,
}

impl Accounts {
    /// One page of accounts, oldest first, and how many match in all. `search`
    /// matches part of the email, username or display name, ignoring case.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for a page size outside 1 to 100, a negative offset or an
    /// over-long search; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn list_users(
        &self,
        first: i64,
        offset: i64,
        search: Option<&str>,
    ) -> AppResult<(Vec<users::Model>, u64)> {
        let first = u64::try_from(first)
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| AppError::bad_input(Field::First, format!("must be between 1 and {MAX_PAGE}")))?;
        let offset = u64::try_from(offset).map_err(|_| AppError::bad_input(Field::Offset, "must not be negative"))?;
        let mut query = users::Entity::find();
        if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
            if search.chars().count() > MAX_SEARCH {
                return Err(AppError::bad_input(Field::Search, "is too long"));
            }
            let lower = |col: users::Column| Expr::expr(Func::lower(Expr::col(col)));
            let text = search.to_lowercase();
            let mut matches = Condition::any()
                .add(lower(users::Column::Email).like(contains(&text)))
                .add(lower(users::Column::Username).like(contains(&text)))
                .add(lower(users::Column::DisplayName).like(contains(&text)));
            // Addresses are stored with ASCII domains; an admin may type the Unicode one.
            if let Some(ascii) = Email::search_form(search) {
                matches = matches.add(lower(users::Column::Email).like(contains(&ascii)));
            }
            query = query.filter(matches);
        }
        let total = query.clone().count(&self.db.read).await?;
        let page = query
            .order_by_asc(users::Column::CreatedAt)
            .order_by_asc(users::Column::Id)
            .offset(offset)
            .limit(first)
            .all(&self.db.read)
            .await?;
        Ok((page, total))
    }

    /// Switches account `id` off (ending every session at once) or on again.
    /// `admin` is the administrator doing it, who cannot switch themselves
    /// off. Sensitive: `admin` needs a recent proof of identity.
    ///
    /// # Errors
    /// `STEP_UP_REQUIRED`; `BAD_USER_INPUT` on `id` for an unknown account
    /// or the caller's own; database errors.
    #[tracing::instrument(skip(self, admin, client), fields(admin_id = %admin.user().id))]
    pub async fn set_active(
        &self,
        admin: &Principal,
        id: Uuid,
        active: bool,
        client: &ClientInfo,
    ) -> AppResult<users::Model> {
        self.sessions.require_recent_proof(admin)?;
        let admin = admin.user().id;
        if id == admin && !active {
            return Err(AppError::bad_input(Field::Id, "you cannot deactivate your own account"));
        }
        let mut tx = self.db.begin().await?;
        let changed = users::Entity::update_many()
            .col_expr(users::Column::Active, Expr::value(active))
            .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
            .filter(users::Column::Id.eq(id))
            .filter(users::Column::Active.eq(!active))
            .exec(&*tx)
            .await?
            .rows_affected;
        let user = users::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| AppError::bad_input(Field::Id, "no account has this id"))?;
        if changed == 1 {
            if !active {
                self.sessions
                    .revoke_all(&mut tx, id, None, RevokeReason::Deactivated)
                    .await?;
                self.sessions.renew_stamp(&mut tx, id, None).await?;
            }
            let change = Event::user_updated(id, serde_json::json!({ "active": active }));
            self.webhooks.emit(&mut tx, change).await?;
            let kind = if active {
                EventKind::AccountActivated
            } else {
                EventKind::AccountDeactivated
            };
            events::record(&*tx, id, kind, client).await?;
            audit::record(&*tx, kind.as_str(), id, admin, client).await?;
        }
        self.sessions.evict_user_on_commit(&mut tx, id);
        tx.commit().await?;
        Ok(user)
    }

    /// Makes `email` an administrator: promotes its account, or creates a
    /// confirmed one with `password` when there is none.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for an invalid email, a missing or weak password for a
    /// new account; database errors.
    #[tracing::instrument(skip(self, password))]
    pub async fn make_admin(&self, email: &Email, password: Option<&str>) -> AppResult<MadeAdmin> {
        if let Some(user) = find_by_email(self.db.writer(), email).await? {
            let mut tx = self.db.begin().await?;
            if user.role != Role::Admin {
                let change = Event::user_updated(user.id, serde_json::json!({ "role": Role::Admin }));
                self.webhooks.emit(&mut tx, change).await?;
            }
            users::Entity::update_many()
                .col_expr(users::Column::Role, Expr::value(Role::Admin))
                .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
                .filter(users::Column::Id.eq(user.id))
                .exec(&*tx)
                .await?;
            self.sessions.renew_stamp(&mut tx, user.id, None).await?;
            self.sessions.drop_hook_claims(&mut tx, user.id).await?;
            tx.commit().await?;
            return Ok(MadeAdmin::Promoted);
        }
        let password =
            password.ok_or_else(|| AppError::bad_input(Field::Password, "a new account needs a password"))?;
        validate::password(Field::Password, password, email.as_str(), None)?;
        self.screen.check(Field::Password, password).await?;
        let hash = self.passwords.hash(password).await?;
        let mut tx = self.db.begin().await?;
        let user = users::ActiveModel {
            role: Set(Role::Admin),
            email_verified_at: Set(Some(db::now())),
            ..new_user(email, Some(hash))
        }
        .insert(&*tx)
        .await?;
        self.webhooks
            .emit(&mut tx, Event::user_created(&user, "password"))
            .await?;
        tx.commit().await?;
        Ok(MadeAdmin::Created)
    }
}
