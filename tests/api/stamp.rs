//! The security stamp: every credential or address change makes every proof
//! issued before it (mailed links, step-up grants of other sessions) stale.
//! One table: for each change, proofs issued before it are refused after it.

use serde_json::{Value, json};

use crate::admin::admin;
use crate::helpers::{PASSWORD, TestApp, Tokens, code, spawn_app_with, unlimited_mail_per_address};
use crate::mfa::{Authenticator, enrolled};
use crate::oauth::{app_with_config, browser, link_provider, outcome};
use crate::oidc_provider::Provider;
use crate::passkey_device::Device;
use crate::passkeys::{add_passkey, passkey_config};

const ANN: &str = "ann@example.com";
const ANN_NEW: &str = "ann.new@example.com";
const CHANGE_EMAIL: &str = "mutation($e: String!, $p: String) { changeEmail(newEmail: $e, password: $p) }";
const FORGOT: &str = "mutation($e: String!) { forgotPassword(email: $e) }";
const RESET: &str = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) }";
const CONFIRM: &str = "mutation($t: String!) { confirmEmail(token: $t) }";
/// A sensitive operation without side effects: revoking a session that does not exist.
const PROBE_GRANT: &str = "mutation { revokeSession(id: \"00000000-0000-4000-8000-000000000000\") }";

/// A change of credentials or address, made through the API.
#[derive(Clone, Copy, Debug)]
enum CredentialChange {
    ChangePassword,
    ResetPassword,
    EnableTotp,
    DisableTotp,
    RegenerateRecoveryCodes,
    ChangeEmail,
    UndoEmailChange,
    Deactivate,
    ChangeRole,
    /// `linkIdentity` and its browser flow.
    LinkIdentity,
    /// `unlinkIdentity` of an identity linked before the proofs.
    UnlinkIdentity,
    /// A provider sign-in whose verified address is the account's links it.
    LinkByEmail,
    /// The owner of the address of an account nobody confirmed signs in with
    /// a provider that verified it (confirmation off, so the account was in use).
    Claim,
    /// `startPasskeyRegistration` and its finish.
    AddPasskey,
    /// `deletePasskey` of a passkey added before the proofs (the account keeps its password).
    DeletePasskey,
    /// `authql remove-passkeys` (the service it calls) of a passkey added before the proofs.
    RemovePasskeysByOperator,
}

impl CredentialChange {
    fn needs_provider(self) -> bool {
        matches!(
            self,
            Self::LinkIdentity | Self::UnlinkIdentity | Self::LinkByEmail | Self::Claim
        )
    }
}

/// What one row's account looks like before the change.
struct Account {
    /// The session that makes the change (where the owner makes it).
    changer: Tokens,
    /// Another session, signed in just now: its sign-in is a step-up grant.
    other: Tokens,
    authenticator: Option<Authenticator>,
    recovery_codes: Vec<String>,
    /// The address the account has when the proofs are issued.
    address: &'static str,
    /// The undo link of an address change made before the proofs.
    undo: Option<String>,
    /// The id of a passkey added before the proofs.
    passkey: Option<String>,
}

/// The newest mail to `to` with `subject`, among those after the first `seen`.
async fn mailed(app: &TestApp, to: &str, seen: usize, subject: &str) -> crate::smtp::Received {
    let mut n = seen + 1;
    loop {
        let mail = app.mail.wait_for_nth(to, n).await;
        if mail.subject() == subject {
            return mail;
        }
        n += 1;
    }
}

/// A reset link mailed to `to` now.
async fn reset_link(app: &TestApp, to: &str) -> String {
    let seen = app.mail.to(to).len();
    let r = app.gql(FORGOT, json!({ "e": to })).await;
    assert_eq!(r["data"]["forgotPassword"], true, "{r}");
    mailed(app, to, seen, "Reset your password").await.token()
}

