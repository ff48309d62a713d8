//! Sign-in with an OpenID Connect provider, against a provider on loopback
//! that signs real ID tokens, driven by a client that follows redirects and
//! keeps cookies like a browser.

use std::time::Duration;

use authql::config::Secret;
use authql::config::oauth::ProviderConfig;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code, spawn_app_with};
use crate::mfa::{enrolled, verify};
use crate::oidc_provider::{CLIENT_ID, CLIENT_SECRET, Provider, Tweak};

const EXCHANGE: &str = "mutation($c: String!) { exchangeLoginCode(code: $c) { mfaRequired mfaToken mfaMethods auth { accessToken user { id email emailVerified } } } }";

/// The client id of the test's native app, allowed besides the web client's.
pub const APP_CLIENT_ID: &str = "authql-test-android-app";

/// authql with `provider` configured as `test`.
pub(crate) async fn app_with(provider: &Provider) -> TestApp {
    app_with_settings(provider, |_| {}).await
}

/// authql with `provider` configured as `test`, its settings adjusted by `tweak`.
pub async fn app_with_settings(provider: &Provider, tweak: impl FnOnce(&mut ProviderConfig)) -> TestApp {
    app_with_config(provider, tweak, |_| {}).await
}

/// authql with `provider` configured as `test` (adjusted by `tweak`), and
/// the rest of its configuration adjusted by `tweak_config`.
pub async fn app_with_config(
    provider: &Provider,
    tweak: impl FnOnce(&mut ProviderConfig),
    tweak_config: impl FnOnce(&mut authql::config::Config),
) -> TestApp {
    let mut config = provider_config(provider);
    tweak(&mut config);
    spawn_app_with(move |c| {
        c.oauth.providers = vec![config];
        c.oauth.timeout = Duration::from_secs(2);
        tweak_config(c);
    })
    .await
}

/// `provider` configured as `test`.
pub(crate) fn provider_config(provider: &Provider) -> ProviderConfig {
    ProviderConfig {
        name: "test".to_owned(),
        display_name: "Test Provider".to_owned(),
        issuer: provider.issuer.parse().unwrap(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(CLIENT_SECRET),
        scopes: vec!["email".to_owned()],
        extra_audiences: vec![APP_CLIENT_ID.to_owned()],
        require_nonce: false,
        // Trusted like Google unless a test says otherwise (tests/api/oauth_trust.rs).
        link_by_email: true,
    }
}

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().unwrap()
}

/// Where a browser sign-in ends: `Ok(login code)` or `Err(error code)`.
pub(crate) async fn sign_in(app: &TestApp) -> Result<String, String> {
    let end = browser().get(app.url("/auth/test")).send().await.unwrap();
    outcome(&end)
}

pub(crate) fn outcome(end: &reqwest::Response) -> Result<String, String> {
    // A passing outage is a 503 page; never an internal error.
    assert_ne!(end.status().as_u16(), 500, "never a 500");
    let pairs: Vec<(String, String)> = end
        .url()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    match (get("code"), get("error")) {
        (Some(code), None) => Ok(code),
        (_, Some(error)) => Err(error),
        _ => panic!("no outcome in {}", end.url()),
    }
}

pub(crate) async fn exchange(app: &TestApp, login_code: &str) -> Value {
    app.gql(EXCHANGE, json!({ "c": login_code })).await
}

pub(crate) async fn signed_in_user(app: &TestApp) -> Value {
    let code = sign_in(app).await.expect("signed in");
    let r = exchange(app, &code).await;
    r["data"]["exchangeLoginCode"]["auth"]["user"].clone()
}

#[tokio::test]
async fn a_new_person_gets_a_confirmed_account_and_signs_in_to_it_again() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let listed = app
        .gql("{ oauthProviders { name displayName authorizeUrl } }", json!({}))
        .await;
    assert_eq!(
        listed["data"]["oauthProviders"][0]["authorizeUrl"],
        app.url("/auth/test").as_str()
    );

    provider.sign_in_as("alice-1", "Alice@Example.com", true);
    let code = sign_in(&app).await.expect("signed in");
    let first = exchange(&app, &code).await;
    let user = &first["data"]["exchangeLoginCode"]["auth"]["user"];
    assert_eq!(user["email"], "alice@example.com", "{first}");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(
        code_of(&exchange(&app, &code).await),
        Some("INVALID_TOKEN"),
        "a login code works once"
    );
    assert_eq!(
        signed_in_user(&app).await["id"],
        user["id"],
        "the same account the second time"
    );
    // No password: the right one for nobody.
    assert_eq!(
        code_of(&app.login("alice@example.com", PASSWORD).await),
        Some("INVALID_CREDENTIALS")
    );
}

