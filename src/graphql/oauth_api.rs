//! Resolvers for sign-in with providers: the list, trading a login code,
//! and linking and unlinking identities.

use async_graphql::{Context, Object, SimpleObject};

use super::context::{client, principal, state};
use super::delivery::deliver_login;
use super::errors::GqlResult;
use super::types::{Identity, LoginPayload, User};

/// A configured sign-in provider.
#[derive(SimpleObject)]
#[graphql(name = "OAuthProvider")]
pub struct OAuthProvider {
    pub name: String,
    pub display_name: String,
    /// Open it in a browser to start the flow.
    pub authorize_url: String,
}

#[derive(Default)]
pub struct OAuthQuery;

#[Object]
impl OAuthQuery {
    /// The providers authql is configured with.
    async fn oauth_providers(&self, ctx: &Context<'_>) -> GqlResult<Vec<OAuthProvider>> {
        Ok(state(ctx)?
            .oauth
            .providers()
            .into_iter()
            .map(|p| OAuthProvider {
                name: p.name,
                display_name: p.display_name,
                authorize_url: p.authorize_url,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct OAuthMutation;

#[Object]
impl OAuthMutation {
    /// Trades the one-time code of a provider sign-in (60 s, once, whatever
    /// the outcome) for what `login` answers. `codeVerifier` is the PKCE
    /// verifier whose S256 challenge the app added to `authorizeUrl`; only a
    /// code shown on authql's own outcome page (no `redirect_to`, no
    /// FRONTEND_URL) was issued without a challenge.
    async fn exchange_login_code(
        &self,
        ctx: &Context<'_>,
        code: String,
        code_verifier: Option<String>,
    ) -> GqlResult<LoginPayload> {
        let outcome = state(ctx)?
            .oauth
            .exchange_login_code(&code, code_verifier.as_deref(), client(ctx)?)
            .await?;
        deliver_login(ctx, outcome)
    }

    /// Native sign-in: the ID token an app got from the provider's own SDK
    /// (checked as at the callback; `nonce` when the app sent one, required
    /// where the provider's settings say so). Each token signs in once. Answers like `login`.
    async fn sign_in_with_id_token(
        &self,
        ctx: &Context<'_>,
        provider: String,
        id_token: String,
        nonce: Option<String>,
    ) -> GqlResult<LoginPayload> {
        let outcome = state(ctx)?
            .oauth
            .sign_in_with_id_token(&provider, &id_token, nonce.as_deref(), client(ctx)?)
            .await?;
        deliver_login(ctx, outcome)
    }

    /// An address to open in a browser that links `provider` to the caller's
    /// account (sensitive: needs a recent sign-in or step-up; works once, 10
    /// minutes). The flow ends at `redirectTo` (allowed as a sign-in's; by
    /// default FRONTEND_URL's `/oauth/callback`, or authql's own page) with
    /// `?link_code=`, which the caller then redeems with `completeLinkIdentity`.
    async fn link_identity(
        &self,
        ctx: &Context<'_>,
        provider: String,
        redirect_to: Option<String>,
    ) -> GqlResult<String> {
        let caller = principal(ctx).await?;
        Ok(state(ctx)?
            .oauth
            .link_url(caller, &provider, redirect_to.as_deref())
            .await?)
    }

    /// Finishes `linkIdentity` with the `link_code` its flow ended with (60 s,
    /// once): only the account that asked links it; any other caller gets
    /// `INVALID_TOKEN` and the code is spent.
    async fn complete_link_identity(&self, ctx: &Context<'_>, code: String) -> GqlResult<Identity> {
        let caller = principal(ctx).await?;
        let identity = state(ctx)?.oauth.complete_link(caller, &code, client(ctx)?).await?;
        Ok(Identity {
            provider: identity.provider,
            email: identity.email,
            linked_at: identity.created_at,
        })
    }

    /// Unlinks `provider` from the caller's account (sensitive); refused when
    /// it would leave no way to sign in.
    async fn unlink_identity(&self, ctx: &Context<'_>, provider: String) -> GqlResult<User> {
        let caller = principal(ctx).await?;
        let user = state(ctx)?.oauth.unlink(caller, &provider, client(ctx)?).await?;
        Ok(User::from(&user))
    }
}
