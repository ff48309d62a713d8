//! The master key: required in production, generated once into DATA_DIR in development.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;

use super::{ConfigError, Secret};

/// Shortest master key accepted, in characters.
pub const MIN_SECRET_KEY_LEN: usize = 32;
const KEY_FILE: &str = "secret.key";

/// Returns the master key to use.
///
/// # Errors
/// When the key is missing or short in production, when a given key is
/// short, or when the development key file cannot be read or written.
pub fn master_key(given: Option<Secret>, production: bool, data_dir: &Path) -> Result<Secret, ConfigError> {
    match given.filter(|k| !k.expose().is_empty()) {
        Some(key) if key.expose().chars().count() < MIN_SECRET_KEY_LEN => Err(short_key()),
        Some(key) if guessable(key.expose()) => Err(ConfigError(
            "SECRET_KEY: too easy to guess (repeated or patterned characters); generate one with `authql keygen --secret`"
                .into(),
        )),
        Some(key) => Ok(key),
        None if production => Err(short_key()),
        None => development_key(data_dir),
    }
}

/// Whether a long enough key is still low in entropy: few distinct
/// characters, or a pattern (repeats, sequences, words) zxcvbn sees through.
fn guessable(key: &str) -> bool {
    let distinct = key.chars().collect::<std::collections::HashSet<_>>().len();
    distinct < 10 || zxcvbn::zxcvbn(key, &[]).score() < zxcvbn::Score::Four
}

/// The error for a missing or short SECRET_KEY.
pub fn short_key() -> ConfigError {
    ConfigError(format!(
        "SECRET_KEY: required, at least {MIN_SECRET_KEY_LEN} characters (generate one with `authql keygen --secret`)"
    ))
}

/// A random key in the URL-safe base64 form `keygen --secret` prints.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn development_key(data_dir: &Path) -> Result<Secret, ConfigError> {
    let path = data_dir.join(KEY_FILE);
    let fail = |what: &str, e: std::io::Error| ConfigError(format!("DATA_DIR: cannot {what} {}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(key) if key.trim().len() >= MIN_SECRET_KEY_LEN => return Ok(Secret::new(key.trim())),
        Ok(_) => {
            return Err(ConfigError(format!(
                "DATA_DIR: {} holds a short key; delete it to generate a new one",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("read", e)),
    }
    std::fs::create_dir_all(data_dir).map_err(|e| fail("create the folder of", e))?;
    let key = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes()).map_err(|e| fail("write", e))?;
            tracing::warn!(path = %path.display(), "no SECRET_KEY given: generated a development key; set SECRET_KEY in production");
            Ok(Secret::new(key))
        }
        // Another process created it between our read and our write: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => development_key(data_dir),
        Err(e) => Err(fail("create", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_missing_short_or_guessable_keys() {
        let dir = tempfile::tempdir().unwrap();
        assert!(master_key(None, true, dir.path()).is_err());
        assert!(master_key(Some(Secret::new("short")), true, dir.path()).is_err());
        assert!(master_key(Some(Secret::new("x".repeat(32))), true, dir.path()).is_err());
        assert!(master_key(Some(Secret::new("0123456789".repeat(4))), true, dir.path()).is_err());
        assert!(master_key(Some(Secret::new(generate())), true, dir.path()).is_ok());
    }

    #[test]
    fn development_generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = master_key(None, false, dir.path()).unwrap();
        let second = master_key(None, false, dir.path()).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert!(first.expose().len() >= MIN_SECRET_KEY_LEN);
    }
}
