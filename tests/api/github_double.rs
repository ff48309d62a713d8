//! A test double of GitHub's three OAuth endpoints (authorize, token, and
//! the user and emails APIs), on loopback. It checks PKCE and the bearer token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::http::{HeaderMap, StatusCode};
use poem::listener::TcpAcceptor;
use poem::web::{Data, Form, Json, Query};
use poem::{EndpointExt, Response, Route, Server, get, handler, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

pub const CLIENT_ID: &str = "github-test-client";
pub const CLIENT_SECRET: &str = "github-test-secret";
const ACCESS_TOKEN: &str = "gho_test_access_token";

/// Who GitHub says signed in, and the addresses it lists.
#[derive(Clone)]
struct Person {
    id: u64,
    emails: Value,
}

#[derive(Default)]
struct State {
    person: Option<Person>,
    /// code -> PKCE challenge
    codes: HashMap<String, String>,
}

/// The running double.
#[derive(Clone)]
pub struct GitHubDouble {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl GitHubDouble {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State::default()));
        let app = Route::new()
            .at("/login/oauth/authorize", get(authorize))
            .at("/login/oauth/access_token", post(token))
            .at("/user", get(user_api))
            .at("/user/emails", get(emails_api))
            .data(state.clone());
        tokio::spawn(Server::new_with_acceptor(TcpAcceptor::from_std(listener).unwrap()).run(app));
        Self { url, state }
    }

    /// The next sign-in is GitHub user `id` with `email` as its primary address.
    pub fn sign_in_as(&self, id: u64, email: &str, verified: bool) {
        let listed = json!([
            { "email": format!("noreply-{id}@users.noreply.github.com"), "primary": false, "verified": true },
            { "email": email, "primary": true, "verified": verified },
        ]);
        self.state.lock().unwrap().person = Some(Person { id, emails: listed });
    }
}

#[derive(Deserialize)]
struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
}

#[handler]
fn authorize(Query(p): Query<AuthorizeParams>, Data(state): Data<&Arc<Mutex<State>>>) -> Response {
    assert_eq!(p.client_id, CLIENT_ID);
    let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
    state.lock().unwrap().codes.insert(code.clone(), p.code_challenge);
    let mut location = url::Url::parse(&p.redirect_uri).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &p.state);
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location.as_str())
        .finish()
}

#[derive(Deserialize)]
struct TokenForm {
    code: String,
    code_verifier: String,
}

#[handler]
fn token(Form(form): Form<TokenForm>, Data(state): Data<&Arc<Mutex<State>>>) -> Json<Value> {
    let challenge = state.lock().unwrap().codes.remove(&form.code);
    let expected = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(form.code_verifier.as_bytes()));
    // GitHub answers a bad code with 200 and an error body.
    if challenge.as_deref() != Some(expected.as_str()) {
        return Json(json!({ "error": "bad_verification_code" }));
    }
    Json(json!({ "access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:user,user:email" }))
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ACCESS_TOKEN}"))
}

#[handler]
fn user_api(headers: &HeaderMap, Data(state): Data<&Arc<Mutex<State>>>) -> Response {
    let person = state.lock().unwrap().person.clone();
    match person.filter(|_| authorized(headers)) {
        Some(p) => Response::builder()
            .content_type("application/json")
            .body(json!({ "id": p.id, "login": format!("user{}", p.id) }).to_string()),
        None => Response::builder().status(StatusCode::UNAUTHORIZED).finish(),
    }
}

#[handler]
fn emails_api(headers: &HeaderMap, Data(state): Data<&Arc<Mutex<State>>>) -> Response {
    let person = state.lock().unwrap().person.clone();
    match person.filter(|_| authorized(headers)) {
        Some(p) => Response::builder()
            .content_type("application/json")
            .body(p.emails.to_string()),
        None => Response::builder().status(StatusCode::UNAUTHORIZED).finish(),
    }
}
