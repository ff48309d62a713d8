//! `GET /avatars/{key}.png`: the avatars authql re-encoded, for any page to show.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Response, handler};

use super::status::status_of;
use crate::state::AppState;

/// Serves one avatar. A key is never reused (each upload gets a new one), so
/// browsers and CDNs may keep the image for good.
#[handler]
pub async fn image(Path(file): Path<String>, Data(state): Data<&AppState>) -> Response {
    let not_found = || Response::builder().status(StatusCode::NOT_FOUND).body("no such avatar");
    let Some(key) = file
        .strip_suffix(".png")
        .filter(|k| k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    else {
        return not_found();
    };
    match state.profile.avatar_image(key).await {
        Ok(Some(png)) => Response::builder()
            .header(header::CONTENT_TYPE, "image/png")
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header(header::CONTENT_SECURITY_POLICY, "default-src 'none'")
            .header("cross-origin-resource-policy", "cross-origin")
            .body(png),
        Ok(None) => not_found(),
        Err(e) => {
            e.log();
            Response::builder().status(status_of(e.code())).body("try again later")
        }
    }
}
