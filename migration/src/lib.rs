//! Database migrations for authql: one module per change, never edited after it lands.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261129_000001_initial;
mod m20261129_000002_avatars;
mod m20261130_000003_typed_columns;
mod m20261130_000004_token_payload;
mod m20261130_000005_identities;
mod m20261130_000006_audit_log;
mod m20261201_000007_devices;
mod m20261204_000008_security_stamp;
mod m20261205_000009_used_id_tokens;
mod m20261205_000010_exact_emails;
mod m20261205_000011_longer_token_payload;
mod m20261206_000012_passkeys;
mod m20261207_000014_webhooks;
mod m20261207_000015_app_metadata;
mod m20261207_000016_session_claims;

/// Every migration of authql, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial::Migration),
            Box::new(m20261129_000002_avatars::Migration),
            Box::new(m20261130_000003_typed_columns::Migration),
            Box::new(m20261130_000004_token_payload::Migration),
            Box::new(m20261130_000005_identities::Migration),
            Box::new(m20261130_000006_audit_log::Migration),
            Box::new(m20261201_000007_devices::Migration),
            Box::new(m20261204_000008_security_stamp::Migration),
            Box::new(m20261205_000009_used_id_tokens::Migration),
            Box::new(m20261205_000010_exact_emails::Migration),
            Box::new(m20261205_000011_longer_token_payload::Migration),
            Box::new(m20261206_000012_passkeys::Migration),
            Box::new(m20261207_000014_webhooks::Migration),
            Box::new(m20261207_000015_app_metadata::Migration),
            Box::new(m20261207_000016_session_claims::Migration),
        ]
    }
}
