//! PKCE (RFC 7636, S256 only) between authql and the app: a login code that
//! leaves authql is bound to the challenge the app added to `authorizeUrl`,
//! and redeems only with its verifier, so whoever intercepts the code (an
//! app with the same custom scheme, a page driving a victim's browser) gets
//! nothing. `plain` would hand the verifier to the interceptor: refused.

use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use subtle::ConstantTimeEq;

use crate::error::{AppError, AppResult, Field};

/// An app's S256 code challenge: 43 base64url characters (a SHA-256 digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge(String);

impl Challenge {
    /// The challenge an app sent with `code_challenge` and
    /// `code_challenge_method`; `None` when it sent neither.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `codeChallenge` for a method other than `S256`
    /// (a missing one means `plain`), or a challenge that is not one.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> AppResult<Option<Self>> {
        let (challenge, method) = match (challenge.filter(|c| !c.is_empty()), method.filter(|m| !m.is_empty())) {
            (None, None) => return Ok(None),
            pair => pair,
        };
        if method != Some("S256") {
            return Err(AppError::bad_input(
                Field::CodeChallenge,
                "code_challenge_method must be S256",
            ));
        }
        let well_formed = challenge
            .is_some_and(|c| c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        match challenge {
            Some(c) if well_formed => Ok(Some(Self(c.to_owned()))),
            _ => Err(AppError::bad_input(
                Field::CodeChallenge,
                "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
            )),
        }
    }

    /// The challenge as stored beside its code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The challenge stored beside a code.
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.to_owned())
    }

    /// Whether `verifier` is the one this challenge was made from, compared
    /// in constant time. A verifier outside RFC 7636's form never is.
    pub fn is_met_by(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !well_formed {
            return false;
        }
        let made = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()));
        bool::from(made.as_str().as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::Challenge;

    // RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies_and_nothing_else_does() {
        let challenge = Challenge::parse(Some(CHALLENGE), Some("S256")).unwrap().unwrap();
        assert!(challenge.is_met_by(VERIFIER));
        assert!(!challenge.is_met_by(&VERIFIER.replace('d', "e")));
        assert!(!challenge.is_met_by(CHALLENGE));
        assert!(!challenge.is_met_by(""));
        assert!(!challenge.is_met_by(&"a".repeat(129)));
    }

    #[test]
    fn plain_a_missing_method_and_malformed_challenges_are_refused() {
        assert_eq!(Challenge::parse(None, None).unwrap(), None);
        assert!(Challenge::parse(Some(CHALLENGE), Some("plain")).is_err());
        assert!(Challenge::parse(Some(CHALLENGE), None).is_err());
        assert!(Challenge::parse(None, Some("S256")).is_err());
        assert!(Challenge::parse(Some("short"), Some("S256")).is_err());
        assert!(Challenge::parse(Some(&format!("{}=", &CHALLENGE[..42])), Some("S256")).is_err());
    }
}
