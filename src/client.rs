//! Where a request came from, as recorded on sessions and security events.
//! Filled in by the HTTP layer; read by every domain.

use std::net::IpAddr;

/// The client of one request.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The IP as stored.
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// The user agent as stored: at most 255 characters.
    pub fn user_agent_trimmed(&self) -> Option<String> {
        self.user_agent.as_ref().map(|ua| ua.chars().take(255).collect())
    }
}
