//! One SMTP conversation of the test sink, in plain text or over TLS
//! (STARTTLS or implicit), driven by the `mailin` protocol engine.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use mailin::{Action, AuthMechanism, Handler, Response, Session, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::smtp::{Received, Store};

/// How a TLS sink secures its conversations.
#[derive(Clone, Copy, Debug)]
pub enum Security {
    /// Plain greeting, STARTTLS offered; AUTH (PLAIN, LOGIN) only after it.
    StartTls,
    /// TLS from the first byte (smtps).
    Implicit,
    /// No TLS at all, yet AUTH accepted in clear text: a careless relay.
    CleartextAuth,
}

/// The user and password the TLS sinks accept.
pub const USER: &str = "mailer";
pub const PASSWORD: &str = "sink-password-1";

/// What the conversation knows beyond the protocol engine: TLS and who logged in.
#[derive(Default)]
struct Conversation {
    tls: bool,
    user: Option<String>,
}

struct Collector {
    rcpt: Vec<String>,
    data: Vec<u8>,
    store: Arc<Store>,
    conversation: Arc<Mutex<Conversation>>,
}

impl Collector {
    fn login(&mut self, user: &str, password: &str) -> Response {
        if user == USER && password == PASSWORD {
            self.conversation.lock().unwrap().user = Some(user.to_owned());
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.rcpt = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let conversation = self.conversation.lock().unwrap();
        let message = Received {
            rcpt: std::mem::take(&mut self.rcpt),
            raw: std::mem::take(&mut self.data),
            tls: conversation.tls,
            user: conversation.user.clone(),
        };
        self.store.messages.lock().unwrap().push(message);
        self.store.arrived.notify_waiters();
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, authentication_id: &str, password: &str) -> Response {
        self.login(authentication_id, password)
    }

    fn auth_login(&mut self, username: &str, password: &str) -> Response {
        self.login(username, password)
    }
}

/// Serves one client until it quits or hangs up.
pub async fn run(stream: TcpStream, peer: IpAddr, store: Arc<Store>, tls: Option<(TlsAcceptor, Security)>) {
    store.probes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let counts = store.clone();
    let conversation = Arc::new(Mutex::new(Conversation::default()));
    let mut builder = SessionBuilder::new("authql-test-sink");
    if matches!(tls, Some((_, Security::StartTls))) {
        builder.enable_start_tls();
    }
    if tls.is_some() {
        builder
            .enable_auth(AuthMechanism::Plain)
            .enable_auth(AuthMechanism::Login);
    }
    if matches!(tls, Some((_, Security::CleartextAuth))) {
        builder.insecure_enable_plaintext_auth();
    }
    let collector = Collector {
        rcpt: vec![],
        data: vec![],
        store,
        conversation: conversation.clone(),
    };
    let mut session = builder.build(peer, collector);
    let greeting = session.greeting().buffer().unwrap();
    match tls {
        None | Some((_, Security::CleartextAuth)) => {
            converse(stream, &greeting, &mut session, &counts).await;
        }
        Some((acceptor, Security::Implicit)) => {
            let Ok(secured) = acceptor.accept(stream).await else {
                return;
            };
            conversation.lock().unwrap().tls = true;
            session.tls_active();
            converse(secured, &greeting, &mut session, &counts).await;
        }
        Some((acceptor, Security::StartTls)) => {
            let Some(stream) = converse(stream, &greeting, &mut session, &counts).await else {
                return;
            };
            let Ok(secured) = acceptor.accept(stream).await else {
                return;
            };
            conversation.lock().unwrap().tls = true;
            session.tls_active();
            // After STARTTLS the client speaks first (EHLO again): no greeting.
            converse(secured, b"", &mut session, &counts).await;
        }
    }
}

/// Sends `greeting`, then answers line by line. Returns the stream when the
/// client asked for STARTTLS (after saying yes), `None` when it is done.
async fn converse<S>(stream: S, greeting: &[u8], session: &mut Session<Collector>, store: &Store) -> Option<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    if !greeting.is_empty() {
        stream.write_all(greeting).await.ok()?;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match stream.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line.trim_ascii().eq_ignore_ascii_case(b"NOOP") {
            store.probes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let response = session.process(&line);
        match response.action {
            Action::Reply | Action::Close => {
                stream.write_all(&response.buffer().unwrap()).await.ok()?;
                if matches!(response.action, Action::Close) {
                    return None;
                }
            }
            Action::NoReply => {}
            Action::UpgradeTls => {
                stream.write_all(&response.buffer().unwrap()).await.ok()?;
                stream.flush().await.ok()?;
                return Some(stream.into_inner());
            }
        }
    }
}
