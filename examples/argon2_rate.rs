//! Raw argon2id verification rate on this machine: the physical limit of the login benchmark.
//!
//! `cargo run --release --example argon2_rate -- [seconds] [threads]` prints one JSON line:
//! verifications per second on one thread with the argon2 crate alone, and
//! through authql's hasher with `threads` concurrent verifications.

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use authql::accounts::password::PasswordHasher;
use authql::config::PasswordConfig;

const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let cfg = PasswordConfig {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
        concurrency: threads,
        breach_check_url: None,
        breach_check_timeout: std::time::Duration::from_secs(1),
        blocklist: Vec::new(),
    };

    // The argon2 crate alone, one thread, allocating per call as its API does.
    let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None).expect("params");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let phc = argon.hash_password(PASSWORD.as_bytes()).expect("hash").to_string();
    let parsed = PasswordHash::new(&phc).expect("phc");
    let raw = rate(Duration::from_secs(seconds), || {
        assert!(argon.verify_password(PASSWORD.as_bytes(), &parsed).is_ok());
    });

    // authql's hasher: bounded concurrency, reused memory, on the blocking pool.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ours = rt.block_on(async {
        let hasher = std::sync::Arc::new(PasswordHasher::new(&cfg).expect("hasher"));
        let phc = hasher.hash(PASSWORD).await.expect("hash");
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let workers: Vec<_> = (0..threads * 2)
            .map(|_| {
                let (hasher, phc) = (hasher.clone(), phc.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        assert!(hasher.verify(PASSWORD, Some(&phc)).await.expect("verify"));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for w in workers {
            total += w.await.expect("worker");
        }
        total as f64 / started.elapsed().as_secs_f64()
    });
    println!(
        "{{\"memory_kib\":{},\"iterations\":{},\"parallelism\":{},\"raw_verifies_per_sec_1_thread\":{raw:.1},\"authql_threads\":{threads},\"authql_verifies_per_sec\":{ours:.1}}}",
        cfg.memory_kib, cfg.iterations, cfg.parallelism
    );
}

fn rate(duration: Duration, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        f();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}
