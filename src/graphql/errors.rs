//! How resolver errors become GraphQL errors with `extensions.code`.
//!
//! async-graphql converts any `Display` error into a bare message, which
//! would drop the code. Resolvers therefore return [`GqlResult`]: its error
//! type is not `Display`, so the only way in is through [`AppError`], which
//! sets the code.

use crate::error::{AppError, ErrorCode};

/// A GraphQL error that carries its code.
#[derive(Clone)]
pub struct GqlError(async_graphql::Error);

/// The result type of every resolver.
pub type GqlResult<T> = Result<T, GqlError>;

impl From<AppError> for GqlError {
    fn from(e: AppError) -> Self {
        Self(e.to_graphql())
    }
}

impl From<async_graphql::Error> for GqlError {
    /// Errors raised by async-graphql itself (missing context data) are ours to fix.
    fn from(e: async_graphql::Error) -> Self {
        tracing::error!(error = %e.message, "GraphQL plumbing error");
        Self(AppError::internal(e.message).to_graphql())
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(e: GqlError) -> Self {
        e.0
    }
}

/// Gives every error of a response a code. Resolver errors already have one
/// (see [`GqlError`]); the rest come from async-graphql itself: syntax,
/// validation, argument coercion ("Variable input is not defined") and limits.
pub fn ensure_codes(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        let code = if error.message.contains("nested too deep")
            || error.message.contains("too complex")
            || error.message.contains("recursion")
        {
            ErrorCode::QueryTooComplex
        } else {
            ErrorCode::BadUserInput
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}
