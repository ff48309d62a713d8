//! The memo of access tokens that passed every check, so a token sent with
//! every request is verified once in a while rather than each time.
//!
//! Keyed by the SHA-256 of the token's whole text (never a part of it, so a
//! token with another header is another entry). An entry is kept for
//! [`HORIZON`] at most, not for the token's whole life: a token still in use
//! after that is verified again (one signature check), and one no longer
//! used (its session ended, its client gone) does not hold memory until it
//! expires. Entries past their horizon are swept every [`SWEEP_EVERY`].

use std::collections::HashMap;
use std::sync::Arc;

use super::jwt::Claims;

/// Seconds an entry is served before its token is verified again.
pub const HORIZON: i64 = 120;
/// Seconds between sweeps of entries past their horizon.
const SWEEP_EVERY: i64 = 10;

/// What the memo knows of a token.
pub enum Lookup {
    /// Verified, and still live.
    Live(Arc<Claims>),
    /// Verified once, and expired since.
    Expired,
    /// To be verified.
    Unknown,
}

/// Verified tokens, at most `capacity` of them.
pub struct Memo {
    entries: HashMap<[u8; 32], (Arc<Claims>, i64)>,
    swept_at: i64,
    capacity: usize,
}

impl Memo {
    /// An empty memo of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            swept_at: 0,
            capacity,
        }
    }

    /// What is known at `now` of the token whose digest is `digest`.
    pub fn get(&self, digest: &[u8; 32], now: i64) -> Lookup {
        match self.entries.get(digest) {
            Some((claims, _)) if claims.exp <= now => Lookup::Expired,
            Some((claims, until)) if now < *until => Lookup::Live(claims.clone()),
            _ => Lookup::Unknown,
        }
    }

    /// Keeps `claims` under `digest` until its horizon or expiry. When full,
    /// entries past their horizon go first; if it is still full, a quarter
    /// (in the map's own random order), not all, so a working set a little
    /// over the capacity is not verified afresh on every request.
    pub fn remember(&mut self, digest: [u8; 32], claims: Arc<Claims>, now: i64) {
        if now - self.swept_at >= SWEEP_EVERY || self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, until)| *until > now);
            self.swept_at = now;
        }
        if self.entries.len() >= self.capacity {
            let drop: Vec<[u8; 32]> = self.entries.keys().take(self.capacity.div_ceil(4)).copied().collect();
            for key in drop {
                self.entries.remove(&key);
            }
        }
        let until = claims.exp.min(now + HORIZON);
        self.entries.insert(digest, (claims, until));
    }

    /// Forgets every token (a key was revoked).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::jwt::tests::claims;

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn a_full_memo_of_live_tokens_drops_a_quarter_and_keeps_the_rest() {
        let mut memo = Memo::new(8);
        for n in 0..8 {
            memo.remember(key(n), claims(1000), 5);
        }
        assert_eq!(memo.len(), 8);
        memo.remember(key(8), claims(1000), 5);
        assert_eq!(memo.len(), 7, "two of eight dropped, the new one kept");
        assert!(matches!(memo.get(&key(8), 5), Lookup::Live(_)));
    }

    #[test]
    fn tokens_unseen_past_the_horizon_are_swept_though_they_have_not_expired() {
        let mut memo = Memo::new(1000);
        for n in 0..4 {
            memo.remember(key(n), claims(10_000), 0);
        }
        assert!(matches!(memo.get(&key(0), HORIZON - 1), Lookup::Live(_)));
        assert!(
            matches!(memo.get(&key(0), HORIZON), Lookup::Unknown),
            "verified again past the horizon"
        );
        memo.remember(key(9), claims(10_000), HORIZON + SWEEP_EVERY);
        assert_eq!(memo.len(), 1, "the unused four hold no memory");
    }

    #[test]
    fn an_expired_token_is_known_as_expired_until_swept() {
        let mut memo = Memo::new(1000);
        memo.remember(key(1), claims(30), 0);
        assert!(matches!(memo.get(&key(1), 29), Lookup::Live(_)));
        assert!(matches!(memo.get(&key(1), 30), Lookup::Expired));
    }
}
