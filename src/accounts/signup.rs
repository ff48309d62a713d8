//! Sign-up: a new account, or (for a taken email) the very same answer and
//! a mail to the owner. Its credential is a password, or a passkey (see
//! `passkey_signup.rs`); both take the one path here after their checks.

use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::handles::{ensure_free, taken_field};
use super::new_user::new_user;
use super::{Accounts, Email, validate};
use crate::client::ClientInfo;
use crate::entities::users;
use crate::error::{AppError, AppResult, Field, unique_violation, violates};
use crate::events::{self, EventKind};
use crate::hooks::SignupFacts;
use crate::limits::{Key, Limit};
use crate::mail::templates;
use crate::passkeys::{self, NewPasskey};
use crate::sessions::{AuthBundle, SignInMethod};
use crate::tokens::one_time::{self, Purpose};
use crate::webhooks::Event;

/// Sign-up input as given by the client; the email is already parsed.
pub struct NewAccount {
    pub email: Email,
    pub password: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

/// The profile of a sign-up, checked; a passkey sign-up's ceremony carries
/// it from its start to its finish.
#[derive(Serialize, Deserialize)]
pub(super) struct Profile {
    pub(super) username: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) phone: Option<String>,
}

/// What the new account signs in with.
pub(super) enum Credential {
    /// A password, hashed.
    Password(String),
    /// A passkey that verified, and the account id its user handle names.
    Passkey(Uuid, Box<NewPasskey>),
}

/// A sign-up, checked and ready to write.
pub(super) struct Pending {
    pub(super) profile: Profile,
    pub(super) credential: Credential,
    /// Whether the address gets this sign-up's mail: not past its day's (MAIL_DAILY).
    pub(super) mail: bool,
}

/// The answer to a sign-up.
pub struct SignupOutcome {
    pub confirmation_required: bool,
    /// Set only when confirmation is switched off (and then not when the
    /// token hook fails under `deny`: the app signs in later).
    pub auth: Option<AuthBundle>,
}

