//! An OpenID Connect provider on loopback, inside the test: discovery, JWKS,
//! an authorization endpoint that signs its configured person in at once,
//! and a token endpoint that checks PKCE and signs real ID tokens (EdDSA)
//! with its own key. Tests set who signs in and how the next ID token is
//! broken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Form, Query};
use poem::{EndpointExt, Response, Route, Server, get, handler, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

pub const CLIENT_ID: &str = "authql-test-client";
pub const CLIENT_SECRET: &str = "provider-test-secret";

/// Who the provider signs in.
#[derive(Clone, Debug)]
pub struct Person {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
}

/// How the next ID token is broken, if at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tweak {
    #[default]
    None,
    WrongNonce,
    Expired,
    UnknownKid,
    WrongAudience,
    WrongIssuer,
    AlgNone,
    /// HS256, keyed with the provider's public key: the classic algorithm confusion.
    Hs256WithPublicKey,
    /// The person refuses consent: the provider answers `error=access_denied`.
    Denied,
    /// The ID token carries no address; UserInfo has it (as many providers do).
    EmailOnlyInUserInfo,
    /// The ID token says it was issued this many seconds from now (a clock ahead, or a forgery).
    IssuedAhead(i64),
}

struct Issued {
    nonce: String,
    challenge: String,
    person: Person,
}

#[derive(Default)]
struct Control {
    person: Option<Person>,
    tweak: Tweak,
    codes: HashMap<String, Issued>,
    /// Who the last access token was issued for, for UserInfo.
    last: Option<Person>,
}

struct Shared {
    issuer: String,
    key: Mutex<SigningKey>,
    control: Mutex<Control>,
}

/// A running provider. Dropping it does not stop it; tests are short-lived.
#[derive(Clone)]
pub struct Provider {
    pub issuer: String,
    shared: Arc<Shared>,
}

impl Provider {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            key: Mutex::new(SigningKey::from_bytes(&rand::random())),
            control: Mutex::new(Control::default()),
        });
        let app = Route::new()
            .at("/.well-known/openid-configuration", get(discovery))
            .at("/jwks", get(jwks))
            .at("/authorize", get(authorize))
            .at("/token", post(token))
            .at("/userinfo", get(userinfo))
            .data(shared.clone());
        let acceptor = TcpAcceptor::from_std(listener).unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self { issuer, shared }
    }

    /// The person the next authorization signs in.
    pub fn sign_in_as(&self, sub: &str, email: &str, email_verified: bool) {
        self.shared.control.lock().unwrap().person = Some(Person {
            sub: sub.to_owned(),
            email: email.to_owned(),
            email_verified,
        });
    }

    /// Signs with a new key from now on, and publishes only that one.
    pub fn rotate_key(&self) {
        *self.shared.key.lock().unwrap() = SigningKey::from_bytes(&rand::random());
    }

    /// An ID token for `person` as an app's own sign-in SDK gets it: for
    /// `audience` (the app's client id), with `nonce` if the app sent one.
    pub fn id_token_for(&self, sub: &str, email: &str, audience: &str, nonce: Option<&str>) -> String {
        self.id_token_with(sub, email, audience, nonce, json!({}))
    }

    /// Like [`Provider::id_token_for`], with the claims in `extra` set
    /// (added, or replacing those of the same name).
    pub fn id_token_with(&self, sub: &str, email: &str, audience: &str, nonce: Option<&str>, extra: Value) -> String {
        let issued = Issued {
            nonce: nonce.unwrap_or_default().to_owned(),
            challenge: String::new(),
            person: Person {
                sub: sub.to_owned(),
                email: email.to_owned(),
                email_verified: true,
            },
        };
        let signed = id_token(&self.shared, &issued, Tweak::None);
        reissue(&self.shared, &signed, audience, nonce, extra)
    }

    /// Breaks the next ID tokens (or the consent) this way.
    pub fn tweak(&self, tweak: Tweak) {
        self.shared.control.lock().unwrap().tweak = tweak;
    }
}

fn key(shared: &Shared) -> SigningKey {
    shared.key.lock().unwrap().clone()
}

fn kid(shared: &Shared) -> String {
    URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(key(shared).verifying_key().as_bytes())[..8])
}

#[handler]
fn discovery(Data(shared): Data<&Arc<Shared>>) -> poem::web::Json<Value> {
    let base = &shared.issuer;
    poem::web::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

#[handler]
fn jwks(Data(shared): Data<&Arc<Shared>>) -> poem::web::Json<Value> {
    let x = URL_SAFE_NO_PAD.encode(key(shared).verifying_key().as_bytes());
    poem::web::Json(
        json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid(shared), "x": x }] }),
    )
}

