//! The linking rules: which account a verified provider identity signs in to.
//!
//! 1. An identity already linked signs its account in.
//! 2. Else an account with the same address is linked, only if the provider
//!    verified the address; if that account never confirmed it, it is
//!    claimed (`Accounts::claim`): reset to the claimant's sign-in alone,
//!    so whoever pre-registered the address keeps nothing.
//! 3. Else a new account is made, confirmed and without a password.
//! 4. An address the provider did not verify never links and never creates.
//! 5. Rule 2 holds only for providers trusted to verify addresses
//!    (`*_LINK_BY_EMAIL`); any other's identity with a taken address is
//!    refused as in 4, and the owner of the address is told.
//!
//! A switched-off account is refused.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::OAuth;
use super::provider::ProviderClaims;
use crate::accounts::{Claimant, Email, federated, find_by_email};
use crate::client::ClientInfo;
use crate::db;
use crate::entities::{identities, users};
use crate::error::{AppError, AppResult, Field, unique_violation};
use crate::events::{self, EventKind};
use crate::hooks::SignupFacts;
use crate::mail::templates;
use crate::webhooks::Event;

impl OAuth {
    /// The account `claims` of `provider` sign in to, linking or creating it
    /// by the rules above, in one transaction.
    ///
    /// # Errors
    /// `FORBIDDEN` for an unverified address or a switched-off account;
    /// `SERVICE_UNAVAILABLE` when a racing sign-in linked the same identity.
    pub(super) async fn account_for(
        &self,
        provider: &str,
        claims: &ProviderClaims,
        client: &ClientInfo,
    ) -> AppResult<users::Model> {
        let parts = self.parts();
        // Asked before the transaction: a hook's answer may take seconds.
        self.ask_signup_hook(provider, claims, client).await?;
        let mut tx = parts.db.begin().await?;
        let linked = identities::Entity::find()
            .filter(identities::Column::Provider.eq(provider))
            .filter(identities::Column::Subject.eq(claims.subject.as_str()))
            .one(&*tx)
            .await?;
        let user = if let Some(identity) = linked {
            users::Entity::find_by_id(identity.user_id)
                .one(&*tx)
                .await?
                .ok_or(AppError::InvalidToken)?
        } else {
            let address = claims.email.as_deref().and_then(|e| Email::parse(Field::Email, e).ok());
            let Some(email) = address.clone().filter(|_| claims.email_verified) else {
                // An owner whose address someone presents unverified sees it in their history.
                let owner = match &address {
                    Some(address) => find_by_email(&*tx, address).await?,
                    None => None,
                };
                // Released first: on SQLite the writer is this transaction's connection.
                drop(tx);
                if let Some(owner) = owner {
                    self.record_refusal(owner.id, client).await;
                }
                return Err(AppError::Forbidden("the provider did not verify an email address"));
            };
            let user = match find_by_email(&*tx, &email).await? {
                Some(user) if !user.active => {
                    drop(tx);
                    self.record_refusal(user.id, client).await;
                    return Err(AppError::Forbidden("this account is disabled"));
                }
                Some(user) if !self.links_by_email(provider) => {
                    drop(tx);
                    self.refuse_taken_address(&user, provider, client).await;
                    return Err(AppError::Forbidden(
                        "this provider is not trusted to vouch for an address that is registered",
                    ));
                }
                Some(user) => {
                    let claimed = parts
                        .accounts
                        .claim(&mut tx, user.id, Claimant::Provider, client)
                        .await?;
                    let notice = match claimed {
                        Some(removed) => templates::account_claimed(&user.email, provider, &removed),
                        None => {
                            // A new way in: proofs issued before it stop counting.
                            parts.sessions.renew_stamp(&mut tx, user.id, None).await?;
                            templates::identity_linked(&user.email, provider)
                        }
                    };
                    parts.outbox.enqueue(&mut tx, notice).await?;
                    events::record(&*tx, user.id, EventKind::IdentityLinked, client).await?;
                    let linked = Event::identity_linked(user.id, provider);
                    parts.webhooks.emit(&mut tx, linked).await?;
                    user
                }
                None => {
                    let user = federated::create_verified(&tx, &email).await?;
                    events::record(&*tx, user.id, EventKind::SignedUp, client).await?;
                    let created = vec![
                        Event::user_created(&user, provider),
                        Event::identity_linked(user.id, provider),
                    ];
                    parts.webhooks.emit_all(&mut tx, created).await?;
                    user
                }
            };
            link(&tx, provider, &claims.subject, user.id, email.as_str()).await?;
            user
        };
        if !user.active {
            drop(tx);
            self.record_refusal(user.id, client).await;
            return Err(AppError::Forbidden("this account is disabled"));
        }
        // Read again: a link or a claim above renewed the stamp, and the
        // sign-in that follows holds the stamp it was given (rule 2).
        let user = users::Entity::find_by_id(user.id)
            .one(&*tx)
            .await?
            .ok_or(AppError::InvalidToken)?;
        tx.commit().await?;
        Ok(user)
    }

