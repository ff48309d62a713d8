//! Buckets in Redis, shared by every instance: the same GCRA as governor,
//! run as one script so an attempt is counted atomically across instances.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};

use super::{Limit, Quota, Quotas, Target};

/// Takes a cell from each key in turn (KEYS[i] with period ARGV[2i-1] ms and
/// burst ARGV[2i]); stops at the first empty bucket and returns its wait in
/// ms and its position, or {0, 0, cells the last bucket has left}. Redis's
/// clock is the one clock every instance shares.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = 0
for i, key in ipairs(KEYS) do
  local period = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local next_tat = tat + period
  local wait = next_tat - burst * period - now
  if wait > 0 then return {wait, i, 0} end
  redis.call('SET', key, next_tat, 'PX', next_tat - now)
  left = math.floor((burst * period - (next_tat - now)) / period)
end
return {0, 0, left}
";

/// Gives a cell back to each key (KEYS[i] with period ARGV[i] ms): its
/// theoretical arrival time moves one period earlier.
const GIVE_BACK: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key))
  if tat then
    tat = tat - tonumber(ARGV[i])
    if tat > now then redis.call('SET', key, tat, 'PX', tat - now) else redis.call('DEL', key) end
  end
end
return 0
";

/// A Redis answer slower than this counts as Redis being down.
const ANSWER_WITHIN: Duration = Duration::from_millis(500);

/// Limits kept in Redis.
pub struct Shared {
    redis: ConnectionManager,
    script: Script,
    give_back: Script,
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
            give_back: Script::new(GIVE_BACK),
            prefix: prefix.to_owned(),
            quotas,
        })
    }

    /// The Redis keys of `target`'s buckets of `limit`, in the order cells
    /// are taken, with their quotas; and whether the last is the key's own.
    fn keys(&self, limit: Limit, target: &Target) -> (Vec<(String, Quota)>, bool) {
        let quota = self.quotas.of(limit);
        let name = limit.name();
        // Hashed: Redis need not hold the addresses people log in with.
        let hashed = |kind: &str, key: &str| {
            let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(key.as_bytes()));
            format!("{}rl:{name}:{kind}:{digest}", self.prefix)
        };
        let mut keys = Vec::with_capacity(3);
        if let (Some(q), Some(ip)) = (quota.ip, target.ip) {
            keys.push((format!("{}rl:{name}:ip:{ip}", self.prefix), q));
        }
        if let (Some(q), Some(pair)) = (quota.ip_account, &target.ip_key) {
            keys.push((hashed("ipkey", pair), q));
        }
        let by_key = if let (Some(q), Some(key)) = (quota.account, &target.key) {
            keys.push((hashed("key", key), q));
            true
        } else {
            false
        };
        (keys, by_key)
    }

    /// Takes a cell from each of `target`'s buckets in turn: `Ok(Ok(left))`
    /// with the cells the key's bucket has left, or `Ok(Err((wait,
    /// by_key)))` at the first empty one.
    ///
    /// # Errors
    /// When Redis does not answer in time.
    pub async fn take(&self, limit: Limit, target: &Target) -> Result<Result<Option<u32>, (Duration, bool)>, String> {
        let (keys, by_key) = self.keys(limit, target);
        if keys.is_empty() {
            return Ok(Ok(None));
        }
        let mut invocation = self.script.prepare_invoke();
        for (key, q) in &keys {
            invocation.key(key).arg(millis(q.every)).arg(q.burst);
        }
        let mut redis = self.redis.clone();
        let (wait, position, left): (u64, usize, u32) =
            tokio::time::timeout(ANSWER_WITHIN, invocation.invoke_async(&mut redis))
                .await
                .map_err(|_| "Redis did not answer in time".to_owned())?
                .map_err(|e| e.to_string())?;
        if wait > 0 {
            return Ok(Err((Duration::from_millis(wait), by_key && position == keys.len())));
        }
        Ok(Ok(by_key.then_some(left)))
    }

    /// Gives back the cells a [`Shared::take`] of `target` took.
    ///
    /// # Errors
    /// When Redis does not answer in time.
    pub async fn give_back(&self, limit: Limit, target: &Target) -> Result<(), String> {
        let (keys, _) = self.keys(limit, target);
        if keys.is_empty() {
            return Ok(());
        }
        let mut invocation = self.give_back.prepare_invoke();
        for (key, q) in &keys {
            invocation.key(key).arg(millis(q.every));
        }
        let mut redis = self.redis.clone();
        tokio::time::timeout(ANSWER_WITHIN, invocation.invoke_async::<u64>(&mut redis))
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
            .map_err(|e| e.to_string())?;
        Ok(())
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
