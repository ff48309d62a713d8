//! Forgotten and changed passwords; one-time tokens are single use, expiring and bound to their purpose.

use authql::entities::one_time_tokens;
use sea_orm::EntityTrait;
use sea_orm::sea_query::Expr;
use serde_json::json;

use crate::helpers::{PASSWORD, code, spawn_app};

const FORGOT: &str = "mutation($e: String!) { forgotPassword(email: $e) }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) }";
const CONFIRM: &str = "mutation($t: String!) { confirmEmail(token: $t) }";
const NEW_PASSWORD: &str = "Another-Quite-Long-Passphrase-77";

#[tokio::test]
async fn forgot_and_reset_through_the_mailed_token_ends_every_session() {
    let app = spawn_app().await;
    let email = "bob@example.com";
    let tokens = app.user_with_tokens(email).await;
    let other = app.login_tokens(email, PASSWORD).await;

    assert_eq!(
        app.gql(FORGOT, json!({ "e": email })).await["data"]["forgotPassword"],
        true
    );
    let mail = app.mail.wait_for_nth(email, 2).await;
    assert_eq!(mail.subject(), "Reset your password");
    assert!(mail.link().contains("/reset-password?token="), "{}", mail.link());
    let token = mail.token();

    // A weak new password is refused and does not spend the token.
    let r = app.gql(RESET, json!({ "t": token, "p": "password1" })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    assert_eq!(r["errors"][0]["extensions"]["field"], "newPassword");

    let r = app.gql(RESET, json!({ "t": token, "p": NEW_PASSWORD })).await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");

    // Every session ended, at once.
    assert_eq!(code(&app.me(&tokens.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.me(&other.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&other.refresh).await), Some("INVALID_TOKEN"));
    // Old password out, new one in; the owner is told by mail.
    assert_eq!(code(&app.login(email, PASSWORD).await), Some("INVALID_CREDENTIALS"));
    assert!(app.login(email, NEW_PASSWORD).await["data"]["login"]["auth"]["accessToken"].is_string());
    assert_eq!(
        app.mail.wait_for_nth(email, 3).await.subject(),
        "Your password was changed"
    );

    // Single use.
    let r = app
        .gql(RESET, json!({ "t": token, "p": "Yet-Another-Passphrase-For-Bob-9" }))
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"));
}

#[tokio::test]
async fn tokens_are_bound_to_their_purpose() {
    let app = spawn_app().await;
    let email = "cat@example.com";
    app.signup(email, PASSWORD).await;
    let confirm_token = app.mail.wait_for(email).await.token();

    // A confirmation token never resets a password...
    assert_eq!(
        code(&app.gql(RESET, json!({ "t": confirm_token, "p": NEW_PASSWORD })).await),
        Some("INVALID_TOKEN")
    );
    // ...and still confirms afterwards.
    assert_eq!(
        app.gql(CONFIRM, json!({ "t": confirm_token })).await["data"]["confirmEmail"],
        true
    );

    app.gql(FORGOT, json!({ "e": email })).await;
    let reset_token = app.mail.wait_for_nth(email, 2).await.token();
    // A reset token never confirms an address, neither by mutation nor by link.
    assert_eq!(
        code(&app.gql(CONFIRM, json!({ "t": reset_token })).await),
        Some("INVALID_TOKEN")
    );
    let page = app
        .http
        .post(app.url(&format!("/confirm/{reset_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    // ...and still resets afterwards.
    assert_eq!(
        app.gql(RESET, json!({ "t": reset_token, "p": NEW_PASSWORD })).await["data"]["resetPassword"],
        true
    );
}

#[tokio::test]
async fn expired_and_unknown_tokens_are_refused() {
    let app = spawn_app().await;
    let email = "dan@example.com";
    app.confirmed_user(email).await;
    app.gql(FORGOT, json!({ "e": email })).await;
    let token = app.mail.wait_for_nth(email, 2).await.token();

    // Age every token past its expiry.
    one_time_tokens::Entity::update_many()
        .col_expr(
            one_time_tokens::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(app.state.db.writer())
        .await
        .unwrap();
    assert_eq!(
        code(&app.gql(RESET, json!({ "t": token, "p": NEW_PASSWORD })).await),
        Some("INVALID_TOKEN")
    );
    for garbage in ["", "x", &"A".repeat(43), &"z".repeat(10_000)] {
        assert_eq!(
            code(&app.gql(RESET, json!({ "t": garbage, "p": NEW_PASSWORD })).await),
            Some("INVALID_TOKEN"),
            "{garbage:.20}"
        );
        assert_eq!(
            code(&app.gql(CONFIRM, json!({ "t": garbage })).await),
            Some("INVALID_TOKEN")
        );
    }
    assert!(
        app.login(email, PASSWORD).await["data"]["login"]["auth"].is_object(),
        "the password is unchanged"
    );
}

#[tokio::test]
async fn change_password_ends_every_other_session() {
    let app = spawn_app().await;
    let email = "eve@example.com";
    let mine = app.user_with_tokens(email).await;
    let other = app.login_tokens(email, PASSWORD).await;
    let change =
        "mutation($c: String!, $n: String!) { changePassword(input: { currentPassword: $c, newPassword: $n }) }";

    let r = app
        .gql_as(
            &mine.access,
            change,
            json!({ "c": "Wrong-Password-Entirely-1", "n": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"));
    let r = app
        .gql_as(&mine.access, change, json!({ "c": PASSWORD, "n": NEW_PASSWORD }))
        .await;
    assert_eq!(r["data"]["changePassword"], true, "{r}");

    assert_eq!(
        app.me(&mine.access).await["data"]["me"]["email"],
        email,
        "the caller's session lives on"
    );
    assert_eq!(code(&app.me(&other.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&other.refresh).await), Some("INVALID_TOKEN"));
    assert!(app.login(email, NEW_PASSWORD).await["data"]["login"]["auth"].is_object());
    assert_eq!(
        app.mail.wait_for_nth(email, 2).await.subject(),
        "Your password was changed"
    );
}

#[tokio::test]
async fn confirmation_links_redirect_to_the_frontend_when_there_is_one() {
    let app =
        crate::helpers::spawn_app_with(|c| c.frontend_url = Some("https://app.example.com/base".parse().unwrap()))
            .await;
    app.signup("web@example.com", PASSWORD).await;
    let link = app.mail.wait_for("web@example.com").await.link();
    assert!(
        link.starts_with(app.state.config.public_url.as_str().trim_end_matches('/')),
        "the link itself is ours"
    );
    // Opening it goes to the web app, which calls confirmEmail: nothing is confirmed yet.
    let token = link.rsplit('/').next().unwrap();
    let resp = app.http.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("https://app.example.com/base/confirm-email?token={token}").as_str()
    );
    let resp = app.http.post(&link).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "https://app.example.com/base/email-confirmed"
    );
    let resp = app.http.post(&link).send().await.unwrap();
    assert_eq!(
        resp.headers()["location"],
        "https://app.example.com/base/email-confirmed?error=INVALID_TOKEN"
    );

    app.gql(FORGOT, json!({ "e": "web@example.com" })).await;
    let reset = app.mail.wait_for_nth("web@example.com", 2).await.link();
    assert!(
        reset.starts_with("https://app.example.com/base/reset-password?token="),
        "{reset}"
    );
}
