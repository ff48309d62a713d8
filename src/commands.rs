//! The CLI's commands besides `serve`. They build the same services as the
//! server (`startup::services`), so they run the same code as the API.

use anyhow::Context as _;

use crate::accounts::{self, Email, MadeAdmin};
use crate::config::{Config, RequireMfa};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::entities::users;
use crate::error::{AppError, Field};
use crate::startup;
use crate::state::Services;
use crate::tokens::keys;

/// Connects with one or two connections and applies pending migrations.
async fn migrated(config: &Config, max_connections: u32) -> anyhow::Result<Db> {
    let db = startup::connect(config, max_connections).await?;
    db.migrate().await.context("cannot apply database migrations")?;
    Ok(db)
}

/// `authql migrate`: applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    migrated(config, 1).await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// `authql keygen`: a new signing key, published at once and signing after
/// [`keys::ROTATION_DELAY`] (or at once with `now`); the others retire then
/// but keep verifying until their last tokens expire, unless
/// `revoke_previous` removes them at once (a leaked key).
///
/// # Errors
/// When the database fails.
pub async fn rotate_key(config: &Config, now: bool, revoke_previous: bool) -> anyhow::Result<()> {
    let db = migrated(config, 1).await?;
    let crypto = Crypto::new(config.secret_key.expose());
    if revoke_previous {
        let kid = keys::rotate_revoking_previous(&db, &crypto)
            .await
            .context("cannot store the new signing key")?;
        println!(
            "new signing key {kid}: signing now; every previous key is revoked (running instances drop it within a minute)"
        );
        return Ok(());
    }
    let delay = if now {
        std::time::Duration::ZERO
    } else {
        keys::ROTATION_DELAY
    };
    let kid = keys::rotate(&db, &crypto, delay)
        .await
        .context("cannot store the new signing key")?;
    println!(
        "new signing key {kid}: published now, signing in {}",
        humantime::format_duration(delay)
    );
    Ok(())
}

/// `authql create-admin EMAIL`: promotes EMAIL's account to administrator, or
/// creates a confirmed administrator account with the password on the first
/// line of standard input (never an argument, which `ps` would show).
///
/// # Errors
/// When the database fails, the email is invalid, or a new account's password
/// is missing or weak.
pub async fn create_admin(config: &Config, email: &str) -> anyhow::Result<()> {
    let (services, email, account) = services_for(config, email).await?;
    let password = if account.is_some() {
        None
    } else {
        Some(read_password()?)
    };
    let made = services
        .accounts
        .make_admin(&email, password.as_deref())
        .await
        .map_err(for_operator)?;
    match made {
        MadeAdmin::Promoted => println!("{email} is now an administrator"),
        MadeAdmin::Created => println!("created the administrator account {email}"),
    }
    if config.mfa.require != RequireMfa::Off {
        println!(
            "REQUIRE_MFA={}: until it turns on two-step verification (setupMfa, then enableMfa), \
             this administrator can sign in but do nothing else",
            if config.mfa.require == RequireMfa::All {
                "all"
            } else {
                "admins"
            }
        );
    }
    Ok(())
}

/// `authql reset-mfa EMAIL`: turns MFA off for an owner who lost both
/// factors; every session ends, the event is recorded and the owner is told.
/// Passkeys stay (`remove-passkeys` removes them).
///
/// # Errors
/// When the database fails or no account has this email.
pub async fn reset_mfa(config: &Config, email: &str) -> anyhow::Result<()> {
    let (services, email, account) = services_for(config, email).await?;
    let user = account.ok_or_else(|| anyhow::anyhow!("email: no account has this address"))?;
    if services.mfa.reset_by_operator(user.id).await.map_err(for_operator)? {
        println!("two-step verification is off for {email}; its sessions ended and its owner was told");
    } else {
        println!("{email} had no two-step verification on; nothing changed");
    }
    Ok(())
}

