//! Account security: a mailbox alone is one factor, sensitive changes need
//! fresh proof, old proofs die when credentials change, owners hear of changes.

use base64::Engine;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, Tokens, code, spawn_app, spawn_app_with};
use crate::mfa::{LOGIN, code_in, enrolled, mfa_token, verify};

const FORGOT: &str = "mutation($e: String!) { forgotPassword(email: $e) }";
const RESET: &str = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) }";
const SEND_LOGIN_OTP: &str = "mutation($t: String!) { sendLoginOtp(mfaToken: $t) }";
const SETUP: &str = "mutation { setupMfa { secret } }";
const CHANGE: &str = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";

/// Changes the password of `access`'s account from PASSWORD.
async fn change_password(app: &TestApp, access: &str, new_password: &str) -> Value {
    app.gql_as(
        access,
        CHANGE,
        json!({ "i": { "currentPassword": PASSWORD, "newPassword": new_password } }),
    )
    .await
}

/// The claims of an access token, read without verifying (the JWKS tests verify).
fn claims(access: &str) -> Value {
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Makes every session of `email` look signed in an hour ago, as a token
/// stolen from an old session would be.
pub async fn age_sessions(app: &TestApp, email: &str) {
    use authql::entities::{sessions, users};
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(app.state.db.writer())
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    sessions::Entity::update_many()
        .col_expr(
            sessions::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(sessions::Column::UserId.eq(user.id))
        .exec(&*tx)
        .await
        .unwrap();
    app.state.sessions.evict_user_on_commit(&mut tx, user.id);
    tx.commit().await.unwrap();
}

/// Someone who reads the owner's inbox resets the password, then tries to
/// pass the second step by mail: the inbox must not count as both factors.
#[tokio::test]
async fn a_mailbox_alone_cannot_take_over_an_account_with_totp() {
    let app = spawn_app().await;
    let email = "victim@example.com";
    enrolled(&app, email).await;
    assert_eq!(
        app.gql(FORGOT, json!({ "e": email })).await["data"]["forgotPassword"],
        true
    );
    let reset_mail = app.mail.wait_for_nth(email, 3).await;
    assert_eq!(reset_mail.subject(), "Reset your password");
    let chosen = "Attacker-Chosen-Passphrase-77";
    let reset = app
        .gql(
            RESET,
            json!({ "i": { "token": reset_mail.token(), "newPassword": chosen } }),
        )
        .await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");

    let step = app
        .gql(
            "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { mfaRequired mfaToken mfaMethods } }",
            json!({ "e": email, "p": chosen }),
        )
        .await;
    let step = &step["data"]["login"];
    assert_eq!(step["mfaRequired"], true, "the reset left TOTP on: {step}");
    assert_eq!(
        step["mfaMethods"],
        json!(["TOTP", "RECOVERY_CODE"]),
        "no mailed code is offered"
    );
    let token = step["mfaToken"].as_str().unwrap();
    let sent = app.gql(SEND_LOGIN_OTP, json!({ "t": token })).await;
    assert_eq!(code(&sent), Some("BAD_USER_INPUT"), "no code is mailed: {sent}");
    assert_eq!(sent["errors"][0]["extensions"]["field"], "mfaToken");
    let mailed = "SELECT COUNT(*) AS n FROM one_time_tokens WHERE purpose = 'login_otp'";
    assert_eq!(app.scalar(mailed).await, 0);
    assert_eq!(
        code(&verify(&app, token, "123456", "EMAIL_OTP").await),
        Some("INVALID_CODE")
    );
}

#[tokio::test]
async fn amr_says_which_factors_were_used() {
    let app = spawn_app().await;
    let (_, totp, codes) = enrolled(&app, "amr@example.com").await;
    let by_totp = verify(&app, &mfa_token(&app, "amr@example.com").await, &totp.code(1), "TOTP").await;
    let access = by_totp["data"]["verifyMfa"]["accessToken"].as_str().unwrap();
    assert_eq!(claims(access)["amr"], json!(["pwd", "otp", "mfa"]));
    let by_recovery = verify(
        &app,
        &mfa_token(&app, "amr@example.com").await,
        &codes[0],
        "RECOVERY_CODE",
    )
    .await;
    let access = by_recovery["data"]["verifyMfa"]["accessToken"].as_str().unwrap();
    assert_eq!(
        claims(access)["amr"],
        json!(["pwd", "mfa"]),
        "a recovery code is no one-time password of a device"
    );
}

/// LOGIN_EMAIL_OTP=always: every password login of an account without TOTP
/// continues with a code mailed once the password was right.
#[tokio::test]
async fn a_mailed_code_after_every_password_when_configured() {
    let app = spawn_app_with(|c| c.mfa.login_email_otp = authql::config::LoginEmailOtp::Always).await;
    let email = "always@example.com";
    app.confirmed_user(email).await;
    let wrong = app
        .gql(
            LOGIN.replace(PASSWORD, "Wrong-Horse-Battery-Staple-42").as_str(),
            json!({ "e": email }),
        )
        .await;
    assert_eq!(code(&wrong), Some("INVALID_CREDENTIALS"));
    let mailed = "SELECT COUNT(*) AS n FROM one_time_tokens WHERE purpose = 'login_otp'";
    assert_eq!(
        app.scalar(mailed).await,
        0,
        "nothing is mailed before the password is right"
    );

    let step = app.gql(LOGIN, json!({ "e": email })).await;
    assert_eq!(step["data"]["login"]["mfaMethods"], json!(["EMAIL_OTP"]), "{step}");
    let token = step["data"]["login"]["mfaToken"].as_str().unwrap();
    let mail = app.mail.wait_for_nth(email, 2).await;
    assert_eq!(mail.subject(), "Your sign-in code");
    let otp = code_in(&mail);
    assert_eq!(code(&verify(&app, token, &otp, "TOTP").await), Some("INVALID_CODE"));
    let done = verify(&app, token, &otp, "EMAIL_OTP").await;
    let access = done["data"]["verifyMfa"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{done}"));
    assert_eq!(
        claims(access)["amr"],
        json!(["pwd", "mfa"]),
        "a mailed code is not `otp`"
    );
}

/// An access token stolen from an old session cannot enrol the thief's authenticator.
#[tokio::test]
async fn sensitive_changes_need_a_recent_proof() {
    let app = spawn_app().await;
    let email = "stale@example.com";
    let me = app.user_with_tokens(email).await;
    let other = app.login_tokens(email, PASSWORD).await;
    age_sessions(&app, email).await;

    assert_eq!(
        code(&app.gql_as(&me.access, SETUP, json!({})).await),
        Some("STEP_UP_REQUIRED")
    );
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
    let sessions = app.gql_as(&me.access, "{ sessions { id current } }", json!({})).await;
    let other_id = sessions["data"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .clone();
    assert_eq!(
        code(&app.gql_as(&me.access, revoke, json!({ "id": other_id })).await),
        Some("STEP_UP_REQUIRED")
    );
    // The password given with the call is proof enough.
    let changed = change_password(&app, &me.access, "Another-Strong-Passphrase-19").await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");

    // A mailed step-up code proves it again.
    assert_eq!(
        app.gql_as(&me.access, "mutation { sendOtp }", json!({})).await["data"]["sendOtp"],
        true
    );
    let mail = app.mail.wait_for_nth(email, 3).await;
    assert_eq!(mail.subject(), "Your verification code");
    let verified = app
        .gql_as(
            &me.access,
            "mutation($c: String!) { verifyOtp(code: $c) }",
            json!({ "c": code_in(&mail) }),
        )
        .await;
    assert_eq!(verified["data"]["verifyOtp"], true, "{verified}");
    let setup = app.gql_as(&me.access, SETUP, json!({})).await;
    assert!(setup["data"]["setupMfa"]["secret"].is_string(), "{setup}");
    drop(other);
}

#[tokio::test]
async fn the_owners_panic_button_never_needs_proof() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("panic@example.com").await;
    age_sessions(&app, "panic@example.com").await;
    let r = app.gql_as(&me.access, "mutation { logoutAll }", json!({})).await;
    assert_eq!(r["data"]["logoutAll"], 1, "{r}");
}

#[tokio::test]
async fn accounts_with_totp_step_up_with_the_app_never_by_mail() {
    let app = spawn_app().await;
    let email = "app-step@example.com";
    let (_, totp, codes) = enrolled(&app, email).await;
    let fresh = verify(&app, &mfa_token(&app, email).await, &codes[0], "RECOVERY_CODE").await;
    let me = Tokens::from_auth(&fresh["data"]["verifyMfa"]);
    age_sessions(&app, email).await;
    assert_eq!(
        code(&app.gql_as(&me.access, "mutation { sendOtp }", json!({})).await),
        Some("FORBIDDEN")
    );
    let step_up = "mutation($c: String!) { verifyStepUp(code: $c) }";
    assert_eq!(
        code(&app.gql_as(&me.access, step_up, json!({ "c": "000000" })).await),
        Some("INVALID_CODE")
    );
    let r = app.gql_as(&me.access, step_up, json!({ "c": totp.code(1) })).await;
    assert_eq!(r["data"]["verifyStepUp"], true, "{r}");
}

/// After a credential change nothing mailed or started before it works.
#[tokio::test]
async fn an_old_reset_link_and_a_half_finished_login_die_with_a_password_change() {
    let app = spawn_app().await;
    let email = "changes@example.com";
    let me = app.user_with_tokens(email).await;
    app.gql(FORGOT, json!({ "e": email })).await;
    let old_link = app.mail.wait_for_nth(email, 2).await.token();
    let changed = change_password(&app, &me.access, "Another-Strong-Passphrase-19").await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let r = app
        .gql(
            RESET,
            json!({ "i": { "token": old_link, "newPassword": "Attacker-Chosen-Passphrase-77" } }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"));

    let totp_user = "half@example.com";
    let (_, totp, _) = enrolled(&app, totp_user).await;
    let half_way = mfa_token(&app, totp_user).await;
    app.gql(FORGOT, json!({ "e": totp_user })).await;
    let link = app.mail.wait_for_nth(totp_user, 3).await.token();
    let reset = app
        .gql(
            RESET,
            json!({ "i": { "token": link, "newPassword": "Owner-Picks-A-New-One-55" } }),
        )
        .await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
    assert_eq!(
        code(&verify(&app, &half_way, &totp.code(1), "TOTP").await),
        Some("INVALID_TOKEN")
    );
}

/// Every change to the second factor is mailed to the owner, with no secret in it.
#[tokio::test]
async fn owners_hear_of_every_change_to_their_second_factor() {
    let app = spawn_app().await;
    let email = "notices@example.com";
    let (me, _totp, codes) = enrolled(&app, email).await;
    let on = app.mail.wait_for_nth(email, 2).await;
    assert_eq!(on.subject(), "Two-step verification is on");

    let login = verify(&app, &mfa_token(&app, email).await, &codes[0], "RECOVERY_CODE").await;
    assert!(login["data"]["verifyMfa"].is_object(), "{login}");
    let used = app.mail.wait_for_nth(email, 3).await;
    assert_eq!(used.subject(), "A recovery code was used");
    assert!(used.text().contains("9 unused codes remain"), "{}", used.text());

    let regen = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) { codes } }";
    let fresh = app.gql_as(&me.access, regen, json!({ "c": codes[1] })).await;
    let fresh: Vec<String> = fresh["data"]["regenerateRecoveryCodes"]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    app.mail.wait_for_nth(email, 5).await;
    let disable = "mutation($c: String!) { disableMfa(code: $c) }";
    assert_eq!(
        app.gql_as(&me.access, disable, json!({ "c": fresh[0] })).await["data"]["disableMfa"],
        true
    );
    app.mail.wait_for_nth(email, 7).await;

    let mut subjects: Vec<String> = app.mail.to(email).iter().map(|m| m.subject()).collect();
    subjects.sort();
    for expected in ["New recovery codes", "Two-step verification is off"] {
        assert!(subjects.iter().any(|s| s == expected), "{expected} in {subjects:?}");
    }
    let secrets: Vec<&String> = codes.iter().chain(fresh.iter()).collect();
    for mail in app
        .mail
        .to(email)
        .iter()
        .filter(|m| m.subject() != "Confirm your email address")
    {
        let body = mail.text() + &mail.html();
        assert!(!body.contains("http"), "a notice carries no link: {body}");
        for secret in &secrets {
            assert!(!body.contains(secret.as_str()), "a notice carries no code");
        }
    }
}

/// Someone signs up first with another person's address and a password of
/// their own, hoping the owner (or the owner's mail scanner) confirms it.
#[tokio::test]
async fn a_squatters_password_never_signs_in_once_the_owner_confirms() {
    let app = spawn_app().await;
    let email = "owner@example.com";
    let squatters = "Squatter-Chosen-Passphrase-31";
    app.signup(email, squatters).await;
    let squatters_link = app.mail.wait_for_nth(email, 1).await.link();
    // A mail scanner opens the link: nothing is confirmed.
    let scanned = app.http.get(&squatters_link).send().await.unwrap();
    assert_eq!(scanned.status(), 200);
    assert_eq!(code(&app.login(email, squatters).await), Some("EMAIL_NOT_CONFIRMED"));

    // The owner signs up with their own password and confirms their own link.
    let r = app.signup(email, PASSWORD).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
    let owners_link = app.mail.wait_for_nth(email, 2).await.link();
    assert_ne!(owners_link, squatters_link);
    let stale = app.http.post(&squatters_link).send().await.unwrap();
    assert_eq!(stale.status(), 400, "a later sign-up replaced the squatter's");
    app.press_confirm(&owners_link).await;

    assert_eq!(code(&app.login(email, squatters).await), Some("INVALID_CREDENTIALS"));
    let owner = app.login(email, PASSWORD).await;
    assert!(owner["data"]["login"]["auth"]["accessToken"].is_string(), "{owner}");
    // Once confirmed, a sign-up no longer touches the account: its owner is told instead.
    app.signup(email, squatters).await;
    assert_eq!(
        app.mail.wait_for_nth(email, 3).await.subject(),
        "You already have an account"
    );
    assert_eq!(code(&app.login(email, squatters).await), Some("INVALID_CREDENTIALS"));
}

async fn user_id(app: &TestApp, email: &str) -> uuid::Uuid {
    use authql::entities::users;
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(app.state.db.writer())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Six digits repeat: a new code equal to one kept from earlier is stored, not an internal error.
#[tokio::test]
async fn a_new_code_equal_to_a_spent_one_is_stored() {
    use authql::tokens::codes;
    use authql::tokens::one_time::{self, Purpose};
    let app = spawn_app().await;
    app.confirmed_user("digits@example.com").await;
    let id = user_id(&app, "digits@example.com").await;
    for _ in 0..2 {
        let tx = app.state.db.begin().await.unwrap();
        // As mailing a code does: only the newest code of a purpose is live.
        one_time::invalidate_all(&*tx, id, Purpose::StepUpOtp).await.unwrap();
        one_time::invalidate_all(&*tx, id, Purpose::LoginOtp).await.unwrap();
        codes::store(&*tx, &app.state.crypto, id, Purpose::StepUpOtp, "123456")
            .await
            .expect("stored again");
        codes::store(&*tx, &app.state.crypto, id, Purpose::LoginOtp, "123456")
            .await
            .expect("the same digits for another purpose");
        tx.commit().await.unwrap();
    }
    assert!(
        codes::spend(
            app.state.db.writer(),
            &app.state.crypto,
            id,
            Purpose::StepUpOtp,
            "123456"
        )
        .await
        .unwrap()
    );
    assert!(
        !codes::spend(
            app.state.db.writer(),
            &app.state.crypto,
            id,
            Purpose::StepUpOtp,
            "123456"
        )
        .await
        .unwrap(),
        "once"
    );
}

/// Spent codes leave the database a day later, not when they would have expired.
#[tokio::test]
async fn spent_recovery_codes_are_purged_after_a_day() {
    use authql::entities::one_time_tokens;
    use authql::tokens::one_time;
    let app = spawn_app().await;
    let (_, _, codes) = enrolled(&app, "purge@example.com").await;
    let login = verify(
        &app,
        &mfa_token(&app, "purge@example.com").await,
        &codes[0],
        "RECOVERY_CODE",
    )
    .await;
    assert!(login["data"]["verifyMfa"].is_object(), "{login}");
    let recovery = "SELECT COUNT(*) AS n FROM one_time_tokens WHERE purpose = 'recovery_code'";
    assert_eq!(app.scalar(recovery).await, 10);
    one_time_tokens::Entity::update_many()
        .col_expr(
            one_time_tokens::Column::UsedAt,
            Expr::value(Utc::now() - chrono::Duration::days(2)),
        )
        .filter(one_time_tokens::Column::UsedAt.is_not_null())
        .exec(app.state.db.writer())
        .await
        .unwrap();
    one_time::purge_expired(&app.state.db).await.unwrap();
    assert_eq!(
        app.scalar(recovery).await,
        9,
        "the spent one is gone, the nine unused stay"
    );
}

/// Logs `email` in with `user_agent`; returns the GraphQL answer.
async fn login_from(app: &TestApp, email: &str, user_agent: &str) -> Value {
    let body =
        json!({ "query": crate::helpers::LOGIN, "variables": { "input": { "email": email, "password": PASSWORD } } });
    app.post_with(&[("user-agent", user_agent)], &body).await
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_is_reported_once() {
    let app = spawn_app().await;
    let email = "devices@example.com";
    app.confirmed_user(email).await;
    let new_sign_in = "SELECT COUNT(*) AS n FROM mail_outbox WHERE subject = 'New sign-in to your account'";
    assert!(login_from(&app, email, "Phone/1.0").await["data"]["login"]["auth"].is_object());
    assert_eq!(
        app.scalar(new_sign_in).await,
        0,
        "the first sign-in of an account is no news"
    );
    login_from(&app, email, "Phone/1.0").await;
    assert_eq!(app.scalar(new_sign_in).await, 0, "a device seen before");
    login_from(&app, email, "Laptop/2.0 (stranger)").await;
    let notice = app.mail.wait_for_nth(email, 2).await;
    assert_eq!(notice.subject(), "New sign-in to your account");
    assert!(notice.text().contains("Laptop/2.0 (stranger)"), "{}", notice.text());
    login_from(&app, email, "Laptop/2.0 (stranger)").await;
    assert_eq!(app.scalar(new_sign_in).await, 1, "once per device");

    let quiet = spawn_app_with(|c| c.new_device_notices = false).await;
    quiet.confirmed_user(email).await;
    login_from(&quiet, email, "Phone/1.0").await;
    login_from(&quiet, email, "Laptop/2.0").await;
    assert_eq!(quiet.scalar(new_sign_in).await, 0, "NEW_DEVICE_NOTICES=false");
}

const CHANGE_EMAIL: &str = "mutation($e: String!, $p: String) { changeEmail(newEmail: $e, password: $p) }";

#[tokio::test]
async fn an_email_change_happens_when_the_new_address_confirms_and_the_old_one_can_undo_it() {
    let app = spawn_app().await;
    let (old, new) = ("mover@example.com", "moved@example.com");
    let me = app.user_with_tokens(old).await;
    app.gql(FORGOT, json!({ "e": old })).await;
    let old_reset = app.mail.wait_for_nth(old, 2).await.token();

    let r = app.gql_as(&me.access, CHANGE_EMAIL, json!({ "e": new })).await;
    assert_eq!(r["data"]["changeEmail"], true, "a fresh session needs no password: {r}");
    let confirm = app.mail.wait_for(new).await;
    assert_eq!(confirm.subject(), "Confirm your new email address");
    // Nothing changes until the new address confirms.
    assert!(app.login(old, PASSWORD).await["data"]["login"]["auth"].is_object());
    app.press_confirm(&confirm.link()).await;
    assert_eq!(code(&app.login(old, PASSWORD).await), Some("INVALID_CREDENTIALS"));
    assert!(app.login(new, PASSWORD).await["data"]["login"]["auth"].is_object());
    // Proofs mailed before the change died with it.
    let r = app
        .gql(
            RESET,
            json!({ "i": { "token": old_reset, "newPassword": "Attacker-Chosen-Passphrase-77" } }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"));

    // The old address hears of it and can undo it, which ends every session.
    let notice = app.mail.wait_for_nth(old, 3).await;
    assert_eq!(notice.subject(), "Your email address was changed");
    assert!(notice.text().contains(new));
    app.press_confirm(&notice.link()).await;
    assert!(app.login(old, PASSWORD).await["data"]["login"]["auth"].is_object());
    assert_eq!(code(&app.login(new, PASSWORD).await), Some("INVALID_CREDENTIALS"));
    assert_eq!(code(&app.me(&me.access).await), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn an_email_change_needs_proof_and_never_reveals_a_taken_address() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("asker@example.com").await;
    app.confirmed_user("taken@example.com").await;
    age_sessions(&app, "asker@example.com").await;
    let r = app
        .gql_as(&me.access, CHANGE_EMAIL, json!({ "e": "free@example.com" }))
        .await;
    assert_eq!(code(&r), Some("STEP_UP_REQUIRED"));
    let r = app
        .gql_as(
            &me.access,
            CHANGE_EMAIL,
            json!({ "e": "free@example.com", "p": "Wrong-Horse-Battery-Staple-42" }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"));

    let free = app
        .gql_as(
            &me.access,
            CHANGE_EMAIL,
            json!({ "e": "free@example.com", "p": PASSWORD }),
        )
        .await;
    let taken = app
        .gql_as(
            &me.access,
            CHANGE_EMAIL,
            json!({ "e": "taken@example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(free, taken, "the same answer for a free and a taken address");
    let warned = app.mail.wait_for_nth("taken@example.com", 2).await;
    assert_eq!(warned.subject(), "Someone tried to use your email address");
    assert!(!warned.text().contains("http"), "no link to take the address with");
    let r = app
        .gql_as(
            &me.access,
            CHANGE_EMAIL,
            json!({ "e": "Asker@Example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "newEmail", "{r}");
}

/// An owner who lost both the authenticator and the recovery codes is helped by an operator.
#[tokio::test]
async fn an_operator_resets_mfa_for_an_owner_who_lost_both_factors() {
    let app = spawn_app().await;
    let email = "lost-both@example.com";
    let (me, _, _) = enrolled(&app, email).await;
    let id = user_id(&app, email).await;
    assert!(app.state.mfa.reset_by_operator(id).await.unwrap());
    assert_eq!(
        code(&app.me(&me.access).await),
        Some("UNAUTHENTICATED"),
        "every session ended"
    );
    let login = app.login(email, PASSWORD).await;
    assert_eq!(login["data"]["login"]["mfaRequired"], false, "{login}");
    let access = login["data"]["login"]["auth"]["accessToken"].as_str().unwrap();
    let events = app.gql_as(access, "{ securityEvents { kind } }", json!({})).await;
    assert!(events.to_string().contains("MFA_RESET_BY_OPERATOR"), "{events}");
    let notice = app.mail.wait_for_nth(email, 3).await;
    assert_eq!(notice.subject(), "Two-step verification was reset");
    assert!(
        !app.state.mfa.reset_by_operator(id).await.unwrap(),
        "nothing to reset twice"
    );
}

/// Whoever changed the address signs up with the freed old one, hoping to block the undo.
#[tokio::test]
async fn a_sign_up_with_the_freed_address_cannot_block_the_undo() {
    let app = spawn_app().await;
    let (old, new) = ("blocked@example.com", "thief@example.com");
    let me = app.user_with_tokens(old).await;
    let r = app.gql_as(&me.access, CHANGE_EMAIL, json!({ "e": new })).await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    app.press_confirm(&app.mail.wait_for(new).await.link()).await;
    let undo = app.mail.wait_for_nth(old, 2).await.link();
    app.signup(old, "Squatter-Chosen-Passphrase-31").await;
    app.press_confirm(&undo).await;
    assert!(app.login(old, PASSWORD).await["data"]["login"]["auth"].is_object());
    assert_eq!(
        code(&app.login(old, "Squatter-Chosen-Passphrase-31").await),
        Some("INVALID_CREDENTIALS")
    );
}
