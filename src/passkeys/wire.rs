//! What travels to and from the client: the options of a ceremony as the
//! WebAuthn Level 3 JSON objects (the inner `publicKey`, base64url fields),
//! and the facts authql keeps from a registration's authenticator data.

use serde_json::{Value, json};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::config::webauthn::Attestation;
use crate::error::{AppError, AppResult};

/// `PublicKeyCredentialCreationOptionsJSON` for `ccr`. webauthn-rs asks for
/// `residentKey: "discouraged"`, so authenticators would make credentials
/// that cannot sign in without an email: authql requires discoverable ones.
///
/// # Errors
/// Only if the options cannot be serialised.
pub fn creation_options(ccr: &CreationChallengeResponse, attestation: Attestation) -> AppResult<Value> {
    let mut options = to_json(&ccr.public_key)?;
    options["authenticatorSelection"]["residentKey"] = json!("required");
    options["authenticatorSelection"]["requireResidentKey"] = json!(true);
    if attestation == Attestation::Direct {
        options["attestation"] = json!("direct");
    }
    Ok(options)
}

/// `PublicKeyCredentialRequestOptionsJSON` for `rcr`, listing `allowed`
/// (base64url credential ids) when the sign-in named an account.
///
/// # Errors
/// Only if the options cannot be serialised.
pub fn request_options(rcr: &RequestChallengeResponse, allowed: Option<&[String]>) -> AppResult<Value> {
    let mut options = to_json(&rcr.public_key)?;
    let listed: Vec<Value> = allowed
        .unwrap_or_default()
        .iter()
        .map(|id| json!({ "type": "public-key", "id": id }))
        .collect();
    options["allowCredentials"] = Value::Array(listed);
    Ok(options)
}

/// The authenticator's answer, as `PublicKeyCredential.toJSON()` gives it.
///
/// # Errors
/// `BAD_USER_INPUT` on `credential` for anything else.
pub fn answer<T: serde::de::DeserializeOwned>(credential: Value) -> AppResult<T> {
    serde_json::from_value(credential).map_err(|_| {
        AppError::bad_input(
            crate::error::Field::Credential,
            "expected what PublicKeyCredential.toJSON() returns",
        )
    })
}

fn to_json(value: &impl serde::Serialize) -> AppResult<Value> {
    let mut value = serde_json::to_value(value).map_err(|e| AppError::internal(format!("WebAuthn options: {e}")))?;
    drop_nulls(&mut value);
    Ok(value)
}

/// Absent, not null: `parseCreationOptionsFromJSON` refuses null for several members.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// What a registration's authenticator data says about the new credential.
#[derive(Debug, PartialEq, Eq)]
pub struct Registered {
    /// The authenticator model, hyphenated; `None` when it gives none (all zeros).
    pub aaguid: Option<String>,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub sign_count: u32,
}

/// Reads [`Registered`] from an attestation object (CBOR) that webauthn-rs has verified.
///
/// # Errors
/// `BAD_USER_INPUT` on `credential` when it holds no authenticator data.
pub fn registered(attestation_object: &[u8]) -> AppResult<Registered> {
    let bad = || {
        AppError::bad_input(
            crate::error::Field::Credential,
            "the attestation object holds no authenticator data",
        )
    };
    let object: serde_cbor_2::Value = serde_cbor_2::from_slice(attestation_object).map_err(|_| bad())?;
    let serde_cbor_2::Value::Map(map) = object else {
        return Err(bad());
    };
    let Some(serde_cbor_2::Value::Bytes(data)) = map.get(&serde_cbor_2::Value::Text("authData".into())) else {
        return Err(bad());
    };
    // rpIdHash (32) | flags (1) | signCount (4) | AAGUID (16) | …
    if data.len() < 53 {
        return Err(bad());
    }
    let flags = data[32];
    let sign_count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    let aaguid = uuid::Uuid::from_slice(&data[37..53]).ok().filter(|id| !id.is_nil());
    Ok(Registered {
        aaguid: aaguid.map(|id| id.hyphenated().to_string()),
        backup_eligible: flags & 0x08 != 0,
        backed_up: flags & 0x10 != 0,
        sign_count,
    })
}
