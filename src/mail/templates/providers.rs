//! The mails about sign-in providers: identities linked and unlinked, an
//! account claimed by the owner of its address, a provider refused.

use super::{Mail, MailKind, compose, notice};

/// An identity of `provider` was linked to the account.
pub fn identity_linked(to: &str, provider: &str) -> Mail {
    notice(
        to,
        "A sign-in provider was linked",
        &format!("Your account can now be signed in to with {provider}."),
    )
}

/// An identity of `provider` was unlinked from the account.
pub fn identity_unlinked(to: &str, provider: &str) -> Mail {
    notice(
        to,
        "A sign-in provider was unlinked",
        &format!("Your account can no longer be signed in to with {provider}."),
    )
}

/// Tells the owner of an address who claimed the account pre-registered
/// with it (by signing in with `provider`, which verified the address) what
/// whoever signed up first had set up and is now gone (`removed`, in words).
pub fn account_claimed(to: &str, provider: &str, removed: &[String]) -> Mail {
    let signed_in = format!(
        "You signed in with {provider}, which confirmed this address. Someone had signed up with it before you \
         confirmed it: the account now signs in only with {provider}, every session was ended."
    );
    let removed = (!removed.is_empty()).then(|| format!("Removed: {}.", removed.join("; ")));
    let mut lines = vec![signed_in.as_str()];
    lines.extend(removed.as_deref());
    lines.push("To sign in with a password as well, choose one with \"Forgot password\".");
    compose(
        MailKind::Notice,
        to,
        "Your account was reset to your sign-in",
        &lines,
        None,
    )
}

/// Tells the owner of an address that `provider`, which authql does not
/// trust to verify addresses, presented it for a sign-in: nothing was linked.
pub fn provider_address_refused(to: &str, provider: &str) -> Mail {
    notice(
        to,
        "A sign-in with your email address was refused",
        &format!(
            "Someone signed in with {provider} using this address. {provider} is not trusted to vouch for addresses, \
             so it was not linked to your account. To sign in with {provider}, link it from your account settings."
        ),
    )
}
