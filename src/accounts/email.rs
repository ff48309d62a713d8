//! An email address, parsed once at the edge into the one form accounts are
//! stored and found by.

use email_address::{EmailAddress, Options};
use unicode_normalization::UnicodeNormalization;

use crate::error::{AppError, AppResult, Field};

const MAX_EMAIL_LEN: usize = 254;
/// Longer input cannot shrink to an address: it is refused before any work.
const MAX_RAW_LEN: usize = 4 * MAX_EMAIL_LEN;

/// A plain address with a dotted domain, in its normal form: trimmed,
/// lower-cased, Unicode NFC, an ASCII local part, and the domain in its
/// ASCII (IDNA) form. Two spellings of one address are one account, and an
/// accented look-alike of a domain is another domain, never this one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses `raw`, given in `field`, into the normal form.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field` when it is not a plain address with a
    /// dotted domain, its local part is not ASCII, or IDNA (UTS 46, strict:
    /// host name characters and DNS lengths) refuses its domain.
    pub fn parse(field: Field, raw: &str) -> AppResult<Self> {
        let invalid = || AppError::bad_input(field, "not a valid email address");
        let raw = raw.trim();
        if raw.len() > MAX_RAW_LEN {
            return Err(invalid());
        }
        let lowered: String = raw.to_lowercase().nfc().collect();
        let (local, domain) = lowered.rsplit_once('@').ok_or_else(invalid)?;
        // Mail systems disagree on what a non-ASCII local part equals, so
        // there would be no one form to find an account by.
        if !local.is_ascii() {
            return Err(AppError::bad_input(
                field,
                "the part before the @ must be plain ASCII (letters, digits and . _ + -)",
            ));
        }
        // A quoted local part (`"ann"@…`) names the same mailbox as the
        // plain one for mail servers, so it would be a second account for it:
        // only the dot-atom form (RFC 5322 atext between single dots) is one.
        if !is_dot_atom(local) {
            return Err(AppError::bad_input(
                field,
                "the part before the @ must be plain: letters, digits and ! # $ % & ' * + - / = ? ^ _ ` { | } ~ between single dots",
            ));
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
        let email = format!("{local}@{domain}");
        let options = Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..Options::default()
        };
        if email.len() > MAX_EMAIL_LEN || EmailAddress::parse_with_options(&email, options).is_err() {
            return Err(invalid());
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

    /// What part of an address typed in a search looks like when stored:
    /// lower-case, its domain part in the IDNA ASCII form. `None` when that is
    /// the text itself (ASCII) or IDNA refuses it.
    pub fn search_form(text: &str) -> Option<String> {
        let text: String = text.to_lowercase().nfc().collect();
        if text.is_ascii() {
            return None;
        }
        // Lenient IDNA: a search may hold part of a domain, not a whole host name.
        Some(match text.rsplit_once('@') {
            Some((local, domain)) => format!("{local}@{}", idna::domain_to_ascii(domain).ok()?),
            None => idna::domain_to_ascii(&text).ok()?,
        })
    }
}

/// RFC 5322's dot-atom: `atext` characters in runs separated by single dots.
fn is_dot_atom(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    !local.is_empty() && local.split('.').all(|run| !run.is_empty() && run.chars().all(atext))
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

    fn refused_on(field: Field, raw: &str) -> String {
        match Email::parse(field, raw) {
            Err(AppError::BadInput { field: got, message }) if got == field => message,
            other => panic!("{raw:?} gave {other:?}"),
        }
    }

    #[test]
    fn the_domain_is_kept_in_its_ascii_idna_form() {
        let email = Email::parse(Field::Email, "ann@bücher.example").unwrap();
        assert_eq!(email.as_str(), "ann@xn--bcher-kva.example");
        // Every spelling of one address is that address: case, composed or
        // decomposed accents (NFC), the ASCII form itself.
        for same in [
            "Ann@BÜCHER.Example",
            "ann@bu\u{308}cher.example",
            "ANN@BU\u{308}CHER.EXAMPLE",
            "ann@xn--bcher-kva.example",
            "ann@XN--BCHER-KVA.example",
        ] {
            assert_eq!(Email::parse(Field::Email, same).unwrap(), email, "{same}");
        }
        // An accent makes another domain, whoever owns it.
        let look_alike = Email::parse(Field::Email, "victim@exämple.com").unwrap();
        assert_eq!(look_alike.as_str(), "victim@xn--exmple-cua.com");
        assert_ne!(look_alike, Email::parse(Field::Email, "victim@example.com").unwrap());
        assert_eq!(look_alike.local_part(), "victim");
    }

    #[test]
    fn a_non_ascii_local_part_is_refused() {
        for raw in [
            "jürgen@example.com",
            "ju\u{308}rgen@example.com",
            "пример@example.com",
            "ann\u{ad}@example.com",
            "\"ann\"@example.com",
            "\"a@b\"@example.com",
            ".ann@example.com",
            "an..n@example.com",
        ] {
            let message = refused_on(Field::NewEmail, raw);
            assert!(message.contains("before the @"), "{raw}: {message}");
        }
        for plain in ["o'brien@example.com", "a.b+tag@example.com", "x_y-z@example.com"] {
            assert!(Email::parse(Field::Email, plain).is_ok(), "{plain}");
        }
    }

    #[test]
    fn a_domain_that_idna_refuses_is_refused() {
        for raw in [
            "ann@-example.com",
            "ann@exa_mple.com",
            "ann@xn--a.example",
            "ann@example..com",
            &format!("ann@{}.example", "b".repeat(64)),
            // Fits as typed; its ASCII form is longer than a DNS label may be.
            &format!("ann@{}ü.example", "b".repeat(59)),
        ] {
            refused_on(Field::Email, raw);
        }
        // 254 characters as typed, more in the ASCII form.
        let long = format!("{}@{}.ü.example", "a".repeat(203), "b".repeat(40));
        assert_eq!(long.chars().count(), 254);
        refused_on(Field::Email, &long);
    }
}
