//! Refresh token rotation with reuse detection and a grace window.
//!
//! Each refresh token is spent once and replaced by its successor, which is
//! derived from it under the master key rather than drawn at random. So when
//! two tabs (or a retried request) present the same token at once, the loser
//! of the race gets the very successor the winner stored, instead of an
//! error that would log the user out. After REFRESH_REUSE_GRACE, presenting a
//! spent token means it was stolen: the whole session is revoked.
//!
//! A token is spent exactly when its successor's row exists (a unique index
//! on `parent_hash` allows one), so spending is a single insert: racers insert
//! the same row and the second does nothing. A refresh is one read and one
//! write, which matters on SQLite, where every write waits for the one writer.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType};
use std::sync::OnceLock;

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryTrait, Set, Statement};

use super::{AuthBundle, Sessions};
use crate::client::ClientInfo;
use crate::crypto::token_hash;
use crate::db;
use crate::entities::{refresh_tokens, sessions, users};
use crate::error::{AppError, AppResult};
use crate::events::EventKind;
use crate::limits::Limit;

struct Found {
    token: refresh_tokens::Model,
    session: sessions::Model,
    user: users::Model,
    /// When the successor was stored, if it was.
    spent_at: Option<DateTime<Utc>>,
}

impl Sessions {
    /// Spends `presented` and returns new tokens for its session.
    ///
    /// # Errors
    /// [`AppError::InvalidToken`] when the token is unknown, expired, reused
    /// after the grace window (which also revokes the session), or its session is over.
    #[tracing::instrument(skip_all)]
    pub async fn rotate(&self, presented: &str, client: &ClientInfo) -> AppResult<AuthBundle> {
        self.limits.check(Limit::Refresh, client.ip, None).await?;
        if presented.is_empty() || presented.len() > 128 {
            return Err(AppError::InvalidToken);
        }
        let hash = token_hash(presented);
        let Found {
            token,
            session,
            user,
            spent_at,
        } = self.find(&hash).await?;
        if !self.is_alive(&session, &user) {
            return Err(AppError::InvalidToken);
        }
        let successor = self.crypto.successor(presented);
        match spent_at {
            None if token.expires_at <= db::now() => Err(AppError::InvalidToken),
            None => {
                self.store_successor(&hash, &successor, &session).await?;
                self.activity.touch(session.id, user.id);
                self.bundle(user, &session, successor)
            }
            // A second tab, or a retry: the same successor.
            Some(at) if at >= db::before(self.policy.reuse_grace) => self.bundle(user, &session, successor),
            Some(_) => {
                tracing::warn!(session_id = %session.id, "spent refresh token presented again: revoking the session");
                self.revoke(user.id, session.id, EventKind::RefreshTokenReused, client)
                    .await?;
                Err(AppError::InvalidToken)
            }
        }
    }

    /// The token, its session and user, and its successor's birth, in one query.
    async fn find(&self, hash: &str) -> AppResult<Found> {
        let db = &self.db.read;
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                find_sql(backend),
                [hash.into()],
            ))
            .await?
            .ok_or(AppError::InvalidToken)?;
        let (Some(session), Some(user)) = (
            sessions::Model::from_query_result_optional(&row, "B_")?,
            users::Model::from_query_result_optional(&row, "C_")?,
        ) else {
            return Err(AppError::InvalidToken);
        };
        Ok(Found {
            token: refresh_tokens::Model::from_query_result(&row, "A_")?,
            session,
            user,
            spent_at: row.try_get::<Option<DateTime<Utc>>>("", "spent_at")?,
        })
    }

    /// Stores the successor of the token hashed `parent`, which spends it; a
    /// racer's identical insert does nothing.
    async fn store_successor(&self, parent: &str, successor: &str, session: &sessions::Model) -> AppResult<()> {
        let hash = token_hash(successor);
        let row = refresh_tokens::ActiveModel {
            token_hash: Set(hash.clone()),
            parent_hash: Set(Some(parent.to_owned())),
            session_id: Set(session.id),
            created_at: Set(db::now()),
            expires_at: Set(self.refresh_expiry(session.expires_at)),
        };
        match &self.successors {
            Some(writer) => writer.store(hash, row).await,
            None => {
                refresh_tokens::Entity::insert(row)
                    .on_conflict_do_nothing()
                    .exec(self.db.writer())
                    .await?;
                Ok(())
            }
        }
    }
}

/// The SQL of [`Sessions::find`] for `backend`, whose one parameter is the
/// token's hash. Built once per backend: building it for every refresh was
/// 2.6% of a refresh's CPU (bench/README.md, "The allocator").
fn find_sql(backend: DbBackend) -> String {
    static BUILT: [OnceLock<String>; 3] = [const { OnceLock::new() }; 3];
    let slot = match backend {
        DbBackend::Sqlite => 0,
        DbBackend::Postgres => 1,
        _ => 2,
    };
    BUILT[slot]
        .get_or_init(|| {
            let successor = Alias::new("successor");
            let mut query = refresh_tokens::Entity::find_by_id(String::new())
                .find_also_related(sessions::Entity)
                .and_also_related(users::Entity)
                .into_query();
            query
                .join_as(
                    JoinType::LeftJoin,
                    refresh_tokens::Entity,
                    successor.clone(),
                    Expr::col((successor.clone(), refresh_tokens::Column::ParentHash))
                        .equals((refresh_tokens::Entity, refresh_tokens::Column::TokenHash)),
                )
                .expr_as(
                    Expr::col((successor, refresh_tokens::Column::CreatedAt)),
                    Alias::new("spent_at"),
                );
            backend.build(&query).sql
        })
        .clone()
}
