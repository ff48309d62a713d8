//! The owner edits their profile: names and public handles.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SIGNUP, TestApp, code, spawn_app};

const UPDATE: &str = "mutation($input: UpdateProfileInput!) {
    updateProfile(input: $input) { username displayName firstName lastName phoneNumber } }";

async fn update(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql_as(token, UPDATE, json!({ "input": input })).await
}

#[tokio::test]
async fn the_owner_sets_keeps_and_clears_fields_and_logs_in_with_a_new_username() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("pat@example.com").await;
    let r = update(
        &app,
        &me.access,
        json!({ "username": "Pat_99", "displayName": " Pat P. ", "phoneNumber": "+1 415 555 2671" }),
    )
    .await;
    let user = &r["data"]["updateProfile"];
    assert_eq!(user["username"], "pat_99", "{r}");
    assert_eq!(user["displayName"], "Pat P.");
    assert_eq!(user["phoneNumber"], "+14155552671");

    // Absent fields are kept; null and "" clear.
    let r = update(
        &app,
        &me.access,
        json!({ "firstName": "Pat", "displayName": null, "phoneNumber": "" }),
    )
    .await;
    let user = &r["data"]["updateProfile"];
    assert_eq!(user["username"], "pat_99", "{r}");
    assert_eq!(user["firstName"], "Pat");
    assert!(user["displayName"].is_null() && user["phoneNumber"].is_null(), "{r}");
    // `me` shows the change at once (the session cache is refreshed).
    let now = app.gql_as(&me.access, "{ me { firstName username } }", json!({})).await;
    assert_eq!(now["data"]["me"]["firstName"], "Pat", "{now}");

    let by_name = app
        .gql(
            crate::helpers::LOGIN,
            json!({ "input": { "username": "PAT_99", "password": PASSWORD } }),
        )
        .await;
    assert!(by_name["data"]["login"]["auth"].is_object(), "{by_name}");
}

#[tokio::test]
async fn taken_or_invalid_handles_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let taken = json!({ "input": { "email": "first@example.com", "password": PASSWORD,
        "username": "taken", "phoneNumber": "+442079460000" } });
    assert!(app.gql(SIGNUP, taken).await["errors"].is_null());
    let me = app.user_with_tokens("second@example.com").await;
    update(&app, &me.access, json!({ "username": "mine", "displayName": "Before" })).await;

    for (input, field) in [
        (json!({ "username": "TAKEN", "displayName": "After" }), "username"),
        (
            json!({ "phoneNumber": "+44 20 7946 0000", "displayName": "After" }),
            "phoneNumber",
        ),
        (json!({ "username": "x", "displayName": "After" }), "username"),
        (
            json!({ "phoneNumber": "555-0100", "displayName": "After" }),
            "phoneNumber",
        ),
        (
            json!({ "lastName": "y".repeat(200), "displayName": "After" }),
            "lastName",
        ),
    ] {
        let r = update(&app, &me.access, input).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{r}");
    }
    // One's own username is not "taken".
    let r = update(&app, &me.access, json!({ "username": "mine" })).await;
    assert_eq!(
        r["data"]["updateProfile"]["displayName"], "Before",
        "nothing changed: {r}"
    );

    assert_eq!(
        code(&app.gql(UPDATE, json!({ "input": { "firstName": "Anon" } })).await),
        Some("UNAUTHENTICATED")
    );
}

/// Aliases let one request probe 15 phone numbers; requests add up. Probing
/// which handles are taken is limited like signing up.
#[tokio::test]
async fn probing_which_handles_are_taken_is_rate_limited() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("prober@example.com").await;
    let probes: String = (0..10)
        .map(|i| {
            format!(
                "p{i}: updateProfile(input: {{ phoneNumber: \"+1 415 555 {:04}\" }}) {{ id }} ",
                1000 + i
            )
        })
        .collect();
    let mut limited = false;
    for _ in 0..3 {
        let r = app
            .gql_as(&me.access, &format!("mutation {{ {probes} }}"), json!({}))
            .await;
        limited |= r["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e["extensions"]["code"] == "RATE_LIMITED"));
    }
    assert!(limited, "30 handle probes in a moment must meet the sign-up limit (20)");
    // Names that reveal nothing about other accounts are not limited.
    let names: String = (0..10)
        .map(|i| format!("n{i}: updateProfile(input: {{ displayName: \"Name {i}\" }}) {{ id }} "))
        .collect();
    let r = app
        .gql_as(&me.access, &format!("mutation {{ {names} }}"), json!({}))
        .await;
    assert!(r.get("errors").is_none(), "{r}");
}
