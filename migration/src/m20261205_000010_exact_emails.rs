//! Email addresses compare exactly and are stored in one normal form: a
//! binary collation on MySQL/MariaDB (PostgreSQL and SQLite compare exactly
//! already), and every stored address rewritten into the form the
//! application's `Email` gives. Rows that would share an address in that
//! form, or have none, stop it by name: merging accounts is the operator's call.

use std::collections::BTreeMap;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use unicode_normalization::UnicodeNormalization;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Token purposes whose payload is an address (an email change's new one, its undo's old one).
const ADDRESS_PAYLOADS: [&str; 2] = ["change_email", "undo_email_change"];
/// How many problem rows the refusal lists; it counts the rest.
const LISTED: usize = 50;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let users = rows(m, Query::select().columns(["id", "email"]).from("users").to_owned()).await?;
        let rewrites = plan(&users)?;
        if m.get_database_backend() == DbBackend::MySql {
            exact_collation(m).await?;
        }
        for (id, email) in rewrites {
            set(m, "users", "email", id, email).await?;
        }
        let pending = Query::select()
            .columns(["id", "payload"])
            .from("one_time_tokens")
            .and_where(Expr::col("purpose").is_in(ADDRESS_PAYLOADS))
            .and_where(Expr::col("used_at").is_null())
            .and_where(Expr::col("payload").is_not_null())
            .to_owned();
        // A link carrying an address without a normal form is left as it is:
        // it expires within days, and using it fails like any taken address.
        for (id, payload) in rows(m, pending).await? {
            if let Some(normal) = normal_form(&payload).filter(|n| *n != payload) {
                set(m, "one_time_tokens", "payload", id, normal).await?;
            }
        }
        Ok(())
    }

    /// Back to the table's default collation, as the first migration made it.
    /// Addresses stay in the normal form, which was always valid.
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::MySql {
            m.get_connection()
                .execute_unprepared("ALTER TABLE users MODIFY email VARCHAR(255) NOT NULL")
                .await?;
        }
        Ok(())
    }
}

/// The normal form of `raw` as `Email::parse` of this release gives it,
/// or `None` when it has none. A copy, so this migration never changes.
fn normal_form(raw: &str) -> Option<String> {
    let lowered: String = raw.trim().to_lowercase().nfc().collect();
    let (local, domain) = lowered.rsplit_once('@')?;
    if !local.is_ascii() || local.is_empty() {
        return None;
    }
    let domain = idna::domain_to_ascii_strict(domain).ok()?;
    Some(format!("{local}@{domain}")).filter(|email| email.len() <= 254)
}

/// The rows to rewrite (id and normal form), or the refusal naming every
/// row that would share an address, or has no normal form.
fn plan(users: &[(Uuid, String)]) -> Result<Vec<(Uuid, String)>, DbErr> {
    let mut by_form: BTreeMap<String, Vec<&(Uuid, String)>> = BTreeMap::new();
    let mut without = Vec::new();
    for user in users {
        match normal_form(&user.1) {
            Some(normal) => by_form.entry(normal).or_default().push(user),
            None => without.push(user),
        }
    }
    let shared: Vec<String> = by_form
        .iter()
        .filter(|(_, rows)| rows.len() > 1)
        .map(|(normal, rows)| {
            let rows: Vec<String> = rows.iter().map(|(id, email)| format!("{id} {email}")).collect();
            format!("{normal} <- {}", rows.join(", "))
        })
        .collect();
    let without: Vec<String> = without.iter().map(|(id, email)| format!("{id} {email}")).collect();
    if shared.is_empty() && without.is_empty() {
        return Ok(by_form
            .into_iter()
            .filter(|(normal, rows)| rows[0].1 != *normal)
            .map(|(normal, rows)| (rows[0].0, normal))
            .collect());
    }
    let mut message = String::from(
        "stored email addresses cannot all be put in the normal form (lower case, Unicode NFC, \
         an ASCII local part, the domain in its IDNA ASCII form); nothing was changed.",
    );
    if !shared.is_empty() {
        message.push_str(&format!(" Accounts that would share an address: {}.", listing(&shared)));
    }
    if !without.is_empty() {
        message.push_str(&format!(
            " Accounts whose address has no normal form (a non-ASCII local part, or a domain IDNA refuses): {}.",
            listing(&without)
        ));
    }
    message.push_str(
        " Merge or delete these accounts, or give them other addresses \
         (UPDATE users SET email = '...' WHERE id = '...'), and start again.",
    );
    Err(DbErr::Migration(message))
}

