//! Which addresses webhooks may go to: public ones only (no loopback,
//! private, link-local or metadata, shared, mapped or NAT64 forms of them),
//! checked when an endpoint is registered and again after DNS on every
//! connection (`sender`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::Url;

use crate::config::integrations::WebhookConfig;

/// Longest endpoint address.
const MAX_URL: usize = 2048;

/// Whether `ip` is an address on the public internet: not loopback,
/// private, link-local (cloud metadata among them), shared (CGNAT),
/// unspecified, multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // NAT64 and 6to4 carry an IPv4 address: judge that one.
    if s[0] == 0x64 && s[1] == 0xff9b {
        let o = ip.octets();
        return public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        let o = ip.octets();
        return public_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    // Only global unicast (2000::/3) is public, less the IETF's special
    // purposes in 2001::/23 (Teredo, benchmarking, ORCHID) and documentation:
    // what lies outside it (site-local, discard, IPv4-translated, unique
    // local, link-local, multicast) is never a receiver's.
    let special = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8);
    (s[0] & 0xe000) == 0x2000 && !special
}

/// Checks an endpoint address as an administrator gives it: absolute http(s)
/// (https only when `config.https_only`), no credentials in it, and unless
/// private addresses are allowed, no host that is or resolves only to a
/// non-public address. Returns it without a fragment.
///
/// # Errors
/// A message saying what is wrong.
pub async fn check_url(url: &str, config: &WebhookConfig) -> Result<Url, String> {
    if url.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let mut parsed = Url::parse(url.trim()).map_err(|_| "must be an absolute http or https URL".to_owned())?;
    match parsed.scheme() {
        "https" => {}
        "http" if !config.https_only => {}
        "http" => return Err("must be https in production (or set WEBHOOK_ALLOW_PRIVATE=true)".to_owned()),
        _ => return Err("must be an absolute http or https URL".to_owned()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold credentials".to_owned());
    }
    let Some(host) = parsed.host_str().map(str::to_owned) else {
        return Err("must name a host".to_owned());
    };
    parsed.set_fragment(None);
    if config.allow_private {
        return Ok(parsed);
    }
    let refused = || "must be a public address (set WEBHOOK_ALLOW_PRIVATE=true for private ones)".to_owned();
    if let Some(ip) = literal_ip(&parsed) {
        return if is_public(ip) { Ok(parsed) } else { Err(refused()) };
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(refused());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    // A name that does not resolve now may later: the check after DNS on
    // every connection is what counts; this one only spares a useless endpoint.
    let lookup = tokio::time::timeout(Duration::from_secs(2), tokio::net::lookup_host((host.as_str(), port))).await;
    if let Ok(Ok(addrs)) = lookup {
        let addrs: Vec<SocketAddr> = addrs.collect();
        if !addrs.is_empty() && !addrs.iter().any(|a| is_public(a.ip())) {
            return Err(refused());
        }
    }
    Ok(parsed)
}

/// The host of `url` when it is an IP address (connections to those skip DNS).
pub(super) fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }
    #[test]
    fn inward_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "fe80::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            // Round 3 of the attacks: forms that looked public.
            "::ffff:0:7f00:1",
            "fec0::1",
            "100::1",
            "2001::7f00:1",
            "2001:2::1",
            "192.88.99.1",
        ] {
            assert!(!public(ip), "{ip} passed for public");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::101:101"] {
            assert!(public(ip), "{ip} refused");
        }
    }

    fn config(allow_private: bool, https_only: bool) -> WebhookConfig {
        let mut c = crate::config::integrations::IntegrationSettings {
            webhook_allow_private: allow_private,
            webhook_retention: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(1),
            webhook_poll_interval: Duration::from_secs(1),
            hook_before_signup_url: None,
            hook_access_token_url: None,
            hook_secret: None,
            hook_timeout: Duration::from_secs(1),
            hook_before_signup_on_failure: crate::config::integrations::OnFailure::Deny,
            hook_access_token_on_failure: crate::config::integrations::OnFailure::Allow,
        }
        .webhooks(false);
        c.https_only = https_only;
        c
    }

    #[tokio::test]
    async fn registered_addresses_are_checked() {
        let strict = config(false, true);
        assert!(
            check_url("http://example.com/hook", &strict).await.is_err(),
            "https only"
        );
        assert!(check_url("https://127.0.0.1/hook", &strict).await.is_err());
        assert!(check_url("https://[::1]/hook", &strict).await.is_err());
        assert!(check_url("https://localhost/hook", &strict).await.is_err());
        assert!(check_url("https://user:pw@1.1.1.1/hook", &strict).await.is_err());
        assert!(check_url("ftp://1.1.1.1/hook", &strict).await.is_err());
        assert!(check_url("https://1.1.1.1/hook#x", &strict).await.is_ok());
        let open = config(true, false);
        assert!(check_url("http://127.0.0.1:9/hook", &open).await.is_ok());
    }
}
