//! A sign-in in flight when the account's credentials change: the password
//! (or provider) was checked against the account as it was, so the session
//! or second step it would open is refused once the security stamp moved on.
//! These call the services with the account as a sign-in read it before the
//! change, which is what a sign-in racing a reset holds when it opens.

use authql::client::ClientInfo;
use authql::entities::users;
use authql::error::AppError;
use authql::sessions::SignInMethod;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::mfa::enrolled;

const CHANGE: &str = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";

async fn as_read_now(app: &TestApp, email: &str) -> users::Model {
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(app.state.db.writer())
        .await
        .unwrap()
        .unwrap()
}

async fn change_password(app: &TestApp, access: &str) {
    let r = app
        .gql_as(
            access,
            CHANGE,
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "Another-Horse-Battery-Staple-43" } }),
        )
        .await;
    assert_eq!(r["data"]["changePassword"], true, "{r}");
}

#[tokio::test]
async fn a_sign_in_checked_before_a_password_change_opens_no_session() {
    let app = spawn_app().await;
    let owner = app.user_with_tokens("race@example.com").await;
    let checked = as_read_now(&app, "race@example.com").await;
    change_password(&app, &owner.access).await;

    let client = ClientInfo::default();
    let opened = app
        .state
        .sessions
        .start(checked.clone(), &client, SignInMethod::Password)
        .await;
    assert!(
        matches!(opened, Err(AppError::InvalidCredentials)),
        "{:?}",
        opened.map(|b| b.user.id)
    );
    // Read after the change, the same account signs in.
    let fresh = as_read_now(&app, "race@example.com").await;
    assert!(
        app.state
            .sessions
            .start(fresh, &client, SignInMethod::Password)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_second_step_opened_for_a_password_checked_before_a_change_is_refused() {
    let app = spawn_app().await;
    let (owner, _authenticator, _codes) = enrolled(&app, "race2@example.com").await;
    let checked = as_read_now(&app, "race2@example.com").await;
    change_password(&app, &owner.access).await;

    let client = ClientInfo::default();
    let step = app.state.mfa.second_step(&checked, None, &client).await;
    assert!(
        matches!(step, Err(AppError::InvalidCredentials)),
        "{:?}",
        step.map(|s| s.is_some())
    );
}

#[tokio::test]
async fn a_login_code_issued_for_an_account_read_before_a_change_is_refused() {
    // A provider sign-in that found the account, then lost the race to an
    // unlink or a reset, must not hand the browser a code for it.
    let app = spawn_app().await;
    let owner = app.user_with_tokens("race3@example.com").await;
    let checked = as_read_now(&app, "race3@example.com").await;
    change_password(&app, &owner.access).await;

    let code = app.state.oauth.issue_login_code(&checked, "google", None).await;
    assert!(matches!(code, Err(AppError::InvalidCredentials)), "{:?}", code.is_ok());
    assert_eq!(app.count("one_time_tokens WHERE purpose = 'login_code'").await, 0);

    let fresh = as_read_now(&app, "race3@example.com").await;
    assert!(app.state.oauth.issue_login_code(&fresh, "google", None).await.is_ok());
}
