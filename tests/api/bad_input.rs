//! Hostile and broken input: each gets its code, never a 500, and nothing is written.

use authql::config::AccessTokenTyp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{ME, PASSWORD, SIGNUP, TestApp, code, spawn_app, spawn_app_with};

async fn nothing_written(app: &TestApp) {
    for table in [
        "users",
        "sessions",
        "refresh_tokens",
        "one_time_tokens",
        "mail_outbox",
        "security_events",
    ] {
        assert_eq!(app.count(table).await, 0, "{table} stays empty");
    }
}

fn signup_vars(email: &str, password: &str) -> Value {
    json!({ "input": { "email": email, "password": password } })
}

#[tokio::test]
async fn malformed_requests_get_codes_not_500s() {
    let app = spawn_app().await;
    // Broken JSON is a bad HTTP request whatever the client accepts; a JSON
    // body that is not a GraphQL request is 400 for application/graphql-response+json
    // clients and 200 with errors for application/json ones.
    for (body, modern, legacy) in [
        ("{\"query\": ", 400, 400),
        ("not json at all", 400, 400),
        ("[]", 400, 200),
        ("{\"query\": 42}", 400, 200),
        ("{\"variables\": {}}", 400, 200),
        ("{\"query\": \"{ me \"}", 400, 200),
    ] {
        for (accept, status) in [
            ("application/graphql-response+json", modern),
            ("application/json", legacy),
        ] {
            let resp = app
                .http
                .post(app.url("/graphql"))
                .header("content-type", "application/json")
                .header("accept", accept)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), status, "{body} as {accept}");
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(accept));
            let answer: Value = resp.json().await.unwrap();
            assert_eq!(code(&answer), Some("BAD_USER_INPUT"), "{body}: {answer}");
            assert!(answer.get("data").is_none(), "a request error has no data: {answer}");
        }
    }
    let checks: [(&str, Value); 6] = [
        ("{ me { nope } }", json!({})),
        ("{ nope }", json!({})),
        (
            "mutation { signup(input: { email: 5, password: true }) { confirmationRequired } }",
            json!({}),
        ),
        (
            SIGNUP,
            json!({ "input": { "email": "a@example.com", "password": PASSWORD, "role": "ADMIN" } }),
        ),
        (
            SIGNUP,
            json!({ "input": { "email": ["a@example.com"], "password": PASSWORD } }),
        ),
        (SIGNUP, json!({})),
    ];
    for (query, vars) in checks {
        let (status, answer) = app
            .post_raw(json!({ "query": query, "variables": vars }).to_string(), None)
            .await;
        assert!(status.as_u16() < 500, "{query}");
        assert_eq!(code(&answer), Some("BAD_USER_INPUT"), "{query}: {answer}");
    }
    nothing_written(&app).await;
}

#[tokio::test]
async fn invalid_emails_weak_passwords_and_huge_strings_are_refused() {
    let app = spawn_app().await;
    for email in [
        "",
        "plain",
        "a@b",
        "a b@example.com",
        "Ann <a@example.com>",
        "a@example..com",
        &format!("{}@example.com", "x".repeat(10_000)),
    ] {
        let r = app.gql(SIGNUP, signup_vars(email, PASSWORD)).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{email:.30}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "email");
    }
    for password in [
        "short",
        "password",
        "12345678",
        "qwertyuiop",
        "aaaaaaaaaaaaaaaa",
        "gina2024!",
        &"Xy-9".repeat(40),
    ] {
        let r = app.gql(SIGNUP, signup_vars("gina@example.com", password)).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{password}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "password");
        assert!(
            password == "password" || !r.to_string().contains(password),
            "the password is not echoed"
        );
    }
    // A 1 MB email is over the body limit.
    let body =
        json!({ "query": SIGNUP, "variables": signup_vars(&format!("{}@example.com", "a".repeat(1 << 20)), PASSWORD) });
    let (status, answer) = app.post_raw(body.to_string(), None).await;
    assert_eq!(status, 413);
    assert_eq!(code(&answer), Some("PAYLOAD_TOO_LARGE"));
    nothing_written(&app).await;
}

#[tokio::test]
async fn a_megabyte_email_inside_the_body_limit_is_a_field_error() {
    let app = spawn_app_with(|c| c.http.max_body_bytes = 4 << 20).await;
    let r = app
        .gql(
            SIGNUP,
            signup_vars(&format!("{}@example.com", "a".repeat(1 << 20)), PASSWORD),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    assert_eq!(r["errors"][0]["extensions"]["field"], "email");
    let r = app
        .gql(SIGNUP, signup_vars("hal@example.com", &"Pass-Phrase-".repeat(100_000)))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "password");
    let r = app.login("hal@example.com", &"x".repeat(1 << 20)).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"));
    nothing_written(&app).await;
}

fn sign(claims: &Value, kid: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    // The access token's own type, so that only the signature or key is wrong.
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

#[tokio::test]
async fn forged_expired_and_garbage_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("ivy@example.com").await;
    let header: Value = serde_json::from_slice(&B64.decode(tokens.access.split('.').next().unwrap()).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(tokens.access.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();

    // The server's own key, but expired.
    let expired = {
        let mut c = claims.clone();
        c["iat"] = json!(now - 7200);
        c["exp"] = json!(now - 3600);
        app.state
            .keys
            .with_signer(|s| s.sign(AccessTokenTyp::AtJwt, &c))
            .unwrap()
            .unwrap()
    };
    // Another Ed25519 key claiming the server's kid.
    let foreign = {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let der = key.to_pkcs8_der().unwrap();
        sign(
            &claims,
            kid,
            &EncodingKey::from_ed_der(der.as_bytes()),
            Algorithm::EdDSA,
        )
    };
    // alg=none, and HS256 keyed with the public key (algorithm confusion).
    let none = format!(
        "{}.{}.",
        B64.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#)),
        B64.encode(claims.to_string())
    );
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let public_x = jwks["keys"][0]["x"].as_str().unwrap();
    let confused = sign(
        &claims,
        kid,
        &EncodingKey::from_secret(public_x.as_bytes()).unwrap(),
        Algorithm::HS256,
    );
    // Valid signature, wrong audience.
    let other_audience = {
        let mut c = claims.clone();
        c["aud"] = json!("someone-else");
        app.state
            .keys
            .with_signer(|s| s.sign(AccessTokenTyp::AtJwt, &c))
            .unwrap()
            .unwrap()
    };
    let tampered = {
        let mut parts: Vec<String> = tokens.access.split('.').map(str::to_owned).collect();
        let mut c = claims.clone();
        c["role"] = json!("ADMIN");
        parts[1] = B64.encode(c.to_string());
        parts.join(".")
    };

    for (name, token) in [
        ("garbage", "garbage".to_owned()),
        ("empty parts", "..".to_owned()),
        ("huge", "a".repeat(100_000)),
        ("expired", expired),
        ("foreign-signed", foreign),
        ("alg=none", none),
        ("HS256 confusion", confused),
        ("other audience", other_audience),
        ("tampered", tampered),
    ] {
        let (status, answer) = app.post_raw(json!({ "query": ME }).to_string(), Some(&token)).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(code(&answer), Some("UNAUTHENTICATED"), "{name}: {answer}");
    }
    assert_eq!(
        app.me(&tokens.access).await["data"]["me"]["email"],
        "ivy@example.com",
        "the real token still works"
    );
}
