//! Absolute links: into authql (PUBLIC_URL) and into the web app (FRONTEND_URL).

use url::Url;

/// Absolute links into authql (PUBLIC_URL) and into the web app (FRONTEND_URL).
#[derive(Clone, Debug)]
pub struct Links {
    public: Url,
    frontend: Option<Url>,
}

impl Links {
    /// Links under `public` (PUBLIC_URL) and `frontend` (FRONTEND_URL).
    pub fn new(public: Url, frontend: Option<Url>) -> Self {
        Self { public, frontend }
    }

    /// An absolute link to `path` (which starts with `/`) under PUBLIC_URL.
    pub fn public(&self, path: &str) -> String {
        format!("{}{path}", self.public.as_str().trim_end_matches('/'))
    }

    /// An absolute link under FRONTEND_URL, or under PUBLIC_URL without one.
    pub fn frontend(&self, path: &str) -> String {
        let base = self.frontend.as_ref().unwrap_or(&self.public);
        format!("{}{path}", base.as_str().trim_end_matches('/'))
    }

    /// Whether a web app is configured (FRONTEND_URL).
    pub fn has_frontend(&self) -> bool {
        self.frontend.is_some()
    }
}
