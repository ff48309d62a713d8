//! A real SMTP server on loopback for tests: speaks SMTP over TCP (through the `mailin`
//! protocol engine) and keeps every message it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_parser::MessageParser;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use crate::smtp_session as session;
pub use crate::smtp_session::Security;
pub use crate::tls::TestCa;

/// One received message.
#[derive(Clone, Debug)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub raw: Vec<u8>,
    /// Whether the message came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// Who the client authenticated as, if it did.
    pub user: Option<String>,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default().parse(&self.raw).expect("a parsable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The Message-ID header, without its angle brackets.
    #[allow(dead_code, reason = "used by the cli tests, which include this file")]
    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    /// The decoded text part.
    pub fn text(&self) -> String {
        self.parsed().body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    /// The decoded HTML part.
    pub fn html(&self) -> String {
        self.parsed().body_html(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    /// The first http(s) link of the text part.
    pub fn link(&self) -> String {
        let text = self.text();
        let start = text.find("http").expect("a link in the mail");
        text[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// The token of the link (its last path segment or its `token` parameter).
    pub fn token(&self) -> String {
        let url = url::Url::parse(&self.link()).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| url.path_segments().unwrap().next_back().unwrap().to_owned())
    }
}

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) messages: Mutex<Vec<Received>>,
    pub(crate) arrived: Notify,
    /// Connections opened and NOOPs received: every time a client checked on the server.
    pub(crate) probes: std::sync::atomic::AtomicUsize,
}

/// The sink: where it listens and what it received.
#[derive(Clone)]
pub struct MailSink {
    pub port: u16,
    store: Arc<Store>,
}

impl MailSink {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    /// Listens on `port` (to bring a sink "back up" where the server expects it).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        Self::serve(listener)
    }

    /// Listens on a free loopback port speaking SMTP over TLS as `security`
    /// says, with a certificate for 127.0.0.1 from `ca`.
    pub async fn start_secure(ca: &TestCa, security: Security) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_with(listener, Some((ca.acceptor(), security)))
    }

    fn serve(listener: TcpListener) -> Self {
        Self::serve_with(listener, None)
    }

    fn serve_with(listener: TcpListener, tls: Option<(TlsAcceptor, Security)>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let store = Arc::new(Store::default());
        let accepting = store.clone();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                tokio::spawn(session::run(stream, peer.ip(), accepting.clone(), tls.clone()));
            }
        });
        Self { port, store }
    }

    /// An address where no sink listens (yet): SMTP is down.
    pub fn unreachable(port: u16) -> Self {
        Self {
            port,
            store: Arc::new(Store::default()),
        }
    }

    /// A sink URL for SMTP_URL.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// How often a client has checked on this server (a connection or a NOOP).
    pub fn probes(&self) -> usize {
        self.store.probes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every message received so far.
    pub fn all(&self) -> Vec<Received> {
        self.store.messages.lock().unwrap().clone()
    }

    /// Messages to `to` so far.
    pub fn to(&self, to: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.rcpt.iter().any(|r| r == to))
            .collect()
    }

    /// Waits (up to 15 s) until `count` messages to `to` have arrived and returns the newest.
    pub async fn wait_for_nth(&self, to: &str, count: usize) -> Received {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let arrived = self.store.arrived.notified();
            let got = self.to(to);
            if got.len() >= count {
                return got[count - 1].clone();
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let subjects: Vec<_> = got.iter().map(Received::subject).collect();
                let others: Vec<_> = self.all().iter().map(|m| (m.rcpt.clone(), m.subject())).collect();
                panic!("no mail #{count} to {to} within 15 s; got {subjects:?}; all mail: {others:?}");
            }
        }
    }

    /// Waits for the first message to `to`.
    pub async fn wait_for(&self, to: &str) -> Received {
        self.wait_for_nth(to, 1).await
    }
}
