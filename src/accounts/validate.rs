//! Normalisation and validation of account fields; each failure names its field.

use zxcvbn::Score;

use crate::error::{AppError, AppResult, Field};

const MAX_NAME_LEN: usize = 100;
/// Shortest and longest passwords, in characters.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=128;

/// Lower-cases a username and checks it is 3–32 of `a-z 0-9 _ . -`.
///
/// # Errors
/// `BAD_USER_INPUT` on `username`.
pub fn username(raw: &str) -> AppResult<String> {
    let name = raw.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-');
    if !(3..=32).contains(&name.len()) || !name.chars().all(allowed) {
        return Err(AppError::bad_input(Field::Username, "use 3 to 32 of a-z, 0-9, _ . -"));
    }
    Ok(name)
}

/// Parses a phone number in international form and returns it as E.164.
///
/// # Errors
/// `BAD_USER_INPUT` on `phoneNumber` unless it is a valid number starting with `+`.
pub fn phone(raw: &str) -> AppResult<String> {
    let bad = || AppError::bad_input(Field::PhoneNumber, "use the international form, such as +14155552671");
    let raw = raw.trim();
    if !raw.starts_with('+') || raw.len() > 32 {
        return Err(bad());
    }
    let number = phonenumber::parse(None, raw).map_err(|_| bad())?;
    if !number.is_valid() {
        return Err(bad());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Trims an optional name; empty means none.
///
/// # Errors
/// `BAD_USER_INPUT` on `field` when too long or holding control characters.
pub fn name(field: Field, raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_NAME_LEN || value.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            format!("at most {MAX_NAME_LEN} characters, no control characters"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// Checks a new password: 8–128 characters, not built on the email's local
/// part or the username, and a zxcvbn score of at least 2.
///
/// # Errors
/// `BAD_USER_INPUT` on `field`, saying why (never echoing the password).
pub fn password(field: Field, password: &str, email: &str, username: Option<&str>) -> AppResult<()> {
    let len = password.chars().count();
    if !PASSWORD_LEN.contains(&len) {
        return Err(AppError::bad_input(field, "use 8 to 128 characters"));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let personal = [Some(local), username].into_iter().flatten().filter(|p| p.len() >= 3);
    for part in personal.clone() {
        if lower.contains(&part.to_lowercase()) {
            return Err(AppError::bad_input(
                field,
                "must not contain your email address or username",
            ));
        }
    }
    let inputs: Vec<&str> = personal.chain([email]).collect();
    let strength = zxcvbn::zxcvbn(password, &inputs);
    if strength.score() < Score::Two {
        let hint = strength
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "add more words or characters".to_owned());
        return Err(AppError::bad_input(field, format!("too weak: {hint}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: AppError) -> Field {
        match e {
            AppError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn usernames_follow_the_contract() {
        assert_eq!(username("Ann_B.c-1").unwrap(), "ann_b.c-1");
        for bad in ["ab", &"a".repeat(33), "ann b", "änn", "ann!"] {
            assert_eq!(field_of(username(bad).unwrap_err()), Field::Username, "{bad}");
        }
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(phone("+1 415 555 2671").unwrap(), "+14155552671");
        assert_eq!(phone("+44 20 7946 0958").unwrap(), "+442079460958");
        for bad in ["4155552671", "+1", "+999 123", "phone"] {
            assert_eq!(field_of(phone(bad).unwrap_err()), Field::PhoneNumber, "{bad}");
        }
    }

    #[test]
    fn passwords_must_be_strong_and_impersonal() {
        assert!(password(Field::Password, "Tr0ub4dor&3-horse-Staple", "ann@example.com", None).is_ok());
        for weak in [
            "short",
            "password",
            "password123",
            "aaaaaaaaaaaa",
            "annabelle2024!",
            &"x".repeat(129),
        ] {
            assert_eq!(
                field_of(password(Field::Password, weak, "annabelle@example.com", None).unwrap_err()),
                Field::Password,
                "{weak}"
            );
        }
        let e = password(
            Field::NewPassword,
            "Zebra-annsmith-Quartz-91",
            "annsmith@example.com",
            None,
        )
        .unwrap_err();
        assert_eq!(field_of(e), Field::NewPassword);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            name(Field::DisplayName, Some("  Ann  ")).unwrap(),
            Some("Ann".to_owned())
        );
        assert_eq!(name(Field::DisplayName, Some("   ")).unwrap(), None);
        assert!(name(Field::DisplayName, Some(&"a".repeat(101))).is_err());
        assert!(name(Field::DisplayName, Some("a\u{0}b")).is_err());
    }
}