fn code_of(v: &Value) -> Option<&str> {
    code(v)
}

#[tokio::test]
async fn a_verified_address_links_to_the_confirmed_account_that_has_it() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let own = app.user_with_tokens("bob@example.com").await;
    let me = app.me(&own.access).await;
    provider.sign_in_as("bob-at-provider", "bob@example.com", true);
    assert_eq!(signed_in_user(&app).await["id"], me["data"]["me"]["id"]);
    assert!(
        app.login("bob@example.com", PASSWORD).await["data"]["login"]["auth"].is_object(),
        "the password still works"
    );
    let notice = app.mail.wait_for_nth("bob@example.com", 2).await;
    assert_eq!(notice.subject(), "A sign-in provider was linked");
}

#[tokio::test]
async fn an_unverified_address_never_links_nor_creates() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    app.confirmed_user("carol@example.com").await;
    provider.sign_in_as("carol-impostor", "carol@example.com", false);
    assert_eq!(sign_in(&app).await, Err("FORBIDDEN".to_owned()));
    let carol = app.login_tokens("carol@example.com", PASSWORD).await;
    let history = app
        .gql_as(&carol.access, "{ securityEvents { kind } }", json!({}))
        .await;
    assert!(
        history.to_string().contains("PROVIDER_SIGN_IN_REFUSED"),
        "the owner sees the attempt: {history}"
    );
    provider.sign_in_as("dan-unverified", "dan@example.com", false);
    assert_eq!(sign_in(&app).await, Err("FORBIDDEN".to_owned()));
    assert_eq!(app.count("identities").await, 0);
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM users WHERE email = 'dan@example.com'")
            .await,
        0
    );
}

/// Someone signed up with the owner's address and a password of their own; the owner then signs in with the provider.
#[tokio::test]
async fn whoever_pre_registered_an_address_gets_nothing_once_the_owner_signs_in() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let squatters = "Squatter-Chosen-Passphrase-31";
    app.signup("erin@example.com", squatters).await;
    provider.sign_in_as("erin-1", "erin@example.com", true);
    let user = signed_in_user(&app).await;
    assert_eq!(user["email"], "erin@example.com");
    assert_eq!(
        code_of(&app.login("erin@example.com", squatters).await),
        Some("INVALID_CREDENTIALS")
    );
}

#[tokio::test]
async fn an_account_with_totp_still_needs_its_second_factor() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let (_, totp, _) = enrolled(&app, "frank@example.com").await;
    provider.sign_in_as("frank-1", "frank@example.com", true);
    let code = sign_in(&app).await.expect("signed in at the provider");
    let step = exchange(&app, &code).await;
    let step = &step["data"]["exchangeLoginCode"];
    assert_eq!(step["mfaRequired"], true, "{step}");
    assert!(step["auth"].is_null());
    assert_eq!(step["mfaMethods"], json!(["TOTP", "RECOVERY_CODE"]));
    let done = verify(&app, step["mfaToken"].as_str().unwrap(), &totp.code(1), "TOTP").await;
    let access = done["data"]["verifyMfa"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{done}"));
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            access.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["fed", "otp", "mfa"]));
}

#[tokio::test]
async fn a_switched_off_account_is_refused() {
    use authql::entities::users;
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    app.confirmed_user("gone@example.com").await;
    users::Entity::update_many()
        .col_expr(users::Column::Active, Expr::value(false))
        .filter(users::Column::Email.eq("gone@example.com"))
        .exec(app.state.db.writer())
        .await
        .unwrap();
    provider.sign_in_as("gone-1", "gone@example.com", true);
    assert_eq!(sign_in(&app).await, Err("FORBIDDEN".to_owned()));
    let refused = "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'PROVIDER_SIGN_IN_REFUSED'";
    assert_eq!(app.scalar(refused).await, 1, "recorded on the account");
}