    /// Asks the sign-up hook when this sign-in would make an account: an
    /// identity not linked yet, with a verified address no confirmed account
    /// has (a new account, or a claim of an unconfirmed one).
    ///
    /// # Errors
    /// `FORBIDDEN` or `SERVICE_UNAVAILABLE` from the hook; database errors.
    async fn ask_signup_hook(&self, provider: &str, claims: &ProviderClaims, client: &ClientInfo) -> AppResult<()> {
        let parts = self.parts();
        let linked = identities::Entity::find()
            .filter(identities::Column::Provider.eq(provider))
            .filter(identities::Column::Subject.eq(claims.subject.as_str()))
            .one(&parts.db.read)
            .await?;
        let address = claims.email.as_deref().and_then(|e| Email::parse(Field::Email, e).ok());
        let (None, Some(email), true) = (linked, address, claims.email_verified) else {
            return Ok(());
        };
        if find_by_email(&parts.db.read, &email)
            .await?
            .is_some_and(|user| user.email_verified_at.is_some())
        {
            return Ok(());
        }
        let facts = SignupFacts {
            email: email.as_str(),
            username: None,
            display_name: None,
            first_name: None,
            last_name: None,
            phone_number: None,
            provider,
        };
        parts.hooks.before_signup(&facts, client).await
    }

    /// Whether `provider` is trusted to verify addresses (`*_LINK_BY_EMAIL`).
    fn links_by_email(&self, provider: &str) -> bool {
        match self.github(provider) {
            Some(github) => github.config.link_by_email,
            None => self.provider(provider).is_ok_and(|p| p.config.link_by_email),
        }
    }

    /// Records on `owner`'s account that a provider not trusted to verify
    /// addresses presented theirs, and tells them, outside the refused
    /// transaction; a failure is logged, not answered.
    async fn refuse_taken_address(&self, owner: &users::Model, provider: &str, client: &ClientInfo) {
        let parts = self.parts();
        let recorded = async {
            let mut tx = parts.db.begin().await?;
            events::record(&*tx, owner.id, EventKind::ProviderSignInRefused, client).await?;
            let notice = templates::provider_address_refused(&owner.email, provider);
            parts.outbox.enqueue(&mut tx, notice).await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        };
        if let Err(e) = recorded.await {
            e.log();
        }
    }

    /// Records a refused provider sign-in on the account it was for, outside
    /// the refused transaction; a failure to record is logged, not answered.
    async fn record_refusal(&self, user_id: Uuid, client: &ClientInfo) {
        let recorded = events::record(
            self.parts().db.writer(),
            user_id,
            EventKind::ProviderSignInRefused,
            client,
        )
        .await;
        if let Err(e) = recorded {
            e.log();
        }
    }
}

/// Links (`provider`, `subject`) to `user_id`.
async fn link(tx: &db::Tx, provider: &str, subject: &str, user_id: Uuid, email: &str) -> AppResult<()> {
    let inserted = identities::ActiveModel {
        id: Set(Uuid::new_v4()),
        provider: Set(provider.to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(user_id),
        email: Set(Some(email.to_owned())),
        created_at: Set(db::now()),
    }
    .insert(&**tx)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        // The same identity signing in twice at once: the other one linked it; sign in again.
        Err(e) if unique_violation(&e).is_some() => Err(AppError::Unavailable("identity linked concurrently".into())),
        Err(e) => Err(e.into()),
    }
}
