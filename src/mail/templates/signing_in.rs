//! The mails about signing in: new devices, limits that ran out, second
//! factors turned on or off, recovery codes, and mailed codes.

use super::{Mail, MailKind, compose, notice};

/// A sign-in from a device the account has not used before.
pub fn new_sign_in(to: &str, user_agent: Option<&str>, ip: Option<&str>) -> Mail {
    let device = user_agent.unwrap_or("an unnamed device");
    let from = ip.map(|ip| format!(" at {ip}")).unwrap_or_default();
    notice(
        to,
        "New sign-in to your account",
        &format!("Your account was just signed in to from {device}{from}, a device it has not used before."),
    )
}

/// The account's shared password limit ran out: someone is guessing.
pub fn login_limited(to: &str) -> Mail {
    compose(
        MailKind::Notice,
        to,
        "Someone is trying to sign in to your account",
        &[
            "Several wrong passwords were just given for your account, so signing in with a password is paused \
             for a while. You can still sign in from devices you used before.",
            "The password was not accepted, so nothing else is needed. If your password is weak or used \
             elsewhere, change it.",
        ],
        None,
    )
}

/// The account's budget of wrong second-factor codes ran out.
pub fn second_factor_limited(to: &str) -> Mail {
    compose(
        MailKind::Notice,
        to,
        "Someone is trying to get past your second step",
        &[
            "Several wrong codes were just given for your account's second step (authenticator, recovery or \
             mailed codes), so codes are not accepted for a while.",
            "Whoever gave them got past your password or a sign-in with a provider, or holds one of your \
             sessions. If it was not you, change your password and sign out everywhere.",
        ],
        None,
    )
}

/// Two-step verification was turned on.
pub fn mfa_enabled(to: &str) -> Mail {
    notice(
        to,
        "Two-step verification is on",
        "Two-step verification with an authenticator app was turned on for your account.",
    )
}

/// Two-step verification was turned off.
pub fn mfa_disabled(to: &str) -> Mail {
    notice(
        to,
        "Two-step verification is off",
        "Two-step verification was turned off for your account: a password alone now signs you in.",
    )
}

/// An operator turned two-step verification off (the owner lost both factors).
pub fn mfa_reset_by_operator(to: &str) -> Mail {
    notice(
        to,
        "Two-step verification was reset",
        "An administrator turned two-step verification off for your account, as asked when the authenticator and the recovery codes were lost. Every session was ended; sign in with your password and turn it on again.",
    )
}

/// A new set of recovery codes replaced the old one.
pub fn recovery_codes_regenerated(to: &str) -> Mail {
    notice(
        to,
        "New recovery codes",
        "A new set of recovery codes was made for your account; the old codes no longer work.",
    )
}

/// A recovery code was spent; `remaining` are left.
pub fn recovery_code_used(to: &str, remaining: u64) -> Mail {
    notice(
        to,
        "A recovery code was used",
        &format!("A recovery code of your account was just used. {remaining} unused codes remain."),
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
