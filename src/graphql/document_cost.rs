//! What a document would cost once its fragments are spread: the fields it
//! expands to and how deep they nest, each fragment counted once.
//!
//! A fragment that spreads another several times doubles (or more) what a
//! walker of the expanded document visits at every level, so a one-kilobyte
//! chain can stand for billions of fields. Anything that re-walks each spread
//! (a naive depth check, async-graphql's own recursion and complexity checks,
//! execution) must only ever see documents this check has bounded.

use std::collections::HashMap;

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

use super::guardrails::{MAX_DEPTH, MAX_EXPANSION, too_complex};
use crate::error::ErrorCode;

/// How far the walk may recurse (fields, inline fragments and spreads
/// together) before it stops: far past any document the limits accept, and
/// far short of a worker's stack.
const MAX_NESTING: usize = 128;

/// Refuses a document that expands to more than [`MAX_EXPANSION`] fields,
/// nests deeper than [`MAX_DEPTH`], or spreads fragments in a cycle.
///
/// # Errors
/// `QUERY_TOO_COMPLEX` for the first two, `BAD_USER_INPUT` for a cycle.
pub fn check(doc: &ExecutableDocument) -> Result<(), ServerError> {
    let mut walk = Walk {
        doc,
        fragments: HashMap::new(),
        nesting: 0,
    };
    for (_, operation) in doc.operations.iter() {
        let cost = walk.set(&operation.node.selection_set.node)?;
        if cost.fields > MAX_EXPANSION {
            return Err(too_complex(format!(
                "the document expands to {} fields once its fragments are spread: at most {MAX_EXPANSION}",
                cost.fields
            )));
        }
        if cost.depth > MAX_DEPTH {
            return Err(too_complex(format!("nested too deep: at most {MAX_DEPTH} levels")));
        }
    }
    Ok(())
}

/// What a selection set costs once expanded.
#[derive(Clone, Copy, Default)]
struct Cost {
    /// Fields, saturating: a chain's true count is what the error reports.
    fields: u64,
    /// Levels of fields below the set.
    depth: usize,
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment's cost once known; `None` while it is being counted,
    /// so meeting it again is a cycle.
    fragments: HashMap<&'a str, Option<Cost>>,
    nesting: usize,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Result<Cost, ServerError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(too_complex(format!("nested too deep: at most {MAX_DEPTH} levels")));
        }
        let mut total = Cost::default();
        for item in &set.items {
            let (fields, depth) = match &item.node {
                Selection::Field(f) => {
                    let below = self.set(&f.node.selection_set.node)?;
                    // Introspection's `ofType` is one object per level (the
                    // standard introspection query nests it seven deep to
                    // unwrap `[T!]!`), so it cannot multiply what a query
                    // returns and is not a level.
                    let level = usize::from(f.node.name.node != "ofType");
                    (below.fields.saturating_add(1), below.depth + level)
                }
                Selection::InlineFragment(f) => {
                    let below = self.set(&f.node.selection_set.node)?;
                    (below.fields, below.depth)
                }
                Selection::FragmentSpread(spread) => {
                    let below = self.fragment(&spread.node.fragment_name.node)?;
                    (below.fields, below.depth)
                }
            };
            total.fields = total.fields.saturating_add(fields);
            total.depth = total.depth.max(depth);
        }
        self.nesting -= 1;
        Ok(total)
    }

    fn fragment(&mut self, name: &'a str) -> Result<Cost, ServerError> {
        match self.fragments.get(name) {
            Some(Some(cost)) => return Ok(*cost),
            Some(None) => return Err(cycle(name)),
            None => {}
        }
        // An unknown fragment costs nothing here; validation names it.
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(Cost::default());
        };
        self.fragments.insert(name, None);
        let cost = self.set(&fragment.node.selection_set.node)?;
        self.fragments.insert(name, Some(cost));
        Ok(cost)
    }
}

fn cycle(name: &str) -> ServerError {
    let mut error = ServerError::new(format!("fragment {name} spreads itself (a cycle of fragments)"), None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput.as_str());
    error
}
