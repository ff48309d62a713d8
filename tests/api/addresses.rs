//! One address, one account. A request made with someone's address spelt
//! with an accent reaches only the look-alike's own mailbox, never the
//! owner's account: MariaDB's default collation once found
//! `victim@example.com` for `victim@exämple.com`, and the mail went to the
//! address typed. The behaviour checked is the same on every backend; CI
//! runs it on each.

use serde_json::json;

use crate::helpers::{LOGIN, PASSWORD, SIGNUP, TestApp, code, spawn_app};
use crate::oauth::{app_with, signed_in_user};
use crate::oidc_provider::Provider;

const VICTIM: &str = "victim@example.com";
/// What the attacker types: their own domain, which looks like the victim's.
const LOOK_ALIKE: &str = "victim@exämple.com";
/// The look-alike's normal form (IDNA): a different address, the attacker's.
const LOOK_ALIKE_ASCII: &str = "victim@xn--exmple-cua.com";
/// Someone else whose mail marks when earlier background work has had its turn.
const BYSTANDER: &str = "bystander@example.com";
const ATTACKER_PASSWORD: &str = "Attackers-Own-Passphrase-77";

const FORGOT: &str = "mutation($e: String!) { forgotPassword(email: $e) }";
const RESEND: &str = "mutation($e: String!) { resendConfirmation(email: $e) }";
const CHANGE_EMAIL: &str = "mutation($e: String!, $p: String) { changeEmail(newEmail: $e, password: $p) }";

/// Every recipient the sink got mail for, and the subjects of the victim's mail.
fn mailboxes(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let mut recipients: Vec<String> = app.mail.all().into_iter().flat_map(|m| m.rcpt).collect();
    recipients.sort();
    recipients.dedup();
    let victims = app.mail.to(VICTIM).iter().map(|m| m.subject()).collect();
    (recipients, victims)
}

/// forgotPassword and resendConfirmation work after answering: the
/// bystander's request, made after the attacker's, is answered by mail once
/// the work queued before it has had its turn.
async fn after_earlier_background_work(app: &TestApp, query: &str, nth: usize) {
    let r = app.gql(query, json!({ "e": BYSTANDER })).await;
    assert!(r.get("errors").is_none(), "{r}");
    app.mail.wait_for_nth(BYSTANDER, nth).await;
}

#[tokio::test]
async fn forgot_password_for_a_look_alike_mails_nobody() {
    let app = spawn_app().await;
    app.confirmed_user(VICTIM).await;
    app.confirmed_user(BYSTANDER).await;

    let r = app.gql(FORGOT, json!({ "e": LOOK_ALIKE })).await;
    assert_eq!(r["data"]["forgotPassword"], true, "{r}");
    after_earlier_background_work(&app, FORGOT, 2).await;

    let (recipients, victims) = mailboxes(&app);
    assert_eq!(recipients, [BYSTANDER, VICTIM], "nobody else got mail");
    assert_eq!(victims, ["Confirm your email address"], "no reset link for the victim");
    // Mail to the look-alike that could not be sent would wait in the outbox.
    assert_eq!(
        app.count("mail_outbox").await,
        3,
        "two confirmations, the bystander's reset"
    );
}

#[tokio::test]
async fn resend_confirmation_for_a_look_alike_mails_nobody_and_keeps_the_owners_link() {
    let app = spawn_app().await;
    app.signup(VICTIM, PASSWORD).await;
    let link = app.mail.wait_for(VICTIM).await.link();
    app.signup(BYSTANDER, PASSWORD).await;

    let r = app.gql(RESEND, json!({ "e": LOOK_ALIKE })).await;
    assert_eq!(r["data"]["resendConfirmation"], true, "{r}");
    after_earlier_background_work(&app, RESEND, 2).await;

    let (recipients, victims) = mailboxes(&app);
    assert_eq!(recipients, [BYSTANDER, VICTIM], "nobody else got mail");
    assert_eq!(victims, ["Confirm your email address"]);
    assert_eq!(app.count("mail_outbox").await, 3);
    // A resend would have replaced it: the owner's own link still confirms.
    app.press_confirm(&link).await;
    let login = app.login(VICTIM, PASSWORD).await;
    assert!(login["data"]["login"]["auth"].is_object(), "{login}");
}

