//! Parsed documents kept by their exact text. Clients send the same few
//! queries over and over, and parsing one (a pest grammar, token by token)
//! was 3% of a refresh's CPU; a clone of the parsed document costs less
//! (bench/README.md, "The allocator"). Only documents that parsed and passed async-graphql's own
//! checks are kept; this extension runs inside [`super::guardrails`], so the
//! depth and alias limits still look at every request's document.

use std::sync::Arc;

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};

/// Documents kept per instance; the least recently used go first.
const CAPACITY: usize = 256;
/// Longest text kept: an application's queries are far shorter, and a
/// stranger's long ones should not fill the cache.
const MAX_QUERY_BYTES: usize = 4096;

/// The extension, with its cache.
#[derive(Clone)]
pub struct ParsedQueries(LruCacheStorage);

impl Default for ParsedQueries {
    fn default() -> Self {
        Self(LruCacheStorage::new(CAPACITY))
    }
}

impl ExtensionFactory for ParsedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ParsedQueries {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.is_empty() || query.len() > MAX_QUERY_BYTES {
            return next.run(ctx, query, variables).await;
        }
        if let Some(doc) = self.0.get(query.to_owned()).await {
            return Ok(doc);
        }
        let doc = next.run(ctx, query, variables).await?;
        self.0.set(query.to_owned(), doc.clone()).await;
        Ok(doc)
    }
}
