//! Races: concurrent sign-ups of one email, concurrent refreshes of one token.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{PASSWORD, SIGNUP, Tokens, code, spawn_app_with, unlimited_mail_per_address};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_signups_of_one_email_create_one_account() {
    let app = spawn_app_with(unlimited_mail_per_address).await;
    let vars = json!({ "input": { "email": "race@example.com", "password": PASSWORD } });
    let answers = join_all((0..20).map(|_| app.gql(SIGNUP, vars.clone()))).await;
    for a in &answers {
        assert_eq!(
            a,
            &json!({ "data": { "signup": { "confirmationRequired": true, "auth": null } } })
        );
    }
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshes_of_one_token_share_one_successor() {
    let app = spawn_app_with(|c| c.tokens.reuse_grace = Duration::from_secs(2)).await;
    let first = app.user_with_tokens("tabs@example.com").await;

    let answers = join_all((0..20).map(|_| app.refresh(&first.refresh))).await;
    let successors: HashSet<String> = answers
        .iter()
        .map(|a| {
            a["data"]["refreshToken"]["refreshToken"]
                .as_str()
                .unwrap_or_else(|| panic!("refresh failed: {a}"))
                .to_owned()
        })
        .collect();
    assert_eq!(successors.len(), 1, "one and the same successor");
    let successor = successors.into_iter().next().unwrap();
    // No session was revoked: every access token works, and so does the successor.
    for a in &answers {
        let access = a["data"]["refreshToken"]["accessToken"].as_str().unwrap();
        assert_eq!(app.me(access).await["data"]["me"]["email"], "tabs@example.com");
    }
    let next = Tokens::from_auth(&app.refresh(&successor).await["data"]["refreshToken"]);

    // Once the grace is over, the first token is a thief's: the session ends.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(code(&app.refresh(&first.refresh).await), Some("INVALID_TOKEN"));
    assert_eq!(code(&app.me(&next.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&next.refresh).await), Some("INVALID_TOKEN"));
}

/// Requests for several accounts at once: the work each does after answering
/// collides in the database (InnoDB deadlocks on one_time_tokens), is run
/// again, and every mail goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resends_and_resets_all_mail() {
    let app = spawn_app_with(|_| {}).await;
    let emails: Vec<String> = (0..5).map(|i| format!("busy{i}@example.com")).collect();
    for email in &emails {
        app.signup(email, PASSWORD).await;
    }
    let requests = emails.iter().flat_map(|email| {
        [
            "mutation($e: String!) { resendConfirmation(email: $e) }",
            "mutation($e: String!) { forgotPassword(email: $e) }",
        ]
        .map(|query| app.gql(query, json!({ "e": email })))
    });
    for answer in join_all(requests).await {
        assert!(answer["errors"].is_null(), "{answer}");
    }
    for email in &emails {
        // The sign-up's confirmation, the resent one and the reset link.
        app.mail.wait_for_nth(email, 3).await;
    }
}
