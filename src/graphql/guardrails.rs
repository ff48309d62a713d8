//! Request guardrails: depth, complexity, expansion and alias limits, and a
//! code on every error.
//!
//! The document is parsed and bounded here, in `prepare_request`, and handed
//! to async-graphql already parsed: its own recursion check walks every
//! fragment spread without memory, so it must only ever see a document whose
//! expansion [`super::document_cost`] has bounded.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, Value};

use super::errors::ensure_codes;
use super::parsed::ParsedQueries;
use crate::error::ErrorCode;

/// Deepest selection nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest complexity (about one per field) accepted.
pub const MAX_COMPLEXITY: usize = 500;
/// Most aliased fields in one document: aliases are how one request repeats an operation.
pub const MAX_ALIASES: usize = 15;
/// Most fields a document may expand to once every fragment spread is
/// replaced by its fragment: what execution would walk.
pub const MAX_EXPANSION: u64 = 1000;
/// Most operations in one batched HTTP request.
pub const MAX_BATCH: usize = 10;

/// The extension that applies these limits, with the documents it parsed.
#[derive(Clone, Default)]
pub struct Guardrails {
    parsed: ParsedQueries,
}

impl ExtensionFactory for Guardrails {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
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

    /// Runs after the inner extensions (a persisted query's text is known by
    /// then): parses the text, or takes the same text's document from the
    /// cache, and refuses it before anything else walks it.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = next.run(ctx, request).await?;
        if request.query.is_empty() {
            // A persisted query named by its hash comes parsed.
            check(request.parsed_query()?)?;
        } else {
            let doc = self.parsed.get_or_parse(&request.query).await?;
            check(&doc)?;
            request.set_parsed_query(doc);
        }
        Ok(request)
    }
}

/// Every limit that needs only the document.
fn check(doc: &ExecutableDocument) -> ServerResult<()> {
    super::document_parts::check(doc)?;
    super::document_cost::check(doc)?;
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
    Ok(())
}

pub(super) fn too_complex(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::QueryTooComplex.as_str());
    error
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