impl Accounts {
    /// Creates an account and mails a confirmation link.
    ///
    /// With confirmation on, a taken email gets the same answer as a new one
    /// (and its owner a mail), after the same password hashing, so neither the
    /// answer nor its timing tells whether the address is registered.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for invalid fields or a taken username or phone number;
    /// `EMAIL_TAKEN` only when confirmation is off; `FORBIDDEN` or
    /// `SERVICE_UNAVAILABLE` from the sign-up hook (nothing written then).
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, input: NewAccount, client: &ClientInfo) -> AppResult<SignupOutcome> {
        let email = input.email;
        let profile = self
            .check_profile(
                Profile {
                    username: input.username,
                    display_name: input.display_name,
                    first_name: input.first_name,
                    last_name: input.last_name,
                    phone: input.phone_number,
                },
                client,
            )
            .await?;
        validate::password(
            Field::Password,
            &input.password,
            email.as_str(),
            profile.username.as_deref(),
        )?;
        self.screen.check(Field::Password, &input.password).await?;
        self.check_free(&email, &profile, "password", client).await?;
        let mail = self.daily_mail_left(&email).await;
        let password_hash = self.passwords.hash(&input.password).await?;
        let pending = Pending {
            profile,
            credential: Credential::Password(password_hash),
            mail,
        };
        self.create(&email, pending, client).await
    }

    /// The first checks of every sign-up: the client's SIGNUP limit and the
    /// profile's fields; the profile normalised.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for invalid fields; `RATE_LIMITED`.
    pub(super) async fn check_profile(&self, raw: Profile, client: &ClientInfo) -> AppResult<Profile> {
        self.limits.check(Limit::Signup, client.ip, None).await?;
        let username = raw
            .username
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(validate::username)
            .transpose()?;
        let phone = raw
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(validate::phone)
            .transpose()?;
        Ok(Profile {
            display_name: validate::name(Field::DisplayName, raw.display_name.as_deref())?,
            first_name: validate::name(Field::FirstName, raw.first_name.as_deref())?,
            last_name: validate::name(Field::LastName, raw.last_name.as_deref())?,
            username,
            phone,
        })
    }

    /// The last checks of every sign-up, once its credential is acceptable:
    /// the app's sign-up hook (HOOK_BEFORE_SIGNUP_URL, asked alike whether or
    /// not the address is registered), a username or phone number nobody
    /// has, and the client's mail limit for the address. `provider` is how
    /// the account will sign in: `password` or `passkey`.
    ///
    /// # Errors
    /// `FORBIDDEN` when the hook refuses; `SERVICE_UNAVAILABLE` when it fails
    /// under a `deny` policy; `BAD_USER_INPUT` for a taken username or phone
    /// number; `RATE_LIMITED`.
    pub(super) async fn check_free(
        &self,
        email: &Email,
        profile: &Profile,
        provider: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let facts = SignupFacts {
            email: email.as_str(),
            username: profile.username.as_deref(),
            display_name: profile.display_name.as_deref(),
            first_name: profile.first_name.as_deref(),
            last_name: profile.last_name.as_deref(),
            phone_number: profile.phone.as_deref(),
            provider,
        };
        self.before_signup(&facts, client).await?;
        ensure_free(&self.db, profile.username.as_deref(), profile.phone.as_deref(), None).await?;
        // Every sign-up mails the address (a link, or "this address is
        // registered"), so it counts in the client's mail limit for the
        // address (SIGNUP counts the client already), alike whether or not
        // the address is registered; past the address's day, nothing is sent.
        self.limits
            .check_for_key(Limit::Mail, client.ip, Key::Account(email.as_str()))
            .await?;
        Ok(())
    }

    /// Writes a checked sign-up: a new account with its credential and a
    /// confirmation link, or, for a taken address, what
    /// [`Accounts::already_registered`] does, with the same answer.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for a username, phone number or passkey taken
    /// meanwhile; `EMAIL_TAKEN` only when confirmation is off.
    pub(super) async fn create(
        &self,
        email: &Email,
        pending: Pending,
        client: &ClientInfo,
    ) -> AppResult<SignupOutcome> {
        let (id, password_hash) = match &pending.credential {
            Credential::Password(hash) => (Uuid::new_v4(), Some(hash.clone())),
            Credential::Passkey(id, _) => (*id, None),
        };
        let mut tx = self.db.begin().await?;
        let profile = &pending.profile;
        let inserted = users::ActiveModel {
            id: Set(id),
            username: Set(profile.username.clone()),
            display_name: Set(profile.display_name.clone()),
            first_name: Set(profile.first_name.clone()),
            last_name: Set(profile.last_name.clone()),
            phone_number: Set(profile.phone.clone()),
            ..new_user(email, password_hash)
        }
        .insert(&*tx)
        .await;
        let user = match inserted {
            Ok(user) => user,
            Err(e) => {
                tx.rollback().await?;
                let Some(constraint) = unique_violation(&e) else {
                    return Err(e.into());
                };
                if violates(&constraint, "users", "email") {
                    return self.already_registered(email, pending, client).await;
                }
                return Err(taken_field(&constraint).unwrap_or_else(|| e.into()));
            }
        };
        let (signed_in_by, provider) = match &pending.credential {
            Credential::Password(_) => (SignInMethod::Password, "password"),
            Credential::Passkey(_, passkey) => {
                let added = passkeys::attach(&*tx, user.id, passkey).await?;
                let told = Event::passkey_added(user.id, added.id, &added.name);
                self.webhooks.emit(&mut tx, told).await?;
                (SignInMethod::Passkey, "passkey")
            }
        };
        events::record(&*tx, user.id, EventKind::SignedUp, client).await?;
        self.webhooks
            .emit(&mut tx, Event::user_created(&user, provider))
            .await?;
        let token = one_time::create(&*tx, user.id, Purpose::ConfirmEmail).await?;
        if pending.mail {
            let mail = templates::confirm_email(&user.email, &self.confirm_link(&token));
            self.outbox.enqueue(&mut tx, mail).await?;
        }
        let session = if self.require_confirmation {
            None
        } else {
            Some(self.sessions.open(&mut tx, &user, client, signed_in_by).await?)
        };
        tx.commit().await?;
        let auth = match session {
            Some((session, refresh)) => match self.sessions.first_bundle(user, &session, refresh).await {
                Ok(bundle) => Some(bundle),
                // The token hook failed under `deny` and its session was
                // ended: the account is made all the same, and the app signs
                // in once the hook answers again.
                Err(AppError::Unavailable(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        Ok(SignupOutcome {
            confirmation_required: self.require_confirmation,
            auth,
        })
    }
}