#[tokio::test]
async fn broken_id_tokens_and_refusals_end_in_an_error_redirect() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as("hank-1", "hank@example.com", true);
    for (tweak, expected) in [
        (Tweak::WrongNonce, "INVALID_TOKEN"),
        (Tweak::Expired, "INVALID_TOKEN"),
        (Tweak::UnknownKid, "INVALID_TOKEN"),
        (Tweak::WrongAudience, "INVALID_TOKEN"),
        (Tweak::WrongIssuer, "INVALID_TOKEN"),
        (Tweak::AlgNone, "INVALID_TOKEN"),
        (Tweak::Hs256WithPublicKey, "INVALID_TOKEN"),
        (Tweak::IssuedAhead(300), "INVALID_TOKEN"),
        (Tweak::Denied, "FORBIDDEN"),
    ] {
        provider.tweak(tweak);
        assert_eq!(sign_in(&app).await, Err(expected.to_owned()), "{tweak:?}");
    }
    assert_eq!(app.count("identities").await, 0, "nothing was linked");
    provider.tweak(Tweak::IssuedAhead(20));
    assert!(
        sign_in(&app).await.is_ok(),
        "a provider's clock a little ahead is tolerated"
    );
    provider.tweak(Tweak::None);
    assert!(sign_in(&app).await.is_ok(), "and a good token still works");
}

#[tokio::test]
async fn a_tampered_state_a_missing_cookie_and_a_replayed_callback_are_refused() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as("ivy-1", "ivy@example.com", true);
    let manual = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Start: the flow cookie and the provider's address.
    let start = manual.get(app.url("/auth/test")).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let set_cookie = start.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/auth", "Max-Age=600"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let at_provider = manual
        .get(start.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = at_provider.headers()["location"].to_str().unwrap().to_owned();

    let tampered = callback.replace("state=", "state=x");
    let end = manual.get(&tampered).send().await.unwrap();
    assert!(
        end.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=INVALID_TOKEN")
    );

    // The callback from a browser without the cookie.
    let end = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&callback)
        .send()
        .await
        .unwrap();
    assert!(
        end.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=INVALID_TOKEN")
    );
}

#[tokio::test]
async fn a_login_code_works_only_for_a_minute() {
    use authql::entities::one_time_tokens;
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as("jack-1", "jack@example.com", true);
    let code = sign_in(&app).await.unwrap();
    one_time_tokens::Entity::update_many()
        .col_expr(
            one_time_tokens::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(one_time_tokens::Column::Purpose.eq("login_code"))
        .exec(app.state.db.writer())
        .await
        .unwrap();
    assert_eq!(code_of(&exchange(&app, &code).await), Some("INVALID_TOKEN"));
}

#[tokio::test]
async fn a_provider_that_is_down_or_silent_ends_in_service_unavailable_in_bounded_time() {
    // Down: nothing listens at its address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    // Silent: it accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    for issuer in [format!("http://{address}"), format!("http://{silent_address}")] {
        let app = spawn_app_with(|c| {
            c.oauth.providers = vec![ProviderConfig {
                name: "test".to_owned(),
                display_name: "Test".to_owned(),
                issuer: issuer.parse().unwrap(),
                client_id: CLIENT_ID.to_owned(),
                client_secret: Secret::new(CLIENT_SECRET),
                scopes: Vec::new(),
                extra_audiences: Vec::new(),
                require_nonce: false,
                link_by_email: false,
            }];
            c.oauth.timeout = Duration::from_secs(1);
        })
        .await;
        let end = tokio::time::timeout(Duration::from_secs(10), browser().get(app.url("/auth/test")).send())
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(outcome(&end), Err("SERVICE_UNAVAILABLE".to_owned()), "{issuer}");
    }
}

#[tokio::test]
async fn a_redirect_target_outside_the_app_is_refused() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let end = browser()
        .get(app.url("/auth/test?redirect_to=https://evil.example.com/steal"))
        .send()
        .await
        .unwrap();
    assert!(
        end.url().as_str().starts_with(&app.url("/oauth/callback")),
        "{}",
        end.url()
    );
    assert_eq!(outcome(&end), Err("BAD_USER_INPUT".to_owned()));
}

#[tokio::test]
async fn a_key_the_provider_rotated_in_is_fetched_when_a_token_names_it() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as("kate-1", "kate@example.com", true);
    assert!(sign_in(&app).await.is_ok(), "discovery and keys cached");
    provider.rotate_key();
    assert!(
        sign_in(&app).await.is_ok(),
        "the unknown kid made authql refetch the keys"
    );
}

