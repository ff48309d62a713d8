//! The mails authql sends, each with a text and an HTML part.

use html_escape::encode_double_quoted_attribute as attr;
use html_escape::encode_text as text;

use super::{Mail, MailKind};

mod passkeys;
mod providers;
mod signing_in;
mod webhooks;
pub use passkeys::*;
pub use providers::*;
pub use signing_in::*;
pub use webhooks::*;

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

/// Asks the owner of an address to confirm a sign-up that replaced an
/// earlier, unconfirmed one: whoever reads the mailbox must be able to tell
/// a sign-up they did not make, since confirming gives its password the account.
pub fn confirm_email_again(to: &str, link: &str, user_agent: Option<&str>, ip: Option<&str>) -> Mail {
    let device = user_agent.unwrap_or("an unnamed device");
    let from = ip.map(|ip| format!(" at {ip}")).unwrap_or_default();
    let what = format!(
        "Someone just signed up with this address from {device}{from}. This sign-up replaces an earlier \
         sign-up that was never confirmed: the earlier link no longer works."
    );
    compose(
        MailKind::ConfirmEmail,
        to,
        "Confirm your email address",
        &[
            &what,
            "Confirming makes the password chosen in this sign-up the account's password. If you did not just \
             sign up, do not confirm: ignore this message and the account stays unconfirmed.",
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

/// A notice of a change to the account: no link, no token, no code.
fn notice(to: &str, subject: &str, what: &str) -> Mail {
    compose(
        MailKind::Notice,
        to,
        subject,
        &[
            what,
            "If this was not you, reset your password at once, review your sessions and your two-step verification.",
        ],
        None,
    )
}

/// Asks the owner of a new address to confirm it for their account.
pub fn confirm_new_email(to: &str, link: &str) -> Mail {
    compose(
        MailKind::ConfirmEmail,
        to,
        "Confirm your new email address",
        &[
            "You asked to sign in with this address from now on. Confirm it to make the change.",
            "The link works once and expires in 24 hours. Until then your old address stays in use.",
        ],
        Some(("Confirm your new email address", link)),
    )
}

/// Tells the old address that the account moved, with the link that undoes it.
pub fn email_changed(to: &str, new_email: &str, undo_link: &str) -> Mail {
    compose(
        MailKind::Notice,
        to,
        "Your email address was changed",
        &[
            &format!("Your account now signs in with {new_email} instead of this address."),
            "If this was not you, undo it within 72 hours: your address comes back and every session ends.",
        ],
        Some(("Undo the change", undo_link)),
    )
}

/// Tells the owner an undo brought their address back, and what was added
/// to the account since the change and removed with it (`removed`, in words).
pub fn email_restored(to: &str, forgot_link: &str, removed: &[&str]) -> Mail {
    let removed =
        (!removed.is_empty()).then(|| format!("Added since the change and now removed: {}.", removed.join("; ")));
    let mut lines = vec![
        "Your account signs in with this address again, and every session was ended.",
        "If someone else changed it, they may know your password: choose a new one now.",
    ];
    lines.extend(removed.as_deref());
    compose(
        MailKind::Notice,
        to,
        "Your email address was restored",
        &lines,
        Some(("Reset your password", forgot_link)),
    )
}

/// Tells the address an undo moved the account away from.
pub fn email_undone(to: &str) -> Mail {
    notice(
        to,
        "This address no longer signs in",
        "An earlier change of address was undone from the address the account had before. This address no longer signs in to it.",
    )
}

/// Tells the owner of an address that another account asked to move to it.
pub fn address_wanted(to: &str) -> Mail {
    notice(
        to,
        "Someone tried to use your email address",
        "Someone asked to move another account to this address. It is yours, so nothing changed.",
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
