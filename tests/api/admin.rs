//! Administration: only administrators list accounts and switch them off and on.

use authql::accounts::Email;
use authql::error::Field;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SIGNUP, TestApp, Tokens, code, spawn_app};

const USERS: &str = "query($first: Int, $offset: Int, $search: String) {
    users(first: $first, offset: $offset, search: $search) { totalCount nodes { id email username active role } } }";
const SET_ACTIVE: &str =
    "mutation($id: ID!, $active: Boolean!) { setUserActive(id: $id, active: $active) { id active } }";

pub async fn admin(app: &TestApp) -> Tokens {
    let email = Email::parse(Field::Email, "root@example.com").unwrap();
    let made = app.state.accounts.make_admin(&email, Some(PASSWORD)).await.unwrap();
    assert_eq!(made, authql::accounts::MadeAdmin::Created);
    app.login_tokens("root@example.com", PASSWORD).await
}

async fn users(app: &TestApp, token: &str, vars: Value) -> Value {
    app.gql_as(token, USERS, vars).await
}

fn emails(answer: &Value) -> Vec<String> {
    answer["data"]["users"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn only_administrators_list_and_switch_accounts() {
    let app = spawn_app().await;
    let user = app.user_with_tokens("plain@example.com").await;
    let id = app.me(&user.access).await["data"]["me"]["id"].clone();
    let set_off = json!({ "id": id, "active": false });

    assert_eq!(code(&app.gql(USERS, json!({})).await), Some("UNAUTHENTICATED"));
    assert_eq!(
        code(&app.gql(SET_ACTIVE, set_off.clone()).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(code(&users(&app, &user.access, json!({})).await), Some("FORBIDDEN"));
    let denied = app.gql_as(&user.access, SET_ACTIVE, set_off).await;
    assert_eq!(code(&denied), Some("FORBIDDEN"));
    assert!(denied["data"].is_null(), "{denied}");
    assert_eq!(
        app.me(&user.access).await["data"]["me"]["active"],
        true,
        "nothing changed"
    );
}

#[tokio::test]
async fn administrators_search_accounts_page_by_page() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    for (email, username, display) in [
        ("ann@example.com", "ann_x", "Ann Archer"),
        ("bob@example.com", "bobby", "Bob Baker"),
        ("carol@example.com", "carol", "CAROL SMITH"),
        ("dave@example.com", "dave", "Dave Smithson"),
    ] {
        let input =
            json!({ "input": { "email": email, "password": PASSWORD, "username": username, "displayName": display } });
        assert!(app.gql(SIGNUP, input).await["errors"].is_null());
    }
    let all = users(&app, &root.access, json!({})).await;
    assert_eq!(all["data"]["users"]["totalCount"], 5, "{all}");
    assert_eq!(
        emails(&all),
        [
            "root@example.com",
            "ann@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com"
        ]
    );
    assert_eq!(all["data"]["users"]["nodes"][0]["role"], "ADMIN");

    // Part of a display name, any case; the total counts matches, not the page.
    let smith = users(&app, &root.access, json!({ "search": "smith", "first": 1 })).await;
    assert_eq!(smith["data"]["users"]["totalCount"], 2, "{smith}");
    assert_eq!(emails(&smith), ["carol@example.com"]);
    let next = users(
        &app,
        &root.access,
        json!({ "search": "smith", "first": 1, "offset": 1 }),
    )
    .await;
    assert_eq!(emails(&next), ["dave@example.com"]);
    // Wildcards in the search are literal characters.
    let underscore = users(&app, &root.access, json!({ "search": "_" })).await;
    assert_eq!(emails(&underscore), ["ann@example.com"]);
    assert!(emails(&users(&app, &root.access, json!({ "search": "%" })).await).is_empty());

    for (vars, field) in [
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 101 }), "first"),
        (json!({ "offset": -1 }), "offset"),
        (json!({ "search": "x".repeat(300) }), "search"),
    ] {
        let r = users(&app, &root.access, vars).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field);
    }
}

