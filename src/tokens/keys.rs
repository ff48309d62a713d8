//! Ed25519 signing keys: shared by every instance through the database, sealed at rest.
//!
//! The newest key whose time has come signs (`created_at` is when a key starts
//! signing; a rotated-in key is published ahead of that). Retired keys keep
//! verifying until every token they could have signed has expired, so rotation
//! never logs anyone out.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer as _, SigningKey};
use jsonwebtoken::DecodingKey;
use rand::RngExt;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use crate::config::AccessTokenTyp;
use crate::crypto::Crypto;
use crate::db::{self, Db};
use crate::entities::signing_keys;
use crate::error::{AppError, AppResult};

const SEAL_PURPOSE: &str = "signing_key";
/// How long past `retired_at + ACCESS_TOKEN_TTL` a retired key is still published,
/// covering instances that keep signing with it until their next reload.
const RETIRED_MARGIN: Duration = Duration::from_secs(300);
/// Unknown `kid`s trigger at most one reload this often.
const RELOAD_BACKOFF: Duration = Duration::from_secs(5);

/// The key that signs new tokens, parsed once (parsing costs as much as signing).
pub struct Signer {
    pub kid: String,
    key: SigningKey,
    /// The encoded JWS headers of each `typ`, the same for every token of this key.
    at_jwt_header: String,
    jwt_header: String,
}

impl Signer {
    fn new(kid: String, key: SigningKey) -> Self {
        let header = |typ: AccessTokenTyp| {
            let header = serde_json::json!({ "alg": "EdDSA", "kid": kid, "typ": typ.as_str() });
            URL_SAFE_NO_PAD.encode(header.to_string())
        };
        Self {
            at_jwt_header: header(AccessTokenTyp::AtJwt),
            jwt_header: header(AccessTokenTyp::Jwt),
            kid,
            key,
        }
    }

    /// A compact JWS (RFC 7515) of `claims` with header `typ`:
    /// `header.payload.signature`, EdDSA over the first two.
    ///
    /// # Errors
    /// Only if the claims cannot be serialised.
    pub fn sign<T: serde::Serialize>(&self, typ: AccessTokenTyp, claims: &T) -> AppResult<String> {
        let payload = serde_json::to_vec(claims).map_err(|e| AppError::internal(format!("claims: {e}")))?;
        let header = match typ {
            AccessTokenTyp::AtJwt => &self.at_jwt_header,
            AccessTokenTyp::Jwt => &self.jwt_header,
        };
        let mut token = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(token)
    }
}

struct KeySet {
    signer: Signer,
    verifiers: HashMap<String, DecodingKey>,
    jwks: String,
    loaded_at: Instant,
}

/// The signing and verifying keys of this instance, reloaded from the database.
pub struct KeyStore {
    set: RwLock<KeySet>,
    access_ttl: Duration,
}

impl KeyStore {
    /// Loads the keys, creating the first one if the database has none.
    ///
    /// # Errors
    /// When the database fails or a key cannot be opened (a different SECRET_KEY).
    pub async fn load(db: &Db, crypto: &Crypto, access_ttl: Duration) -> AppResult<Self> {
        let set = load_set(db, crypto, access_ttl).await?;
        Ok(Self {
            set: RwLock::new(set),
            access_ttl,
        })
    }

    /// Rereads the keys, picking up rotations made by any instance; true
    /// when a key that verified before no longer does (it was revoked).
    ///
    /// # Errors
    /// As for [`KeyStore::load`].
    pub async fn reload(&self, db: &Db, crypto: &Crypto) -> AppResult<bool> {
        let set = load_set(db, crypto, self.access_ttl).await?;
        let mut current = self
            .set
            .write()
            .map_err(|_| AppError::internal("key store lock poisoned"))?;
        let dropped = current.verifiers.keys().any(|kid| !set.verifiers.contains_key(kid));
        *current = set;
        Ok(dropped)
    }

    /// Calls `f` with the current signing key.
    ///
    /// # Errors
    /// Only if the lock was poisoned.
    pub fn with_signer<T>(&self, f: impl FnOnce(&Signer) -> T) -> AppResult<T> {
        let set = self
            .set
            .read()
            .map_err(|_| AppError::internal("key store lock poisoned"))?;
        Ok(f(&set.signer))
    }

    /// The verifying key for `kid`, if it is known.
    pub fn verifier(&self, kid: &str) -> Option<DecodingKey> {
        self.set.read().ok()?.verifiers.get(kid).cloned()
    }

    /// Whether an unknown `kid` may trigger a reload now.
    pub fn may_reload(&self) -> bool {
        self.set.read().is_ok_and(|s| s.loaded_at.elapsed() >= RELOAD_BACKOFF)
    }

    /// The JWKS document (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> String {
        self.set
            .read()
            .map(|s| s.jwks.clone())
            .unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }
}

/// How long a rotated-in key is published before it signs: longer than the
/// JWKS cache lifetime (5 min) plus an instance's reload period, so offline
/// verifiers know the key before they meet a token signed with it.
pub const ROTATION_DELAY: Duration = Duration::from_secs(600);

