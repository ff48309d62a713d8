//! Session activity gathered in memory and written to the database in batches.
//!
//! Writing `last_active_at` on every request would turn each read into a
//! write; instead each request notes the time here and a job flushes it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use crate::db::{self, Db};
use crate::entities::{sessions, users};
use crate::error::AppResult;

/// Flushed entries are kept this long so the idle check still sees them.
const KEEP_FLUSHED: Duration = Duration::from_secs(60);
/// Sessions written per transaction.
const FLUSH_CHUNK: usize = 128;

#[derive(Clone, Copy)]
struct Seen {
    user_id: Uuid,
    at: DateTime<Utc>,
    dirty: bool,
}

/// The latest activity of each session since the last flush.
#[derive(Default)]
pub struct Activity {
    seen: Mutex<HashMap<Uuid, Seen>>,
}

impl Activity {
    /// Notes that session `sid` of `user_id` was used now.
    pub fn touch(&self, sid: Uuid, user_id: Uuid) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(
                sid,
                Seen {
                    user_id,
                    at: db::now(),
                    dirty: true,
                },
            );
        }
    }

    /// The latest activity noted here for `sid`.
    pub fn last(&self, sid: Uuid) -> Option<DateTime<Utc>> {
        self.seen.lock().ok()?.get(&sid).map(|s| s.at)
    }

    /// Writes pending activity to sessions and users.
    ///
    /// # Errors
    /// When the database fails; the activity stays pending for the next flush.
    pub async fn flush(&self, db: &Db) -> AppResult<()> {
        let pending: Vec<(Uuid, Seen)> = match self.seen.lock() {
            Ok(seen) => seen.iter().filter(|(_, s)| s.dirty).map(|(k, s)| (*k, *s)).collect(),
            Err(_) => return Ok(()),
        };
        if pending.is_empty() {
            return Ok(());
        }
        // In short transactions: one holding SQLite's write lock for all of
        // 10 000 sessions kept every refresh waiting for over a second.
        for chunk in pending.chunks(FLUSH_CHUNK) {
            let mut per_user: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
            let txn = db.writer().begin().await?;
            for (sid, seen) in chunk {
                sessions::Entity::update_many()
                    .col_expr(sessions::Column::LastActiveAt, Expr::value(seen.at))
                    .filter(sessions::Column::Id.eq(*sid))
                    .filter(sessions::Column::LastActiveAt.lt(seen.at))
                    .exec(&txn)
                    .await?;
                let at = per_user.entry(seen.user_id).or_insert(seen.at);
                *at = (*at).max(seen.at);
            }
            for (user_id, at) in per_user {
                users::Entity::update_many()
                    .col_expr(users::Column::LastActiveAt, Expr::value(at))
                    .filter(users::Column::Id.eq(user_id))
                    // Another chunk may have written a later time for this user.
                    .filter(
                        Condition::any()
                            .add(users::Column::LastActiveAt.is_null())
                            .add(users::Column::LastActiveAt.lt(at)),
                    )
                    .exec(&txn)
                    .await?;
            }
            txn.commit().await?;
        }
        if let Ok(mut seen) = self.seen.lock() {
            for (sid, flushed) in pending {
                if let Some(s) = seen.get_mut(&sid).filter(|s| s.at == flushed.at) {
                    s.dirty = false;
                }
            }
            let horizon = db::before(KEEP_FLUSHED);
            seen.retain(|_, s| s.dirty || s.at > horizon);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, Set};

    use super::*;
    use crate::config::SqliteSync;
    use crate::entities::sessions::SignInMethod;
    use crate::entities::users::Role;

    /// A migrated database with one user and one session of it.
    async fn one_session() -> (Db, Uuid, Uuid) {
        let db = Db::connect("sqlite::memory:", 1, SqliteSync::Normal).await.unwrap();
        db.migrate().await.unwrap();
        let (user_id, sid, now) = (Uuid::new_v4(), Uuid::new_v4(), db::now());
        users::ActiveModel {
            id: Set(user_id),
            email: Set("a@example.com".into()),
            username: Set(None),
            password_hash: Set(None),
            email_verified_at: Set(None),
            display_name: Set(None),
            first_name: Set(None),
            last_name: Set(None),
            phone_number: Set(None),
            avatar_key: Set(None),
            role: Set(Role::User),
            active: Set(true),
            totp_secret: Set(None),
            totp_enabled_at: Set(None),
            totp_last_step: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            last_active_at: Set(None),
            security_stamp: Set(0),
            app_metadata: Set(None),
        }
        .insert(db.writer())
        .await
        .unwrap();
        sessions::ActiveModel {
            id: Set(sid),
            user_id: Set(user_id),
            created_at: Set(now),
            last_active_at: Set(now),
            expires_at: Set(db::after(Duration::from_secs(3600))),
            revoked_at: Set(None),
            ip: Set(None),
            user_agent: Set(None),
            amr: Set(SignInMethod::Password),
            step_up_until: Set(None),
            proof_stamp: Set(0),
            extra_claims: Set(None),
        }
        .insert(db.writer())
        .await
        .unwrap();
        (db, user_id, sid)
    }

    async fn set_user_activity(db: &Db, user_id: Uuid, at: DateTime<Utc>) {
        users::Entity::update_many()
            .col_expr(users::Column::LastActiveAt, Expr::value(at))
            .filter(users::Column::Id.eq(user_id))
            .exec(db.writer())
            .await
            .unwrap();
    }

    async fn user_activity(db: &Db, user_id: Uuid) -> Option<DateTime<Utc>> {
        let user = users::Entity::find_by_id(user_id).one(db.writer()).await.unwrap();
        user.unwrap().last_active_at
    }

    #[tokio::test]
    async fn a_flush_never_moves_a_users_activity_back() {
        let (db, user_id, sid) = one_session().await;
        // A later time already written (by another chunk, or another instance).
        let later = db::after(Duration::from_secs(600));
        set_user_activity(&db, user_id, later).await;
        let activity = Activity::default();
        activity.touch(sid, user_id);
        activity.flush(&db).await.unwrap();
        assert_eq!(user_activity(&db, user_id).await, Some(later));
        // An earlier time is moved forward, and the session's too.
        let earlier = db::before(Duration::from_secs(600));
        set_user_activity(&db, user_id, earlier).await;
        activity.touch(sid, user_id);
        let touched = activity.last(sid).unwrap();
        activity.flush(&db).await.unwrap();
        assert_eq!(user_activity(&db, user_id).await, Some(touched));
        let session = sessions::Entity::find_by_id(sid)
            .one(db.writer())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(session.last_active_at, touched);
    }
}
