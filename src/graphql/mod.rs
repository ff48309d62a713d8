//! The GraphQL schema: thin resolvers per domain (`*_api`), merged into one
//! Query and one Mutation, and the one Subscription. A resolver reads the caller, calls one domain
//! service, and maps the answer; errors map in `errors`.

pub mod accounts_api;
pub mod admin_api;
pub mod context;
pub mod delivery;
mod document_cost;
mod document_parts;
pub mod errors;
pub mod events_api;
pub mod guardrails;
pub mod mfa_api;
pub mod oauth_api;
mod parsed;
pub mod passkeys_api;
pub mod persisted;
pub mod profile_api;
pub mod sessions_api;
pub mod types;
pub mod webhooks_api;

use async_graphql::extensions::apollo_persisted_queries::ApolloPersistedQueries;
use async_graphql::{MergedObject, Object, Schema, SchemaBuilder};

use crate::error::ErrorCode;
use crate::state::AppState;
use errors::GqlErrorCode;

/// Fields about the API itself.
#[derive(Default)]
pub struct MetaQuery;

#[Object]
impl MetaQuery {
    /// Every code an error may carry in `extensions.code`; it also puts the
    /// `ErrorCode` enum where introspection-based code generators find it.
    async fn error_codes(&self) -> Vec<GqlErrorCode> {
        ErrorCode::ALL.into_iter().map(GqlErrorCode::from).collect()
    }
}

/// Every query field.
#[derive(MergedObject, Default)]
pub struct Query(
    accounts_api::AccountsQuery,
    sessions_api::SessionsQuery,
    admin_api::AdminQuery,
    oauth_api::OAuthQuery,
    passkeys_api::PasskeysQuery,
    webhooks_api::WebhooksQuery,
    MetaQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts_api::AccountsMutation,
    sessions_api::SessionsMutation,
    admin_api::AdminMutation,
    profile_api::ProfileMutation,
    mfa_api::MfaMutation,
    oauth_api::OAuthMutation,
    passkeys_api::PasskeysMutation,
    webhooks_api::WebhooksMutation,
);

/// Every subscription field.
pub type Subscription = events_api::SessionsSubscription;

/// The schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .extension(context::PerOperationCaller)
        .limit_complexity(guardrails::MAX_COMPLEXITY)
        .limit_recursive_depth(guardrails::MAX_DEPTH * 2)
        // Outermost of these: it parses after the persisted-query extension has filled the text.
        .extension(guardrails::Guardrails::default())
        .extension(ApolloPersistedQueries::new(persisted::QueriesOnly::default()))
}

/// The schema serving requests with `state`.
pub fn schema(state: AppState) -> AppSchema {
    let introspection = state.config.http.introspection;
    let builder = builder().data(state);
    if introspection {
        builder.finish()
    } else {
        // Suggestions ("did you mean ...") would leak the schema introspection hides.
        builder.disable_introspection().disable_suggestions().finish()
    }
}

/// The schema in SDL, as `authql schema` prints it and schema.graphql holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
