//! Fragment chains: a short document whose fragments spread the next ones
//! many times expands to far more fields than it has characters. Each is
//! refused by its counted expansion before anything walks it.

use serde_json::json;

use crate::helpers::{code, spawn_app};

/// `query { ...F0 }`, each `Fi` spreading `F(i+1)` `fan` times, the last
/// selecting `__typename`: `fan.pow(levels)` fields once expanded.
fn chain(fan: usize, levels: usize) -> String {
    let mut doc = String::from("query { ...F0 }\n");
    for level in 0..levels {
        let spreads = vec![format!("...F{}", level + 1); fan].join(" ");
        doc.push_str(&format!("fragment F{level} on Query {{ {spreads} }}\n"));
    }
    doc.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    doc
}

#[tokio::test]
async fn fragment_chains_are_refused_by_their_counted_expansion() {
    let app = spawn_app().await;
    for (fan, levels) in [(2, 11), (2, 30), (3, 21), (3, 40), (10, 19)] {
        let doc = chain(fan, levels);
        assert!(doc.len() < 4096, "a short document: {} bytes", doc.len());
        let r = app.gql(&doc, json!({})).await;
        assert_eq!(code(&r), Some("QUERY_TOO_COMPLEX"), "{fan}x{levels}: {r}");
        let expansion = u64::try_from(fan).unwrap().pow(u32::try_from(levels).unwrap());
        let message = r["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("expands to {expansion} fields")),
            "{fan}x{levels}: {message}"
        );
    }
}

#[tokio::test]
async fn fragment_chains_within_the_bound_still_run() {
    let app = spawn_app().await;
    let r = app.gql(&chain(2, 8), json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["__typename"], "Query");
}

#[tokio::test]
async fn a_cycle_of_fragments_is_refused_without_being_walked() {
    let app = spawn_app().await;
    let doc = "query { ...A }\n\
               fragment A on Query { __typename ...B ...B ...B }\n\
               fragment B on Query { ...A ...A ...A }";
    let r = app.gql(doc, json!({})).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("cycle"), "{r}");
}
