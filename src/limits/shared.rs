//! Buckets in Redis, shared by every instance: the same GCRA as governor,
//! run as one script so an attempt is counted atomically across instances.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};

use super::{Limit, Quotas};

/// Takes a cell from each key in turn (KEYS[i] with period ARGV[2i-1] ms and
/// burst ARGV[2i]); stops at the first empty bucket and returns its wait in
/// ms and its position, or {0, 0}. Redis's clock is the one clock every
/// instance shares.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  local period = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local next_tat = tat + period
  local wait = next_tat - burst * period - now
  if wait > 0 then return {wait, i} end
  redis.call('SET', key, next_tat, 'PX', next_tat - now)
end
return {0, 0}
";

/// A Redis answer slower than this counts as Redis being down.
const ANSWER_WITHIN: Duration = Duration::from_millis(500);

/// Limits kept in Redis.
pub struct Shared {
    redis: ConnectionManager,
    script: Script,
    prefix: String,
    quotas: Quotas,
}

impl Shared {
    /// Connects lazily (Redis may come up after authql) and reconnects on its own.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn new(url: &str, prefix: &str, quotas: Quotas) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ANSWER_WITHIN))
            .set_response_timeout(Some(ANSWER_WITHIN))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        Ok(Self {
            redis: ConnectionManager::new_lazy_with_config(client, config)?,
            script: Script::new(GCRA),
            prefix: prefix.to_owned(),
            quotas,
        })
    }

    /// Takes a cell for `ip`, then for `key`; `Ok(Some((wait, by_key)))` when
    /// either is empty.
    ///
    /// # Errors
    /// When Redis does not answer in time.
    pub async fn check(
        &self,
        limit: Limit,
        ip: Option<IpAddr>,
        key: Option<&str>,
    ) -> Result<Option<(Duration, bool)>, String> {
        let quota = self.quotas.of(limit);
        let name = limit.name();
        let mut invocation = self.script.prepare_invoke();
        let mut keys = 0;
        if let (Some(q), Some(ip)) = (quota.ip, ip) {
            invocation
                .key(format!("{}rl:{name}:ip:{ip}", self.prefix))
                .arg(millis(q.every))
                .arg(q.burst);
            keys += 1;
        }
        let key_position = keys + 1;
        if let (Some(q), Some(key)) = (quota.account, key) {
            // Hashed: Redis need not hold the addresses people log in with.
            let digest = Sha256::digest(key.as_bytes());
            invocation
                .key(format!(
                    "{}rl:{name}:key:{}",
                    self.prefix,
                    URL_SAFE_NO_PAD.encode(digest)
                ))
                .arg(millis(q.every))
                .arg(q.burst);
            keys += 1;
        }
        if keys == 0 {
            return Ok(None);
        }
        let mut redis = self.redis.clone();
        let (wait, position): (u64, usize) = tokio::time::timeout(ANSWER_WITHIN, invocation.invoke_async(&mut redis))
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
            .map_err(|e| e.to_string())?;
        Ok((wait > 0).then(|| (Duration::from_millis(wait), position == key_position)))
    }
}

impl Shared {
    /// Whether Redis answers a PING in time.
    pub async fn ping(&self) -> bool {
        let mut redis = self.redis.clone();
        let answer = tokio::time::timeout(ANSWER_WITHIN, redis::cmd("PING").query_async::<String>(&mut redis)).await;
        matches!(answer, Ok(Ok(pong)) if pong == "PONG")
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
