//! Resolvers for passkeys: the caller's list, adding, renaming and deleting
//! one, signing in with one (or finishing a login with one as its second
//! factor), and stepping up with one. Ceremony options and the
//! authenticator's answers travel as `JSON` (the WebAuthn Level 3 JSON forms).

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::context::{client, principal, principal_enrolling, state};
use super::delivery::deliver;
use super::errors::GqlResult;
use super::types::LoginPayload;
use crate::accounts::Email;
use crate::entities::passkeys;
use crate::error::{AppError, Field};
use crate::passkeys::{PasskeyName, Started};

/// A passkey of the caller.
#[derive(SimpleObject)]
pub struct Passkey {
    pub id: ID,
    /// The owner's name for it; by default the authenticator's (from its AAGUID).
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// May be synced to the owner's other devices (BE flag), as opposed to bound to one device.
    pub backup_eligible: bool,
    /// Is backed up now (BS flag, as of its last use).
    pub backed_up: bool,
}

impl From<passkeys::Model> for Passkey {
    fn from(p: passkeys::Model) -> Self {
        Self {
            id: ID(p.id.to_string()),
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backup_eligible: p.backup_eligible,
            backed_up: p.backed_up,
        }
    }
}

/// One WebAuthn ceremony: single use, five minutes.
#[derive(SimpleObject)]
pub struct PasskeyCeremony {
    /// Finishes the ceremony (`ceremonyId`).
    pub id: ID,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`:
    /// pass it to `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`.
    pub options: Json<serde_json::Value>,
}

impl From<Started> for PasskeyCeremony {
    fn from(s: Started) -> Self {
        Self {
            id: ID(s.id),
            options: Json(s.options),
        }
    }
}

fn passkey_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::bad_input(Field::Id, "no such passkey"))
}

#[derive(Default)]
pub struct PasskeysQuery;

#[Object]
impl PasskeysQuery {
    /// The caller's passkeys, oldest first.
    async fn passkeys(&self, ctx: &Context<'_>) -> GqlResult<Vec<Passkey>> {
        let caller = principal(ctx).await?;
        let rows = state(ctx)?.passkeys.list(caller.user().id).await?;
        Ok(rows.into_iter().map(Passkey::from).collect())
    }
}

#[derive(Default)]
pub struct PasskeysMutation;

#[Object]
impl PasskeysMutation {
    /// Starts adding a passkey to the caller's account (sensitive: needs a
    /// recent sign-in or step-up). A passkey is a second factor REQUIRE_MFA accepts.
    async fn start_passkey_registration(&self, ctx: &Context<'_>) -> GqlResult<PasskeyCeremony> {
        let caller = principal_enrolling(ctx).await?;
        Ok(state(ctx)?
            .passkeys
            .start_registration(caller, client(ctx)?)
            .await?
            .into())
    }

    /// Finishes adding a passkey with what `PublicKeyCredential.toJSON()` returned; by the session that started it.
    async fn finish_passkey_registration(
        &self,
        ctx: &Context<'_>,
        ceremony_id: ID,
        credential: Json<serde_json::Value>,
        name: Option<String>,
    ) -> GqlResult<Passkey> {
        let caller = principal_enrolling(ctx).await?;
        let name = name.as_deref().map(PasskeyName::parse).transpose()?;
        let added = state(ctx)?
            .passkeys
            .finish_registration(caller, &ceremony_id, credential.0, name, client(ctx)?)
            .await?;
        Ok(added.into())
    }

    /// Starts a passkey sign-in: without arguments any passkey of this site
    /// (discoverable: browser autofill works), with `email` only that
    /// account's; with `mfaToken`, the second factor of that login (its
    /// account's passkeys).
    async fn start_passkey_sign_in(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
        mfa_token: Option<String>,
    ) -> GqlResult<PasskeyCeremony> {
        let email = email
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|e| Email::parse(Field::Email, e))
            .transpose()?;
        let started = state(ctx)?
            .passkeys
            .start_sign_in(email.as_ref().map(Email::as_str), mfa_token.as_deref(), client(ctx)?)
            .await?;
        Ok(started.into())
    }

    /// Finishes a passkey sign-in: a session at once (a passkey with user
    /// verification is two factors), or the login whose `mfaToken` started it.
    async fn finish_passkey_sign_in(
        &self,
        ctx: &Context<'_>,
        ceremony_id: ID,
        credential: Json<serde_json::Value>,
    ) -> GqlResult<LoginPayload> {
        let bundle = state(ctx)?
            .passkeys
            .finish_sign_in(&ceremony_id, credential.0, client(ctx)?)
            .await?;
        Ok(LoginPayload::signed_in(deliver(ctx, bundle)?))
    }

    /// Starts a step-up with one of the caller's passkeys.
    async fn start_passkey_step_up(&self, ctx: &Context<'_>) -> GqlResult<PasskeyCeremony> {
        let caller = principal(ctx).await?;
        Ok(state(ctx)?.passkeys.start_step_up(caller, client(ctx)?).await?.into())
    }

    /// Finishes a step-up: the caller's session may do sensitive things for STEP_UP_WINDOW.
    async fn finish_passkey_step_up(
        &self,
        ctx: &Context<'_>,
        ceremony_id: ID,
        credential: Json<serde_json::Value>,
    ) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        state(ctx)?
            .passkeys
            .finish_step_up(caller, &ceremony_id, credential.0, client(ctx)?)
            .await?;
        Ok(true)
    }

    /// Renames one of the caller's passkeys.
    async fn rename_passkey(&self, ctx: &Context<'_>, id: ID, name: String) -> GqlResult<Passkey> {
        let caller = principal(ctx).await?;
        let name = PasskeyName::parse(&name)?;
        let renamed = state(ctx)?.passkeys.rename(caller, passkey_id(&id)?, name).await?;
        Ok(renamed.into())
    }

    /// Deletes one of the caller's passkeys (sensitive); refused when it is the account's last way to sign in.
    async fn delete_passkey(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let caller = principal(ctx).await?;
        state(ctx)?
            .passkeys
            .delete(caller, passkey_id(&id)?, client(ctx)?)
            .await?;
        Ok(true)
    }
}
