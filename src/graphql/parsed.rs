//! Parsed documents kept by their exact text. Clients send the same few
//! queries over and over, and parsing one (a pest grammar, token by token)
//! was 3% of a refresh's CPU; a clone of the parsed document costs less
//! (bench/README.md, "The allocator"). [`super::guardrails`] asks here for
//! every request's document and checks it, cached or not.

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::parser::{parse_query, types::ExecutableDocument};
use async_graphql::{ServerError, ServerResult};

/// Documents kept per instance; the least recently used go first.
const CAPACITY: usize = 256;
/// Longest text kept: an application's queries are far shorter, and a
/// stranger's long ones should not fill the cache.
const MAX_QUERY_BYTES: usize = 4096;

/// The cache. Cheap to clone: clones share it.
#[derive(Clone)]
pub struct ParsedQueries(LruCacheStorage);

impl Default for ParsedQueries {
    fn default() -> Self {
        Self(LruCacheStorage::new(CAPACITY))
    }
}

impl ParsedQueries {
    /// The document of `query`, parsed now or earlier.
    ///
    /// # Errors
    /// The parser's, for text that is not GraphQL.
    pub async fn get_or_parse(&self, query: &str) -> ServerResult<ExecutableDocument> {
        let kept = !query.is_empty() && query.len() <= MAX_QUERY_BYTES;
        if kept && let Some(doc) = self.0.get(query.to_owned()).await {
            return Ok(doc);
        }
        // Parsing costs about a microsecond per dense token: a long text
        // parsed on the runtime would hold one of its few workers (and every
        // request queued behind it) for as long, so it goes to a blocking thread.
        let doc = if query.len() <= MAX_QUERY_BYTES {
            parse_query(query)?
        } else {
            let text = query.to_owned();
            tokio::task::spawn_blocking(move || parse_query(text))
                .await
                .map_err(|e| ServerError::new(format!("the parser stopped: {e}"), None))??
        };
        if kept {
            self.0.set(query.to_owned(), doc.clone()).await;
        }
        Ok(doc)
    }
}
