//! The public listener: hyper serving the app, with what poem's own server
//! leaves out. A request head must arrive within REQUEST_TIMEOUT (hyper's
//! header read timeout, which needs a timer poem does not give it), and one
//! client address holds at most MAX_CONNECTIONS_PER_CLIENT connections, so a
//! few slow or silent sockets cannot take the listener from everyone else.
//! Bodies and answers are held to the same timeout by the app (http/deadline.rs).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the listener holds each connection to.
#[derive(Clone)]
pub struct ConnectionRules {
    /// REQUEST_TIMEOUT, for the request head.
    pub head_timeout: Duration,
    /// MAX_CONNECTIONS_PER_CLIENT (0: no cap).
    pub per_client: usize,
    /// TRUSTED_PROXIES: carry many clients' connections, so are not capped.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Serves `app` on `listener` until `stop` resolves; then stops accepting,
/// lets each connection finish what is in flight and waits up to `grace`.
///
/// # Errors
/// When the listener's address cannot be read.
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static>,
    rules: ConnectionRules,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let app = Arc::new(app);
    let counts = Arc::new(ClientCounts::default());
    let closing = CancellationToken::new();
    let tracker = TaskTracker::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors, say: back off rather than spin.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(slot) = counts.enter(peer.ip(), &rules) else {
                    metrics::counter!("authql_connections_refused_total").increment(1);
                    continue;
                };
                let connection = Connection { stream, peer, local: local.clone(), app: app.clone() };
                tracker.spawn(connection.run(rules.head_timeout, closing.clone(), slot));
            }
        }
    }
    tracker.close();
    closing.cancel();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!("requests still in flight when the grace period ended");
    }
    Ok(())
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    local: LocalAddr,
    app: Arc<BoxEndpoint<'static>>,
}

impl Connection {
    async fn run(self, head_timeout: Duration, closing: CancellationToken, slot: Slot) {
        let Self {
            stream,
            peer,
            local,
            app,
        } = self;
        let remote = RemoteAddr(Addr::SocketAddr(peer));
        let service = hyper::service::service_fn(move |req| {
            let (app, local, remote) = (app.clone(), local.clone(), remote.clone());
            async move {
                let response: Response = app.get_response((req, local, remote, Scheme::HTTP).into()).await;
                Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, std::io::Error>>::from(response))
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(head_timeout);
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => {}
            () = closing.cancelled() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
        drop(slot);
    }
}

/// Open connections per client address.
#[derive(Default)]
struct ClientCounts(Mutex<HashMap<IpAddr, usize>>);

/// One open connection of a client, given back when dropped.
struct Slot {
    counts: Option<(Arc<ClientCounts>, IpAddr)>,
}

impl ClientCounts {
    /// A slot for a new connection from `ip`, or `None` past the cap.
    fn enter(self: &Arc<Self>, ip: IpAddr, rules: &ConnectionRules) -> Option<Slot> {
        if rules.per_client == 0 || rules.trusted_proxies.iter().any(|net| net.contains(&ip)) {
            return Some(Slot { counts: None });
        }
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = counts.entry(ip).or_insert(0);
        if *open >= rules.per_client {
            return None;
        }
        *open += 1;
        Some(Slot {
            counts: Some((self.clone(), ip)),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((counts, ip)) = self.counts.take() {
            let mut counts = counts.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(open) = counts.get_mut(&ip) {
                *open -= 1;
                if *open == 0 {
                    counts.remove(&ip);
                }
            }
        }
    }
}
