//! Nothing tells whether an email is registered.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SIGNUP, spawn_app, spawn_app_with, unlimited_mail_per_address};

async fn answer(app: &crate::helpers::TestApp, query: &str, vars: Value) -> (u16, Value) {
    let (status, body) = app
        .post_raw(json!({ "query": query, "variables": vars }).to_string(), None)
        .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn signup_resend_and_forgot_answer_alike_for_known_and_unknown_emails() {
    // The known addresses' earlier sign-ups spent some of their mail
    // allowance (by address, registered or not); that is not what this compares.
    let app = spawn_app_with(unlimited_mail_per_address).await;
    let known = "known@example.com";
    app.confirmed_user(known).await;
    let unconfirmed = "pending@example.com";
    app.signup(unconfirmed, PASSWORD).await;
    let unknown = "nobody@example.com";

    let signup_vars = |e: &str| json!({ "input": { "email": e, "password": "Some-Other-Strong-Passphrase-3" } });
    let email_var = |e: &str| json!({ "e": e });
    type Vars<'a> = &'a dyn Fn(&str) -> Value;
    let cases: [(&str, Vars); 3] = [
        (SIGNUP, &signup_vars),
        ("mutation($e: String!) { resendConfirmation(email: $e) }", &email_var),
        ("mutation($e: String!) { forgotPassword(email: $e) }", &email_var),
    ];
    for (query, vars) in cases {
        let for_known = answer(&app, query, vars(known)).await;
        let for_unconfirmed = answer(&app, query, vars(unconfirmed)).await;
        let for_unknown = answer(&app, query, vars(unknown)).await;
        assert_eq!(for_known, for_unknown, "{query}");
        assert_eq!(for_unconfirmed, for_unknown, "{query}");
        assert!(for_known.1.get("errors").is_none(), "{query}: {}", for_known.1);
    }
    // The owners, not the caller, hear about it.
    app.mail.wait_for_nth(known, 3).await;
    // resendConfirmation and forgotPassword work after answering, so their mails may come in either order.
    let subjects = |to| {
        let mut s = app.mail.to(to).iter().map(|m| m.subject()).collect::<Vec<_>>();
        s.sort();
        s
    };
    assert_eq!(
        subjects(known),
        [
            "Confirm your email address",
            "Reset your password",
            "You already have an account"
        ]
    );
    app.mail.wait_for_nth(unconfirmed, 4).await;
    // The second sign-up started the unconfirmed one over, with a new link; resend sent another.
    assert_eq!(
        subjects(unconfirmed),
        [
            "Confirm your email address",
            "Confirm your email address",
            "Confirm your email address",
            "Reset your password"
        ]
    );
}

#[tokio::test]
async fn login_fails_the_same_way_for_unknown_emails_and_wrong_passwords() {
    let app = spawn_app().await;
    app.confirmed_user("known@example.com").await;
    let wrong_password = app.login("known@example.com", "Not-The-Password-At-All-9").await;
    let unknown = app.login("unknown@example.com", "Not-The-Password-At-All-9").await;
    // Each request has its own id, which says nothing about the account.
    let without_id = |mut v: Value| {
        v["errors"][0]["extensions"]
            .as_object_mut()
            .unwrap()
            .remove("requestId");
        v
    };
    assert_eq!(without_id(wrong_password), without_id(unknown.clone()));
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn with_confirmation_off_a_taken_email_is_reported() {
    let app = spawn_app_with(|c| c.require_email_confirmation = false).await;
    let r = app.signup("fay@example.com", PASSWORD).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], false);
    let access = r["data"]["signup"]["auth"]["accessToken"]
        .as_str()
        .expect("signed in at once");
    assert_eq!(app.me(access).await["data"]["me"]["emailVerified"], false);
    let again = app.signup("fay@example.com", PASSWORD).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "EMAIL_TAKEN");
}

/// A sign-up for an address whose account is still unconfirmed replaces the
/// pending password (the newest sign-up wins, so a squatter cannot hold an
/// address). Whoever reads the mailbox must be able to tell a sign-up they
/// did not make: the mail says the earlier one was replaced, from where the
/// new one came, and not to confirm it unless it was theirs.
#[tokio::test]
async fn a_repeated_sign_up_is_mailed_as_one_that_replaced_an_earlier_one() {
    let app = spawn_app().await;
    let to = "pending@example.com";
    app.signup(to, PASSWORD).await;
    let first = app.mail.wait_for_nth(to, 1).await;
    assert!(!first.text().contains("replaces"), "{}", first.text());
    let again = json!({ "input": { "email": to, "password": "Some-Other-Strong-Passphrase-3" } });
    let r = app
        .post_with(
            &[("user-agent", "Stranger-Browser/1.0")],
            &json!({ "query": SIGNUP, "variables": again }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let second = app.mail.wait_for_nth(to, 2).await;
    let text = second.text();
    assert_eq!(second.subject(), "Confirm your email address");
    assert!(text.contains("replaces an earlier sign-up"), "{text}");
    assert!(text.contains("Stranger-Browser/1.0"), "{text}");
    assert!(text.contains("If you did not just sign up"), "{text}");
}
