//! Attacks on passkey ceremonies: each is refused with nothing written (no
//! passkey, no session, no counter moved).

use serde_json::json;

use crate::helpers::{TestApp, code};
use crate::passkey_device::Device;
use crate::passkeys::{
    FINISH_REGISTRATION, FINISH_SIGN_IN, START_SIGN_IN, add_passkey, passkey_app, sign_in, start_registration,
    start_sign_in,
};

/// What a refused attempt must leave as it was.
async fn written(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("passkeys").await,
        app.count("sessions").await,
        app.scalar("SELECT COALESCE(MAX(sign_count), 0) AS n FROM passkeys")
            .await,
    )
}

/// Ann, signed in, with a passkey on `device`.
async fn ann_with_passkey(app: &TestApp, device: &mut Device) -> String {
    let tokens = app.user_with_tokens("ann@example.com").await;
    let r = add_passkey(app, &tokens.access, device).await;
    assert!(r["errors"].is_null(), "{r}");
    tokens.access
}

#[tokio::test]
async fn a_ceremony_is_used_once() {
    let app = passkey_app().await;
    let mut device = Device::with_counter();
    let access = ann_with_passkey(&app, &mut device).await;
    let (id, options) = start_sign_in(&app, None).await;
    let credential = device.get(&options).await;
    let r = app.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": credential })).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );
    let before = written(&app).await;
    let r = app.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": credential })).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "a replayed sign-in: {r}");
    // A fresh assertion on a spent ceremony is refused too.
    let fresh = device.get(&options).await;
    let r = app.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": fresh })).await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    assert_eq!(written(&app).await, before);

    let (id, options) = start_registration(&app, &access).await;
    let mut other = Device::new();
    let credential = other.create(&options).await;
    let r = app
        .gql_as(&access, FINISH_REGISTRATION, json!({ "c": id, "cred": credential }))
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let before = written(&app).await;
    let again = Device::new().create(&options).await;
    let r = app
        .gql_as(&access, FINISH_REGISTRATION, json!({ "c": id, "cred": again }))
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "a replayed registration: {r}");
    assert_eq!(written(&app).await, before);
}

#[tokio::test]
async fn a_ceremony_cannot_be_finished_for_another_account() {
    let app = passkey_app().await;
    let mut ann_device = Device::new();
    let ann = ann_with_passkey(&app, &mut ann_device).await;
    let mallory = app.user_with_tokens("mallory@example.com").await;
    let mut mallory_device = Device::new();
    let r = add_passkey(&app, &mallory.access, &mut mallory_device).await;
    assert!(r["errors"].is_null(), "{r}");
    let before = written(&app).await;

    // Ann's registration, finished by Mallory's session with Mallory's authenticator.
    let (id, options) = start_registration(&app, &ann).await;
    let credential = Device::new().create(&options).await;
    let r = app
        .gql_as(
            &mallory.access,
            FINISH_REGISTRATION,
            json!({ "c": id, "cred": credential }),
        )
        .await;
    assert_eq!(code(&r), Some("INVALID_TOKEN"), "{r}");
    // A sign-in started for Ann's address, finished with Mallory's passkey.
    let (id, options) = start_sign_in(&app, Some("ann@example.com")).await;
    let mut open = options.clone();
    open["allowCredentials"] = json!([]);
    let credential = mallory_device.get(&open).await;
    let r = app.gql(FINISH_SIGN_IN, json!({ "c": id, "cred": credential })).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{r}");
    assert_eq!(written(&app).await, before);
}

/// Registration and sign-in by a device `tamper` changed; both must be refused.
async fn refused_both_ways(tamper: impl Fn(&mut Device), registration_code: &str) {
    let app = passkey_app().await;
    let mut device = Device::with_counter();
    let access = ann_with_passkey(&app, &mut device).await;
    let before = written(&app).await;
    tamper(&mut device);
    let r = add_passkey(&app, &access, &mut device).await;
    assert_eq!(code(&r), Some(registration_code), "registration: {r}");
    let r = sign_in(&app, None, &mut device).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "sign-in: {r}");
    let r = sign_in(&app, Some("ann@example.com"), &mut device).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "sign-in for the address: {r}");
    assert_eq!(written(&app).await, before);
}

#[tokio::test]
async fn an_answer_made_for_another_origin_is_refused() {
    refused_both_ways(
        |d| d.origin = "https://login-example.com.evil.test".to_owned(),
        "BAD_USER_INPUT",
    )
    .await;
}

#[tokio::test]
async fn an_answer_for_another_rp_id_is_refused() {
    refused_both_ways(|d| d.rp_id = Some("evil.test".to_owned()), "BAD_USER_INPUT").await;
}

#[tokio::test]
async fn an_answer_without_user_verification_is_refused() {
    refused_both_ways(|d| d.verify = false, "BAD_USER_INPUT").await;
}

#[tokio::test]
async fn a_signature_counter_that_went_back_is_refused_recorded_and_mailed() {
    let app = passkey_app().await;
    let mut device = Device::with_counter();
    let access = ann_with_passkey(&app, &mut device).await;
    let copy = device.authenticator.store().clone();
    let r = sign_in(&app, None, &mut device).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "{r}"
    );
    let before = written(&app).await;
    // A clone made before that sign-in: its counter is behind the one authql saw.
    *device.authenticator.store_mut() = copy;
    let r = sign_in(&app, None, &mut device).await;
    assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "{r}");
    assert_eq!(written(&app).await, before);
    let kinds = app.event_kinds(&access).await;
    assert!(kinds.contains(&"PASSKEY_CLONE_DETECTED".to_owned()), "{kinds:?}");
    let mails: Vec<String> = loop {
        let subjects: Vec<String> = app.mail.to("ann@example.com").iter().map(|m| m.subject()).collect();
        if subjects.len() >= 3 {
            break subjects;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        mails.contains(&"A sign-in with a copy of your passkey was refused".to_owned()),
        "{mails:?}"
    );
}

/// Credential ids are public (options for a named email list them), and an
/// assertion cannot be guessed: failures naming a passkey must not take from
/// a bucket of that passkey's, or strangers could lock its owner out (and
/// tell a real id from a decoy by which one runs out).
#[tokio::test]
async fn strangers_naming_a_passkey_cannot_lock_its_owner_out() {
    let app = passkey_app().await;
    let mut device = Device::new();
    ann_with_passkey(&app, &mut device).await;
    let (_, options) = start_sign_in(&app, None).await;
    // An answer to another ceremony: it names Ann's passkey and verifies nowhere else.
    let stale = device.get(&options).await;
    for i in 0..11 {
        let from = format!("203.0.113.{i}");
        let headers = [("x-forwarded-for", from.as_str())];
        let started = app
            .post_with(&headers, &json!({ "query": START_SIGN_IN, "variables": {} }))
            .await;
        let id = started["data"]["startPasskeySignIn"]["id"].clone();
        let r = app
            .post_with(
                &headers,
                &json!({ "query": FINISH_SIGN_IN, "variables": { "c": id, "cred": stale } }),
            )
            .await;
        assert_eq!(code(&r), Some("INVALID_CREDENTIALS"), "attempt {i}: {r}");
    }
    let r = sign_in(&app, None, &mut device).await;
    assert!(
        r["data"]["finishPasskeySignIn"]["auth"]["accessToken"].is_string(),
        "the owner still signs in: {r}"
    );
}
