//! The sign-up hook: asked before anything of a sign-up is looked up or
//! written, alike whether or not the address is taken, so its answer tells
//! nothing about registered addresses. It never sees a password.

use serde_json::json;

use super::Hooks;
use crate::client::ClientInfo;
use crate::config::integrations::OnFailure;
use crate::error::{AppError, AppResult};

/// Longest refusal message shown to the user.
const MAX_MESSAGE: usize = 300;

/// What the hook is told of a sign-up.
pub struct SignupFacts<'a> {
    pub email: &'a str,
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    /// `password`, `passkey`, or the sign-in provider's name.
    pub provider: &'a str,
}

impl Hooks {
    /// Asks HOOK_BEFORE_SIGNUP_URL whether this sign-up may go ahead; `Ok`
    /// without a hook.
    ///
    /// # Errors
    /// `FORBIDDEN` with the hook's message when it says no;
    /// `SERVICE_UNAVAILABLE` when it fails and its policy is `deny`.
    #[tracing::instrument(skip_all, fields(provider = facts.provider))]
    pub async fn before_signup(&self, facts: &SignupFacts<'_>, client: &ClientInfo) -> AppResult<()> {
        let Some(url) = &self.config.before_signup else {
            return Ok(());
        };
        let data = json!({
            "email": facts.email,
            "username": facts.username,
            "displayName": facts.display_name,
            "firstName": facts.first_name,
            "lastName": facts.last_name,
            "phoneNumber": facts.phone_number,
            "provider": facts.provider,
            "ip": client.ip_string(),
            "userAgent": client.user_agent_trimmed(),
        });
        let answer = self.call("before_signup", url, "user.before_signup", data).await;
        let verdict = answer.and_then(|a| match a["allow"].as_bool() {
            Some(true) => Ok(None),
            Some(false) => Ok(Some(message(a["message"].as_str()))),
            None => Err("the answer has no boolean allow".to_owned()),
        });
        match verdict {
            Ok(None) => Ok(()),
            Ok(Some(message)) => Err(AppError::Refused(message)),
            Err(why) if self.config.signup_on_failure == OnFailure::Deny => {
                Err(AppError::Unavailable(format!("the sign-up hook failed: {why}")))
            }
            Err(_) => Ok(()),
        }
    }
}

/// The hook's message as the user sees it: printable, at most 300 characters.
fn message(given: Option<&str>) -> String {
    let text: String = given
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        "sign-up was refused".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_printable_and_short() {
        assert_eq!(message(None), "sign-up was refused");
        assert_eq!(message(Some("  \n ")), "sign-up was refused");
        assert_eq!(message(Some("No\u{7}\r\n thanks")), "No thanks");
        assert_eq!(message(Some(&"x".repeat(1000))).len(), MAX_MESSAGE);
    }
}
