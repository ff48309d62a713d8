//! Resolvers for multi-factor authentication: enrolment, the second step of
//! a login, and step-up codes.

use async_graphql::{Context, InputObject, Object};

use super::context::{client, principal, principal_enrolling, state};
use super::delivery::deliver;
use super::errors::GqlResult;
use super::types::{AuthPayload, MfaMethod, MfaSetup, RecoveryCodes};

#[derive(InputObject)]
pub struct VerifyMfaInput {
    pub mfa_token: String,
    pub code: String,
    pub method: MfaMethod,
}

#[derive(Default)]
pub struct MfaMutation;

#[Object]
impl MfaMutation {
    /// Finishes a login that answered `mfaRequired` with a TOTP, mailed or recovery code.
    async fn verify_mfa(&self, ctx: &Context<'_>, input: VerifyMfaInput) -> GqlResult<AuthPayload> {
        let bundle = state(ctx)?
            .mfa
            .finish_login(&input.mfa_token, &input.code, input.method.into(), client(ctx)?)
            .await?;
        deliver(ctx, bundle)
    }

    /// Mails a six-digit code for an EMAIL_OTP login.
    async fn send_login_otp(&self, ctx: &Context<'_>, mfa_token: String) -> GqlResult<bool> {
        state(ctx)?.mfa.send_login_code(&mfa_token, client(ctx)?).await?;
        Ok(true)
    }

    /// Starts TOTP enrolment; nothing changes for logins until `enableMfa`.
    async fn setup_mfa(&self, ctx: &Context<'_>) -> GqlResult<MfaSetup> {
        let caller = principal_enrolling(ctx).await?;
        let enrolment = state(ctx)?.mfa.setup(caller).await?;
        Ok(MfaSetup {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
            qr_code_png: enrolment.qr_code_png,
        })
    }

    /// Turns MFA on with a current TOTP code; returns recovery codes, shown once.
    async fn enable_mfa(&self, ctx: &Context<'_>, code: String) -> GqlResult<RecoveryCodes> {
        let caller = principal_enrolling(ctx).await?;
        let codes = state(ctx)?.mfa.enable(caller, &code, client(ctx)?).await?;
        Ok(RecoveryCodes { codes })
    }

    /// Turns MFA off with a TOTP or recovery code.
    async fn disable_mfa(&self, ctx: &Context<'_>, code: String) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        state(ctx)?.mfa.disable(caller, &code, client(ctx)?).await?;
        Ok(true)
    }

    /// Replaces the recovery codes, given a TOTP or recovery code.
    async fn regenerate_recovery_codes(&self, ctx: &Context<'_>, code: String) -> GqlResult<RecoveryCodes> {
        let caller = principal(ctx).await?;
        let codes = state(ctx)?
            .mfa
            .regenerate_recovery_codes(caller, &code, client(ctx)?)
            .await?;
        Ok(RecoveryCodes { codes })
    }

    /// Mails the caller a six-digit code to confirm it is them (step-up).
    async fn send_otp(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let caller = principal_enrolling(ctx).await?;
        state(ctx)?.mfa.send_step_up_code(caller, client(ctx)?).await?;
        Ok(true)
    }

    /// Steps up with a TOTP or recovery code (accounts with TOTP): the
    /// caller's session may do sensitive things for STEP_UP_WINDOW.
    async fn verify_step_up(&self, ctx: &Context<'_>, code: String) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        state(ctx)?.mfa.verify_step_up(caller, &code, client(ctx)?).await?;
        Ok(true)
    }

    /// Spends a mailed step-up code: the caller's session may do sensitive things for STEP_UP_WINDOW.
    async fn verify_otp(&self, ctx: &Context<'_>, code: String) -> GqlResult<bool> {
        let caller = principal_enrolling(ctx).await?;
        state(ctx)?.mfa.verify_step_up_code(caller, &code, client(ctx)?).await?;
        Ok(true)
    }
}
