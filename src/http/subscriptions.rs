//! GraphQL subscriptions over WebSocket at `/graphql` (the graphql-ws
//! protocol, and the older subscriptions-transport-ws). The access token of
//! connection init (`{ "authorization": "Bearer <access token>" }`) is the
//! connection's credential: it is checked at init, and again by every
//! operation, exactly as an HTTP request's (graphql/context.rs), so a socket
//! is never trusted beyond what its token proves now.
//!
//! async-graphql runs the protocol; this adds what graphql-ws asks of a
//! server that async-graphql leaves out: a refused init closes with 4403, a
//! subscribe before the ack with 4401, and a connection that does not init
//! within ten seconds with 4408, so unauthenticated sockets cannot pile up.
//! It also ends connections whose credential is over: when the session ends
//! (or the account is switched off), `sessionEvents` tells the client, then
//! the socket closes with 4401, which graphql-ws clients take as final; when
//! only the access token expires, it closes with 4403, which they retry with
//! fresh `connectionParams`. A stopping server closes every connection with
//! 1001 (Going Away), on which clients reconnect, to another instance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use async_graphql_poem::GraphQLProtocol;
use futures_util::{SinkExt, StreamExt, future};
use poem::http::header;
use poem::web::websocket::{Message, WebSocket, WebSocketConfig, WebSocketStream};
use poem::{FromRequest, IntoResponse, Request, Response};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::graphql_endpoint::bearer_token;
use crate::client::ClientInfo;
use crate::graphql::AppSchema;
use crate::graphql::context::{RequestInfo, SessionEndSignal};
use crate::sessions::Sessions;
use crate::state::AppState;

/// A client that sends nothing (not even the pong to a ping) for this long is dropped.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// How often the server pings an acknowledged graphql-ws connection: graphql-ws
/// clients answer with a pong by themselves but send nothing of their own while
/// they wait for events, so without pings an idle subscription would be dropped.
const PING_EVERY: Duration = Duration::from_secs(10);
/// A connection must be authenticated within this.
const INIT_WITHIN: Duration = Duration::from_secs(10);
/// How the reasons of refused inits begin (the library closes them with a generic code).
const REFUSED: &str = "Forbidden: ";
/// Once the session ended, how long frames already on their way (the
/// subscriptions telling the client) may still go out before the close.
const LAST_WORDS: Duration = Duration::from_secs(1);
/// ... and how long without one means there are no more.
const QUIET: Duration = Duration::from_millis(100);

/// What connection init proved: whose session the socket carries, until when.
#[derive(Clone, Copy)]
struct Credential {
    session: uuid::Uuid,
    /// The access token's `exp` (seconds since the epoch).
    expires: i64,
}

/// Why the server closes an acknowledged connection.
enum Closing {
    /// The session is over (logout, revocation, the account switched off): final.
    SessionEnded,
    /// Only the access token expired: the client may come back with a fresh one.
    TokenExpired,
}

