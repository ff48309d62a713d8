//! The one error type of authql, free of any transport.
//!
//! Domain code returns [`AppError`]; `graphql/errors.rs` and `http/status.rs`
//! turn it into what their clients see. [`ErrorCode`] is the contract's list
//! of codes; [`Field`] names the input at fault, and only the transports
//! spell it (GraphQL in camelCase). Internal details are logged once, where
//! the error leaves authql, and never reach a client.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

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
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Logs what a client must not see; call once where the error leaves authql.
    pub fn log(&self) {
        match self {
            Self::Internal(e) => tracing::error!(error = %format!("{e:#}"), "internal error"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "service unavailable"),
            _ => {}
        }
    }
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        if is_outage(&e) || is_conflict(&e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(e.into())
    }
}

/// Whether a database error means the database is out of reach (rather than a bug).
fn is_outage(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(
                inner.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::Tls(_)
                    | sea_orm::sqlx::Error::Protocol(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// Whether the database rolled the transaction back because of another one
/// (a deadlock, a serialization failure, SQLite busy): running it again works.
fn is_conflict(e: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))) = e else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(db) = inner.as_ref() else {
        return false;
    };
    // SQLSTATE 40001 (MySQL deadlock, PostgreSQL serialization failure),
    // 40P01 (PostgreSQL deadlock); SQLite's SQLITE_BUSY and BUSY_SNAPSHOT.
    matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "517"))
}

/// The unique index a violation names, if `e` is a unique violation.
///
/// Index names follow `idx_<table>_<column>`; SQLite names `<table>.<column>`
/// instead. Only the end of the message is read, where the backends put the
/// constraint, so a conflicting value cannot fake another constraint.
pub fn unique_violation(e: &DbErr) -> Option<String> {
    let SqlErr::UniqueConstraintViolation(message) = e.sql_err()? else {
        return None;
    };
    let tail = ["for key ", "constraint ", "failed: "]
        .iter()
        .filter_map(|marker| message.rfind(marker).map(|at| &message[at + marker.len()..]))
        .min_by_key(|tail| tail.len())
        .unwrap_or(&message);
    Some(
        tail.trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c.is_whitespace())
            .to_owned(),
    )
}

/// Whether a unique violation is on `table.column`.
pub fn violates(constraint: &str, table: &str, column: &str) -> bool {
    let by_index = format!("idx_{table}_{column}");
    let by_column = format!("{table}.{column}");
    constraint == by_index || constraint.ends_with(&format!(".{by_index}")) || constraint == by_column
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_are_matched_exactly() {
        assert!(violates("idx_users_email", "users", "email"));
        assert!(violates("users.idx_users_email", "users", "email"));
        assert!(violates("users.email", "users", "email"));
        assert!(!violates("idx_users_email", "users", "username"));
    }

    #[test]
    fn internal_details_stay_out_of_the_message_but_in_the_chain() {
        let e = AppError::internal("SELECT secret FROM users");
        assert_eq!(e.to_string(), "internal error");
        // Start-up and the CLI print the chain, so the cause reaches the operator.
        let chained = anyhow::Error::new(e).context("cannot rotate the signing key");
        assert!(format!("{chained:#}").contains("SELECT secret FROM users"));
    }
}
