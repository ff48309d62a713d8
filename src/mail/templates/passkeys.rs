//! The mails about passkeys: one added, one removed, one that looks cloned,
//! all removed by an operator.

use super::{Mail, notice};

/// A passkey named `name` was added to the account.
pub fn passkey_added(to: &str, name: &str) -> Mail {
    notice(
        to,
        "A passkey was added to your account",
        &format!("A passkey (\"{name}\") was added to your account: it can now sign in with it."),
    )
}

/// The passkey named `name` was removed from the account.
pub fn passkey_removed(to: &str, name: &str) -> Mail {
    notice(
        to,
        "A passkey was removed from your account",
        &format!("The passkey \"{name}\" was removed from your account: it can no longer sign in with it."),
    )
}

/// A sign-in with the passkey named `name` showed a signature counter lower
/// than one seen before: a copy of it may exist. The sign-in was refused.
pub fn passkey_cloned(to: &str, name: &str) -> Mail {
    notice(
        to,
        "A sign-in with a copy of your passkey was refused",
        &format!(
            "A sign-in with your passkey \"{name}\" was refused: the security key answered with a counter lower \
             than it had before, which happens when a copy of it is in use. If you did not copy it, delete this \
             passkey from your account and add it again, or use another."
        ),
    )
}

/// An operator removed the account's `count` passkeys (one was lost or stolen).
pub fn passkeys_removed_by_operator(to: &str, count: u64) -> Mail {
    notice(
        to,
        "Your passkeys were removed",
        &format!(
            "An administrator removed the {count} passkey(s) of your account, as asked when one was lost or stolen. \
             Every session was ended. Sign in with your password (or set one with \"Forgot password\"), then add a \
             passkey again."
        ),
    )
}
