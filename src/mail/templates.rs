//! The mails authql sends, each with a text and an HTML part.

use html_escape::encode_double_quoted_attribute as attr;
use html_escape::encode_text as text;

use super::{Mail, MailKind};

fn compose(kind: MailKind, to: &str, subject: &str, lines: &[&str], link: Option<(&str, &str)>) -> Mail {
    let mut plain = lines.join("\n\n");
    let mut html = String::from("<!DOCTYPE html><html><body style=\"font-family:sans-serif\">");
    for line in lines {
        html.push_str(&format!("<p>{}</p>", text(line)));
    }
    if let Some((label, url)) = link {
        plain.push_str(&format!("\n\n{label}:\n{url}\n"));
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", attr(url), text(label)));
    }
    html.push_str(
        "<p style=\"color:#666\">If you did not ask for this, you can ignore this message.</p></body></html>",
    );
    plain.push_str("\n\nIf you did not ask for this, you can ignore this message.\n");
    Mail {
        kind,
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: plain,
        html,
        link: link.map(|(_, url)| url.to_owned()),
    }
}

/// Asks the owner of a new account to confirm their address.
pub fn confirm_email(to: &str, link: &str) -> Mail {
    compose(
        MailKind::ConfirmEmail,
        to,
        "Confirm your email address",
        &[
            "Welcome! Please confirm your email address to finish creating your account.",
            "The link works once and expires in 24 hours.",
        ],
        Some(("Confirm your email address", link)),
    )
}

/// Tells the owner of an address that someone tried to sign up with it again.
pub fn account_exists(to: &str, forgot_link: &str) -> Mail {
    compose(
        MailKind::AccountExists,
        to,
        "You already have an account",
        &[
            "Someone, probably you, tried to create an account with this email address, but you already have one.",
            "If you forgot your password, you can reset it.",
        ],
        Some(("Reset your password", forgot_link)),
    )
}

/// Carries a password reset link.
pub fn reset_password(to: &str, link: &str) -> Mail {
    compose(
        MailKind::ResetPassword,
        to,
        "Reset your password",
        &[
            "We received a request to reset the password of your account.",
            "The link works once and expires in 1 hour. Resetting signs you out everywhere.",
        ],
        Some(("Choose a new password", link)),
    )
}

/// Confirms a password change, so an owner who did not make it can react.
pub fn password_changed(to: &str) -> Mail {
    compose(
        MailKind::PasswordChanged,
        to,
        "Your password was changed",
        &[
            "The password of your account was just changed.",
            "If this was not you, reset your password at once and review your sessions.",
        ],
        None,
    )
}

/// The code that finishes a login with EMAIL_OTP.
pub fn login_code(to: &str, code: &str) -> Mail {
    code_mail(
        MailKind::LoginCode,
        to,
        "Your sign-in code",
        &format!("Your sign-in code is {code}."),
    )
}

/// The code that confirms a sensitive action of a signed-in user.
pub fn step_up_code(to: &str, code: &str) -> Mail {
    code_mail(
        MailKind::StepUpCode,
        to,
        "Your verification code",
        &format!("Your verification code is {code}."),
    )
}

fn code_mail(kind: MailKind, to: &str, subject: &str, line: &str) -> Mail {
    let line = format!("{line} It works once, for 10 minutes.");
    compose(
        kind,
        to,
        subject,
        &[&line, "Never share it: nobody from us will ask for it."],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_escaped_in_html_and_plain_in_text() {
        let mail = confirm_email("a@example.com", "https://x.example/confirm/abc?a=1&b=\"2\"");
        assert!(mail.text.contains("https://x.example/confirm/abc?a=1&b=\"2\""));
        assert!(
            mail.html
                .contains("href=\"https://x.example/confirm/abc?a=1&amp;b=&quot;2&quot;\"")
        );
    }
}
