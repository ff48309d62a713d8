//! Documents made of many small parts (arguments, directives, values,
//! variable definitions): each part that validation refuses is an error of
//! its own, so a few kilobytes of repeats would cost seconds and answer
//! megabytes. Each is refused before validation, with one error.

use serde_json::json;

use crate::helpers::{code, spawn_app};

/// A few thousand repeats of each shape validation would answer part by part.
fn documents(n: usize) -> Vec<(&'static str, String)> {
    vec![
        (
            "repeated known argument",
            format!("{{ securityEvents({}) {{ kind }} }}", "first:1 ".repeat(n)),
        ),
        (
            "repeated unknown argument",
            format!("{{ errorCodes({}) }}", "a:1 ".repeat(n)),
        ),
        (
            "repeated directive",
            format!("{{ errorCodes {} }}", "@skip(if:false) ".repeat(n)),
        ),
        ("unknown directives", format!("{{ errorCodes {} }}", "@a ".repeat(n))),
        (
            "undefined variables",
            format!("{{ errorCodes({}) }}", "a:$v ".repeat(n)),
        ),
        (
            "a long list value",
            format!("{{ errorCodes(a: [{}]) }}", "$v ".repeat(n)),
        ),
        (
            "unknown variable types",
            format!(
                "query({}) {{ __typename }}",
                (0..n).map(|i| format!("$v{i}: X ")).collect::<String>()
            ),
        ),
        (
            "an unused fragment of repeats",
            format!(
                "{{ __typename }} fragment F on Query {{ errorCodes({}) }}",
                "a:1 ".repeat(n)
            ),
        ),
    ]
}

#[tokio::test]
async fn a_document_of_many_small_parts_is_refused_with_one_error() {
    let app = spawn_app().await;
    for (shape, doc) in documents(3000) {
        let r = app.gql(&doc, json!({})).await;
        assert_eq!(
            code(&r),
            Some("QUERY_TOO_COMPLEX"),
            "{shape}: {}",
            &r.to_string()[..200.min(r.to_string().len())]
        );
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(1), "{shape}: one error");
    }
}

#[tokio::test]
async fn ordinary_arguments_and_directives_still_run() {
    let app = spawn_app().await;
    let r = app
        .gql(
            "query($skip: Boolean!) { a: errorCodes @skip(if: $skip) b: __typename @include(if: true) }",
            json!({ "skip": false }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    assert!(r["data"]["a"].is_array(), "{r}");
}
