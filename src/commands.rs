//! Commands that act on the database without serving.

use anyhow::Context as _;

use crate::config::Config;
use crate::crypto::Crypto;
use crate::db::Db;
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
