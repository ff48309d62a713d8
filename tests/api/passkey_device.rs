//! A software authenticator (1Password's `passkey` crate) behind a stand-in
//! for the browser: it reads a ceremony's options JSON, writes the client
//! data for its origin, has the authenticator sign, and answers with what
//! `PublicKeyCredential.toJSON()` gives. Every knob an attacker has is open:
//! the origin, the RP ID, user verification, the stored credentials.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passkey::authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck, UserValidationMethod,
};
use passkey::crypto::iana;
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::ctap2::{Aaguid, Ctap2Error, StatusCode, get_assertion, make_credential};
use passkey::types::webauthn::{
    PublicKeyCredentialDescriptor, PublicKeyCredentialParameters, PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
};
use passkey::types::{Bytes, Passkey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The page the tests' passkeys are used from; the test app's WEBAUTHN_ORIGINS.
pub const ORIGIN: &str = "http://localhost:5173";
/// The test app's WEBAUTHN_RP_ID.
pub const RP_ID: &str = "localhost";

/// The authenticator's credentials: discoverable, for any RP ID asked (so
/// an attacker's RP ID can be tried with a real credential).
#[derive(Clone, Default)]
pub struct Store(pub Vec<Passkey>);

#[async_trait::async_trait]
impl CredentialStore for Store {
    type PasskeyItem = Passkey;

    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        _rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let found: Vec<Passkey> = self
            .0
            .iter()
            .filter(|p| ids.is_none_or(|ids| ids.is_empty() || ids.iter().any(|d| d.id == p.credential_id)))
            .cloned()
            .collect();
        if found.is_empty() {
            Err(Ctap2Error::NoCredentials.into())
        } else {
            Ok(found)
        }
    }

    async fn save_credential(
        &mut self,
        cred: Passkey,
        _user: passkey::types::ctap2::make_credential::PublicKeyCredentialUserEntity,
        _rp: make_credential::PublicKeyCredentialRpEntity,
        _options: make_credential::Options,
    ) -> Result<(), StatusCode> {
        self.0.push(cred);
        Ok(())
    }

    async fn update_credential(&mut self, cred: &Passkey) -> Result<(), StatusCode> {
        for stored in self.0.iter_mut().filter(|p| p.credential_id == cred.credential_id) {
            *stored = cred.clone();
        }
        Ok(())
    }

    async fn get_info(&self) -> StoreInfo {
        StoreInfo {
            discoverability: DiscoverabilitySupport::Full,
        }
    }
}

/// The person at the authenticator: present, and verified when asked.
pub struct Person;

#[async_trait::async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence, verification })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// A browser with one authenticator.
pub struct Device {
    pub authenticator: Authenticator<Store, Person, RustCryptoBackend>,
    /// The origin the browser writes into the client data.
    pub origin: String,
    /// An RP ID used instead of the options' (a phishing page's own).
    pub rp_id: Option<String>,
    /// Whether the person verifies (PIN, biometrics) when asked.
    pub verify: bool,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(
            value
                .as_str()
                .unwrap_or_else(|| panic!("base64url expected, got {value}")),
        )
        .unwrap()
}

impl Device {
    /// A device on authql's own page.
    pub fn new() -> Self {
        Self {
            authenticator: Authenticator::new(Aaguid::new_empty(), Store::default(), Person, RustCryptoBackend),
            origin: ORIGIN.to_owned(),
            rp_id: None,
            verify: true,
        }
    }

    /// A device whose authenticator keeps signature counters (a security key).
    pub fn with_counter() -> Self {
        let mut device = Self::new();
        device.authenticator.set_make_credentials_with_signature_counter(true);
        device
    }

    /// The client data of a ceremony of `kind` for `challenge`, and its hash.
    fn client_data(&self, kind: &str, challenge: &Value) -> (Vec<u8>, Bytes) {
        let data = json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes();
        let hash = Sha256::digest(&data).to_vec().into();
        (data, hash)
    }

    /// `navigator.credentials.create` with creation options; what `toJSON()` gives.
    pub async fn create(&mut self, options: &Value) -> Value {
        let (client_data, hash) = self.client_data("webauthn.create", &options["challenge"]);
        let user = &options["user"];
        let request = make_credential::Request {
            client_data_hash: hash,
            rp: make_credential::PublicKeyCredentialRpEntity {
                id: self
                    .rp_id
                    .clone()
                    .unwrap_or_else(|| options["rp"]["id"].as_str().unwrap().to_owned()),
                name: None,
            },
            user: PublicKeyCredentialUserEntity {
                id: unb64(&user["id"]).into(),
                display_name: user["displayName"].as_str().unwrap_or_default().to_owned(),
                name: user["name"].as_str().unwrap_or_default().to_owned(),
            },
            pub_key_cred_params: vec![PublicKeyCredentialParameters {
                ty: PublicKeyCredentialType::PublicKey,
                alg: iana::Algorithm::ES256,
            }],
            exclude_list: None,
            extensions: None,
            options: make_credential::Options {
                rk: options["authenticatorSelection"]["residentKey"] == "required",
                up: true,
                uv: self.verify,
            },
            pin_auth: None,
            pin_protocol: None,
        };
        let made = self
            .authenticator
            .make_credential(request)
            .await
            .expect("a credential is made");
        let id = made
            .auth_data
            .attested_credential_data
            .as_ref()
            .expect("attested credential data")
            .credential_id()
            .to_vec();
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&made.as_webauthn_bytes()),
                "authenticatorData": b64(&made.auth_data.to_vec()),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get` with request options; what `toJSON()` gives.
    pub async fn get(&mut self, options: &Value) -> Value {
        let (client_data, hash) = self.client_data("webauthn.get", &options["challenge"]);
        let allowed: Vec<PublicKeyCredentialDescriptor> = options["allowCredentials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| PublicKeyCredentialDescriptor {
                ty: PublicKeyCredentialType::PublicKey,
                id: unb64(&d["id"]).into(),
                transports: None,
            })
            .collect();
        let request = get_assertion::Request {
            rp_id: self
                .rp_id
                .clone()
                .unwrap_or_else(|| options["rpId"].as_str().unwrap().to_owned()),
            client_data_hash: hash,
            allow_list: Some(allowed).filter(|a| !a.is_empty()),
            extensions: None,
            options: get_assertion::Options {
                up: true,
                uv: self.verify,
            },
            pin_auth: None,
            pin_protocol: None,
        };
        let signed = self
            .authenticator
            .get_assertion(request)
            .await
            .expect("an assertion is made");
        let id = signed.credential.expect("the credential used").id.to_vec();
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&signed.auth_data.to_vec()),
                "signature": b64(&signed.signature),
                "userHandle": signed.user.map(|u| b64(&u.id)),
            },
            "clientExtensionResults": {},
        })
    }
}
