//! Keys derived from the master key, sealing of secrets at rest, and opaque tokens.
//!
//! Sub-keys come from HKDF-SHA256 over SECRET_KEY with a distinct label each,
//! so one master key serves every purpose without reuse. Sealed values are
//! AES-256-GCM with a fresh 96-bit nonce and the value's purpose as
//! associated data, so a sealed TOTP secret can never be opened as a signing key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

const SEAL_PREFIX: &str = "v1.";

/// Sub-keys of the master key. Cheap to share behind an `Arc`.
pub struct Crypto {
    seal: Aes256Gcm,
    successor_key: [u8; 32],
    code_key: [u8; 32],
}

impl Crypto {
    /// Derives every sub-key from the master key.
    pub fn new(master_key: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"authql"), master_key.as_bytes());
        let mut seal_key = [0u8; 32];
        let mut successor_key = [0u8; 32];
        let mut code_key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hk.expand(b"seal v1", &mut seal_key);
        let _ = hk.expand(b"refresh successor v1", &mut successor_key);
        let _ = hk.expand(b"short codes v1", &mut code_key);
        Self {
            seal: Aes256Gcm::new(&seal_key.into()),
            successor_key,
            code_key,
        }
    }

    /// Encrypts `plaintext` for storage; `purpose` must be given again to open it.
    ///
    /// # Errors
    /// Only if the cipher fails, which it does not for inputs under 64 GiB.
    pub fn seal(&self, plaintext: &[u8], purpose: &str) -> AppResult<String> {
        let nonce_bytes: [u8; 12] = rand::rng().random();
        let nonce = Nonce::from(nonce_bytes);
        let sealed = self
            .seal
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| AppError::internal("sealing failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEAL_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts a value made by [`Crypto::seal`] with the same purpose.
    ///
    /// # Errors
    /// When the value was sealed under another key or purpose, or was altered.
    pub fn open(&self, sealed: &str, purpose: &str) -> AppResult<Vec<u8>> {
        let fail = || {
            AppError::internal(format!(
                "cannot open a sealed {purpose}: wrong SECRET_KEY or altered data"
            ))
        };
        let raw = sealed.strip_prefix(SEAL_PREFIX).ok_or_else(fail)?;
        let raw = URL_SAFE_NO_PAD.decode(raw).map_err(|_| fail())?;
        if raw.len() < 12 + 16 {
            return Err(fail());
        }
        let (nonce, body) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| fail())?;
        self.seal
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| fail())
    }

    /// What is stored of a short code (an emailed OTP, a recovery code) of
    /// `owner`: keyed, so a copy of the database cannot be searched for the
    /// few million possible codes without SECRET_KEY.
    pub fn code_hash(&self, owner: &str, code: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.code_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(owner.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The refresh token that succeeds `token`: the same for the same token, unguessable without the master key.
    pub fn successor(&self, token: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.successor_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A new random token of 256 bits, URL-safe.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hex SHA-256 of a token: what is stored in place of the token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let a = Crypto::new(&"a".repeat(32));
        let b = Crypto::new(&"b".repeat(32));
        let sealed = a.seal(b"private key", "signing_key").unwrap();
        assert!(!sealed.contains("private"));
        assert_eq!(a.open(&sealed, "signing_key").unwrap(), b"private key");
        assert!(a.open(&sealed, "totp").is_err());
        assert!(b.open(&sealed, "signing_key").is_err());
        assert_ne!(
            sealed,
            a.seal(b"private key", "signing_key").unwrap(),
            "nonces are fresh"
        );
    }

    #[test]
    fn successors_are_deterministic_per_key() {
        let a = Crypto::new(&"a".repeat(32));
        let b = Crypto::new(&"b".repeat(32));
        let t = random_token();
        assert_eq!(a.successor(&t), a.successor(&t));
        assert_ne!(a.successor(&t), b.successor(&t));
        assert_ne!(a.successor(&t), t);
    }

    #[test]
    fn tokens_are_long_and_hashes_hex() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token());
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
