//! Reading and writing the cookies authql sets (the `cookie` crate does the
//! syntax): the OAuth flow's, and the known-device credential's.

use std::time::Duration;

use cookie::Cookie;
pub use cookie::SameSite;
use poem::Request;
use poem::http::header;

/// The known-device credential's cookie over https. `__Secure-` (not
/// `__Host-`, which would demand `Path=/`) keeps it to `/graphql` while a
/// plain-HTTP page cannot set or overwrite it.
pub const DEVICE_SECURE: &str = "__Secure-authql_device";
/// The same over plain HTTP (development).
pub const DEVICE_PLAIN: &str = "authql_device";

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
