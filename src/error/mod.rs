//! The one error type of authql, free of any transport.
//!
//! Domain code returns [`AppError`]; `graphql/errors.rs` and `http/status.rs`
//! turn it into what their clients see. [`ErrorCode`] is the contract's list
//! of codes; [`Field`] names the input at fault, and only the transports
//! spell it (GraphQL in camelCase). Internal details are logged once, where
//! the error leaves authql, and never reach a client.

mod database;

pub use database::{unique_violation, violates};

/// Machine-readable error codes of the public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    InvalidCredentials,
    EmailNotConfirmed,
    EmailTaken,
    InvalidToken,
    InvalidCode,
    MfaNotEnabled,
    MfaAlreadyEnabled,
    StepUpRequired,
    PayloadTooLarge,
    UnsupportedMedia,
    RateLimited,
    QueryTooComplex,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    /// Every code, in the contract's order.
    pub const ALL: [Self; 17] = [
        Self::Unauthenticated,
        Self::Forbidden,
        Self::BadUserInput,
        Self::InvalidCredentials,
        Self::EmailNotConfirmed,
        Self::EmailTaken,
        Self::InvalidToken,
        Self::InvalidCode,
        Self::MfaNotEnabled,
        Self::MfaAlreadyEnabled,
        Self::StepUpRequired,
        Self::PayloadTooLarge,
        Self::UnsupportedMedia,
        Self::RateLimited,
        Self::QueryTooComplex,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    /// The code as it appears in `extensions.code` and in redirects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::EmailNotConfirmed => "EMAIL_NOT_CONFIRMED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::InvalidCode => "INVALID_CODE",
            Self::MfaNotEnabled => "MFA_NOT_ENABLED",
            Self::MfaAlreadyEnabled => "MFA_ALREADY_ENABLED",
            Self::StepUpRequired => "STEP_UP_REQUIRED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMedia => "UNSUPPORTED_MEDIA",
            Self::RateLimited => "RATE_LIMITED",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

/// The input a validation failure is about. The transports name it: GraphQL
/// by its input field (`graphql/errors.rs`), the CLI by its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Email,
    NewEmail,
    Password,
    NewPassword,
    Username,
    PhoneNumber,
    DisplayName,
    FirstName,
    LastName,
    Code,
    MfaToken,
    Id,
    First,
    Offset,
    Search,
    File,
    RedirectTo,
    CodeChallenge,
    Provider,
    IdToken,
    After,
    Role,
    RefreshToken,
    CeremonyId,
    Credential,
    Name,
    Method,
    Url,
    Events,
    EndpointId,
    DeliveryId,
    Metadata,
}

/// Every failure authql reports.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    /// A refusal in the words of the app's own backend (the sign-up hook).
    #[error("{0}")]
    Refused(String),
    #[error("{message}")]
    BadInput { field: Field, message: String },
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("the email address is not confirmed yet")]
    EmailNotConfirmed,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("the token is invalid or has expired")]
    InvalidToken,
    #[error("the code is invalid or has expired")]
    InvalidCode,
    #[error("multi-factor authentication is not on for this account")]
    MfaNotEnabled,
    #[error("multi-factor authentication is already on for this account")]
    MfaAlreadyEnabled,
    #[error("confirm it is you first: sign in again, or verify with a code (verifyOtp or verifyStepUp)")]
    StepUpRequired,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(&'static str),
    #[error("too many requests; retry in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("a required service is unavailable; retry later")]
    Unavailable(String),
    /// The database's storage refuses writes (a full disk, a read-only
    /// file): a state of the machine, not of the request.
    #[error("a required service is unavailable; retry later")]
    StorageUnavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Shorthand for results in authql.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A validation failure on `field`.
    pub fn bad_input(field: Field, message: impl Into<String>) -> Self {
        Self::BadInput {
            field,
            message: message.into(),
        }
    }

    /// An unexpected failure; `context` is logged, never shown.
    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{context}"))
    }

    /// The contract's code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Forbidden(_) | Self::Refused(_) => ErrorCode::Forbidden,
            Self::BadInput { .. } => ErrorCode::BadUserInput,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::EmailNotConfirmed => ErrorCode::EmailNotConfirmed,
            Self::EmailTaken => ErrorCode::EmailTaken,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::InvalidCode => ErrorCode::InvalidCode,
            Self::MfaNotEnabled => ErrorCode::MfaNotEnabled,
            Self::MfaAlreadyEnabled => ErrorCode::MfaAlreadyEnabled,
            Self::StepUpRequired => ErrorCode::StepUpRequired,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMedia(_) => ErrorCode::UnsupportedMedia,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) | Self::StorageUnavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Logs what a client must not see; call once where the error leaves authql.
    pub fn log(&self) {
        match self {
            Self::Internal(e) => tracing::error!(error = %format!("{e:#}"), "internal error"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "service unavailable"),
            Self::StorageUnavailable(detail) => storage_warning(detail),
            _ => {}
        }
    }
}

/// How often a storage failure is logged: every write fails alike until an
/// operator frees space, and one line a minute says so without burying the
/// rest of the log.
const STORAGE_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// When a storage failure was last logged; the storage is the process's.
static STORAGE_WARNED: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

fn storage_warning(detail: &str) {
    let mut warned = STORAGE_WARNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if warned.is_none_or(|at| at.elapsed() >= STORAGE_WARN_EVERY) {
        *warned = Some(std::time::Instant::now());
        tracing::error!(
            %detail,
            "the database cannot write (disk full, read-only or failing storage): writes answer SERVICE_UNAVAILABLE, \
             reads go on; free space or make it writable and writes resume without a restart"
        );
    } else {
        tracing::debug!(%detail, "service unavailable: the database cannot write");
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_out_of_the_message_but_in_the_chain() {
        let e = AppError::internal("SELECT secret FROM users");
        assert_eq!(e.to_string(), "internal error");
        // Start-up and the CLI print the chain, so the cause reaches the operator.
        let chained = anyhow::Error::new(e).context("cannot rotate the signing key");
        assert!(format!("{chained:#}").contains("SELECT secret FROM users"));
    }
}
