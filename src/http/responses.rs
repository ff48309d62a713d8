//! Response helpers shared by the HTTP handlers.

use poem::Response;
use poem::http::{StatusCode, header};

use crate::error::ErrorCode;

/// A GraphQL-shaped error body (`{"errors":[...]}`, no `data`) for failures before execution.
pub fn graphql_error(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    content_type: &str,
    request_id: Option<&str>,
) -> Response {
    let mut extensions = serde_json::json!({ "code": code.as_str() });
    if let Some(id) = request_id {
        extensions["requestId"] = serde_json::json!(id);
    }
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

/// A small self-contained HTML page.
pub fn html_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, title, message, "")
}

/// A page whose one button POSTs to `action` (a path of this server).
pub fn html_form_page(title: &str, message: &str, action: &str, button: &str) -> Response {
    let form = format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\" style=\"font-size:1.1rem;padding:.5rem 1rem\">{}</button></form>",
        html_escape::encode_double_quoted_attribute(action),
        html_escape::encode_text(button)
    );
    page(StatusCode::OK, title, message, &form)
}

fn page(status: StatusCode, title: &str, message: &str, extra: &str) -> Response {
    let title = html_escape::encode_text(title);
    let message = html_escape::encode_text(message);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto\">\
         <h1>{title}</h1><p>{message}</p>{extra}</body></html>"
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        )
        .body(body)
}
