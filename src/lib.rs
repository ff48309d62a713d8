//! authql: a self-hosted authentication server with a GraphQL API.
//!
//! `http` and `graphql` are thin layers over the domain modules (`accounts`,
//! `sessions`, `mfa`, `passkeys`, `profile`, `tokens`, `mail`, `limits`, `events`,
//! `webhooks`), which
//! know nothing of either. Each domain module's `//!` says what it owns and
//! what it may call; no two modules import each other.

pub mod accounts;
pub mod audit;
pub mod client;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod error;
pub mod events;
pub mod graphql;
pub mod health;
pub mod hooks;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod mail;
pub mod mfa;
pub mod notices;
pub mod oauth;
pub mod passkeys;
pub mod profile;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
