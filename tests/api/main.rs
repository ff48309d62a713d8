//! Integration tests: a real authql on port 0, a fresh database per test
//! (SQLite, or TEST_DATABASE_URL's server), a real SMTP sink on loopback.

mod account_security;
mod admin;
mod avatar;
mod bad_input;
mod breached;
mod concurrency;
mod cookie_mode;
mod db;
mod devices;
mod enumeration;
mod flow;
mod github_double;
mod graphql_http;
mod helpers;
mod instances;
mod jwks;
mod limits;
mod mail;
mod mail_tls;
mod metrics;
mod mfa;
mod oauth;
mod oidc_provider;
mod outage;
mod persisted;
mod profile;
mod proxy;
mod recovery;
mod retention;
mod session_events;
mod sessions;
mod shared_limits;
mod smtp;
mod smtp_session;
mod tls;
