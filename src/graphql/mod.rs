//! The GraphQL schema: thin resolvers per domain, merged into one Query and one Mutation.

pub mod accounts;
pub mod admin;
pub mod context;
pub mod errors;
pub mod limits;
pub mod mfa;
pub mod profile;
pub mod sessions;
pub mod types;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::error::ErrorCode;
use crate::state::AppState;

/// Every query field.
#[derive(MergedObject, Default)]
pub struct Query(accounts::AccountsQuery, sessions::SessionsQuery, admin::AdminQuery);

/// Every mutation field.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountsMutation,
    sessions::SessionsMutation,
    admin::AdminMutation,
    profile::ProfileMutation,
    mfa::MfaMutation,
);

/// The schema type.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .register_output_type::<ErrorCode>()
        .limit_depth(limits::MAX_DEPTH)
        .limit_complexity(limits::MAX_COMPLEXITY)
        .limit_recursive_depth(limits::MAX_DEPTH * 2)
        .extension(limits::Guardrails)
}

/// The schema serving requests with `state`.
pub fn schema(state: AppState) -> AppSchema {
    let introspection = state.config.http.introspection;
    let builder = builder().data(state);
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema in SDL, as `authql schema` prints it and schema.graphql holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
