//! Automatic persisted queries: a hash instead of the text once the server
//! knows it; only queries are stored, so a GET can never name a mutation.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, spawn_app};

fn hash(query: &str) -> String {
    Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn persisted(query: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash(query) } })
}

async fn get(app: &TestApp, query: &str) -> Value {
    let extensions = persisted(query).to_string();
    let encoded: String = url::form_urlencoded::byte_serialize(extensions.as_bytes()).collect();
    app.get_json(&format!("/graphql?extensions={encoded}")).await
}

#[tokio::test]
async fn a_known_query_travels_as_its_hash() {
    let app = spawn_app().await;
    let query = "query Codes { errorCodes }";
    // Unknown yet: the client is told, and sends the text with the hash.
    let (_, miss) = app
        .post_raw(json!({ "extensions": persisted(query) }).to_string(), None)
        .await;
    assert_eq!(miss["errors"][0]["message"], "PersistedQueryNotFound", "{miss}");
    let (_, full) = app
        .post_raw(
            json!({ "query": query, "extensions": persisted(query) }).to_string(),
            None,
        )
        .await;
    assert!(full["data"]["errorCodes"].is_array(), "{full}");
    // From now on the hash alone works, also as a GET.
    let (_, by_hash) = app
        .post_raw(json!({ "extensions": persisted(query) }).to_string(), None)
        .await;
    assert_eq!(by_hash["data"], full["data"]);
    assert_eq!(get(&app, query).await["data"], full["data"]);
    // A text that does not match its hash is refused.
    let (_, wrong) = app
        .post_raw(
            json!({ "query": "{ errorCodes }", "extensions": persisted("{ me { id } }") }).to_string(),
            None,
        )
        .await;
    assert!(wrong["data"].is_null(), "{wrong}");
    assert!(
        wrong["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{wrong}"
    );
}

#[tokio::test]
async fn mutations_and_long_texts_are_never_stored() {
    let app = spawn_app().await;
    let mutation = "mutation { forgotPassword(email: \"ann@example.com\") }";
    let (_, ran) = app
        .post_raw(
            json!({ "query": mutation, "extensions": persisted(mutation) }).to_string(),
            None,
        )
        .await;
    assert_eq!(ran["data"]["forgotPassword"], true, "{ran}");
    // Not stored: neither a POST nor a GET can run it by its hash.
    let (_, miss) = app
        .post_raw(json!({ "extensions": persisted(mutation) }).to_string(), None)
        .await;
    assert_eq!(miss["errors"][0]["message"], "PersistedQueryNotFound", "{miss}");
    assert_eq!(
        get(&app, mutation).await["errors"][0]["message"],
        "PersistedQueryNotFound"
    );

    let long = format!("query {{ errorCodes }} # {}", "x".repeat(20_000));
    let (_, refused) = app
        .post_raw(
            json!({ "query": long, "extensions": persisted(&long) }).to_string(),
            None,
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{refused}"
    );
}
