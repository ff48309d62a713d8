//! Multi-factor authentication: TOTP enrolment, recovery codes, the second
//! step of a login (TOTP, a mailed code or a recovery code), and step-up codes.

use sea_orm::TransactionTrait;

use crate::entities::users;
use crate::error::AppResult;
use crate::limits::Limit;
use crate::mail::{self, Mail};
use crate::sessions::ClientInfo;
use crate::state::AppState;
use crate::tokens::codes;
use crate::tokens::one_time::{self, Purpose};

pub mod login;
pub mod recovery;
pub mod step_up;
pub mod totp;

/// The second factors a login can finish with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    EmailOtp,
    RecoveryCode,
}

/// Wrong codes one login (one MFA token) may try before the token is spent.
pub const MAX_ATTEMPTS: i32 = 5;

/// Mails `user` a new six-digit code of `purpose`, made into a mail by
/// `compose(to, code)`; only the newest code of a purpose works.
///
/// # Errors
/// `RATE_LIMITED` (mail to one address is limited); database errors.
async fn mail_code(
    state: &AppState,
    user: &users::Model,
    purpose: Purpose,
    compose: fn(&str, &str) -> Mail,
    client: &ClientInfo,
) -> AppResult<()> {
    state.limits.check(Limit::Mail, client.ip, Some(&user.email)).await?;
    let code = codes::six_digits();
    let txn = state.db.write.begin().await?;
    one_time::invalidate_all(&txn, user.id, purpose).await?;
    codes::store(&txn, &state.crypto, user.id, purpose, &code).await?;
    mail::enqueue(&txn, state, compose(&user.email, &code)).await?;
    txn.commit().await?;
    state.outbox.wake();
    Ok(())
}
