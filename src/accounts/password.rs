//! argon2id hashing off the async runtime, with bounded concurrency and reused memory.
//!
//! Each hash needs PASSWORD_HASH_MEMORY_KIB of memory. Allocating it per call
//! on many blocking threads fragments the heap (gigabytes of RSS under a login
//! storm), so at most `concurrency` hashes run at once, each in a buffer taken
//! from a small pool and returned afterwards.

use std::sync::Mutex;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngExt;
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

use crate::config::PasswordConfig;
use crate::error::{AppError, AppResult};

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// Hashes and verifies passwords.
pub struct PasswordHasher {
    params: Params,
    permits: Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
    dummy: OnceCell<String>,
}

impl PasswordHasher {
    /// A hasher with the configured cost.
    ///
    /// # Errors
    /// When the cost parameters are outside what argon2 accepts.
    pub fn new(cfg: &PasswordConfig) -> AppResult<Self> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, Some(OUTPUT_LEN))
            .map_err(|e| AppError::internal(format!("argon2 parameters: {e}")))?;
        Ok(Self {
            params,
            permits: Semaphore::new(cfg.concurrency.max(1)),
            buffers: Mutex::new(Vec::new()),
            dummy: OnceCell::new(),
        })
    }

    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=...`).
    ///
    /// # Errors
    /// When the blocking pool fails.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let salt: [u8; SALT_LEN] = rand::rng().random();
        let params = self.params.clone();
        let out = self
            .run(
                password,
                salt.to_vec(),
                params.clone(),
                Algorithm::Argon2id,
                Version::V0x13,
            )
            .await?;
        encode(&params, &salt, &out)
    }

    /// Whether `password` matches `phc`. With no hash (unknown user, or an
    /// account without a password) a dummy hash is checked instead, so the
    /// answer takes as long as for a real account.
    ///
    /// # Errors
    /// When the blocking pool fails.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> AppResult<bool> {
        let (stored, real) = match phc {
            Some(phc) => (phc.to_owned(), true),
            None => (self.dummy().await?.clone(), false),
        };
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash is not a PHC string");
            return Ok(false);
        };
        let (Some(salt), Some(expected), Ok(params), Ok(alg)) = (
            parsed.salt,
            parsed.hash,
            Params::try_from(&parsed),
            Algorithm::new(parsed.algorithm.as_str()),
        ) else {
            tracing::error!("a stored password hash has unusable parameters");
            return Ok(false);
        };
        let version = Version::try_from(parsed.version.unwrap_or(0x13)).unwrap_or(Version::V0x13);
        let out = self.run(password, salt.as_ref().to_vec(), params, alg, version).await?;
        Ok(real && bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    }

    /// Whether `phc` was made with other parameters than the current ones.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        PasswordHash::new(phc)
            .ok()
            .and_then(|h| Params::try_from(&h).ok().map(|p| (h.algorithm, p)))
            .is_none_or(|(alg, p)| {
                alg != Algorithm::Argon2id.ident()
                    || p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            })
    }

    async fn dummy(&self) -> AppResult<&String> {
        self.dummy
            .get_or_try_init(|| async { self.hash(&crate::crypto::random_token()).await })
            .await
    }

    async fn run(
        &self,
        password: &str,
        salt: Vec<u8>,
        params: Params,
        alg: Algorithm,
        version: Version,
    ) -> AppResult<Vec<u8>> {
        let waiting = ::metrics::gauge!("authql_password_hash_waiting");
        waiting.increment(1.0);
        let queued = std::time::Instant::now();
        let permit = self.permits.acquire().await;
        waiting.decrement(1.0);
        ::metrics::histogram!("authql_password_hash_wait_seconds").record(queued.elapsed().as_secs_f64());
        let _permit = permit.map_err(|_| AppError::internal("hasher closed"))?;
        let mut memory = self.buffers.lock().ok().and_then(|mut b| b.pop()).unwrap_or_default();
        let password = password.as_bytes().to_vec();
        let (memory, result) = tokio::task::spawn_blocking(move || {
            let blocks = params.block_count();
            if memory.len() != blocks {
                memory.resize(blocks, Block::new());
            }
            let mut out = vec![0u8; params.output_len().unwrap_or(OUTPUT_LEN)];
            let result = Argon2::new(alg, version, params)
                .hash_password_into_with_memory(&password, &salt, &mut out, &mut memory[..])
                .map(|()| out);
            (memory, result)
        })
        .await?;
        if let Ok(mut buffers) = self.buffers.lock() {
            buffers.push(memory);
        }
        result.map_err(|e| AppError::internal(format!("argon2: {e}")))
    }
}

fn encode(params: &Params, salt: &[u8], out: &[u8]) -> AppResult<String> {
    let fail = |e: argon2::password_hash::Error| AppError::internal(format!("argon2 PHC encoding: {e}"));
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(fail)?,
        salt: Some(Salt::new(salt).map_err(|e| fail(e.into()))?),
        hash: Some(Output::new(out).map_err(|e| fail(e.into()))?),
    };
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(memory_kib: u32) -> PasswordHasher {
        PasswordHasher::new(&PasswordConfig {
            memory_kib,
            iterations: 1,
            parallelism: 1,
            concurrency: 2,
            breach_check_url: None,
            breach_check_timeout: std::time::Duration::from_secs(1),
            blocklist: Vec::new(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_are_standard_phc() {
        let h = hasher(64);
        let phc = h.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify("correct horse battery staple", Some(&phc)).await.unwrap());
        assert!(!h.verify("correct horse battery stapler", Some(&phc)).await.unwrap());
        // The argon2 crate's own verifier agrees, so hashes stay portable.
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery staple", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn verify_without_a_hash_is_false_and_old_params_need_rehash() {
        let h = hasher(64);
        assert!(!h.verify("anything", None).await.unwrap());
        let old = hasher(128).hash("pw-pw-pw-pw").await.unwrap();
        assert!(
            h.verify("pw-pw-pw-pw", Some(&old)).await.unwrap(),
            "other params still verify"
        );
        assert!(h.needs_rehash(&old));
        assert!(!h.needs_rehash(&h.hash("pw-pw-pw-pw").await.unwrap()));
    }
}
