//! Managing sessions and accounts: listing, revoking, idleness, usernames, deletion.

use std::time::Duration;

use authql::entities::users;
use sea_orm::EntityTrait;
use sea_orm::sea_query::Expr;
use serde_json::json;

use crate::helpers::{ME, PASSWORD, SIGNUP, code, spawn_app, spawn_app_with};

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_by_one_or_all_at_once() {
    let app = spawn_app().await;
    let email = "kim@example.com";
    let a = app.user_with_tokens(email).await;
    let b = app.login_tokens(email, PASSWORD).await;
    let c = app.login_tokens(email, PASSWORD).await;

    let list = app
        .gql_as(&a.access, "{ sessions { id current ip userAgent } }", json!({}))
        .await;
    let sessions = list["data"]["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3, "{list}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["ip"], "127.0.0.1");

    let b_id = app.gql_as(&b.access, "{ sessions { id current } }", json!({})).await["data"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .clone();
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
    assert_eq!(
        app.gql_as(&a.access, revoke, json!({ "id": b_id })).await["data"]["revokeSession"],
        true
    );
    assert_eq!(code(&app.me(&b.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(
        app.gql_as(&a.access, revoke, json!({ "id": b_id })).await["data"]["revokeSession"],
        false,
        "already ended"
    );
    assert_eq!(
        app.gql_as(&a.access, revoke, json!({ "id": "not-a-uuid" })).await["data"]["revokeSession"],
        false
    );

    // Someone else's session cannot be revoked.
    let other = app.user_with_tokens("lee@example.com").await;
    let other_id =
        app.gql_as(&other.access, "{ sessions { id } }", json!({})).await["data"]["sessions"][0]["id"].clone();
    assert_eq!(
        app.gql_as(&a.access, revoke, json!({ "id": other_id })).await["data"]["revokeSession"],
        false
    );
    assert_eq!(app.me(&other.access).await["data"]["me"]["email"], "lee@example.com");

    assert_eq!(
        app.gql_as(&a.access, "mutation { logoutAll }", json!({})).await["data"]["logoutAll"],
        2
    );
    assert_eq!(code(&app.me(&a.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.me(&c.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(
        code(&app.gql(ME, json!({})).await),
        Some("UNAUTHENTICATED"),
        "no token at all"
    );
}

#[tokio::test]
async fn idle_sessions_end_and_activity_keeps_them_alive() {
    let app = spawn_app_with(|c| c.tokens.idle_timeout = Duration::from_millis(1500)).await;
    let active = app.user_with_tokens("idle@example.com").await;
    let idle = app.login_tokens("idle@example.com", PASSWORD).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(app.me(&active.access).await["data"]["me"]["email"], "idle@example.com");
    }
    assert_eq!(code(&app.me(&idle.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&idle.refresh).await), Some("INVALID_TOKEN"));
}

#[tokio::test]
async fn usernames_and_phones_are_unique_handles_and_log_in() {
    let app = spawn_app().await;
    let input = json!({ "input": { "email": "max@example.com", "password": PASSWORD, "username": "Max_1", "phoneNumber": "+1 415 555 2671", "displayName": " Max " } });
    assert_eq!(
        app.gql(SIGNUP, input).await["data"]["signup"]["confirmationRequired"],
        true
    );
    let link = app.mail.wait_for("max@example.com").await.link();
    app.press_confirm(&link).await;

    for (field, value) in [("username", "max_1"), ("phoneNumber", "+14155552671")] {
        let mut input = json!({ "email": "other@example.com", "password": PASSWORD });
        input[field] = json!(value);
        let r = app.gql(SIGNUP, json!({ "input": input })).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("users").await, 1, "nothing half-written");

    let login = "mutation($u: String!) { login(input: { username: $u, password: \"Correct-Horse-Battery-Staple-42\" }) { auth { accessToken } } }";
    let r = app.gql(login, json!({ "u": "MAX_1" })).await;
    let access = r["data"]["login"]["auth"]["accessToken"]
        .as_str()
        .expect("login by username")
        .to_owned();
    let me = app
        .gql_as(&access, "{ me { username phoneNumber displayName } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "username": "max_1", "phoneNumber": "+14155552671", "displayName": "Max" })
    );

    let both = "mutation { login(input: { email: \"max@example.com\", username: \"max_1\", password: \"x\" }) { mfaRequired } }";
    assert_eq!(
        app.gql(both, json!({})).await["errors"][0]["extensions"]["field"],
        "email"
    );
    let neither = "mutation { login(input: { password: \"x\" }) { mfaRequired } }";
    assert_eq!(code(&app.gql(neither, json!({})).await), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn disabled_accounts_cannot_log_in_and_lose_their_sessions() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("off@example.com").await;
    users::Entity::update_many()
        .col_expr(users::Column::Active, Expr::value(false))
        .exec(app.state.db.writer())
        .await
        .unwrap();
    // Changed behind this instance's back (as another instance or an operator
    // would): seen once the one-second session cache lapses.
    tokio::time::sleep(authql::sessions::cache::TTL + Duration::from_millis(100)).await;
    assert_eq!(code(&app.me(&tokens.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.login("off@example.com", PASSWORD).await), Some("FORBIDDEN"));
    assert_eq!(
        code(&app.login("off@example.com", "Wrong-Password-For-Off-1").await),
        Some("INVALID_CREDENTIALS"),
        "no hint without the password"
    );
}

#[tokio::test]
async fn deleting_an_account_takes_everything_with_it() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("del@example.com").await;
    let delete = "mutation($p: String!) { deleteAccount(password: $p) }";
    assert_eq!(
        code(
            &app.gql_as(&tokens.access, delete, json!({ "p": "Not-My-Password-Really-1" }))
                .await
        ),
        Some("INVALID_CREDENTIALS")
    );
    assert_eq!(
        app.gql_as(&tokens.access, delete, json!({ "p": PASSWORD })).await["data"]["deleteAccount"],
        true
    );
    assert_eq!(code(&app.me(&tokens.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&tokens.refresh).await), Some("INVALID_TOKEN"));
    assert_eq!(
        code(&app.login("del@example.com", PASSWORD).await),
        Some("INVALID_CREDENTIALS")
    );
    for table in [
        "users",
        "sessions",
        "refresh_tokens",
        "one_time_tokens",
        "security_events",
    ] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn sessions_end_at_their_maximum_lifetime_however_active() {
    let app = spawn_app_with(|c| c.tokens.max_lifetime = Duration::from_secs(2)).await;
    let first = app.user_with_tokens("max@example.com").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = crate::helpers::Tokens::from_auth(&app.refresh(&first.refresh).await["data"]["refreshToken"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        code(&app.refresh(&second.refresh).await),
        Some("INVALID_TOKEN"),
        "past the lifetime"
    );
    assert_eq!(code(&app.me(&second.access).await), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn bearer_is_case_insensitive() {
    let app = spawn_app().await;
    let tokens = app.user_with_tokens("case@example.com").await;
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("bearer {}", tokens.access))
        .body(json!({ "query": ME }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["data"]["me"]["email"],
        "case@example.com"
    );
}
