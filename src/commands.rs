//! Commands that act on the database without serving.

use anyhow::Context as _;

use crate::accounts::password::PasswordHasher;
use crate::accounts::{self, MadeAdmin};
use crate::config::Config;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::error::AppError;
use crate::tokens::keys;

/// `authql migrate`: applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(config.database_url.expose(), 1, config.sqlite_synchronous)
        .await
        .context("cannot connect to DATABASE_URL")?;
    db.migrate().await.context("migration failed")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// `authql keygen`: a new signing key, published at once and signing after
/// [`keys::ROTATION_DELAY`] (or at once with `now`); the others retire then
/// but keep verifying until their last tokens expire.
///
/// # Errors
/// When the database fails.
pub async fn rotate_key(config: &Config, now: bool) -> anyhow::Result<()> {
    let db = Db::connect(config.database_url.expose(), 1, config.sqlite_synchronous)
        .await
        .context("cannot connect to DATABASE_URL")?;
    db.migrate().await.context("migration failed")?;
    let crypto = Crypto::new(config.secret_key.expose());
    let delay = if now {
        std::time::Duration::ZERO
    } else {
        keys::ROTATION_DELAY
    };
    let kid = keys::rotate(&db, &crypto, delay)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
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
    let db = Db::connect(config.database_url.expose(), 2, config.sqlite_synchronous)
        .await
        .context("cannot connect to DATABASE_URL")?;
    db.migrate().await.context("migration failed")?;
    let passwords = PasswordHasher::new(&config.password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let exists = accounts::find_by_email(&db.read, &email.trim().to_lowercase())
        .await
        .map_err(cli_error)?
        .is_some();
    let password = if exists { None } else { Some(read_password()?) };
    let made = accounts::make_admin(&db, &passwords, email, password.as_deref())
        .await
        .map_err(cli_error)?;
    match made {
        MadeAdmin::Promoted => println!("{email} is now an administrator"),
        MadeAdmin::Created => println!("created the administrator account {email}"),
    }
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

/// An error for the operator: input errors name their field; internal details go to the log.
fn cli_error(e: AppError) -> anyhow::Error {
    match e {
        AppError::BadInput { field, message } => anyhow::anyhow!("{field}: {message}"),
        other => {
            other.log();
            anyhow::anyhow!("{other}")
        }
    }
}