/// Publishes a new signing key now; it starts signing after `activate_in`,
/// when the others retire. Returns its `kid`. A zero delay is for a
/// compromised key: verifiers with a cached JWKS reject new tokens until they refetch.
///
/// # Errors
/// When the database fails.
pub async fn rotate(db: &Db, crypto: &Crypto, activate_in: Duration) -> AppResult<String> {
    let from = db::after(activate_in);
    let kid = insert_new(db.writer(), crypto, from).await?;
    signing_keys::Entity::update_many()
        .col_expr(signing_keys::Column::RetiredAt, sea_orm::sea_query::Expr::value(from))
        // Keys due to retire later (an earlier scheduled rotation) retire by then too.
        .filter(
            signing_keys::Column::RetiredAt
                .is_null()
                .or(signing_keys::Column::RetiredAt.gt(from)),
        )
        .filter(signing_keys::Column::Kid.ne(kid.clone()))
        .exec(db.writer())
        .await?;
    Ok(kid)
}

/// Signs with a new key at once and removes every other key, so tokens they
/// signed stop verifying (a leaked key): instances drop them at their next
/// key reload, within a minute. Returns the new `kid`.
///
/// # Errors
/// When the database fails.
pub async fn rotate_revoking_previous(db: &Db, crypto: &Crypto) -> AppResult<String> {
    let tx = db.begin().await?;
    let kid = insert_new(&*tx, crypto, db::now()).await?;
    signing_keys::Entity::delete_many()
        .filter(signing_keys::Column::Kid.ne(kid.clone()))
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(kid)
}

/// Whether a key signs now: its time has come and it has not retired.
fn signs_now(key: &signing_keys::Model, now: DateTime<Utc>) -> bool {
    key.created_at <= now && key.retired_at.is_none_or(|at| at > now)
}

async fn load_set(db: &Db, crypto: &Crypto, access_ttl: Duration) -> AppResult<KeySet> {
    let mut rows = published(db, access_ttl).await?;
    // Start-up created one (ensure_signing_key); this covers keys deleted by hand since.
    if !rows.iter().any(|k| signs_now(k, db::now())) {
        insert_new(db.writer(), crypto, db::now()).await?;
        rows = published(db, access_ttl).await?;
    }
    // Newest first: every instance picks the same signer once it has reloaded.
    let now = db::now();
    let current = rows
        .iter()
        .find(|k| signs_now(k, now))
        .ok_or_else(|| AppError::internal("no signing key after creating one"))?;
    let der = crypto.open(&current.private_key, SEAL_PURPOSE)?;
    let key = SigningKey::from_pkcs8_der(&der)
        .map_err(|e| AppError::internal(format!("signing key {} is malformed: {e}", current.kid)))?;
    let signer = Signer::new(current.kid.clone(), key);
    let mut verifiers = HashMap::new();
    let mut jwks = Vec::new();
    for k in &rows {
        let key = DecodingKey::from_ed_components(&k.public_key)
            .map_err(|e| AppError::internal(format!("signing key {} is malformed: {e}", k.kid)))?;
        verifiers.insert(k.kid.clone(), key);
        jwks.push(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": k.kid, "x": k.public_key,
        }));
    }
    let jwks = serde_json::json!({ "keys": jwks }).to_string();
    Ok(KeySet {
        signer,
        verifiers,
        jwks,
        loaded_at: Instant::now(),
    })
}

async fn published(db: &Db, access_ttl: Duration) -> AppResult<Vec<signing_keys::Model>> {
    let oldest_useful = db::before(access_ttl + RETIRED_MARGIN);
    Ok(signing_keys::Entity::find()
        .filter(
            signing_keys::Column::RetiredAt
                .is_null()
                .or(signing_keys::Column::RetiredAt.gt(oldest_useful)),
        )
        .order_by_desc(signing_keys::Column::CreatedAt)
        .order_by_desc(signing_keys::Column::Kid)
        .all(&db.read)
        .await?)
}

/// Creates a signing key if none signs now: the first start of a database.
/// Run under the start-up lock, so instances starting together create one key, not one each.
///
/// # Errors
/// When the database fails.
pub async fn ensure_signing_key(conn: &impl ConnectionTrait, crypto: &Crypto) -> AppResult<()> {
    let now = db::now();
    let signing = signing_keys::Entity::find()
        .filter(signing_keys::Column::CreatedAt.lte(now))
        .filter(
            signing_keys::Column::RetiredAt
                .is_null()
                .or(signing_keys::Column::RetiredAt.gt(now)),
        )
        .count(conn)
        .await?;
    if signing == 0 {
        insert_new(conn, crypto, now).await?;
    }
    Ok(())
}

/// Stores a new key that signs from `from` (`created_at`).
async fn insert_new(conn: &impl ConnectionTrait, crypto: &Crypto, from: DateTime<Utc>) -> AppResult<String> {
    let seed: [u8; 32] = rand::rng().random();
    let key = SigningKey::from_bytes(&seed);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| AppError::internal(format!("pkcs8: {e}")))?;
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    // RFC 7638 thumbprint: a kid anyone can recompute from the JWK.
    let thumbprint_input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
    signing_keys::ActiveModel {
        kid: Set(kid.clone()),
        algorithm: Set("EdDSA".to_owned()),
        private_key: Set(crypto.seal(der.as_bytes(), SEAL_PURPOSE)?),
        public_key: Set(x),
        created_at: Set(from),
        retired_at: Set(None),
    }
    .insert(conn)
    .await?;
    tracing::info!(%kid, "created a new signing key");
    Ok(kid)
}