/// A link that moves `access`'s account to `to`, mailed there now.
async fn change_link(app: &TestApp, access: &str, to: &str) -> String {
    let seen = app.mail.to(to).len();
    let r = app
        .gql_as(access, CHANGE_EMAIL, json!({ "e": to, "p": PASSWORD }))
        .await;
    assert_eq!(r["data"]["changeEmail"], true, "{r}");
    mailed(app, to, seen, "Confirm your new email address").await.token()
}

/// Another sign-in of the account, with a recovery code when it has TOTP.
async fn second_session(app: &TestApp, codes: &[String]) -> Tokens {
    if codes.is_empty() {
        return app.login_tokens(ANN, PASSWORD).await;
    }
    let token = crate::mfa::mfa_token(app, ANN).await;
    let v = crate::mfa::verify(app, &token, &codes[9], "RECOVERY_CODE").await;
    Tokens::from_auth(&v["data"]["verifyMfa"])
}

async fn account(app: &TestApp, change: CredentialChange) -> Account {
    let with_totp = matches!(
        change,
        CredentialChange::DisableTotp | CredentialChange::RegenerateRecoveryCodes
    );
    let (changer, authenticator, recovery_codes) = if matches!(change, CredentialChange::Claim) {
        let r = app
            .gql(
                "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken refreshToken } } }",
                json!({ "i": { "email": ANN, "password": PASSWORD } }),
            )
            .await;
        (Tokens::from_auth(&r["data"]["signup"]["auth"]), None, Vec::new())
    } else if with_totp {
        let (tokens, authenticator, codes) = enrolled(app, ANN).await;
        (tokens, Some(authenticator), codes)
    } else {
        (app.user_with_tokens(ANN).await, None, Vec::new())
    };
    let other = second_session(app, &recovery_codes).await;
    Account {
        changer,
        other,
        authenticator,
        recovery_codes,
        address: ANN,
        undo: None,
        passkey: None,
    }
}

fn ok(r: &Value) {
    assert!(r["errors"].is_null(), "the change went through: {r}");
}