/// `authql remove-passkeys EMAIL`: removes every passkey of an owner who
/// lost one (or whose passkey was stolen); every session ends, the removal
/// is recorded (the account's events and the audit log) and the owner is
/// told. `reset-mfa` leaves passkeys alone.
///
/// # Errors
/// When the database fails or no account has this email.
pub async fn remove_passkeys(config: &Config, email: &str) -> anyhow::Result<()> {
    let (services, email, account) = services_for(config, email).await?;
    let user = account.ok_or_else(|| anyhow::anyhow!("email: no account has this address"))?;
    let removed = services
        .passkeys
        .remove_by_operator(user.id)
        .await
        .map_err(for_operator)?;
    if removed == 0 {
        println!("{email} had no passkey; nothing changed");
    } else {
        println!("removed {removed} passkey(s) of {email}; its sessions ended and its owner was told");
    }
    Ok(())
}

/// The services the server builds, over a migrated database, and the
/// account of `email` if there is one.
async fn services_for(config: &Config, email: &str) -> anyhow::Result<(Services, Email, Option<users::Model>)> {
    let email = Email::parse(Field::Email, email).map_err(for_operator)?;
    let db = migrated(config, 2).await?;
    let crypto = Crypto::new(config.secret_key.expose());
    let services = startup::services(config.clone(), db, crypto).await?;
    let account = accounts::find_by_email(&services.db.read, &email)
        .await
        .context("cannot look the account up")?;
    Ok((services, email, account))
}

/// `authql check-config [--connect]`: what `serve` checks before it binds
/// (every setting parsed, SMTP_URL, REDIS_URL, the password cost and the
/// sign-in providers usable), and with `connect` the database (and its
/// migrations), Redis and SMTP answering. Prints `settings` first: each
/// setting's line from [`crate::config::listing::listing`], secrets masked.
///
/// # Errors
/// The first thing at fault, named.
pub async fn check_config(config: &Config, connect: bool, settings: &[String]) -> anyhow::Result<()> {
    for line in settings {
        println!("{line}");
    }
    crate::accounts::password::PasswordHasher::new(&config.password).context("PASSWORD_HASH_*")?;
    let redis = config
        .redis_url
        .as_ref()
        .map(|url| (url.expose(), config.redis_key_prefix.as_str()));
    let limits = crate::limits::Limits::new(
        config.limits.enabled,
        config.limits.ipv6_prefix,
        &config.limits.quotas,
        redis,
    )
    .context("REDIS_URL")?;
    if !connect {
        println!("configuration is valid (add --connect to reach the database, Redis and SMTP)");
        return Ok(());
    }
    let db = startup::connect(config, 1).await.context("DATABASE_URL")?;
    if !db.migrations_applied().await.context("DATABASE_URL")? {
        println!("DATABASE_URL: migrations are pending (serve and migrate apply them)");
    }
    let crypto = std::sync::Arc::new(Crypto::new(config.secret_key.expose()));
    let outbox = crate::mail::Outbox::new(&config.mail, &config.data_dir, db, crypto, false).context("SMTP_URL")?;
    if limits.redis_answers().await == Some(false) {
        anyhow::bail!("REDIS_URL: Redis does not answer");
    }
    if outbox.smtp_answers().await == Some(false) {
        anyhow::bail!("SMTP_URL: the SMTP server does not answer");
    }
    println!("configuration is valid; the database, Redis and SMTP answer");
    Ok(())
}

/// The first line of standard input, which must not be a terminal (it would echo the password).
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!(
            "no account has this email: pipe the new account's password on standard input, e.g. `printf '%s\\n' \"$PASSWORD\" | authql create-admin EMAIL`"
        );
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// An input error names the command's argument at fault; anything else keeps its cause.
fn for_operator(e: AppError) -> anyhow::Error {
    match e {
        AppError::BadInput { field, message } => {
            let argument = match field {
                Field::Email => "email",
                Field::Password => "password",
                other => return anyhow::anyhow!("{other:?}: {message}"),
            };
            anyhow::anyhow!("{argument}: {message}")
        }
        other => anyhow::Error::new(other),
    }
}
