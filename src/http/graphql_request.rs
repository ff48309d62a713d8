//! Reading a GraphQL-over-HTTP request: a GET's query string, or a POST's
//! JSON or multipart body, within their limits; and why one is refused.

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Request as GqlRequest};
use poem::http::{StatusCode, header};
use poem::{Body, Request, Response};

use super::multipart;
use super::responses::graphql_error;
use crate::error::ErrorCode;
use crate::graphql::guardrails::MAX_BATCH;
use crate::graphql::persisted::MAX_QUERY_BYTES as MAX_PERSISTED;

/// Headers a browser sends only after a CORS preflight: one must come with a multipart request.
const PREFLIGHTED: [&str; 3] = [
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "x-requested-with",
];
/// What a GraphQL multipart request may hold besides its file and its JSON
/// parts: part headers and boundaries.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Why a request cannot run.
pub(super) struct Rejection {
    /// `None`: a request error, whose status depends on what the client accepts.
    status: Option<StatusCode>,
    code: ErrorCode,
    message: String,
    allow: Option<&'static str>,
}

impl Rejection {
    pub(super) fn new(status: Option<StatusCode>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    pub(super) fn method_not_allowed(allow: &'static str, message: &str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(Some(StatusCode::METHOD_NOT_ALLOWED), ErrorCode::BadUserInput, message)
        }
    }

    pub(super) fn into_response(self, modern: bool, content_type: &str, request_id: Option<&str>) -> Response {
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

pub(super) fn has_query(req: &Request) -> bool {
    req.uri().query().unwrap_or("").contains("query=")
}

/// A GET request: a query in the query string; mutations are refused.
pub(super) fn read_get(req: &Request) -> Result<BatchRequest, Rejection> {
    let request = async_graphql::http::parse_query_string(req.uri().query().unwrap_or(""))
        .map_err(|_| Rejection::new(None, ErrorCode::BadUserInput, "malformed query string"))?;
    if is_mutation(&request) {
        return Err(Rejection::method_not_allowed("POST", "mutations must use POST"));
    }
    Ok(BatchRequest::Single(request))
}

pub(super) fn check_batch(batch: BatchRequest) -> Result<BatchRequest, Rejection> {
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
pub(super) async fn read_post(
    req: &Request,
    body: Body,
    limit: usize,
    max_avatar: usize,
) -> Result<BatchRequest, Rejection> {
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
            // The one file is an avatar; the request must declare its length.
            let max = max_avatar + 2 * limit + MULTIPART_OVERHEAD;
            if declared.is_none_or(|len| len > max) {
                return Err(too_large(max));
            }
            let caps = multipart::Caps {
                json: limit,
                file: max_avatar,
                total: max,
            };
            let batch = multipart::read(content_type, body, &caps).await?;
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

pub(super) fn too_large(limit: usize) -> Rejection {
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