/// Makes `change`; returns whether the other session survives it.
async fn make(
    app: &TestApp,
    change: CredentialChange,
    account: &mut Account,
    root: Option<&Tokens>,
    provider: Option<&Provider>,
) -> bool {
    let access = account.changer.access.clone();
    match change {
        CredentialChange::ChangePassword => {
            let r = app
                .gql_as(
                    &access,
                    "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
                    json!({ "i": { "currentPassword": PASSWORD, "newPassword": "Another-Horse-Battery-Staple-43" } }),
                )
                .await;
            ok(&r);
            false
        }
        CredentialChange::ResetPassword => {
            let token = reset_link(app, ANN).await;
            let r = app
                .gql(
                    RESET,
                    json!({ "i": { "token": token, "newPassword": "Another-Horse-Battery-Staple-43" } }),
                )
                .await;
            ok(&r);
            false
        }
        CredentialChange::EnableTotp => {
            let setup = app.gql_as(&access, "mutation { setupMfa { secret } }", json!({})).await;
            let secret = setup["data"]["setupMfa"]["secret"].as_str().unwrap();
            let totp = totp_rs::Builder::new()
                .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
                .with_account_name(ANN.to_owned())
                .build()
                .unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let r = app
                .gql_as(
                    &access,
                    "mutation($c: String!) { enableMfa(code: $c) { codes } }",
                    json!({ "c": totp.generate(now).to_string() }),
                )
                .await;
            ok(&r);
            true
        }
        CredentialChange::DisableTotp => {
            let code = account.authenticator.as_ref().unwrap().code(1);
            let r = app
                .gql_as(
                    &access,
                    "mutation($c: String!) { disableMfa(code: $c) }",
                    json!({ "c": code }),
                )
                .await;
            ok(&r);
            true
        }
        CredentialChange::RegenerateRecoveryCodes => {
            let r = app
                .gql_as(
                    &access,
                    "mutation($c: String!) { regenerateRecoveryCodes(code: $c) { codes } }",
                    json!({ "c": account.recovery_codes[0] }),
                )
                .await;
            ok(&r);
            true
        }
        CredentialChange::ChangeEmail => {
            // The link was issued before; opening it is the change.
            let token = change_link(app, &access, ANN_NEW).await;
            ok(&app.gql(CONFIRM, json!({ "t": token })).await);
            true
        }
        CredentialChange::UndoEmailChange => {
            let undo = account.undo.take().unwrap();
            ok(&app.gql(CONFIRM, json!({ "t": undo })).await);
            false
        }
        CredentialChange::Deactivate => {
            let id = app.me(&access).await["data"]["me"]["id"].clone();
            let root = root.unwrap();
            let set = "mutation($id: ID!, $a: Boolean!) { setUserActive(id: $id, active: $a) { active } }";
            ok(&app.gql_as(&root.access, set, json!({ "id": id, "a": false })).await);
            ok(&app.gql_as(&root.access, set, json!({ "id": id, "a": true })).await);
            false
        }
        CredentialChange::ChangeRole => {
            let id = app.me(&access).await["data"]["me"]["id"].clone();
            let set = "mutation($id: ID!, $r: Role!) { setUserRole(id: $id, role: $r) { role } }";
            ok(&app
                .gql_as(&root.unwrap().access, set, json!({ "id": id, "r": "ADMIN" }))
                .await);
            true
        }
        CredentialChange::LinkIdentity => {
            provider
                .unwrap()
                .sign_in_as("ann-elsewhere", "ann.work@example.org", true);
            assert_eq!(link_provider(app, &access).await, Ok(()));
            true
        }
        CredentialChange::UnlinkIdentity => {
            let r = app
                .gql_as(
                    &access,
                    "mutation { unlinkIdentity(provider: \"test\") { providers } }",
                    json!({}),
                )
                .await;
            ok(&r);
            true
        }
        CredentialChange::LinkByEmail | CredentialChange::Claim => {
            provider.unwrap().sign_in_as("ann-at-provider", ANN, true);
            let end = browser().get(app.url("/auth/test")).send().await.unwrap();
            assert!(outcome(&end).is_ok(), "{}", end.url());
            // A claim ends every session.
            matches!(change, CredentialChange::LinkByEmail)
        }
        CredentialChange::AddPasskey => {
            let r = add_passkey(app, &access, &mut Device::new()).await;
            ok(&r);
            true
        }
        CredentialChange::DeletePasskey => {
            let r = app
                .gql_as(
                    &access,
                    "mutation($id: ID!) { deletePasskey(id: $id) }",
                    json!({ "id": account.passkey.as_deref().unwrap() }),
                )
                .await;
            ok(&r);
            true
        }
        CredentialChange::RemovePasskeysByOperator => {
            let id = app.me(&access).await["data"]["me"]["id"].as_str().unwrap().to_owned();
            let removed = app
                .state
                .passkeys
                .remove_by_operator(id.parse().unwrap())
                .await
                .unwrap();
            assert_eq!(removed, 1);
            // The operator's removal ends every session.
            false
        }
    }
}

