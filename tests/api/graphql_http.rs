//! GraphQL over HTTP: GET and POST, GraphiQL offline, limits, headers.

use serde_json::{Value, json};

use crate::helpers::{code, spawn_app, spawn_app_with};

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "data": { "__typename": "Query" } })
    );

    let mutation = "mutation { forgotPassword(email: \"x@example.com\") }";
    let resp = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", mutation)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(code(&resp.json().await.unwrap()), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn posts_need_a_json_or_multipart_body() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/graphql"))
        .body("{ __typename }")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(code(&resp.json().await.unwrap()), Some("BAD_USER_INPUT"));
    let resp = app.http.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
}

/// A `multipart/form-data` POST is a "simple" request: a page on another site
/// can make the browser send one, with the user's cookies, and no preflight.
#[tokio::test]
async fn multipart_needs_a_preflighted_header_and_a_file() {
    let app = spawn_app().await;
    let png = {
        let mut out = Vec::new();
        image::RgbImage::new(2, 2)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let form = |with_file: bool| {
        let form = reqwest::multipart::Form::new();
        if with_file {
            form.text(
                "operations",
                r#"{"query":"mutation($f: Upload!) { uploadAvatar(file: $f) { id } }","variables":{"f":null}}"#,
            )
            .text("map", r#"{ "0": ["variables.f"] }"#)
            .part("0", reqwest::multipart::Part::bytes(png.clone()).file_name("a.png"))
        } else {
            form.text("operations", r#"{"query":"{ __typename }"}"#)
                .text("map", "{}")
        }
    };
    let cross_site = app
        .http
        .post(app.url("/graphql"))
        .multipart(form(true))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 400);
    let body: Value = cross_site.json().await.unwrap();
    assert_eq!(code(&body), Some("BAD_USER_INPUT"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Apollo-Require-Preflight"),
        "{body}"
    );

    let no_file = app
        .http
        .post(app.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(form(false))
        .send()
        .await
        .unwrap();
    assert_eq!(no_file.status(), 400, "multipart only carries uploads");

    let preflighted = app
        .http
        .post(app.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(form(true))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&preflighted.json().await.unwrap()),
        Some("UNAUTHENTICATED"),
        "it reaches the resolver"
    );
}

#[tokio::test]
async fn graphiql_is_served_from_the_binary() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains("graphiql"));
    assert!(
        !page.contains("https://") && !page.contains("http://"),
        "no external resources"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "init.js",
    ] {
        assert!(page.contains(&format!("/graphiql/{asset}")));
        let resp = app
            .http
            .get(app.url(&format!("/graphiql/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert!(resp.bytes().await.unwrap().len() > 100, "{asset}");
    }
    assert_eq!(
        app.http
            .get(app.url("/graphiql/../Cargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let off = spawn_app_with(|c| c.http.graphiql = false).await;
    let resp = off
        .http
        .get(off.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_ne!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
}

#[tokio::test]
async fn depth_alias_and_batch_limits() {
    let app = spawn_app().await;
    let nest = |depth: usize| {
        format!(
            "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
            "ofType { ".repeat(depth),
            " }".repeat(depth)
        )
    };
    assert!(app.gql(&nest(2), json!({})).await["data"]["__schema"].is_object());
    // Unwrapping types (`ofType`) never multiplies a result; nesting lists does.
    assert!(app.gql(&nest(12), json!({})).await["data"]["__schema"].is_object());
    let lists = format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "fields { type { ".repeat(6),
        " } }".repeat(6)
    );
    assert_eq!(code(&app.gql(&lists, json!({})).await), Some("QUERY_TOO_COMPLEX"));
    assert_eq!(
        code(&app.gql(&nest(30), json!({})).await),
        Some("QUERY_TOO_COMPLEX"),
        "the parser's recursion limit"
    );

    let aliases: String = (0..16).map(|i| format!("a{i}: __typename ")).collect();
    assert_eq!(
        code(&app.gql(&format!("{{ {aliases} }}"), json!({})).await),
        Some("QUERY_TOO_COMPLEX")
    );
    let fine: String = (0..5).map(|i| format!("a{i}: __typename ")).collect();
    assert_eq!(
        app.gql(&format!("{{ {fine} }}"), json!({})).await["data"]["a4"],
        "Query"
    );

    let two = json!([{ "query": "{ __typename }" }, { "query": "{ t: __typename }" }]);
    let (status, answer) = app.post_raw(two.to_string(), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!([{ "data": { "__typename": "Query" } }, { "data": { "t": "Query" } }])
    );
    let eleven: Vec<Value> = (0..11).map(|_| json!({ "query": "{ __typename }" })).collect();
    let (_, answer) = app.post_raw(Value::from(eleven).to_string(), None).await;
    assert_eq!(code(&answer), Some("QUERY_TOO_COMPLEX"));
}

#[tokio::test]
async fn responses_carry_security_headers_and_are_not_cached() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        ready,
        json!({ "status": "ok", "checks": { "database": "ok", "migrations": "ok", "redis": "not configured", "smtp": "ok" } })
    );
}

#[tokio::test]
async fn https_deployments_send_hsts() {
    let plain = spawn_app().await;
    let resp = plain.http.get(plain.url("/healthz")).send().await.unwrap();
    assert!(resp.headers().get("strict-transport-security").is_none());
    let tls = spawn_app_with(|c| c.public_url = "https://auth.example.com".parse().unwrap()).await;
    let resp = tls.http.get(tls.url("/healthz")).send().await.unwrap();
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let app = spawn_app_with(|c| c.http.introspection = false).await;
    let r = app
        .gql(
            "{ __schema { queryType { name } } __type(name: \"User\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"], json!({ "__schema": null, "__type": null }), "{r}");
    let on = spawn_app().await;
    assert_eq!(
        on.gql("{ __schema { queryType { name } } }", json!({})).await["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
}

#[tokio::test]
async fn clients_generating_code_from_introspection_see_every_error_code() {
    let app = spawn_app().await;
    let r = app
        .gql(
            "{ __type(name: \"ErrorCode\") { kind enumValues { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["__type"]["kind"], "ENUM", "{r}");
    let values: Vec<&str> = r["data"]["__type"]["enumValues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for code in [
        "UNAUTHENTICATED",
        "BAD_USER_INPUT",
        "RATE_LIMITED",
        "SERVICE_UNAVAILABLE",
        "INTERNAL",
    ] {
        assert!(values.contains(&code), "{code} in {values:?}");
    }
    let listed = app.gql("{ errorCodes }", json!({})).await;
    assert_eq!(listed["data"]["errorCodes"].as_array().unwrap().len(), values.len());
}

/// What graphql-js's `getIntrospectionQuery()` sends (GraphQL Code Generator,
/// Postman, Insomnia and schemathesis send this or its like): seven `ofType` levels.
const STANDARD_INTROSPECTION: &str = r"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}";

#[tokio::test]
async fn tools_load_the_schema_with_the_standard_introspection_query() {
    let app = spawn_app().await;
    let r = app.gql(STANDARD_INTROSPECTION, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let types = r["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "ErrorCode"));
    // Any other query keeps the depth limit of 12.
    let deep = format!("{{ me {{ {}id{} }} }}", "a { ".repeat(12), " }".repeat(12));
    assert_eq!(code(&app.gql(&deep, json!({})).await), Some("QUERY_TOO_COMPLEX"));
}

#[tokio::test]
async fn every_response_has_a_request_id_that_errors_carry_too() {
    let app = spawn_app().await;
    let send = |id: Option<&str>| {
        let mut req = app
            .http
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(r#"{"query":"{ me { id } }"}"#);
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    let made = send(None).await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.len() >= 16, "{id}");
    let body: Value = made.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], id.as_str(), "{body}");

    let taken = send(Some("support-ticket-42")).await.unwrap();
    assert_eq!(taken.headers()["x-request-id"], "support-ticket-42");
    let body: Value = taken.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "support-ticket-42");

    for bad in ["x".repeat(10_000), "naïve-id".to_owned(), "two words".to_owned()] {
        let replaced = send(Some(&bad)).await.unwrap();
        let echoed = replaced.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, bad);
        assert!(echoed.len() <= 64 && !echoed.is_empty());
    }
    // Requests rejected before execution carry it too, and other routes send it.
    let rejected = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("x-request-id", "broken-json-1")
        .body("{")
        .send()
        .await
        .unwrap();
    let body: Value = rejected.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "broken-json-1");
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(health.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn with_introspection_off_errors_suggest_no_field_names() {
    let off = spawn_app_with(|c| c.http.introspection = false).await;
    let r = off.gql("{ sesions { id } }", json!({})).await;
    let message = r["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("sesions"), "{r}");
    assert!(
        !message.contains("Did you mean"),
        "the schema must not leak through suggestions: {message}"
    );
    let on = spawn_app().await;
    let r = on.gql("{ sesions { id } }", json!({})).await;
    assert!(
        r["errors"][0]["message"].as_str().unwrap().contains("Did you mean"),
        "{r}"
    );
}

#[tokio::test]
async fn force_https_redirects_plain_http_and_believes_only_trusted_proxies() {
    let behind = spawn_app_with(|c| {
        c.http.force_https = true;
        c.public_url = "https://auth.example.com".parse().unwrap();
        c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let plain = behind
        .http
        .get(behind.url("/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 308);
    assert_eq!(
        plain.headers()["location"],
        "https://auth.example.com/graphql?query=%7B__typename%7D"
    );
    let probe = behind.http.get(behind.url("/healthz")).send().await.unwrap();
    assert_eq!(probe.status(), 200, "load balancers probe over plain HTTP");
    let tls = behind
        .http
        .get(behind.url("/graphql?query=%7B__typename%7D"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(tls.status(), 200, "the trusted proxy says it was https");
    assert!(tls.headers().contains_key("strict-transport-security"));

    // From an untrusted peer the header is the client's word, not a proxy's.
    let direct = spawn_app_with(|c| {
        c.http.force_https = true;
        c.public_url = "https://auth.example.com".parse().unwrap();
    })
    .await;
    let forged = direct
        .http
        .get(direct.url("/graphql?query=%7B__typename%7D"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 308);
}

#[tokio::test]
async fn a_repeated_query_is_answered_from_its_own_text_and_limits_hold_every_time() {
    let app = spawn_app().await;
    // Parsed documents are kept by their text: each repeat gets its own.
    for _ in 0..2 {
        for alias in ["first", "second"] {
            let r = app.gql(&format!("{{ {alias}: __typename }}"), json!({})).await;
            assert_eq!(r["data"][alias], "Query", "{r}");
        }
    }
    let aliases: Vec<String> = (0..16).map(|i| format!("a{i}: __typename")).collect();
    let too_many = format!("{{ {} }}", aliases.join(" "));
    for _ in 0..2 {
        let r = app.gql(&too_many, json!({})).await;
        assert_eq!(code(&r), Some("QUERY_TOO_COMPLEX"), "{r}");
    }
}

/// The JSON part of a multipart request is held to MAX_BODY_BYTES like a
/// JSON body: a large query text beside a tiny file is refused, not run.
#[tokio::test]
async fn a_multipart_operations_part_over_max_body_bytes_is_refused_unrun() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("padded@example.com").await;
    let png = {
        let mut out = Vec::new();
        image::RgbImage::new(2, 2)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let limit = app.state.config.http.max_body_bytes;
    let query = format!(
        "mutation($f: Upload!) {{ uploadAvatar(file: $f) {{ avatarUrl }} }} #{}",
        "x".repeat(limit + 1)
    );
    let operations = json!({ "query": query, "variables": { "f": null } });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{ "0": ["variables.f"] }"#)
        .part("0", reqwest::multipart::Part::bytes(png).file_name("a.png"));
    let resp = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&me.access)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(code(&resp.json().await.unwrap()), Some("PAYLOAD_TOO_LARGE"));
    let avatar = app.gql_as(&me.access, "{ me { avatarUrl } }", json!({})).await;
    assert!(avatar["data"]["me"]["avatarUrl"].is_null(), "nothing ran: {avatar}");
}
