//! FORCE_HTTPS: plain HTTP is sent to https with a 308. TLS ends at a
//! proxy, so the scheme is the `X-Forwarded-Proto` of a trusted proxy, and
//! only that: a client's own header says nothing.

use ipnet::IpNet;
use poem::http::{StatusCode, header};
use poem::{Request, Response};
use url::Url;

/// Where plain requests are sent, and whom to believe about the scheme.
#[derive(Clone)]
pub struct ForceHttps {
    /// `https://host[:port]` of PUBLIC_URL: never the request's Host, which the client chooses.
    base: String,
    trusted: Vec<IpNet>,
}

impl ForceHttps {
    /// Redirects to PUBLIC_URL's host, believing `trusted` proxies.
    pub fn new(public_url: &Url, trusted: &[IpNet]) -> Self {
        let host = public_url.host_str().unwrap_or("localhost");
        let port = public_url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Self {
            base: format!("https://{host}{port}"),
            trusted: trusted.to_vec(),
        }
    }

    /// The redirect for a request that did not come over https, if it did
    /// not. Probes of health, readiness and metrics come straight from the
    /// load balancer or scraper over plain HTTP, and are answered.
    pub fn redirect_for(&self, req: &Request) -> Option<Response> {
        if matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics") {
            return None;
        }
        let peer = req.remote_addr().as_socket_addr().map(std::net::SocketAddr::ip);
        let from_proxy = peer.is_some_and(|ip| self.trusted.iter().any(|net| net.contains(&ip)));
        let over_tls = from_proxy
            && req
                .header("x-forwarded-proto")
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        if over_tls {
            return None;
        }
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        Some(
            Response::builder()
                .status(StatusCode::PERMANENT_REDIRECT)
                .header(header::LOCATION, format!("{}{path}", self.base))
                .finish(),
        )
    }
}