#[tokio::test]
async fn every_change_of_credentials_makes_earlier_proofs_stale() {
    use CredentialChange::*;
    let rows = [
        ChangePassword,
        ResetPassword,
        EnableTotp,
        DisableTotp,
        RegenerateRecoveryCodes,
        ChangeEmail,
        UndoEmailChange,
        Deactivate,
        ChangeRole,
        LinkIdentity,
        UnlinkIdentity,
        LinkByEmail,
        Claim,
        AddPasskey,
        DeletePasskey,
        RemovePasskeysByOperator,
    ];
    for change in rows {
        let provider = match change.needs_provider() {
            true => Some(Provider::start().await),
            false => None,
        };
        let app = match &provider {
            Some(provider) => {
                app_with_config(
                    provider,
                    |_| {},
                    |c| {
                        unlimited_mail_per_address(c);
                        c.require_email_confirmation = !matches!(change, Claim);
                    },
                )
                .await
            }
            None => {
                spawn_app_with(|c| {
                    unlimited_mail_per_address(c);
                    c.webauthn = passkey_config();
                })
                .await
            }
        };
        let root = match change {
            Deactivate | ChangeRole => Some(admin(&app).await),
            _ => None,
        };
        let mut account = account(&app, change).await;
        if matches!(change, UndoEmailChange) {
            // The change to undo, made first; the proofs come after it.
            let token = change_link(&app, &account.changer.access, ANN_NEW).await;
            let seen = app.mail.to(ANN).len();
            ok(&app.gql(CONFIRM, json!({ "t": token })).await);
            let undo = mailed(&app, ANN, seen, "Your email address was changed").await;
            account.undo = Some(undo.token());
            account.address = ANN_NEW;
            account.other = app.login_tokens(ANN_NEW, PASSWORD).await;
        }
        if matches!(change, DeletePasskey | RemovePasskeysByOperator) {
            // The passkey to delete, added first; the proofs come after it.
            let r = add_passkey(&app, &account.changer.access, &mut Device::new()).await;
            ok(&r);
            account.passkey = r["data"]["finishPasskeyRegistration"]["id"].as_str().map(str::to_owned);
            account.changer = app.login_tokens(ANN, PASSWORD).await;
            account.other = app.login_tokens(ANN, PASSWORD).await;
        }
        if matches!(change, UnlinkIdentity) {
            // The identity to unlink, linked first; the proofs (and the
            // sessions that hold them) come after it.
            provider
                .as_ref()
                .unwrap()
                .sign_in_as("ann-elsewhere", "ann.work@example.org", true);
            assert_eq!(link_provider(&app, &account.changer.access).await, Ok(()));
            account.changer = app.login_tokens(ANN, PASSWORD).await;
            account.other = app.login_tokens(ANN, PASSWORD).await;
        }
        // Proofs issued before the change. A reset can only be probed with a
        // change link (a new reset link replaces older ones anyway), and a
        // change of address only with a reset link (it spends its own).
        let pending_change = match change {
            ChangeEmail | UndoEmailChange => None,
            _ => Some(change_link(&app, &account.changer.access, "ann.other@example.com").await),
        };
        let pending_reset = match change {
            ResetPassword => None,
            _ => Some(reset_link(&app, account.address).await),
        };

        let other_survives = make(&app, change, &mut account, root.as_ref(), provider.as_ref()).await;

        if let Some(token) = pending_change {
            let r = app.gql(CONFIRM, json!({ "t": token })).await;
            assert_eq!(
                code(&r),
                Some("INVALID_TOKEN"),
                "{change:?}: an earlier change link: {r}"
            );
        }
        if let Some(token) = pending_reset {
            let r = app
                .gql(
                    RESET,
                    json!({ "i": { "token": token, "newPassword": "Thief-Chosen-Passphrase-77" } }),
                )
                .await;
            assert_eq!(
                code(&r),
                Some("INVALID_TOKEN"),
                "{change:?}: an earlier reset link: {r}"
            );
        }
        if other_survives {
            let r = app.gql_as(&account.other.access, PROBE_GRANT, json!({})).await;
            assert_eq!(
                code(&r),
                Some("STEP_UP_REQUIRED"),
                "{change:?}: another session's earlier sign-in is no proof any more: {r}"
            );
        }
        if matches!(
            change,
            EnableTotp | DisableTotp | RegenerateRecoveryCodes | LinkIdentity | UnlinkIdentity
        ) {
            // The session that made the change with its own proof keeps it.
            let r = app.gql_as(&account.changer.access, PROBE_GRANT, json!({})).await;
            assert_eq!(r["data"]["revokeSession"], false, "{change:?}: {r}");
        }
    }
}
