//! The access-token hook: asked once, when a session is opened, with the
//! claims about to be signed; the claims it answers are kept on the session
//! and copied into every access token its refreshes issue, so a refresh
//! never waits on it. It cannot replace a claim authql sets.

use serde_json::{Map, Value, json};

use super::Hooks;
use crate::config::integrations::OnFailure;
use crate::error::{AppError, AppResult};

/// Claims authql sets, and registered claims whose meaning verifiers act on
/// (RFC 9068's `auth_time`, `acr` and `scope`, RFC 7800's `cnf`, OpenID
/// Connect's `azp` and `nonce`, RFC 8693's `act` and `may_act`): a hook
/// cannot add or replace them, or a backend checking a token's freshness,
/// strength, scope or binding would believe the hook instead of authql.
pub const RESERVED: [&str; 20] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sid",
    "amr",
    "role",
    "client_id",
    "app_metadata",
    "auth_time",
    "acr",
    "scope",
    "cnf",
    "azp",
    "nonce",
    "act",
    "may_act",
];

/// Largest set of extra claims, as compact JSON.
const MAX_EXTRA: usize = 1024;

impl Hooks {
    /// Whether HOOK_ACCESS_TOKEN_URL is set.
    pub fn adds_claims(&self) -> bool {
        self.config.access_token.is_some()
    }

    /// Asks HOOK_ACCESS_TOKEN_URL for claims to add to `claims` (those of
    /// the first access token of a new session); none without a hook. A
    /// reserved claim in the answer is dropped, with a warning.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the hook fails (or answers more than 1 KiB
    /// of claims) and its policy is `deny`; with `allow`, no claims instead.
    #[tracing::instrument(skip_all)]
    pub async fn extra_claims(&self, claims: &Value, email: &str) -> AppResult<Map<String, Value>> {
        let Some(url) = &self.config.access_token else {
            return Ok(Map::new());
        };
        let data = json!({ "claims": claims, "email": email });
        let answer = self.call("access_token", url, "session.access_token", data).await;
        match answer.and_then(|a| extra(&a)) {
            Ok(extra) => Ok(extra),
            Err(why) if self.config.token_on_failure == OnFailure::Deny => {
                Err(AppError::Unavailable(format!("the access-token hook failed: {why}")))
            }
            Err(why) => {
                tracing::warn!(%why, "signing in without the access-token hook's claims");
                Ok(Map::new())
            }
        }
    }
}

/// The claims of an answer `{"claims": {…}}`, without reserved ones.
fn extra(answer: &Value) -> Result<Map<String, Value>, String> {
    let claims = match answer.get("claims") {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(claims)) => claims,
        Some(_) => return Err("claims is not an object".to_owned()),
    };
    let mut kept = Map::new();
    for (name, value) in claims {
        if RESERVED.contains(&name.as_str()) {
            tracing::warn!(claim = %name, "the access-token hook may not set this claim: dropped");
        } else {
            kept.insert(name.clone(), value.clone());
        }
    }
    let size = Value::Object(kept.clone()).to_string().len();
    if size > MAX_EXTRA {
        return Err(format!("its claims take {size} bytes, more than {MAX_EXTRA}"));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_claims_are_dropped_and_the_rest_kept() {
        let answer = json!({ "claims": {
            "sub": "someone-else", "role": "ADMIN", "tenant": "acme", "scopes": ["a"],
            "scope": "admin", "auth_time": 4_102_444_800_i64, "acr": "phr", "cnf": { "jkt": "x" },
            "azp": "other-app", "nonce": "n", "act": { "sub": "x" }, "may_act": { "sub": "x" },
        } });
        let kept = extra(&answer).unwrap();
        assert_eq!(Value::Object(kept), json!({ "tenant": "acme", "scopes": ["a"] }));
        assert!(extra(&json!({})).unwrap().is_empty());
        assert!(extra(&json!({ "claims": [1] })).is_err());
        assert!(extra(&json!({ "claims": { "big": "x".repeat(1100) } })).is_err());
    }
}