#[tokio::test]
async fn switching_an_account_off_ends_its_sessions_at_once_and_on_lets_it_back() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let user = app.user_with_tokens("eve@example.com").await;
    let id = app.me(&user.access).await["data"]["me"]["id"].clone();

    let off = app
        .gql_as(&root.access, SET_ACTIVE, json!({ "id": id, "active": false }))
        .await;
    assert_eq!(off["data"]["setUserActive"]["active"], false, "{off}");
    assert_eq!(code(&app.me(&user.access).await), Some("UNAUTHENTICATED"));
    assert_eq!(code(&app.refresh(&user.refresh).await), Some("INVALID_TOKEN"));
    assert_eq!(code(&app.login("eve@example.com", PASSWORD).await), Some("FORBIDDEN"));

    let on = app
        .gql_as(&root.access, SET_ACTIVE, json!({ "id": id, "active": true }))
        .await;
    assert_eq!(on["data"]["setUserActive"]["active"], true, "{on}");
    let back = app.login_tokens("eve@example.com", PASSWORD).await;
    let events = app.gql_as(&back.access, "{ securityEvents { kind } }", json!({})).await;
    let kinds: Vec<_> = events["data"]["securityEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"ACCOUNT_DEACTIVATED".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"ACCOUNT_ACTIVATED".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn administrators_cannot_switch_themselves_off_or_unknown_accounts() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let me = app.me(&root.access).await["data"]["me"]["id"].clone();
    for id in [me, json!(uuid::Uuid::new_v4().to_string()), json!("not-an-id")] {
        let r = app
            .gql_as(&root.access, SET_ACTIVE, json!({ "id": id, "active": false }))
            .await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "id");
    }
    assert!(app.me(&root.access).await["data"]["me"]["active"] == true);
}

const ONE: &str = "query($id: ID!) { user(id: $id) { id email role active } }";
const REVOKE_ALL: &str = "mutation($id: ID!) { revokeUserSessions(id: $id) }";
const DELETE: &str = "mutation($id: ID!) { deleteUser(id: $id) }";
const SET_ROLE: &str = "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { id role } }";
const SEND_RESET: &str = "mutation($id: ID!) { sendPasswordReset(id: $id) }";
const AUDIT: &str = "query($first: Int, $after: String) { auditLog(first: $first, after: $after) { nodes { kind userId actorId } endCursor hasNextPage } }";

#[tokio::test]
async fn administrators_act_on_one_account_and_every_action_is_audited() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let root_id = app.me(&root.access).await["data"]["me"]["id"].clone();
    let target = app.user_with_tokens("target@example.com").await;
    let id = app.me(&target.access).await["data"]["me"]["id"].clone();
    let vars = json!({ "id": id });

    // A user can do none of it.
    for (query, vars) in [
        (ONE, vars.clone()),
        (REVOKE_ALL, vars.clone()),
        (DELETE, vars.clone()),
        (SET_ROLE, json!({ "id": id, "role": "ADMIN" })),
        (SEND_RESET, vars.clone()),
        (AUDIT, json!({})),
    ] {
        assert_eq!(
            code(&app.gql_as(&target.access, query, vars).await),
            Some("FORBIDDEN"),
            "{query}"
        );
    }

    let one = app.gql_as(&root.access, ONE, vars.clone()).await;
    assert_eq!(one["data"]["user"]["email"], "target@example.com");
    assert!(
        app.gql_as(
            &root.access,
            ONE,
            json!({ "id": "00000000-0000-0000-0000-000000000000" })
        )
        .await["data"]["user"]
            .is_null()
    );

    let r = app.gql_as(&root.access, SEND_RESET, vars.clone()).await;
    assert_eq!(r["data"]["sendPasswordReset"], true, "{r}");
    assert_eq!(
        app.mail.wait_for_nth("target@example.com", 2).await.subject(),
        "Reset your password"
    );

    let r = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "ADMIN" }))
        .await;
    assert_eq!(r["data"]["setUserRole"]["role"], "ADMIN", "{r}");
    let as_admin = app.gql_as(&target.access, AUDIT, json!({})).await;
    assert!(
        as_admin["data"]["auditLog"]["nodes"].is_array(),
        "now an administrator: {as_admin}"
    );
    let r = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "USER" }))
        .await;
    assert_eq!(r["data"]["setUserRole"]["role"], "USER");

    let r = app.gql_as(&root.access, REVOKE_ALL, vars.clone()).await;
    assert_eq!(r["data"]["revokeUserSessions"], 1, "{r}");
    assert_eq!(code(&app.me(&target.access).await), Some("UNAUTHENTICATED"));

    let r = app.gql_as(&root.access, DELETE, vars.clone()).await;
    assert_eq!(r["data"]["deleteUser"], true, "{r}");
    assert!(app.gql_as(&root.access, ONE, vars.clone()).await["data"]["user"].is_null());
    assert_eq!(
        code(&app.login("target@example.com", PASSWORD).await),
        Some("INVALID_CREDENTIALS")
    );

    // Each action is in the log, newest first, with who did it, though the account is gone.
    let log = app.gql_as(&root.access, AUDIT, json!({ "first": 10 })).await;
    let nodes = log["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .clone();
    let kinds: Vec<&str> = nodes.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ACCOUNT_DELETED_BY_ADMIN",
            "SESSIONS_REVOKED_BY_ADMIN",
            "ROLE_CHANGED_BY_ADMIN",
            "ROLE_CHANGED_BY_ADMIN",
            "PASSWORD_RESET_SENT_BY_ADMIN"
        ]
    );
    assert!(
        nodes.iter().all(|n| n["userId"] == id && n["actorId"] == root_id),
        "{log}"
    );

    // Pages follow on from each other.
    let first = app.gql_as(&root.access, AUDIT, json!({ "first": 2 })).await;
    let page = &first["data"]["auditLog"];
    assert_eq!(page["hasNextPage"], true);
    let next = app
        .gql_as(&root.access, AUDIT, json!({ "first": 10, "after": page["endCursor"] }))
        .await;
    assert_eq!(next["data"]["auditLog"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(next["data"]["auditLog"]["hasNextPage"], false);
    let bad = app.gql_as(&root.access, AUDIT, json!({ "after": "garbage" })).await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "after");
}

