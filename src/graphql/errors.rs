//! How domain errors become GraphQL errors with `extensions.code`.
//!
//! async-graphql converts any `Display` error into a bare message, which
//! would drop the code. Resolvers therefore return [`GqlResult`]: its error
//! type is not `Display`, so the only way in is through [`AppError`], which
//! this module gives its code, its field (named as the input type names it)
//! and its `retryAfter`.

use async_graphql::Enum;

use crate::error::{AppError, ErrorCode, Field};

/// Machine-readable error codes of the public contract.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "ErrorCode", remote = "crate::error::ErrorCode")]
pub enum GqlErrorCode {
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

/// `extensions.field`: the input field at fault, as the schema spells it.
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::Email => "email",
        Field::NewEmail => "newEmail",
        Field::Password => "password",
        Field::NewPassword => "newPassword",
        Field::Username => "username",
        Field::PhoneNumber => "phoneNumber",
        Field::DisplayName => "displayName",
        Field::FirstName => "firstName",
        Field::LastName => "lastName",
        Field::Code => "code",
        Field::MfaToken => "mfaToken",
        Field::Id => "id",
        Field::First => "first",
        Field::Offset => "offset",
        Field::Search => "search",
        Field::File => "file",
        Field::RedirectTo => "redirectTo",
        Field::CodeChallenge => "codeChallenge",
        Field::Provider => "provider",
        Field::IdToken => "idToken",
        Field::After => "after",
        Field::Role => "role",
        Field::RefreshToken => "refreshToken",
        Field::CeremonyId => "ceremonyId",
        Field::Credential => "credential",
        Field::Name => "name",
        Field::Method => "method",
        Field::Url => "url",
        Field::Events => "events",
        Field::EndpointId => "endpointId",
        Field::DeliveryId => "deliveryId",
        Field::Metadata => "metadata",
    }
}

/// A GraphQL error that carries its code.
#[derive(Clone)]
pub struct GqlError(async_graphql::Error);

/// The result type of every resolver.
pub type GqlResult<T> = Result<T, GqlError>;

impl From<AppError> for GqlError {
    fn from(e: AppError) -> Self {
        e.log();
        let mut error = async_graphql::Error::new(e.to_string());
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", e.code().as_str());
        match &e {
            AppError::BadInput { field, .. } => ext.set("field", field_name(*field)),
            AppError::RateLimited { retry_after } => ext.set("retryAfter", *retry_after),
            _ => {}
        }
        error.extensions = Some(ext);
        Self(error)
    }
}

impl From<async_graphql::Error> for GqlError {
    /// Errors raised by async-graphql itself (missing context data) are ours to fix.
    fn from(e: async_graphql::Error) -> Self {
        tracing::error!(error = %e.message, "GraphQL plumbing error");
        AppError::internal(e.message).into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_codes_and_fields_named_as_the_schema_names_them() {
        let e: async_graphql::Error = GqlError::from(AppError::bad_input(Field::NewPassword, "too weak")).into();
        let ext = serde_json::to_value(e.extensions.unwrap()).unwrap();
        assert_eq!(ext["code"], "BAD_USER_INPUT");
        assert_eq!(ext["field"], "newPassword");
        let e: async_graphql::Error = GqlError::from(AppError::internal("SELECT secret FROM users")).into();
        assert_eq!(e.message, "internal error");
    }

    #[test]
    fn the_schema_enum_spells_every_code_as_the_domain_does() {
        for code in ErrorCode::ALL {
            let value = async_graphql::InputType::to_value(&GqlErrorCode::from(code));
            assert_eq!(value.to_string(), code.as_str());
        }
    }
}
