//! Automatic persisted queries (Apollo's APQ): a client sends the SHA-256 of
//! a query instead of its text, and the text only when this instance does
//! not know it yet. Stored per instance in a bounded LRU; only queries are
//! stored, so a hash sent with GET can never name a mutation.

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::parser::types::{ExecutableDocument, OperationType};

/// Documents kept per instance; the least recently used go first.
pub const CAPACITY: usize = 1024;
/// Longest query text that may be stored (a client's real queries are far shorter).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// An LRU of query documents that refuses to store mutations and subscriptions.
#[derive(Clone)]
pub struct QueriesOnly(LruCacheStorage);

impl Default for QueriesOnly {
    fn default() -> Self {
        Self(LruCacheStorage::new(CAPACITY))
    }
}

#[async_trait::async_trait]
impl CacheStorage for QueriesOnly {
    async fn get(&self, key: String) -> Option<ExecutableDocument> {
        self.0.get(key).await
    }

    async fn set(&self, key: String, query: ExecutableDocument) {
        let only_queries = query
            .operations
            .iter()
            .all(|(_, op)| op.node.ty == OperationType::Query);
        if only_queries {
            self.0.set(key, query).await;
        }
    }
}