#[tokio::test]
async fn the_last_administrator_cannot_demote_or_delete_themselves() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let root_id = app.me(&root.access).await["data"]["me"]["id"].clone();
    let r = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": root_id, "role": "USER" }))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "role", "{r}");
    let r = app.gql_as(&root.access, DELETE, json!({ "id": root_id })).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    assert_eq!(app.me(&root.access).await["data"]["me"]["role"], "ADMIN");
}

/// An administrator's access token stolen from an old session cannot
/// change who may do what: the account-changing operations need a recent
/// sign-in or step-up, like the owner's own sensitive operations.
#[tokio::test]
async fn administrator_operations_need_a_recent_proof() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let target = app.user_with_tokens("target@example.com").await;
    let id = app.me(&target.access).await["data"]["me"]["id"].clone();
    crate::account_security::age_sessions(&app, "root@example.com").await;

    for (query, vars) in [
        (SET_ACTIVE, json!({ "id": id, "active": false })),
        (REVOKE_ALL, json!({ "id": id })),
        (DELETE, json!({ "id": id })),
        (SET_ROLE, json!({ "id": id, "role": "ADMIN" })),
    ] {
        let r = app.gql_as(&root.access, query, vars).await;
        assert_eq!(code(&r), Some("STEP_UP_REQUIRED"), "{query}: {r}");
    }
    let me = app.me(&target.access).await;
    assert_eq!(me["data"]["me"]["role"], "USER", "nothing changed: {me}");
    assert_eq!(me["data"]["me"]["active"], true, "{me}");
    // Mailing the owner a reset link stays exempt: it gives the administrator nothing.
    let r = app.gql_as(&root.access, SEND_RESET, json!({ "id": id })).await;
    assert_eq!(r["data"]["sendPasswordReset"], true, "{r}");

    // A step-up opens them again.
    let seen = app.mail.to("root@example.com").len();
    let sent = app.gql_as(&root.access, "mutation { sendOtp }", json!({})).await;
    assert_eq!(sent["data"]["sendOtp"], true, "{sent}");
    let mail = app.mail.wait_for_nth("root@example.com", seen + 1).await;
    let stepped = app
        .gql_as(
            &root.access,
            "mutation($c: String!) { verifyOtp(code: $c) }",
            json!({ "c": crate::mfa::code_in(&mail) }),
        )
        .await;
    assert_eq!(stepped["data"]["verifyOtp"], true, "{stepped}");
    let r = app
        .gql_as(&root.access, SET_ROLE, json!({ "id": id, "role": "ADMIN" }))
        .await;
    assert_eq!(r["data"]["setUserRole"]["role"], "ADMIN", "{r}");
}
