//! A webhook receiver on loopback for tests: a real HTTP server on port 0
//! that keeps every request, answers with the status a test sets, and
//! verifies signatures the way the Standard Webhooks reference libraries
//! do (written here from the specification, not with authql's code).

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use poem::http::{HeaderMap, StatusCode};
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{EndpointExt, Route, Server, handler, post};
use serde_json::Value;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// The event's `type`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    /// Whether one of the `v1` signatures is this secret's over
    /// `id.timestamp.body`, with a timestamp within five minutes.
    pub fn signed_by(&self, secret: &str) -> bool {
        let Ok(ts) = self.timestamp.parse::<i64>() else {
            return false;
        };
        if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
            return false;
        }
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
            .expect("a base64 secret");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = STANDARD.encode(mac.finalize().into_bytes());
        self.signature
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .any(|sig| sig == expected)
    }
}

/// Works out an answer (status and JSON body) from a request's JSON body.
type Responder = Box<dyn Fn(&Value) -> (u16, Value) + Send + Sync>;

#[derive(Default)]
struct Shared {
    responder: Mutex<Option<Responder>>,
    hits: Mutex<Vec<Hit>>,
    status: AtomicU16,
    /// How long each answer takes, in milliseconds.
    delay: AtomicU64,
}

#[handler]
async fn hook(headers: &HeaderMap, body: String, shared: Data<&Arc<Shared>>) -> poem::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let answer = shared.responder.lock().unwrap().as_ref().map(|respond| {
        let request = serde_json::from_str(&body).unwrap_or(Value::Null);
        respond(&request)
    });
    shared.hits.lock().unwrap().push(Hit {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    });
    let delay = shared.delay.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match answer {
        Some((status, json)) => poem::Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .content_type("application/json")
            .body(json.to_string()),
        None => poem::Response::builder()
            .status(StatusCode::from_u16(shared.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK))
            .finish(),
    }
}

/// A running receiver; it stops when dropped.
pub struct Receiver {
    pub port: u16,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Receiver {
    /// A receiver on a free port, answering 204.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A receiver on `port` (0 for any), answering 204.
    pub async fn start_on(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        shared.status.store(204, Ordering::SeqCst);
        let stop = CancellationToken::new();
        let app = Route::new().at("/hook", post(hook)).data(shared.clone());
        let server = Server::new_with_acceptor(TcpAcceptor::from_std(listener).unwrap());
        tokio::spawn(server.run_with_graceful_shutdown(app, stop.clone().cancelled_owned(), None));
        Self { port, shared, stop }
    }

    /// Its address, as an endpoint is registered.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Answers every request with what `respond` makes of its JSON body.
    pub fn respond_with(&self, respond: impl Fn(&Value) -> (u16, Value) + Send + Sync + 'static) {
        *self.shared.responder.lock().unwrap() = Some(Box::new(respond));
    }

    /// Takes `delay` over every answer from now on.
    pub fn slow_down(&self, delay: Duration) {
        self.shared
            .delay
            .store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) until `done` holds for the requests so far; returns them.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        for _ in 0..400 {
            let hits = self.hits();
            if done(&hits) {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let kinds: Vec<String> = self.hits().iter().map(Hit::kind).collect();
        panic!("the receiver never got {what}; it got {kinds:?}");
    }

    /// Waits until an event of type `kind` arrived; returns the first.
    pub async fn wait_for(&self, kind: &str) -> Hit {
        self.wait_until(kind, |hits| hits.iter().any(|h| h.kind() == kind))
            .await
            .into_iter()
            .find(|h| h.kind() == kind)
            .unwrap()
    }
}

/// A port with nothing listening on it (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
