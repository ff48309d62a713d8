//! Request guardrails: depth, complexity and alias limits, and a code on every error.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Response, ServerError, ServerResult, Value, Variables};

use super::errors::ensure_codes;
use crate::error::ErrorCode;

/// Deepest selection nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest complexity (about one per field) accepted.
pub const MAX_COMPLEXITY: usize = 500;
/// Most aliased fields in one document: aliases are how one request repeats an operation.
pub const MAX_ALIASES: usize = 15;
/// Most operations in one batched HTTP request.
pub const MAX_BATCH: usize = 10;

/// The extension that applies these limits.
pub struct Guardrails;

impl ExtensionFactory for Guardrails {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guardrails)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Guardrails {
    /// Counts and times each root field by its schema name: aliases and
    /// operation names, which clients choose, never become labels.
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        let field = info.name.to_owned();
        let started = std::time::Instant::now();
        let result = next.run(ctx, info).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        ::metrics::counter!("authql_graphql_operations_total", "field" => field.clone(), "outcome" => outcome)
            .increment(1);
        ::metrics::histogram!("authql_graphql_operation_duration_seconds", "field" => field)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        ensure_codes(&mut response.errors);
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if doc
            .operations
            .iter()
            .any(|(_, op)| depth(&op.node.selection_set.node, &doc, 0) > MAX_DEPTH)
        {
            return Err(too_complex(format!("nested too deep: at most {MAX_DEPTH} levels")));
        }
        let aliases = doc
            .operations
            .iter()
            .map(|(_, op)| count_aliases(&op.node.selection_set.node))
            .sum::<usize>()
            + doc
                .fragments
                .values()
                .map(|f| count_aliases(&f.node.selection_set.node))
                .sum::<usize>();
        if aliases > MAX_ALIASES {
            return Err(too_complex(format!("too many aliases: at most {MAX_ALIASES}")));
        }
        Ok(doc)
    }
}

fn too_complex(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::QueryTooComplex.as_str());
    error
}

/// How deep `set` nests below `level`, following fragment spreads.
/// Introspection's `ofType` does not count: the standard introspection
/// query nests it seven deep to unwrap `[T!]!`-like types, and each level is
/// one object (never a list), so it cannot multiply what a query returns.
/// Everything else counts, introspection's lists included.
fn depth(set: &SelectionSet, doc: &ExecutableDocument, level: usize) -> usize {
    // Past the limit nothing more needs counting, which also ends cycles of fragments.
    if level > MAX_DEPTH {
        return level;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) if f.node.name.node == "ofType" => depth(&f.node.selection_set.node, doc, level),
            Selection::Field(f) => depth(&f.node.selection_set.node, doc, level + 1),
            Selection::InlineFragment(f) => depth(&f.node.selection_set.node, doc, level),
            Selection::FragmentSpread(spread) => doc
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(level, |f| depth(&f.node.selection_set.node, doc, level)),
        })
        .max()
        .unwrap_or(level)
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node),
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
