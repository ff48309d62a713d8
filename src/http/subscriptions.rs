//! GraphQL subscriptions over WebSocket at `/graphql` (the graphql-ws
//! protocol, and the older subscriptions-transport-ws), authenticated once at
//! connection init by `{ "authorization": "Bearer <access token>" }`.
//! async-graphql runs the protocol; this adds what graphql-ws asks of a
//! server that async-graphql leaves out: a refused init closes with 4403, a
//! subscribe before the ack with 4401, and a connection that does not init
//! within ten seconds with 4408, so unauthenticated sockets cannot pile up.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WsMessage};
use async_graphql_poem::GraphQLProtocol;
use futures_util::{SinkExt, StreamExt, future};
use poem::http::header;
use poem::web::websocket::{Message, WebSocket, WebSocketStream};
use poem::{FromRequest, IntoResponse, Request, Response};
use serde_json::Value;

use super::graphql_endpoint::bearer_token;
use crate::client::ClientInfo;
use crate::graphql::AppSchema;
use crate::graphql::context::RequestInfo;
use crate::sessions::Sessions;
use crate::state::AppState;

/// A client that does not answer the server's ping within this is dropped.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// A connection must be authenticated within this.
const INIT_WITHIN: Duration = Duration::from_secs(10);
/// How the reasons of refused inits begin (the library closes them with a generic code).
const REFUSED: &str = "Forbidden: ";

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
    Ok(websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, schema, protocol, client, sessions))
        .into_response())
}

/// Runs one connection until either side ends it.
async fn serve(
    socket: WebSocketStream,
    schema: AppSchema,
    protocol: GraphQLProtocol,
    client: ClientInfo,
    sessions: Sessions,
) {
    let (mut sink, stream) = socket.split();
    let incoming = stream
        .take_while(|frame| future::ready(frame.is_ok()))
        .filter_map(|frame| future::ready(frame.ok().filter(|m| m.is_text() || m.is_binary())))
        .map(Message::into_bytes);
    let outgoing = async_graphql::http::WebSocket::new(schema, incoming, protocol.0)
        .on_connection_init(move |payload| connection_data(payload, client, sessions))
        .keepalive_timeout(KEEPALIVE)
        .map(to_frame);
    futures_util::pin_mut!(outgoing);
    let init_deadline = tokio::time::sleep(INIT_WITHIN);
    tokio::pin!(init_deadline);
    let mut acknowledged = false;
    loop {
        tokio::select! {
            frame = outgoing.next() => {
                let Some((frame, ack)) = frame else { break };
                acknowledged |= ack;
                if sink.send(frame).await.is_err() {
                    break;
                }
            }
            () = &mut init_deadline, if !acknowledged => {
                let _ = sink.send(Message::close_with(4408u16, "Connection initialisation timeout")).await;
                break;
            }
        }
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

/// Authenticates a connection from its init payload.
async fn connection_data(payload: Value, client: ClientInfo, sessions: Sessions) -> async_graphql::Result<Data> {
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
    let mut data = Data::default();
    data.insert(Arc::new(RequestInfo::authenticated(client, principal)));
    Ok(data)
}
