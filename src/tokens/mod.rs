//! Signing keys, access tokens, refresh rotation and single-use mailed tokens.

pub mod codes;
pub mod jwt;
pub mod keys;
pub mod one_time;
pub mod refresh;
