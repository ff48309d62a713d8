//! Access tokens: EdDSA JWTs with `kid`, verifiable by anyone holding the
//! JWKS, in RFC 9068's profile (`typ: at+jwt`, `jti`, `client_id`).

use std::sync::{Arc, RwLock};

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::keys::KeyStore;
use super::memo::{Lookup, Memo};
use crate::config::{AccessTokenTyp, TokenConfig};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::entities::sessions::Amr;
use crate::entities::users::Role;
use crate::error::{AppError, AppResult};

/// Longest access token accepted: above the longest authql signs, and
/// within the 8 KiB most proxies allow a header.
const MAX_TOKEN_BYTES: usize = 8000;

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    /// The session's id; the token dies with its session.
    pub sid: Uuid,
    /// `USER` or `ADMIN`.
    pub role: Role,
    /// How the user authenticated (RFC 8176 values such as `pwd`).
    pub amr: Vec<Amr>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// This token's own id, unique per token (RFC 9068).
    pub jti: Uuid,
    /// The client the token was issued to (RFC 9068). authql has no client
    /// registry: every app of a deployment is the one client the audience
    /// names, so this is the audience.
    pub client_id: String,
    /// The object administrators set on the account (`setAppMetadata`), as
    /// it was when this token was issued.
    #[serde(default)]
    pub app_metadata: serde_json::Value,
    /// Claims the access-token hook added when the session was opened
    /// (never one of the above: those are refused before they get here).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Who a token is for and how they signed in.
pub struct Subject<'a> {
    pub user: Uuid,
    pub session: Uuid,
    pub role: Role,
    pub amr: &'a [Amr],
    /// The account's app metadata (an object).
    pub app_metadata: serde_json::Value,
    /// The session's claims from the access-token hook.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The claims of a new access token for `subject`.
pub fn claims_for(policy: &TokenConfig, issuer: &str, subject: &Subject<'_>) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: subject.user,
        sid: subject.session,
        role: subject.role,
        amr: subject.amr.to_vec(),
        iss: issuer.to_owned(),
        aud: policy.audience.clone(),
        iat: now,
        exp: now.saturating_add(lifetime_secs(policy)),
        jti: Uuid::new_v4(),
        client_id: policy.audience.clone(),
        app_metadata: subject.app_metadata.clone(),
        extra: subject.extra.clone(),
    }
}

/// Signs `claims` as an access token.
///
/// # Errors
/// Only if signing fails, which means a corrupt key.
pub fn sign(keys: &KeyStore, policy: &TokenConfig, claims: &Claims) -> AppResult<String> {
    keys.with_signer(|signer| signer.sign(policy.access_typ, claims))?
}

/// Checks access tokens: type, signature, issuer, audience and expiry.
///
/// A client sends the same access token with every request until it
/// expires, and an Ed25519 verification costs about as much as the rest of a
/// request. Tokens that passed every check (their type too) are therefore
/// remembered for a while ([`Memo`]).
pub struct Verifier {
    validation: Validation,
    /// Whether the generic `typ: JWT` passes too (ACCESS_TOKEN_TYP=JWT).
    generic_typ: bool,
    verified: RwLock<Memo>,
}

/// Most tokens remembered at once (a few hundred bytes each). With 10 000
/// sessions in use, the 4 096 this was before meant a verification on
/// nearly every request (bench/README.md, "10 000 accounts").
const REMEMBERED: usize = 65_536;

