//! The notices of a password reset by mail: of a confirmed account, naming
//! the other ways in that remain, and of an account nobody had confirmed,
//! naming what the reset took from whoever signed up first.

use super::{Mail, MailKind, compose};

/// The password of a confirmed account was reset with a mailed link. The
/// reset proves the mailbox only, so the account's other ways in
/// (`remaining`, in words) stay: they are named, for an owner who did not
/// set one up.
pub fn password_reset(to: &str, remaining: &[String]) -> Mail {
    let remaining = (!remaining.is_empty()).then(|| {
        format!(
            "These other ways to sign in to your account remain: {}. If you do not recognise one, sign in and \
             remove it.",
            remaining.join("; ")
        )
    });
    let mut lines = vec![
        "The password of your account was just reset with the link mailed to this address, and every session was ended.",
    ];
    lines.extend(remaining.as_deref());
    lines.push("If this was not you, someone can read your mail: secure your mailbox, then reset your password again.");
    compose(MailKind::PasswordChanged, to, "Your password was changed", &lines, None)
}

/// The first reset of an account whose address nobody had confirmed: the
/// claimant's new password is now its one way in, and what whoever signed
/// up first had set up (`removed`, in words) is gone.
pub fn password_reset_claimed(to: &str, removed: &[String]) -> Mail {
    let removed = (!removed.is_empty()).then(|| format!("Removed: {}.", removed.join("; ")));
    let mut lines = vec![
        "You chose a new password with the link mailed to this address. Someone had signed up with it before \
         you confirmed it: the account now signs in only with your new password, and every session was ended.",
    ];
    lines.extend(removed.as_deref());
    compose(
        MailKind::Notice,
        to,
        "Your account was reset to your new password",
        &lines,
        None,
    )
}
