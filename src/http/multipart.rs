//! GraphQL multipart requests (uploads): the `operations` and `map` parts
//! are held to MAX_BODY_BYTES, as a JSON body is, and the one file to its
//! own cap, each while it streams in.
//!
//! async-graphql's reader gives every part the file's cap, so a large query
//! text beside a tiny file would be read and run; the parts are read here
//! instead, with `multer` (the parser async-graphql uses).

use std::collections::HashMap;

use async_graphql::{BatchRequest, UploadValue};
use multer::{Constraints, Multipart, SizeLimit};
use poem::Body;
use poem::http::StatusCode;

use super::graphql_request::{Rejection, too_large};
use crate::error::ErrorCode;

/// The caps of one multipart request.
pub(super) struct Caps {
    /// The `operations` and `map` parts: MAX_BODY_BYTES.
    pub json: usize,
    /// The file.
    pub file: usize,
    /// The whole body.
    pub total: usize,
}

/// Reads a multipart body of `content_type`: the operations, the map, and
/// at most one file, set in the operations where the map says.
pub(super) async fn read(content_type: &str, body: Body, caps: &Caps) -> Result<BatchRequest, Rejection> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| malformed())?;
    let limits = SizeLimit::new()
        .whole_stream(caps.total as u64)
        .per_field(caps.file as u64)
        .for_field("operations", caps.json as u64)
        .for_field("map", caps.json as u64);
    let mut parts = Multipart::with_constraints(
        body.into_bytes_stream(),
        boundary,
        Constraints::new().size_limit(limits),
    );
    let mut operations = None;
    let mut map = None;
    let mut file = None;
    while let Some(part) = parts.next_field().await.map_err(|e| refusal(&e, caps))? {
        match part.name() {
            Some("operations") => {
                let bytes = part.bytes().await.map_err(|e| refusal(&e, caps))?;
                operations = Some(serde_json::from_slice::<BatchRequest>(&bytes).map_err(|_| malformed())?);
            }
            Some("map") => {
                let bytes = part.bytes().await.map_err(|e| refusal(&e, caps))?;
                map = Some(serde_json::from_slice::<HashMap<String, Vec<String>>>(&bytes).map_err(|_| malformed())?);
            }
            Some(name) if part.file_name().is_some() => {
                if file.is_some() {
                    return Err(bad_input("one file per request"));
                }
                let name = name.to_owned();
                let filename = part.file_name().unwrap_or_default().to_owned();
                let content_type = part.content_type().map(ToString::to_string);
                let content = part.bytes().await.map_err(|e| refusal(&e, caps))?;
                file = Some((
                    name,
                    UploadValue {
                        filename,
                        content_type,
                        content,
                    },
                ));
            }
            _ => {}
        }
    }
    let (Some(mut operations), Some(mut map)) = (operations, map) else {
        return Err(malformed());
    };
    if let Some((name, upload)) = file {
        for path in map.remove(&name).unwrap_or_default() {
            let upload = upload.try_clone().map_err(|_| malformed())?;
            match &mut operations {
                BatchRequest::Single(request) => request.set_upload(&path, upload),
                BatchRequest::Batch(requests) => {
                    let target = path
                        .split_once('.')
                        .and_then(|(index, rest)| Some((requests.get_mut(index.parse::<usize>().ok()?)?, rest)));
                    if let Some((request, rest)) = target {
                        request.set_upload(rest, upload);
                    }
                }
            }
        }
    }
    if !map.is_empty() {
        return Err(bad_input("the map names a file the request does not carry"));
    }
    Ok(operations)
}

/// A part over its cap is PAYLOAD_TOO_LARGE, naming that cap; anything else is malformed.
fn refusal(e: &multer::Error, caps: &Caps) -> Rejection {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. }
            if matches!(field_name.as_deref(), Some("operations" | "map")) =>
        {
            too_large(caps.json)
        }
        multer::Error::FieldSizeExceeded { .. } => too_large(caps.file),
        multer::Error::StreamSizeExceeded { .. } => too_large(caps.total),
        _ => malformed(),
    }
}

fn malformed() -> Rejection {
    bad_input("malformed GraphQL multipart request")
}

fn bad_input(message: &str) -> Rejection {
    Rejection::new(Some(StatusCode::BAD_REQUEST), ErrorCode::BadUserInput, message)
}