/// Whether `req` asks to upgrade to a WebSocket.
pub fn is_upgrade(req: &Request) -> bool {
    req.header(header::UPGRADE)
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Upgrades `req` to a GraphQL WebSocket connection.
///
/// # Errors
/// 400 without a GraphQL WebSocket subprotocol or a valid upgrade.
pub async fn upgrade(req: Request, state: &AppState, schema: &AppSchema) -> poem::Result<Response> {
    let (req, mut body) = req.split();
    let websocket = WebSocket::from_request(&req, &mut body).await?;
    let protocol = GraphQLProtocol::from_request(&req, &mut body).await?;
    let client = super::client_of(&req, state);
    let (schema, sessions) = (schema.clone(), state.sessions.clone());
    let max_bytes = state.config.http.max_body_bytes;
    // The stopping server waits for the socket (its place in the tracker) and tells it to go.
    let (place, going_away) = (state.tasks.token(), state.going_away.clone());
    // The library buffers at most twice the limit; `serve` refuses past it.
    let buffered = WebSocketConfig::default()
        .max_message_size(Some(max_bytes.saturating_mul(2)))
        .max_frame_size(Some(max_bytes.saturating_mul(2)));
    Ok(websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .config(buffered)
        .on_upgrade(move |socket| async move {
            let _place = place;
            serve(socket, schema, protocol, client, sessions, max_bytes, going_away).await;
        })
        .into_response())
}

/// Runs one connection until either side ends it.
async fn serve(
    socket: WebSocketStream,
    schema: AppSchema,
    protocol: GraphQLProtocol,
    client: ClientInfo,
    sessions: Sessions,
    max_bytes: usize,
    going_away: CancellationToken,
) {
    let (mut sink, stream) = socket.split();
    // A message over MAX_BODY_BYTES ends the input unread, as an HTTP body
    // of that size is refused, and the socket closes with 1009.
    let too_big = Arc::new(AtomicBool::new(false));
    let incoming = stream
        .take_while(|frame| future::ready(frame.is_ok()))
        .filter_map(|frame| future::ready(frame.ok().filter(|m| m.is_text() || m.is_binary())))
        .map(Message::into_bytes)
        .take_while({
            let too_big = too_big.clone();
            move |bytes| {
                let fits = bytes.len() <= max_bytes;
                if !fits {
                    too_big.store(true, Ordering::Relaxed);
                }
                future::ready(fits)
            }
        });
    let proved = Arc::new(OnceLock::new());
    let (ended, end_signal) = tokio::sync::watch::channel(false);
    let init = {
        let (proved, sessions) = (proved.clone(), sessions.clone());
        move |payload| connection_data(payload, client, sessions, proved, SessionEndSignal(end_signal))
    };
    // The older protocol has no ping; its connections are not dropped for quiet.
    let pings = matches!(protocol.0, WebSocketProtocols::GraphQLWS);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let outgoing = async_graphql::http::WebSocket::new(schema, incoming, protocol.0)
        .on_connection_init(init)
        .keepalive_timeout(KEEPALIVE)
        .map(to_frame);
    futures_util::pin_mut!(outgoing);
    let init_deadline = tokio::time::sleep(INIT_WITHIN);
    tokio::pin!(init_deadline);
    let mut acknowledged = false;
    // Until the ack, nothing to watch.
    let mut watchdog: future::BoxFuture<'static, Closing> = Box::pin(future::pending());
    let closing = loop {
        tokio::select! {
            frame = outgoing.next() => {
                let Some((frame, ack)) = frame else {
                    if too_big.load(Ordering::Relaxed) {
                        let _ = sink.send(Message::close_with(1009u16, "Message too big: at most MAX_BODY_BYTES")).await;
                    }
                    return;
                };
                if ack && !acknowledged {
                    acknowledged = true;
                    if let Some(credential) = proved.get() {
                        watchdog = Box::pin(watch(sessions.clone(), *credential));
                    }
                }
                if sink.send(frame).await.is_err() {
                    return;
                }
            }
            _ = ping.tick(), if acknowledged && pings => {
                if sink.send(Message::text(r#"{"type":"ping"}"#)).await.is_err() {
                    return;
                }
            }
            () = &mut init_deadline, if !acknowledged => {
                let _ = sink.send(Message::close_with(4408u16, "Connection initialisation timeout")).await;
                return;
            }
            closing = &mut watchdog => break closing,
            () = going_away.cancelled() => {
                let _ = sink.send(Message::close_with(1001u16, "Going Away: the server is stopping")).await;
                return;
            }
        }
    };
    let close = match closing {
        Closing::TokenExpired => Message::close_with(4403u16, "Forbidden: the access token expired"),
        Closing::SessionEnded => {
            // The subscriptions tell the client first; then the socket closes.
            let _ = ended.send(true);
            let last_words = tokio::time::sleep(LAST_WORDS);
            tokio::pin!(last_words);
            loop {
                tokio::select! {
                    frame = tokio::time::timeout(QUIET, outgoing.next()) => {
                        let Ok(Some((frame, _))) = frame else { break };
                        if sink.send(frame).await.is_err() {
                            break;
                        }
                    }
                    () = &mut last_words => break,
                }
            }
            Message::close_with(4401u16, "Unauthorized: the session ended")
        }
    };
    let _ = sink.send(close).await;
}

/// Resolves when an acknowledged connection's credential is over.
async fn watch(sessions: Sessions, credential: Credential) -> Closing {
    let left_ms = credential
        .expires
        .saturating_mul(1000)
        .saturating_sub(chrono::Utc::now().timestamp_millis());
    let expiry = tokio::time::sleep(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)));
    tokio::select! {
        () = sessions.ended(credential.session) => Closing::SessionEnded,
        () = expiry => Closing::TokenExpired,
    }
}

/// A protocol message as a frame, and whether it acknowledges the connection.
fn to_frame(message: WsMessage) -> (Message, bool) {
    match message {
        WsMessage::Text(text) => {
            let ack = serde_json::from_str::<Value>(&text).is_ok_and(|v| v["type"] == "connection_ack");
            (Message::text(text), ack)
        }
        // async-graphql's codes for a refused init and a subscribe before the ack.
        WsMessage::Close(1002, reason) if reason.starts_with(REFUSED) => (Message::close_with(4403u16, reason), false),
        WsMessage::Close(1011, _) => (Message::close_with(4401u16, "Unauthorized"), false),
        WsMessage::Close(code, reason) => (Message::close_with(code, reason), false),
    }
}

/// Authenticates a connection from its init payload; what it proved goes to
/// `proved`, for the connection to watch. Operations authenticate again.
async fn connection_data(
    payload: Value,
    client: ClientInfo,
    sessions: Sessions,
    proved: Arc<OnceLock<Credential>>,
    end_signal: SessionEndSignal,
) -> async_graphql::Result<Data> {
    let bearer = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(*k))
        .and_then(Value::as_str)
        .and_then(bearer_token)
        .ok_or(concat!(
            "Forbidden: ",
            "connection_init needs { \"authorization\": \"Bearer <access token>\" }"
        ))?;
    let principal = sessions
        .authenticate(&bearer)
        .await
        .map_err(|_| concat!("Forbidden: ", "the access token is not valid for a live session"))?;
    let _ = proved.set(Credential {
        session: principal.session().id,
        expires: principal.claims.exp,
    });
    let mut data = Data::default();
    data.insert(Arc::new(RequestInfo::connection(client, bearer)));
    data.insert(end_signal);
    Ok(data)
}
