//! Resolvers for sign-in with providers: the list, and trading a login code.

use async_graphql::{Context, Object, SimpleObject};

use super::context::{client, state};
use super::errors::GqlResult;
use super::types::LoginPayload;

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
    /// Trades the one-time code of a provider sign-in (60 s, once) for what `login` answers.
    async fn exchange_login_code(&self, ctx: &Context<'_>, code: String) -> GqlResult<LoginPayload> {
        Ok(state(ctx)?.oauth.exchange_login_code(&code, client(ctx)?).await?.into())
    }
}
