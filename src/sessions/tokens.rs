//! The tokens of a session: its first, for which the access-token hook is
//! asked (once, after the sign-in's transaction committed), and every later
//! one, which copies the claims the hook gave without asking again, until a
//! change of the account drops them.

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{AuthBundle, Sessions};
use crate::db::Tx;
use crate::entities::{sessions, users};
use crate::error::{AppError, AppResult};
use crate::tokens::jwt::{self, Claims, Subject};
use crate::webhooks::RevokeReason;

impl Sessions {
    /// Signs an access token for `session` and packs the answer.
    ///
    /// # Errors
    /// Only if signing fails.
    pub fn bundle(
        &self,
        user: users::Model,
        session: &sessions::Model,
        refresh_token: String,
    ) -> AppResult<AuthBundle> {
        let claims = self.claims(&user, session);
        self.pack(user, &claims, refresh_token)
    }

    /// The answer of a sign-in whose session `tx` just committed: the
    /// access-token hook (HOOK_ACCESS_TOKEN_URL) is asked for claims to add
    /// to the claims about to be signed, and they are kept on the session
    /// for its refreshes. Every sign-in ends here.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the hook fails under the `deny` policy (the
    /// new session is ended then); when the database fails.
    pub async fn first_bundle(
        &self,
        user: users::Model,
        session: &sessions::Model,
        refresh_token: String,
    ) -> AppResult<AuthBundle> {
        if !self.hooks.adds_claims() {
            return self.bundle(user, session, refresh_token);
        }
        // In a task of its own, which runs to its end though the request
        // is dropped: a client that leaves while the hook is asked must not
        // leave open a session the hook refuses.
        let (this, session) = (self.clone(), session.clone());
        self.tasks
            .spawn(async move { this.bundle_with_hook(user, &session, refresh_token).await })
            .await
            .map_err(AppError::internal)?
    }

    async fn bundle_with_hook(
        &self,
        user: users::Model,
        session: &sessions::Model,
        refresh_token: String,
    ) -> AppResult<AuthBundle> {
        let mut claims = self.claims(&user, session);
        let asked = serde_json::to_value(&claims).map_err(AppError::internal)?;
        let extra = match self.hooks.extra_claims(&asked, &user.email).await {
            Ok(extra) => extra,
            Err(refused) => {
                let mut tx = self.db.begin().await?;
                self.end_each(&mut tx, &[(user.id, session.id)], RevokeReason::HookFailed)
                    .await?;
                self.evict_user_on_commit(&mut tx, user.id);
                tx.commit().await?;
                return Err(refused);
            }
        };
        if !extra.is_empty() && self.keep_hook_claims(&user, session, &extra).await? {
            claims.extra = extra;
        }
        self.pack(user, &claims, refresh_token)
    }

    /// Stores `extra` on `session` unless `user` changed since it was read
    /// (the claims were computed from its role, metadata and address then,
    /// and a change drops the claims of its sessions); whether it did.
    async fn keep_hook_claims(
        &self,
        user: &users::Model,
        session: &sessions::Model,
        extra: &Map<String, Value>,
    ) -> AppResult<bool> {
        let unchanged = Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(users::Column::Id.eq(user.id))
            .and_where(users::Column::UpdatedAt.eq(user.updated_at))
            .to_owned();
        let text = Value::Object(extra.clone()).to_string();
        let kept = sessions::Entity::update_many()
            .col_expr(sessions::Column::ExtraClaims, Expr::value(Some(text)))
            .filter(sessions::Column::Id.eq(session.id))
            .filter(Expr::exists(unchanged))
            .exec(self.db.writer())
            .await?
            .rows_affected;
        Ok(kept == 1)
    }

    /// Drops the access-token hook's claims from every session of
    /// `user_id` in `tx`, for a change of what the hook was asked about (the
    /// role, the app metadata, the address): refreshes copy the claims
    /// without asking the hook again, so they would outlive what they were
    /// given for. The next sign-in asks the hook anew.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn drop_hook_claims(&self, tx: &mut Tx, user_id: Uuid) -> AppResult<()> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::ExtraClaims, Expr::value(Option::<String>::None))
            .filter(sessions::Column::UserId.eq(user_id))
            .filter(sessions::Column::ExtraClaims.is_not_null())
            .exec(&**tx)
            .await?;
        self.evict_user_on_commit(tx, user_id);
        Ok(())
    }

    fn claims(&self, user: &users::Model, session: &sessions::Model) -> Claims {
        let subject = Subject {
            user: user.id,
            session: session.id,
            role: user.role,
            amr: session.amr.amr(),
            app_metadata: user.app_metadata(),
            extra: session.extra_claims(),
        };
        jwt::claims_for(&self.policy, &self.issuer, &subject)
    }

    fn pack(&self, user: users::Model, claims: &Claims, refresh_token: String) -> AppResult<AuthBundle> {
        Ok(AuthBundle {
            access_token: jwt::sign(&self.keys, &self.policy, claims)?,
            refresh_token,
            expires_in: jwt::lifetime_secs(&self.policy),
            user,
            device_token: None,
        })
    }
}