/// The first [`LISTED`] entries joined, and how many more there are.
fn listing(entries: &[String]) -> String {
    let mut listed = entries.iter().take(LISTED).cloned().collect::<Vec<_>>().join("; ");
    if entries.len() > LISTED {
        listed.push_str(&format!("; and {} more", entries.len() - LISTED));
    }
    listed
}

/// Makes `users.email` compare byte for byte on MySQL/MariaDB, whose default
/// collations find `exämple` for `example`. A NO PAD one (MariaDB's
/// `utf8mb4_nopad_bin`, MySQL 8's `utf8mb4_0900_bin`) also tells `a` from
/// `a ` apart; `utf8mb4_bin` where the server has neither. The unique index
/// is rebuilt with the column.
async fn exact_collation(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = m.get_connection();
    let sql = "SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS \
               WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') ORDER BY COLLATION_NAME LIMIT 1";
    let found = conn
        .query_one_raw(Statement::from_string(DbBackend::MySql, sql))
        .await?
        .map(|row| row.try_get::<String>("", "name"))
        .transpose()?;
    let collation = found.unwrap_or_else(|| "utf8mb4_bin".to_owned());
    conn.execute_unprepared(&format!(
        "ALTER TABLE users MODIFY email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {collation} NOT NULL"
    ))
    .await?;
    Ok(())
}

/// Every (id, text) row `select` returns, the text in its second column.
async fn rows(m: &SchemaManager<'_>, select: SelectStatement) -> Result<Vec<(Uuid, String)>, DbErr> {
    let found = m.get_connection().query_all(&select).await?;
    found
        .iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect()
}

/// Sets `column` of row `id` of `table` to `value`.
async fn set(
    m: &SchemaManager<'_>,
    table: &'static str,
    column: &'static str,
    id: Uuid,
    value: String,
) -> Result<(), DbErr> {
    let update = Query::update()
        .table(table)
        .value(column, value)
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    m.exec_stmt(update).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_form_is_the_applications() {
        assert_eq!(
            normal_form(" Ann@Bu\u{308}cher.Example ").as_deref(),
            Some("ann@xn--bcher-kva.example")
        );
        assert_eq!(
            normal_form("victim@exämple.com").as_deref(),
            Some("victim@xn--exmple-cua.com")
        );
        assert_eq!(normal_form("bob@example.com").as_deref(), Some("bob@example.com"));
        for none in ["jürgen@example.com", "ann@exa_mple.com", "no-at-sign", "@example.com"] {
            assert_eq!(normal_form(none), None, "{none}");
        }
    }

    #[test]
    fn rows_sharing_a_form_or_without_one_are_named_and_the_rest_rewritten() {
        let [a, b, c, d] = [1, 2, 3, 4].map(Uuid::from_u128);
        let fine = vec![(a, "Ann@Bücher.example".to_owned()), (b, "bob@example.com".to_owned())];
        assert_eq!(plan(&fine).unwrap(), [(a, "ann@xn--bcher-kva.example".to_owned())]);
        let mut bad = fine.clone();
        bad.push((c, "ann@xn--bcher-kva.example".to_owned()));
        bad.push((d, "jürgen@example.com".to_owned()));
        let Err(DbErr::Migration(message)) = plan(&bad) else {
            panic!("refused");
        };
        for named in [
            a.to_string(),
            c.to_string(),
            d.to_string(),
            "jürgen@example.com".to_owned(),
        ] {
            assert!(message.contains(&named), "{named} in {message}");
        }
        assert!(!message.contains(&b.to_string()), "{message}");
    }
}
