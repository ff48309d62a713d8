//! An email address, parsed and normalised once at the edge.

use email_address::{EmailAddress, Options};

use crate::error::{AppError, AppResult, Field};

const MAX_EMAIL_LEN: usize = 254;

/// A plain address with a dotted domain, trimmed and lower-cased. Accounts
/// are found by it, so two spellings of one address are one account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses `raw`, given in `field`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field` when it is not a plain address with a dotted domain.
    pub fn parse(field: Field, raw: &str) -> AppResult<Self> {
        let email = raw.trim().to_lowercase();
        let options = Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..Options::default()
        };
        if email.len() > MAX_EMAIL_LEN || EmailAddress::parse_with_options(&email, options).is_err() {
            return Err(AppError::bad_input(field, "not a valid email address"));
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        let email = Email::parse(Field::Email, "  Ann@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ann@example.com");
        assert_eq!(email.local_part(), "ann");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "Ann <ann@example.com>",
            "ann@localhost",
            "a b@example.com",
        ] {
            let Err(AppError::BadInput { field, .. }) = Email::parse(Field::Email, bad) else {
                panic!("{bad} is not an address");
            };
            assert_eq!(field, Field::Email);
        }
        assert!(Email::parse(Field::Email, &format!("{}@example.com", "a".repeat(300))).is_err());
    }
}
