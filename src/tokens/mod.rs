//! Signing keys, access tokens (JWTs), single-use mailed tokens and short codes.
//!
//! Owns `signing_keys` and `one_time_tokens`. May call: `db`, `crypto`,
//! `config`, `entities`. Knows nothing of sessions or accounts.

pub mod codes;
pub mod jwt;
pub mod keys;
pub mod memo;
pub mod one_time;
