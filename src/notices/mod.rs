//! Revocation notices between instances: the session or account a committed
//! change touched, published by the instance that committed it so every
//! other instance drops what it cached and wakes its watchers at once.
//!
//! The channel is Redis pub/sub with REDIS_URL; else PostgreSQL's NOTIFY,
//! sent inside the committing transaction, heard with LISTEN on a dedicated
//! connection (PUSH_DATABASE_URL, or DATABASE_URL). SQLite is one instance
//! and needs none; MariaDB without Redis has none, and other instances see
//! a change when their session cache's entry expires. A lost notice is
//! caught the same way.
//!
//! Owns nothing in the database. May call: `db`, `config`.

mod listen;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use uuid::Uuid;

use crate::db::Tx;
use crate::tasks::Tasks;

/// The PostgreSQL channel notices travel on (each database has its own).
const PG_CHANNEL: &str = "authql_revoked";
/// A Redis answer slower than this counts as Redis being down.
const ANSWER_WITHIN: Duration = Duration::from_millis(500);

/// What changed, as every instance hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// One session changed (ended, stepped up).
    Session(Uuid),
    /// An account or all its sessions changed.
    Account(Uuid),
    /// The listener (re)connected and may have missed notices: forget everything.
    Reset,
}

impl Notice {
    fn payload(self) -> Option<String> {
        match self {
            Self::Session(id) => Some(format!("s:{id}")),
            Self::Account(id) => Some(format!("a:{id}")),
            Self::Reset => None,
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "s" => Some(Self::Session(id)),
            "a" => Some(Self::Account(id)),
            _ => None,
        }
    }
}

/// How notices travel in this deployment.
enum Channel {
    /// SQLite: one instance, which hears its own changes in-process.
    Alone,
    /// MariaDB without Redis: nothing travels; the cache's lifetime stands in.
    Off,
    Redis {
        client: redis::Client,
        publisher: ConnectionManager,
        name: String,
    },
    Postgres {
        listen_url: String,
    },
}

/// This instance's end of the notices. Built once, shared.
pub struct Notices {
    channel: Channel,
    /// Publishes over Redis run under the instance's tracker, so a
    /// stopping instance sends the last ones before it ends.
    tasks: Tasks,
}

impl Notices {
    /// Over Redis when `redis` (URL, key prefix) is given, else PostgreSQL
    /// when `database_url` is one (listening on `push_url` when given).
    ///
    /// # Errors
    /// When the Redis URL cannot be used.
    pub fn new(
        redis: Option<(&str, &str)>,
        database_url: &str,
        push_url: Option<&str>,
        tasks: Tasks,
    ) -> redis::RedisResult<Self> {
        let channel = if let Some((url, prefix)) = redis {
            let client = redis::Client::open(url)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(ANSWER_WITHIN))
                .set_response_timeout(Some(ANSWER_WITHIN))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(2));
            Channel::Redis {
                publisher: ConnectionManager::new_lazy_with_config(client.clone(), config)?,
                client,
                name: format!("{prefix}revoked"),
            }
        } else if database_url.starts_with("postgres") {
            Channel::Postgres {
                listen_url: push_url.unwrap_or(database_url).to_owned(),
            }
        } else if database_url.starts_with("sqlite") {
            Channel::Alone
        } else {
            Channel::Off
        };
        Ok(Self { channel, tasks })
    }

    /// Whether this instance hears every change that matters to it, so its
    /// watchers may look rarely (false on MariaDB without Redis).
    pub fn hears_every_change(&self) -> bool {
        !matches!(self.channel, Channel::Off)
    }

    /// Publishes `notice` when `tx` commits, and never if it rolls back.
    pub fn publish_on_commit(&self, tx: &mut Tx, notice: Notice) {
        let Some(payload) = notice.payload() else { return };
        match &self.channel {
            Channel::Alone | Channel::Off => {}
            Channel::Postgres { .. } => {
                tx.notify_on_commit(PG_CHANNEL, payload);
                ::metrics::counter!("authql_revocation_notices_published_total").increment(1);
            }
            Channel::Redis { publisher, name, .. } => {
                let (mut publisher, name) = (publisher.clone(), name.clone());
                let tasks = self.tasks.clone();
                tx.after_commit(move || {
                    if tokio::runtime::Handle::try_current().is_err() {
                        return;
                    }
                    tasks.spawn(async move {
                        let mut command = redis::cmd("PUBLISH");
                        command.arg(&name).arg(&payload);
                        let publish = command.query_async::<i64>(&mut publisher);
                        match tokio::time::timeout(ANSWER_WITHIN, publish).await {
                            Ok(Ok(_)) => ::metrics::counter!("authql_revocation_notices_published_total").increment(1),
                            Ok(Err(e)) => warn(&e.to_string()),
                            Err(_) => warn("Redis did not answer in time"),
                        }
                    });
                });
            }
        }
    }
}

/// Counts a failed publish, and says so at most once a minute (per process:
/// an outage fails every publish, and one line is enough).
fn warn(error: &str) {
    static LAST: AtomicI64 = AtomicI64::new(0);
    ::metrics::counter!("authql_revocation_notices_failed_total").increment(1);
    let now = chrono::Utc::now().timestamp();
    let last = LAST.load(Ordering::Relaxed);
    if now - last >= 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(%error, "cannot publish a revocation notice: other instances rely on their cache's lifetime");
    }
}

#[cfg(test)]
mod tests {
    use super::Notice;

    #[test]
    fn a_notice_reads_back_what_was_sent_and_nothing_else() {
        let id = uuid::Uuid::new_v4();
        for notice in [Notice::Session(id), Notice::Account(id)] {
            assert_eq!(Notice::parse(&notice.payload().unwrap()), Some(notice));
        }
        assert_eq!(Notice::Reset.payload(), None, "a reset is never sent");
        for junk in ["", "s", "s:", "x:0", &format!("r:{id}"), "a:not-a-uuid"] {
            assert_eq!(Notice::parse(junk), None, "{junk}");
        }
    }
}
