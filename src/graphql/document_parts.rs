//! How many small parts a document is written with: arguments, directives,
//! the nodes of their values and variable definitions, each counted where
//! it is written (a fragment once, however often it is spread).
//!
//! Validation answers each wrong part with an error of its own, so a document
//! of a few thousand repeated arguments or directives would cost seconds and
//! answer megabytes. Bounding the parts before validation keeps the answer to
//! one error, and what validation and execution walk small.

use async_graphql::Positioned;
use async_graphql::ServerError;
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql_value::{ConstValue, Value};

use super::guardrails::too_complex;

/// Most parts a document may have: far beyond what any query of this API
/// needs (variables carry large inputs, not the document).
pub const MAX_PARTS: u64 = 1000;

/// How far values and selections may nest before the count stops.
const MAX_NESTING: usize = 128;

/// Refuses a document written with more than [`MAX_PARTS`] parts.
///
/// # Errors
/// `QUERY_TOO_COMPLEX`.
pub fn check(doc: &ExecutableDocument) -> Result<(), ServerError> {
    let mut count = Count::default();
    for (_, operation) in doc.operations.iter() {
        let operation = &operation.node;
        for variable in &operation.variable_definitions {
            count.add(1)?;
            count.directives(&variable.node.directives)?;
            if let Some(default) = &variable.node.default_value {
                count.const_value(&default.node, 0)?;
            }
        }
        count.directives(&operation.directives)?;
        count.set(&operation.selection_set.node, 0)?;
    }
    for fragment in doc.fragments.values() {
        count.directives(&fragment.node.directives)?;
        count.set(&fragment.node.selection_set.node, 0)?;
    }
    Ok(())
}

#[derive(Default)]
struct Count(u64);

impl Count {
    fn add(&mut self, n: usize) -> Result<(), ServerError> {
        self.0 = self.0.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.0 > MAX_PARTS {
            return Err(too_complex(format!(
                "the document has more than {MAX_PARTS} arguments, directives, values and variables"
            )));
        }
        Ok(())
    }

    fn set(&mut self, set: &SelectionSet, nesting: usize) -> Result<(), ServerError> {
        if nesting > MAX_NESTING {
            return Err(too_complex("nested too deep".to_owned()));
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    for (_, value) in &field.node.arguments {
                        self.add(1)?;
                        self.value(&value.node, nesting)?;
                    }
                    self.directives(&field.node.directives)?;
                    self.set(&field.node.selection_set.node, nesting + 1)?;
                }
                Selection::InlineFragment(fragment) => {
                    self.directives(&fragment.node.directives)?;
                    self.set(&fragment.node.selection_set.node, nesting + 1)?;
                }
                Selection::FragmentSpread(spread) => self.directives(&spread.node.directives)?,
            }
        }
        Ok(())
    }

    fn directives(&mut self, directives: &[Positioned<Directive>]) -> Result<(), ServerError> {
        for directive in directives {
            self.add(1)?;
            for (_, value) in &directive.node.arguments {
                self.add(1)?;
                self.value(&value.node, 0)?;
            }
        }
        Ok(())
    }

    fn value(&mut self, value: &Value, nesting: usize) -> Result<(), ServerError> {
        if nesting > MAX_NESTING {
            return Err(too_complex("nested too deep".to_owned()));
        }
        match value {
            Value::List(items) => {
                self.add(items.len())?;
                items.iter().try_for_each(|v| self.value(v, nesting + 1))
            }
            Value::Object(fields) => {
                self.add(fields.len())?;
                fields.values().try_for_each(|v| self.value(v, nesting + 1))
            }
            _ => Ok(()),
        }
    }

    fn const_value(&mut self, value: &ConstValue, nesting: usize) -> Result<(), ServerError> {
        if nesting > MAX_NESTING {
            return Err(too_complex("nested too deep".to_owned()));
        }
        match value {
            ConstValue::List(items) => {
                self.add(items.len())?;
                items.iter().try_for_each(|v| self.const_value(v, nesting + 1))
            }
            ConstValue::Object(fields) => {
                self.add(fields.len())?;
                fields.values().try_for_each(|v| self.const_value(v, nesting + 1))
            }
            _ => Ok(()),
        }
    }
}