pub const NATIVE: &str = "mutation($t: String!, $n: String) { signInWithIdToken(provider: \"test\", idToken: $t, nonce: $n) { mfaRequired auth { accessToken user { email } } } }";

#[tokio::test]
async fn a_native_app_signs_in_with_the_id_token_of_the_providers_sdk() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let token = provider.id_token_for("lena-1", "lena@example.com", APP_CLIENT_ID, Some("app-nonce"));
    let r = app.gql(NATIVE, json!({ "t": token, "n": "app-nonce" })).await;
    assert_eq!(
        r["data"]["signInWithIdToken"]["auth"]["user"]["email"], "lena@example.com",
        "{r}"
    );
    let r = app.gql(NATIVE, json!({ "t": token, "n": "another-nonce" })).await;
    assert_eq!(code_of(&r), Some("INVALID_TOKEN"), "the nonce the app sent is checked");
    let without_nonce = provider.id_token_for("lena-1", "lena@example.com", CLIENT_ID, None);
    assert!(app.gql(NATIVE, json!({ "t": without_nonce })).await["data"]["signInWithIdToken"]["auth"].is_object());

    let for_someone_else = provider.id_token_for("lena-1", "lena@example.com", "another-apps-client-id", None);
    assert_eq!(
        code_of(&app.gql(NATIVE, json!({ "t": for_someone_else })).await),
        Some("INVALID_TOKEN")
    );
    assert_eq!(
        code_of(&app.gql(NATIVE, json!({ "t": "not.a.token" })).await),
        Some("INVALID_TOKEN")
    );
}

const LINK: &str = "mutation { linkIdentity(provider: \"test\") }";

/// Links the provider's current person to the account of `access` through
/// `linkIdentity` and the browser flow; `Err(error code)` when refused.
pub(crate) async fn link_provider(app: &TestApp, access: &str) -> Result<(), String> {
    let r = app.gql_as(access, LINK, json!({})).await;
    let Some(url) = r["data"]["linkIdentity"].as_str() else {
        return Err(code_of(&r).unwrap_or("no linkIdentity").to_owned());
    };
    let end = browser().get(url).send().await.unwrap();
    let link_code = end
        .url()
        .query_pairs()
        .find(|(k, _)| k == "link_code")
        .map(|(_, v)| v.into_owned());
    let Some(link_code) = link_code else {
        return outcome(&end).map(|_| ());
    };
    let r = app
        .gql_as(access, crate::oauth_link::COMPLETE, json!({ "c": link_code }))
        .await;
    match code_of(&r) {
        None => Ok(()),
        Some(error) => Err(error.to_owned()),
    }
}
const UNLINK: &str = "mutation { unlinkIdentity(provider: \"test\") { providers identities { provider email } } }";

