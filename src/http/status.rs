//! The one mapping from an error code to an HTTP status, for the plain routes.

use poem::http::StatusCode;

use crate::error::ErrorCode;

/// The status a plain HTTP route answers an error of `code` with.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::StepUpRequired => StatusCode::FORBIDDEN,
        ErrorCode::BadUserInput
        | ErrorCode::InvalidCredentials
        | ErrorCode::EmailNotConfirmed
        | ErrorCode::EmailTaken
        | ErrorCode::InvalidToken
        | ErrorCode::InvalidCode
        | ErrorCode::MfaNotEnabled
        | ErrorCode::MfaAlreadyEnabled
        | ErrorCode::QueryTooComplex => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
