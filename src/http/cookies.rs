//! Reading and writing the cookies authql sets (the `cookie` crate does the
//! syntax): the OAuth flow's, the known-device credential's, and in cookie
//! mode the refresh token's; and whether a request may be authenticated by
//! one (CSRF).

use std::time::Duration;

use cookie::Cookie;
pub use cookie::SameSite;
use poem::Request;
use poem::http::header;

use crate::config::TokenTransport;
use crate::graphql::delivery::{IncomingCookies, OutgoingCookies, RefreshCookie};
use crate::state::AppState;

/// The known-device credential's cookie over https. `__Secure-` (not
/// `__Host-`, which would demand `Path=/`) keeps it to `/graphql` while a
/// plain-HTTP page cannot set or overwrite it.
pub const DEVICE_SECURE: &str = "__Secure-authql_device";
/// The same over plain HTTP (development).
pub const DEVICE_PLAIN: &str = "authql_device";

/// The refresh token's cookie over https: `__Host-` binds it to this host
/// (no sibling subdomain can set or overwrite it), which requires `Path=/`.
pub const REFRESH_SECURE: &str = "__Host-authql_rt";
/// The same over plain HTTP (development), kept to `/graphql`.
pub const REFRESH_PLAIN: &str = "authql_rt";
/// The header with which a request asks for cookie mode under REFRESH_TOKEN_TRANSPORT=both.
pub const TRANSPORT_HEADER: &str = "x-authql-token-transport";

/// How long a browser keeps the device cookie (unused credentials are deleted after a year too).
const DEVICE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a GraphQL request's cookies hold and how they may be used.
pub fn incoming(req: &Request, state: &AppState) -> IncomingCookies {
    let https = state.config.public_url.scheme() == "https";
    let transport = state.config.http.token_transport;
    let cookie_mode = match transport {
        TokenTransport::Body => false,
        TokenTransport::Cookie => true,
        TokenTransport::Both => req
            .header(TRANSPORT_HEADER)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie")),
    };
    let refresh = if transport == TokenTransport::Body {
        None
    } else {
        read(req, refresh_name(https))
    };
    IncomingCookies {
        device: read(req, device_name(https)),
        refresh,
        cookie_mode,
        from_allowed_origin: is_json(req) && origin_allowed(req, state),
    }
}

/// `Set-Cookie` values for what the resolvers want set.
pub fn outgoing(out: OutgoingCookies, state: &AppState) -> Vec<String> {
    let https = state.config.public_url.scheme() == "https";
    let refresh_path = if https { "/" } else { "/graphql" };
    let mut cookies = Vec::new();
    if let Some(device) = out.device {
        let name = device_name(https);
        cookies.push(set(name, &device, "/graphql", SameSite::Strict, DEVICE_LIFETIME, https));
    }
    match out.refresh {
        Some(RefreshCookie::Set(token)) => {
            let lifetime = state.config.tokens.refresh_ttl;
            cookies.push(set(
                refresh_name(https),
                &token,
                refresh_path,
                SameSite::Strict,
                lifetime,
                https,
            ));
        }
        Some(RefreshCookie::Clear) if state.config.http.token_transport != TokenTransport::Body => {
            cookies.push(set(
                refresh_name(https),
                "",
                refresh_path,
                SameSite::Strict,
                Duration::ZERO,
                https,
            ));
        }
        _ => {}
    }
    cookies
}

/// A JSON body: browsers send it cross-origin only after a CORS preflight.
fn is_json(req: &Request) -> bool {
    req.header(header::CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/json") || m.eq_ignore_ascii_case("application/graphql-response+json")
        })
}

/// An `Origin` that is PUBLIC_URL's own or in CORS_ALLOWED_ORIGINS.
fn origin_allowed(req: &Request, state: &AppState) -> bool {
    let Some(origin) = req.header(header::ORIGIN) else {
        return false;
    };
    origin == state.config.public_url.origin().ascii_serialization()
        || state.config.http.cors_origins.iter().any(|o| o == origin)
}

/// The name of the refresh cookie for a server whose PUBLIC_URL is https or not.
pub fn refresh_name(https: bool) -> &'static str {
    if https { REFRESH_SECURE } else { REFRESH_PLAIN }
}

/// The value of cookie `name` the request carries, if any.
pub fn read(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value: HttpOnly always, Secure when `secure`.
pub fn set(name: &str, value: &str, path: &str, same_site: SameSite, max_age: Duration, secure: bool) -> String {
    let max_age = cookie::time::Duration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
    Cookie::build((name.to_owned(), value.to_owned()))
        .path(path.to_owned())
        .http_only(true)
        .secure(secure)
        .same_site(same_site)
        .max_age(max_age)
        .build()
        .to_string()
}

/// The name of the device cookie for a server whose PUBLIC_URL is https or not.
pub fn device_name(https: bool) -> &'static str {
    if https { DEVICE_SECURE } else { DEVICE_PLAIN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cookies_are_strict_http_only_and_secure_over_https() {
        let c = set(
            device_name(true),
            "abc",
            "/graphql",
            SameSite::Strict,
            Duration::from_secs(60),
            true,
        );
        assert_eq!(
            c,
            "__Secure-authql_device=abc; HttpOnly; SameSite=Strict; Secure; Path=/graphql; Max-Age=60"
        );
        let c = set(
            device_name(false),
            "abc",
            "/graphql",
            SameSite::Strict,
            Duration::from_secs(60),
            false,
        );
        assert!(!c.contains("Secure"), "{c}");
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let req = Request::builder()
            .header(header::COOKIE, "a=1; authql_device=xyz; b=2")
            .finish();
        assert_eq!(read(&req, DEVICE_PLAIN).as_deref(), Some("xyz"));
        assert_eq!(read(&req, "missing"), None);
    }
}