impl Verifier {
    /// A verifier for tokens `issuer` issues for `audience` with header `typ`.
    pub fn new(issuer: &str, audience: &str, typ: AccessTokenTyp) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            validation,
            generic_typ: typ == AccessTokenTyp::Jwt,
            verified: RwLock::new(Memo::new(REMEMBERED)),
        }
    }

    /// The claims of a valid token.
    ///
    /// A `kid` this instance has not seen triggers one reload of the keys, so a
    /// rotation on another instance is picked up at once.
    ///
    /// # Errors
    /// [`AppError::Unauthenticated`] for any token that does not verify.
    pub async fn verify(&self, keys: &KeyStore, db: &Db, crypto: &Crypto, token: &str) -> AppResult<Arc<Claims>> {
        // Past what authql signs (its claims with app metadata and a hook's
        // claims at their caps, in base64), a token is not ours.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AppError::Unauthenticated);
        }
        let now = chrono::Utc::now().timestamp();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match self.verified.read().map(|m| m.get(&digest, now)) {
            Ok(Lookup::Live(claims)) => return Ok(claims),
            Ok(Lookup::Expired) => return Err(AppError::Unauthenticated),
            Ok(Lookup::Unknown) | Err(_) => {}
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AppError::Unauthenticated)?;
        if header.alg != Algorithm::EdDSA || !is_access_token(header.typ.as_deref(), self.generic_typ) {
            return Err(AppError::Unauthenticated);
        }
        let kid = header.kid.ok_or(AppError::Unauthenticated)?;
        let key = match keys.verifier(&kid) {
            Some(key) => key,
            None if keys.may_reload() => {
                if keys.reload(db, crypto).await? {
                    self.forget_verified();
                }
                keys.verifier(&kid).ok_or(AppError::Unauthenticated)?
            }
            None => return Err(AppError::Unauthenticated),
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| Arc::new(data.claims))
            .map_err(|_| AppError::Unauthenticated)?;
        if let Ok(mut verified) = self.verified.write() {
            verified.remember(digest, claims.clone(), now);
        }
        Ok(claims)
    }
}

impl Verifier {
    /// Forgets every token verified so far: a key was revoked, and tokens it
    /// signed must be checked again (and fail).
    pub fn forget_verified(&self) {
        if let Ok(mut verified) = self.verified.write() {
            verified.clear();
        }
    }
}

/// Whether a JWS header's `typ` says "access token": RFC 9068's `at+jwt`,
/// with or without `application/`, in any case (RFC 7515 §4.1.9); with
/// `generic`, the old `JWT` too. Any other type signed by the same key (or
/// none) is refused, so no other JWT can pass for an access token.
fn is_access_token(typ: Option<&str>, generic: bool) -> bool {
    let Some(typ) = typ else {
        return false;
    };
    let subtype = match (typ.get(..12), typ.get(12..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("application/") => rest,
        _ => typ,
    };
    subtype.eq_ignore_ascii_case("at+jwt") || (generic && typ.eq_ignore_ascii_case("JWT"))
}

/// Seconds an access token lives, for `expiresIn`.
pub fn lifetime_secs(policy: &TokenConfig) -> i64 {
    i64::try_from(policy.access_ttl.as_secs()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn claims(exp: i64) -> Arc<Claims> {
        Arc::new(Claims {
            sub: Uuid::nil(),
            sid: Uuid::nil(),
            role: Role::User,
            amr: Vec::new(),
            iss: "i".into(),
            aud: "a".into(),
            iat: 0,
            exp,
            jti: Uuid::nil(),
            client_id: "a".into(),
            app_metadata: serde_json::Value::Null,
            extra: serde_json::Map::new(),
        })
    }

    #[test]
    fn only_an_access_token_type_passes() {
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
            assert!(is_access_token(Some(typ), false), "{typ}");
        }
        for typ in [
            "JWT",
            "jwt",
            "application/jwt",
            "logout+jwt",
            "at+jwt ",
            "applicatioñ/at+jwt",
            "",
        ] {
            assert!(!is_access_token(Some(typ), false), "{typ}");
        }
        assert!(!is_access_token(None, true));
        assert!(is_access_token(Some("JWT"), true));
        assert!(is_access_token(Some("at+jwt"), true));
        assert!(!is_access_token(Some("logout+jwt"), true));
    }
}
