//! `/graphql`: POST (JSON or multipart) and GET per the GraphQL-over-HTTP spec; GraphiQL for browsers.

use async_graphql::{BatchRequest, BatchResponse, Request as GqlRequest};
use poem::http::{Method, StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::graphql_request::{Rejection, check_batch, has_query, read_get, read_post};
use super::middleware::RequestId;
use super::{cookies, graphiql};
use crate::graphql::AppSchema;
use crate::graphql::context::RequestInfo;
use crate::state::AppState;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// Serves one GraphQL HTTP request.
#[handler]
pub async fn endpoint(
    req: &Request,
    body: Body,
    Data(state): Data<&AppState>,
    Data(schema): Data<&AppSchema>,
) -> Response {
    // Clients that ask for the newer media type get 400 for requests that
    // cannot run; application/json clients (and */*) get 200 with errors.
    let accept = req.header(header::ACCEPT).unwrap_or("");
    let modern = accept.contains("application/graphql-response+json");
    let content_type = if modern { GRAPHQL_RESPONSE } else { JSON };
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    let batch = match *req.method() {
        Method::GET if state.config.http.graphiql && accept.contains("text/html") && !has_query(req) => {
            return graphiql::page();
        }
        Method::GET => read_get(req),
        Method::POST => {
            read_post(
                req,
                body,
                state.config.http.max_body_bytes,
                state.config.avatar_max_bytes,
            )
            .await
        }
        _ => Err(Rejection::method_not_allowed("GET, POST", "use GET or POST")),
    };
    let batch = match batch.and_then(check_batch) {
        Ok(batch) => batch,
        Err(rejection) => return rejection.into_response(modern, content_type, request_id.as_deref()),
    };
    tracing::Span::current().record("operation", operation_names(&batch).as_str());

    let client = super::client_of(req, state);
    let bearer = req.header(header::AUTHORIZATION).and_then(bearer_token);
    // One RequestInfo per HTTP request, so a batch authenticates once.
    let info = std::sync::Arc::new(RequestInfo::new(client, bearer, cookies::incoming(req, state)));
    let batch = batch.data(info.clone());
    let mut response = schema.execute_batch(batch).await;
    if let Some(id) = &request_id {
        with_request_id(&mut response, id);
    }
    let status = match &response {
        BatchResponse::Single(r) if modern && is_request_error(r) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = match &response {
        BatchResponse::Single(r) if is_request_error(r) => serde_json::json!({ "errors": r.errors }).to_string(),
        _ => serde_json::to_string(&response).unwrap_or_else(|_| {
            r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_owned()
        }),
    };
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store");
    for cookie in cookies::outgoing(info.take_outgoing(), state) {
        resp = resp.header(header::SET_COOKIE, cookie);
    }
    resp.body(body)
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
pub(super) fn bearer_token(value: &str) -> Option<String> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The operation names a request gives, for its log lines: letters, digits
/// and `_` only, 64 at most each (names are the client's to choose).
fn operation_names(batch: &BatchRequest) -> String {
    let requests: Vec<&GqlRequest> = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs.iter().collect(),
    };
    requests
        .iter()
        .map(|r| {
            r.operation_name
                .as_deref()
                .unwrap_or("anonymous")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Puts the request id in every error's `extensions.requestId`, so a user's
/// bug report can be found in the logs.
fn with_request_id(response: &mut BatchResponse, id: &str) {
    let responses: Vec<&mut async_graphql::Response> = match response {
        BatchResponse::Single(r) => vec![r],
        BatchResponse::Batch(rs) => rs.iter_mut().collect(),
    };
    for r in responses {
        for error in &mut r.errors {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("requestId", id);
        }
    }
}

/// A response that failed before execution (syntax, validation): no `data` at all.
fn is_request_error(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null && !r.errors.is_empty() && r.errors.iter().all(|e| e.path.is_empty())
}
