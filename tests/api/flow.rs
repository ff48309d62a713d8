//! The whole account life through real SMTP and HTTP.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{PASSWORD, Tokens, code, spawn_app_with};

#[tokio::test]
async fn signup_confirm_login_refresh_reuse_relogin_logout() {
    let app = spawn_app_with(|c| c.tokens.reuse_grace = Duration::from_secs(1)).await;
    let email = "ann@example.com";

    // Sign-up answers without tokens and mails a confirmation link.
    let r = app.signup(email, PASSWORD).await;
    assert_eq!(
        r["data"]["signup"],
        json!({ "confirmationRequired": true, "auth": null }),
        "{r}"
    );
    let mail = app.mail.wait_for(email).await;
    assert_eq!(mail.subject(), "Confirm your email address");
    assert!(
        mail.html().contains(&mail.link().replace('&', "&amp;")),
        "the HTML part carries the link too"
    );
    assert!(mail.link().starts_with(&format!(
        "{}/confirm/",
        app.state.config.public_url.as_str().trim_end_matches('/')
    )));

    // Before confirmation, the right password still cannot log in.
    assert_eq!(code(&app.login(email, PASSWORD).await), Some("EMAIL_NOT_CONFIRMED"));

    // Opening the link (a GET, as mail scanners do) confirms nothing: it shows a button.
    let page = app.http.get(mail.link()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert_eq!(code(&app.login(email, PASSWORD).await), Some("EMAIL_NOT_CONFIRMED"));
    // Pressing it (a POST) confirms, and only once.
    let resp = app.http.post(mail.link()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("confirmed"));
    let again = app.http.post(mail.link()).send().await.unwrap();
    assert_eq!(again.status(), 400, "a confirmation link works once");

    // Login, then me.
    let r = app.login(email, PASSWORD).await;
    let auth = &r["data"]["login"]["auth"];
    assert_eq!(auth["tokenType"], "Bearer");
    assert_eq!(auth["expiresIn"], 1800);
    assert_eq!(r["data"]["login"]["mfaRequired"], false);
    let first = Tokens::from_auth(auth);
    let me = app.me(&first.access).await;
    assert_eq!(me["data"]["me"]["email"], email);
    assert_eq!(me["data"]["me"]["emailVerified"], true);
    assert_eq!(me["data"]["me"]["providers"], json!(["password"]));

    // Refresh rotates both tokens; the new access token works.
    let r = app.refresh(&first.refresh).await;
    let second = Tokens::from_auth(&r["data"]["refreshToken"]);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(app.me(&second.access).await["data"]["me"]["email"], email);

    // After the grace window, the spent token is theft: rejected, and its session revoked.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(code(&app.refresh(&first.refresh).await), Some("INVALID_TOKEN"));
    assert_eq!(
        code(&app.refresh(&second.refresh).await),
        Some("INVALID_TOKEN"),
        "the successor died with the session"
    );
    assert_eq!(
        code(&app.me(&second.access).await),
        Some("UNAUTHENTICATED"),
        "the session is revoked"
    );

    // A fresh login works; logout ends it and its access token is refused at once.
    let third = app.login_tokens(email, PASSWORD).await;
    assert_eq!(app.me(&third.access).await["data"]["me"]["email"], email);
    let r = app.gql_as(&third.access, "mutation { logout }", json!({})).await;
    assert_eq!(r["data"]["logout"], true, "{r}");
    assert_eq!(code(&app.me(&third.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&third.refresh).await), Some("INVALID_TOKEN"));

    // The account's history shows what happened.
    let fourth = app.login_tokens(email, PASSWORD).await;
    let kinds = app.event_kinds(&fourth.access).await;
    for kind in [
        "SIGNED_UP",
        "EMAIL_CONFIRMED",
        "LOGIN_SUCCEEDED",
        "REFRESH_TOKEN_REUSED",
        "LOGGED_OUT",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}
