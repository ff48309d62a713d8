//! Resolvers for accounts: sign-up, confirmation, passwords, deletion and `me`.

use async_graphql::{Context, InputObject, Object};

use super::context::{client, principal, principal_enrolling, state};
use super::delivery::deliver;
use super::errors::GqlResult;
use super::passkeys_api::PasskeyCeremony;
use super::types::{SignupPayload, User};
use crate::accounts::{Email, NewAccount, NewPasskeyAccount, SignupOutcome};
use crate::error::Field;

#[derive(InputObject)]
pub struct SignupInput {
    pub email: String,
    pub password: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

/// A sign-up without a password: its credential is a passkey.
#[derive(InputObject)]
pub struct PasskeySignupInput {
    pub email: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    pub token: String,
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<User> {
        Ok(User::from(principal_enrolling(ctx).await?.user()))
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account. With confirmation on, the answer is the same whether or not the email was taken.
    async fn signup(&self, ctx: &Context<'_>, input: SignupInput) -> GqlResult<SignupPayload> {
        let account = NewAccount {
            email: Email::parse(Field::Email, &input.email)?,
            password: input.password,
            username: input.username,
            display_name: input.display_name,
            first_name: input.first_name,
            last_name: input.last_name,
            phone_number: input.phone_number,
        };
        let outcome = state(ctx)?.accounts.signup(account, client(ctx)?).await?;
        signup_payload(ctx, outcome)
    }

    /// Starts a sign-up whose credential is a passkey: the options for the
    /// authenticator. The same checks and answers as `signup`.
    async fn start_passkey_signup(&self, ctx: &Context<'_>, input: PasskeySignupInput) -> GqlResult<PasskeyCeremony> {
        let account = NewPasskeyAccount {
            email: Email::parse(Field::Email, &input.email)?,
            username: input.username,
            display_name: input.display_name,
            first_name: input.first_name,
            last_name: input.last_name,
            phone_number: input.phone_number,
        };
        let started = state(ctx)?.accounts.start_passkey_signup(account, client(ctx)?).await?;
        Ok(started.into())
    }

    /// Finishes a passkey sign-up with what `PublicKeyCredential.toJSON()`
    /// returned. With confirmation on, the answer is the same whether or not the email was taken.
    async fn finish_passkey_signup(
        &self,
        ctx: &Context<'_>,
        ceremony_id: async_graphql::ID,
        credential: async_graphql::Json<serde_json::Value>,
    ) -> GqlResult<SignupPayload> {
        let outcome = state(ctx)?
            .accounts
            .finish_passkey_signup(&ceremony_id, credential.0, client(ctx)?)
            .await?;
        signup_payload(ctx, outcome)
    }

    /// Confirms an email address with the mailed token.
    async fn confirm_email(&self, ctx: &Context<'_>, token: String) -> GqlResult<bool> {
        state(ctx)?.accounts.confirm_email(&token, client(ctx)?).await?;
        Ok(true)
    }

    /// Mails a new confirmation link. Always true: reveals nothing.
    async fn resend_confirmation(&self, ctx: &Context<'_>, email: String) -> GqlResult<bool> {
        let email = Email::parse(Field::Email, &email)?;
        state(ctx)?.accounts.resend_confirmation(email, client(ctx)?).await?;
        Ok(true)
    }

    /// Mails a password reset link. Always true: reveals nothing.
    async fn forgot_password(&self, ctx: &Context<'_>, email: String) -> GqlResult<bool> {
        let email = Email::parse(Field::Email, &email)?;
        state(ctx)?.accounts.forgot_password(email, client(ctx)?).await?;
        Ok(true)
    }

    /// Sets a new password with a mailed token; ends every session of the account.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> GqlResult<bool> {
        state(ctx)?
            .accounts
            .reset_password(&input.token, &input.new_password, client(ctx)?)
            .await?;
        Ok(true)
    }

    /// Changes the caller's password; ends every other session.
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        state(ctx)?
            .accounts
            .change_password(caller, &input.current_password, &input.new_password, client(ctx)?)
            .await?;
        Ok(true)
    }

    /// Mails a link to `newEmail` that moves the caller's account there
    /// (sensitive: the password, or a recent sign-in or step-up). The old
    /// address gets a link that undoes the change. Always true once accepted.
    async fn change_email(&self, ctx: &Context<'_>, new_email: String, password: Option<String>) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        let new_email = Email::parse(Field::NewEmail, &new_email)?;
        state(ctx)?
            .accounts
            .change_email(caller, new_email, password.as_deref(), client(ctx)?)
            .await?;
        Ok(true)
    }

    /// Deletes the caller's account and everything that belongs to it:
    /// `password` is required when the account has one; an account without
    /// one needs a recent sign-in or step-up.
    async fn delete_account(&self, ctx: &Context<'_>, password: Option<String>) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        state(ctx)?
            .accounts
            .delete_account(caller, password.as_deref(), client(ctx)?)
            .await?;
        Ok(true)
    }
}

/// The answer to a sign-up, its tokens delivered as the request asks.
fn signup_payload(ctx: &Context<'_>, outcome: SignupOutcome) -> GqlResult<SignupPayload> {
    Ok(SignupPayload {
        confirmation_required: outcome.confirmation_required,
        auth: outcome.auth.map(|bundle| deliver(ctx, bundle)).transpose()?,
    })
}