#[derive(Deserialize)]
struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

#[handler]
fn authorize(Query(p): Query<AuthorizeParams>, Data(shared): Data<&Arc<Shared>>) -> Response {
    assert_eq!(p.client_id, CLIENT_ID);
    assert_eq!(p.code_challenge_method, "S256", "PKCE S256");
    let mut control = shared.control.lock().unwrap();
    let mut location = url::Url::parse(&p.redirect_uri).unwrap();
    if control.tweak == Tweak::Denied {
        location
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &p.state);
    } else {
        let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let person = control.person.clone().expect("the test says who signs in");
        control.codes.insert(
            code.clone(),
            Issued {
                nonce: p.nonce,
                challenge: p.code_challenge,
                person,
            },
        );
        location
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &p.state);
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location.as_str())
        .finish()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    code_verifier: String,
}

#[handler]
fn token(Form(form): Form<TokenForm>, Data(shared): Data<&Arc<Shared>>) -> Response {
    let mut control = shared.control.lock().unwrap();
    let Some(issued) = control.codes.remove(&form.code) else {
        return error("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(form.code_verifier.as_bytes()));
    if form.grant_type != "authorization_code" || challenge != issued.challenge {
        return error("invalid_grant");
    }
    let id_token = id_token(shared, &issued, control.tweak);
    control.last = Some(issued.person.clone());
    let body = json!({ "access_token": "provider-access-token", "token_type": "Bearer", "expires_in": 3600, "id_token": id_token });
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

/// `token` signed again with another audience, `extra`'s claims and, without a nonce, none.
fn reissue(shared: &Shared, signed: &str, audience: &str, nonce: Option<&str>, extra: Value) -> String {
    let mut parts = signed.split('.');
    let header = parts.next().unwrap();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    claims["aud"] = json!(audience);
    if nonce.is_none() {
        claims.as_object_mut().unwrap().remove("nonce");
    }
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = key(shared).sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[handler]
fn userinfo(headers: &poem::http::HeaderMap, Data(shared): Data<&Arc<Shared>>) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    let last = shared.control.lock().unwrap().last.clone();
    match last.filter(|_| bearer == Some("Bearer provider-access-token")) {
        Some(p) => Response::builder()
            .content_type("application/json")
            .body(json!({ "sub": p.sub, "email": p.email, "email_verified": p.email_verified }).to_string()),
        None => Response::builder().status(StatusCode::UNAUTHORIZED).finish(),
    }
}

fn error(code: &str) -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .body(json!({ "error": code }).to_string())
}

fn id_token(shared: &Shared, issued: &Issued, tweak: Tweak) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": shared.issuer,
        "sub": issued.person.sub,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": issued.nonce,
        "email": issued.person.email,
        "email_verified": issued.person.email_verified,
    });
    match tweak {
        Tweak::WrongNonce => claims["nonce"] = json!("another-nonce"),
        Tweak::Expired => {
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
        }
        Tweak::IssuedAhead(seconds) => {
            claims["iat"] = json!(now + seconds);
            claims["exp"] = json!(now + seconds + 300);
        }
        Tweak::WrongAudience => claims["aud"] = json!("someone-else"),
        Tweak::WrongIssuer => claims["iss"] = json!("http://127.0.0.1:1"),
        Tweak::EmailOnlyInUserInfo => {
            let claims = claims.as_object_mut().unwrap();
            claims.remove("email");
            claims.remove("email_verified");
        }
        _ => {}
    }
    let (alg, key_id) = match tweak {
        Tweak::AlgNone => ("none", kid(shared)),
        Tweak::Hs256WithPublicKey => ("HS256", kid(shared)),
        Tweak::UnknownKid => ("EdDSA", "a-key-nobody-published".to_owned()),
        _ => ("EdDSA", kid(shared)),
    };
    let header = json!({ "alg": alg, "kid": key_id, "typ": "JWT" });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match tweak {
        Tweak::AlgNone => Vec::new(),
        Tweak::Hs256WithPublicKey => {
            use hmac::{KeyInit, Mac};
            let mut mac =
                <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key(shared).verifying_key().as_bytes()).unwrap();
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Tweak::UnknownKid => SigningKey::from_bytes(&rand::random())
            .sign(input.as_bytes())
            .to_bytes()
            .to_vec(),
        _ => key(shared).sign(input.as_bytes()).to_bytes().to_vec(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
