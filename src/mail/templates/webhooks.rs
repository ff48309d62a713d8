//! The mail to administrators about webhooks: an endpoint authql switched off.

use super::{Mail, MailKind, compose};

/// The webhook endpoint at `url` was switched off because of `why`; events
/// for it wait until an administrator switches it on again.
pub fn webhook_disabled(to: &str, url: &str, why: &str) -> Mail {
    compose(
        MailKind::Notice,
        to,
        "A webhook endpoint was switched off",
        &[
            &format!("The webhook endpoint {url} was switched off: {why}."),
            "Events for it are kept, but not sent, until an administrator switches it on again \
             (updateWebhookEndpoint with enabled: true).",
        ],
        None,
    )
}