/// A sign-up with the look-alike is a new account of the look-alike's own
/// address, whether or not the victim has confirmed theirs.
#[tokio::test]
async fn signup_with_a_look_alike_is_a_separate_account_and_the_victim_hears_nothing() {
    for victim_confirmed in [true, false] {
        let app = spawn_app().await;
        let victims_link = if victim_confirmed {
            app.confirmed_user(VICTIM).await;
            None
        } else {
            app.signup(VICTIM, PASSWORD).await;
            Some(app.mail.wait_for(VICTIM).await.link())
        };

        let r = app.signup(LOOK_ALIKE, ATTACKER_PASSWORD).await;
        assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
        // Sign-up mail is queued before the answer: only its delivery is waited for.
        let attackers = app.mail.wait_for(LOOK_ALIKE_ASCII).await;
        assert_eq!(attackers.subject(), "Confirm your email address");
        app.press_confirm(&attackers.link()).await;
        let theirs = app.login_tokens(LOOK_ALIKE, ATTACKER_PASSWORD).await;
        assert_eq!(app.me(&theirs.access).await["data"]["me"]["email"], LOOK_ALIKE_ASCII);

        let (recipients, victims) = mailboxes(&app);
        assert_eq!(recipients, [VICTIM, LOOK_ALIKE_ASCII], "victim {victim_confirmed}");
        assert_eq!(victims, ["Confirm your email address"], "victim {victim_confirmed}");
        if let Some(link) = victims_link {
            app.press_confirm(&link).await;
        }
        let own = app.login(VICTIM, PASSWORD).await;
        assert!(
            own["data"]["login"]["auth"].is_object(),
            "victim {victim_confirmed}: {own}"
        );
        let attackers_try = app.login(VICTIM, ATTACKER_PASSWORD).await;
        assert_eq!(
            attackers_try["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS",
            "victim {victim_confirmed}"
        );
    }
}

#[tokio::test]
async fn changing_to_a_look_alike_moves_to_the_look_alike_and_tells_the_victim_nothing() {
    let app = spawn_app().await;
    app.confirmed_user(VICTIM).await;
    let attacker = app.user_with_tokens("attacker@example.com").await;

    let vars = json!({ "e": LOOK_ALIKE, "p": PASSWORD });
    let r = app.gql_as(&attacker.access, CHANGE_EMAIL, vars).await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    // The change link is queued before the answer.
    let link = app.mail.wait_for(LOOK_ALIKE_ASCII).await;
    assert_eq!(link.subject(), "Confirm your new email address");

    let (recipients, victims) = mailboxes(&app);
    assert_eq!(recipients, ["attacker@example.com", VICTIM, LOOK_ALIKE_ASCII]);
    assert_eq!(victims, ["Confirm your email address"]);
}

#[tokio::test]
async fn a_provider_vouching_for_a_look_alike_signs_in_to_a_separate_account() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let victim = app.user_with_tokens(VICTIM).await;
    let victim_id = app.me(&victim.access).await["data"]["me"]["id"].clone();

    provider.sign_in_as("attacker-at-provider", LOOK_ALIKE, true);
    let user = signed_in_user(&app).await;
    assert_ne!(user["id"], victim_id, "not linked to the victim's account");
    assert_eq!(user["email"], LOOK_ALIKE_ASCII);
}

/// Administrators find accounts by any spelling of part of an address:
/// case is ignored, and a domain typed in Unicode matches its stored ASCII form.
#[tokio::test]
async fn administrators_find_addresses_ignoring_case_and_in_unicode() {
    let app = spawn_app().await;
    let root = authql::accounts::Email::parse(authql::error::Field::Email, "root@example.com").unwrap();
    app.state.accounts.make_admin(&root, Some(PASSWORD)).await.unwrap();
    let admin = app.login_tokens("root@example.com", PASSWORD).await;
    app.signup("Ann@Bücher.example", PASSWORD).await;
    app.signup("Bob@Example.org", PASSWORD).await;

    let search = "query($s: String) { users(search: $s) { nodes { email } } }";
    for (text, found) in [
        ("BOB@EXAMPLE", "bob@example.org"),
        ("example.ORG", "bob@example.org"),
        ("bücher", "ann@xn--bcher-kva.example"),
        ("ANN@BÜCHER.EXAMPLE", "ann@xn--bcher-kva.example"),
        ("xn--bcher", "ann@xn--bcher-kva.example"),
    ] {
        let r = app.gql_as(&admin.access, search, json!({ "s": text })).await;
        assert_eq!(r["data"]["users"]["nodes"], json!([{ "email": found }]), "{text}: {r}");
    }
}

#[tokio::test]
async fn a_non_ascii_local_part_is_bad_input_wherever_an_address_comes_in() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("me@example.com").await;
    let jurgen = "jürgen@example.com";
    let signup = json!({ "input": { "email": jurgen, "password": PASSWORD } });
    let login = json!({ "input": { "email": jurgen, "password": PASSWORD } });
    for (token, query, vars, field) in [
        (None, SIGNUP, signup, "email"),
        (None, LOGIN, login, "email"),
        (None, FORGOT, json!({ "e": jurgen }), "email"),
        (None, RESEND, json!({ "e": jurgen }), "email"),
        (
            Some(&me.access),
            CHANGE_EMAIL,
            json!({ "e": jurgen, "p": PASSWORD }),
            "newEmail",
        ),
    ] {
        let r = match token {
            Some(token) => app.gql_as(token, query, vars).await,
            None => app.gql(query, vars).await,
        };
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{query}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{query}: {r}");
    }
}

/// `"ann"@example.com` and `ann\@…`-style quoting name the same mailbox as
/// `ann@example.com` for mail servers, so they would be a second account for
/// one mailbox: only the plain (dot-atom) form of a local part is accepted.
#[tokio::test]
async fn a_quoted_spelling_of_an_address_is_refused_not_a_second_account() {
    let app = spawn_app().await;
    app.confirmed_user("ann@example.com").await;
    for quoted in [
        r#""ann"@example.com"#,
        r#""a\nn"@example.com"#,
        r#""ann@x"@example.com"#,
    ] {
        let r = app.signup(quoted, PASSWORD).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{quoted}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "email", "{quoted}: {r}");
    }
    assert_eq!(app.count("users").await, 1);
}
