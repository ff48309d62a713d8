//! `/graphql`: POST (JSON or multipart) and GET per the GraphQL-over-HTTP spec; GraphiQL for browsers.

use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError, Request as GqlRequest};
use poem::http::{Method, StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tokio::io::AsyncReadExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::middleware::RequestId;
use super::responses::graphql_error;
use super::{cookies, graphiql};
use crate::error::ErrorCode;
use crate::graphql::AppSchema;
use crate::graphql::context::RequestInfo;
use crate::graphql::guardrails::MAX_BATCH;
use crate::graphql::persisted::MAX_QUERY_BYTES as MAX_PERSISTED;
use crate::state::AppState;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
/// Headers a browser sends only after a CORS preflight: one must come with a multipart request.
const PREFLIGHTED: [&str; 3] = [
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "x-requested-with",
];
/// What a GraphQL multipart request may hold besides its file (the operations and map parts).
const MULTIPART_OVERHEAD: usize = 64 * 1024;

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

/// Why a request cannot run.
struct Rejection {
    /// `None`: a request error, whose status depends on what the client accepts.
    status: Option<StatusCode>,
    code: ErrorCode,
    message: String,
    allow: Option<&'static str>,
}

impl Rejection {
    fn new(status: Option<StatusCode>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    fn method_not_allowed(allow: &'static str, message: &str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(Some(StatusCode::METHOD_NOT_ALLOWED), ErrorCode::BadUserInput, message)
        }
    }

    fn into_response(self, modern: bool, content_type: &str, request_id: Option<&str>) -> Response {
        let request_error = if modern {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let mut resp = graphql_error(
            self.status.unwrap_or(request_error),
            self.code,
            &self.message,
            content_type,
            request_id,
        );
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        }
        resp
    }
}

fn has_query(req: &Request) -> bool {
    req.uri().query().unwrap_or("").contains("query=")
}

/// A GET request: a query in the query string; mutations are refused.
fn read_get(req: &Request) -> Result<BatchRequest, Rejection> {
    let request = async_graphql::http::parse_query_string(req.uri().query().unwrap_or(""))
        .map_err(|_| Rejection::new(None, ErrorCode::BadUserInput, "malformed query string"))?;
    if is_mutation(&request) {
        return Err(Rejection::method_not_allowed("POST", "mutations must use POST"));
    }
    Ok(BatchRequest::Single(request))
}

fn check_batch(batch: BatchRequest) -> Result<BatchRequest, Rejection> {
    match &batch {
        BatchRequest::Batch(items) if items.len() > MAX_BATCH || items.is_empty() => Err(Rejection::new(
            None,
            ErrorCode::QueryTooComplex,
            format!("a batch holds 1 to {MAX_BATCH} operations"),
        )),
        _ if batch
            .iter()
            .any(|r| r.extensions.contains_key("persistedQuery") && r.query.len() > MAX_PERSISTED) =>
        {
            Err(Rejection::new(
                None,
                ErrorCode::QueryTooComplex,
                format!("a persisted query is at most {MAX_PERSISTED} bytes"),
            ))
        }
        _ => Ok(batch),
    }
}

/// A POST request: JSON up to `limit` bytes, or GraphQL multipart carrying one file of up to `max_avatar`.
async fn read_post(req: &Request, body: Body, limit: usize, max_avatar: usize) -> Result<BatchRequest, Rejection> {
    let Some(content_type) = req.content_type() else {
        return Err(unsupported("Content-Type must be application/json"));
    };
    let mime: mime::Mime = content_type
        .parse()
        .map_err(|_| unsupported("unreadable Content-Type"))?;
    let declared = req.header(header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok());
    match (mime.type_(), mime.subtype().as_str()) {
        (mime::APPLICATION, "json" | "graphql-response+json") => {
            if declared.is_some_and(|len| len > limit) {
                return Err(too_large(limit));
            }
            let bytes = body.into_bytes_limit(limit).await.map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => too_large(limit),
                _ => Rejection::new(
                    Some(StatusCode::BAD_REQUEST),
                    ErrorCode::BadUserInput,
                    "the body could not be read",
                ),
            })?;
            serde_json::from_slice::<BatchRequest>(&bytes).map_err(|e| {
                // Broken JSON is a bad HTTP request; well-formed JSON that is not a GraphQL request is a request error.
                let status = (!e.is_data()).then_some(StatusCode::BAD_REQUEST);
                Rejection::new(
                    status,
                    ErrorCode::BadUserInput,
                    format!("not a GraphQL request: {}", json_error(&e)),
                )
            })
        }
        (mime::MULTIPART, "form-data") => {
            // A form post is a "simple" request any site can make a browser
            // send: only one carrying a header a form cannot set (so the
            // browser asked first, through CORS) is taken, as Apollo does.
            if !PREFLIGHTED.iter().any(|h| req.header(*h).is_some()) {
                return Err(Rejection::new(
                    Some(StatusCode::BAD_REQUEST),
                    ErrorCode::BadUserInput,
                    "a multipart request needs the header Apollo-Require-Preflight (or X-Requested-With)",
                ));
            }
            // The one file is an avatar; it must declare its length.
            let max = max_avatar + MULTIPART_OVERHEAD;
            if declared.is_none_or(|len| len > max) {
                return Err(too_large(max));
            }
            let opts = MultipartOptions::default().max_num_files(1).max_file_size(max_avatar);
            let reader = body.into_async_read().take(max as u64).compat();
            let batch = async_graphql::http::receive_batch_body(Some(content_type), reader, opts)
                .await
                .map_err(|e| match e {
                    ParseRequestError::PayloadTooLarge => too_large(max),
                    _ => Rejection::new(
                        Some(StatusCode::BAD_REQUEST),
                        ErrorCode::BadUserInput,
                        "malformed GraphQL multipart request",
                    ),
                })?;
            // Multipart exists for uploads; anything else comes as JSON, under its cap.
            let carries_file = match &batch {
                BatchRequest::Single(r) => !r.uploads.is_empty(),
                BatchRequest::Batch(rs) => rs.iter().any(|r| !r.uploads.is_empty()),
            };
            if !carries_file {
                return Err(Rejection::new(
                    Some(StatusCode::BAD_REQUEST),
                    ErrorCode::BadUserInput,
                    "multipart is for uploads: send other operations as JSON",
                ));
            }
            Ok(batch)
        }
        _ => Err(unsupported("Content-Type must be application/json")),
    }
}

fn unsupported(message: &str) -> Rejection {
    Rejection::new(
        Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ErrorCode::BadUserInput,
        message,
    )
}

fn too_large(limit: usize) -> Rejection {
    Rejection::new(
        Some(StatusCode::PAYLOAD_TOO_LARGE),
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than {limit} bytes"),
    )
}
/// Where the JSON broke, without echoing any of it (it may hold a password).
fn json_error(e: &serde_json::Error) -> String {
    format!("{:?} error at line {}, column {}", e.classify(), e.line(), e.column())
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

/// Whether the request selects a mutation, which GET must not run.
fn is_mutation(request: &GqlRequest) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let mut operations = doc.operations.iter();
    let chosen = match request.operation_name.as_deref() {
        Some(name) => operations.find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => operations.next(),
    };
    chosen.is_some_and(|(_, op)| op.node.ty == OperationType::Mutation)
}

/// A response that failed before execution (syntax, validation): no `data` at all.
fn is_request_error(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null && !r.errors.is_empty() && r.errors.iter().all(|e| e.path.is_empty())
}
