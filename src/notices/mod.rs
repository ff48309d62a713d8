//! Revocation notices between instances: which session or account changed.
//!
//! Owns nothing in the database. May call: `db`.

use uuid::Uuid;

/// What changed, as every instance hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// One session changed (ended, stepped up).
    Session(Uuid),
    /// An account or all its sessions changed.
    Account(Uuid),
    /// The listener (re)connected and may have missed notices: forget everything.
    Reset,
}
