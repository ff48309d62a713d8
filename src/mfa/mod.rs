//! Multi-factor authentication: TOTP enrolment, recovery codes, the second
//! step of a login (TOTP, a mailed code or a recovery code), and step-up codes.

pub mod login;
pub mod recovery;
pub mod step_up;
pub mod totp;

/// The second factors a login can finish with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    EmailOtp,
    RecoveryCode,
}

/// Wrong codes one login (one MFA token) may try before the token is spent.
pub const MAX_ATTEMPTS: i32 = 5;
