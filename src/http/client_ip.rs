//! The client's address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy.

use std::net::IpAddr;

use ipnet::IpNet;
use poem::http::HeaderMap;

/// The client IP of a request from `peer` with `headers`.
///
/// X-Forwarded-For is read right to left, skipping trusted proxies; the first
/// untrusted address is the client. A client cannot forge it, because every
/// address it adds sits to the left of one a trusted proxy appended.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else { break };
        for hop in value.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                return Some(client);
            };
            client = canonical(ip);
            if !is_trusted(client, trusted) {
                return Some(client);
            }
        }
    }
    Some(client)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4 peers on a dual-stack socket arrive as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(peer: &str, xff: Option<&str>, trusted: &[IpNet]) -> Option<IpAddr> {
        let mut headers = HeaderMap::new();
        if let Some(xff) = xff {
            headers.insert("x-forwarded-for", xff.parse().unwrap());
        }
        client_ip(Some(peer.parse().unwrap()), &headers, trusted)
    }

    #[test]
    fn forwarded_for_only_counts_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            ip("203.0.113.9", Some("1.2.3.4"), &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            ip("10.0.0.2", Some("1.2.3.4"), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        // A client-supplied left part cannot win over the address the proxy saw.
        assert_eq!(
            ip("10.0.0.2", Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            ip("10.0.0.2", Some("garbage"), &trusted),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            ip("::ffff:203.0.113.9", None, &[]),
            Some("203.0.113.9".parse().unwrap())
        );
    }
}
