//! The tokens of a session: its first, for which the access-token hook is
//! asked (once, after the sign-in's transaction committed), and every later
//! one, which copies the claims the hook gave without asking again.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{AuthBundle, Sessions};
use crate::entities::{sessions, users};
use crate::error::AppResult;
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
        let mut claims = self.claims(&user, session);
        let asked = serde_json::to_value(&claims).map_err(crate::error::AppError::internal)?;
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
        if !extra.is_empty() {
            let text = serde_json::Value::Object(extra.clone()).to_string();
            sessions::Entity::update_many()
                .col_expr(sessions::Column::ExtraClaims, Expr::value(Some(text)))
                .filter(sessions::Column::Id.eq(session.id))
                .exec(self.db.writer())
                .await?;
            claims.extra = extra;
        }
        self.pack(user, &claims, refresh_token)
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
