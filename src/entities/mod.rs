//! SeaORM entities, one per table. Never exposed as GraphQL types.

pub mod audit_log;
pub mod avatars;
pub mod devices;
pub mod identities;
pub mod mail_outbox;
pub mod one_time_tokens;
pub mod passkey_ceremonies;
pub mod passkeys;
pub mod refresh_tokens;
pub mod security_events;
pub mod sessions;
pub mod signing_keys;
pub mod used_id_tokens;
pub mod users;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