#[tokio::test]
async fn an_owner_links_and_unlinks_a_provider() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let me = app.user_with_tokens("mia@example.com").await;
    let url = app.gql_as(&me.access, LINK, json!({})).await["data"]["linkIdentity"]
        .as_str()
        .unwrap()
        .to_owned();
    // The provider account has another address: linking does not go by address.
    provider.sign_in_as("mia-elsewhere", "mia.work@example.org", true);
    let end = browser().get(&url).send().await.unwrap();
    let link_code = end
        .url()
        .query_pairs()
        .find(|(k, _)| k == "link_code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{}", end.url()));
    let r = app
        .gql_as(&me.access, crate::oauth_link::COMPLETE, json!({ "c": link_code }))
        .await;
    assert_eq!(r["data"]["completeLinkIdentity"]["provider"], "test", "{r}");
    let seen = app
        .gql_as(
            &me.access,
            "{ me { providers identities { provider email } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["data"]["me"]["providers"], json!(["password", "test"]), "{seen}");
    assert_eq!(seen["data"]["me"]["identities"][0]["email"], "mia.work@example.org");
    let notice = app.mail.wait_for_nth("mia@example.com", 2).await;
    assert_eq!(notice.subject(), "A sign-in provider was linked");
    // Now the provider signs the owner in.
    let me_id = app.me(&me.access).await["data"]["me"]["id"].clone();
    assert_eq!(signed_in_user(&app).await["id"], me_id);
    // The link address worked once.
    let again = browser().get(&url).send().await.unwrap();
    assert_eq!(outcome(&again), Err("INVALID_TOKEN".to_owned()));

    // The link renewed the stamp; the session that completed it keeps its proof.
    let r = app.gql_as(&me.access, UNLINK, json!({})).await;
    assert_eq!(r["data"]["unlinkIdentity"]["providers"], json!(["password"]), "{r}");
    assert_eq!(
        app.mail.wait_for_nth("mia@example.com", 3).await.subject(),
        "A sign-in provider was unlinked"
    );
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider.sign_in_as("nora-1", "nora@example.com", true);
    let code = sign_in(&app).await.unwrap();
    let r = exchange(&app, &code).await;
    let access = r["data"]["exchangeLoginCode"]["auth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.gql_as(&access, UNLINK, json!({})).await;
    assert_eq!(code_of(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "provider");
}

#[tokio::test]
async fn linking_needs_a_recent_proof() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let me = app.user_with_tokens("olga@example.com").await;
    crate::account_security::age_sessions(&app, "olga@example.com").await;
    assert_eq!(
        code_of(&app.gql_as(&me.access, LINK, json!({})).await),
        Some("STEP_UP_REQUIRED")
    );
    assert_eq!(
        code_of(&app.gql_as(&me.access, UNLINK, json!({})).await),
        Some("STEP_UP_REQUIRED")
    );
}

async fn app_with_github(double: &crate::github_double::GitHubDouble) -> TestApp {
    use crate::github_double::{CLIENT_ID, CLIENT_SECRET};
    use authql::config::oauth::GitHubConfig;
    let url: url::Url = double.url.parse().unwrap();
    spawn_app_with(move |c| {
        c.oauth.github = Some(GitHubConfig {
            client_id: CLIENT_ID.to_owned(),
            client_secret: Secret::new(CLIENT_SECRET),
            auth_url: url.clone(),
            api_url: url,
            link_by_email: true,
        });
        c.oauth.timeout = Duration::from_secs(2);
    })
    .await
}

#[tokio::test]
async fn github_signs_in_with_its_verified_primary_address_only() {
    let double = crate::github_double::GitHubDouble::start().await;
    let app = app_with_github(&double).await;
    let listed = app.gql("{ oauthProviders { name displayName } }", json!({})).await;
    assert_eq!(
        listed["data"]["oauthProviders"],
        json!([{ "name": "github", "displayName": "GitHub" }])
    );

    double.sign_in_as(4242, "Octo@Example.com", true);
    let end = browser().get(app.url("/auth/github")).send().await.unwrap();
    let code = outcome(&end).expect("signed in");
    let r = exchange(&app, &code).await;
    let user = &r["data"]["exchangeLoginCode"]["auth"]["user"];
    assert_eq!(user["email"], "octo@example.com", "{r}");
    let again = browser().get(app.url("/auth/github")).send().await.unwrap();
    let r = exchange(&app, &outcome(&again).unwrap()).await;
    assert_eq!(
        r["data"]["exchangeLoginCode"]["auth"]["user"]["id"], user["id"],
        "the same account by GitHub's id"
    );

    double.sign_in_as(777, "unverified@example.com", false);
    let end = browser().get(app.url("/auth/github")).send().await.unwrap();
    assert_eq!(outcome(&end), Err("FORBIDDEN".to_owned()));
}

#[tokio::test]
async fn an_address_given_only_by_userinfo_is_used() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider.tweak(Tweak::EmailOnlyInUserInfo);
    provider.sign_in_as("pia-1", "pia@example.com", true);
    assert_eq!(signed_in_user(&app).await["email"], "pia@example.com");
    provider.sign_in_as("quinn-1", "quinn@example.com", false);
    assert_eq!(
        sign_in(&app).await,
        Err("FORBIDDEN".to_owned()),
        "still only when verified"
    );
}

#[tokio::test]
async fn an_unknown_provider_is_refused_without_a_500() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    for path in [
        "/auth/nobody",
        "/auth/nobody/callback?code=x&state=y",
        "/auth/%0Aforged%20line/callback",
    ] {
        let end = browser().get(app.url(path)).send().await.unwrap();
        assert_eq!(outcome(&end), Err("FORBIDDEN".to_owned()), "{path}");
    }
}
