//! The security stamp: a number on each account that changes with every
//! change of its credentials or address. Proofs (mailed links, login steps,
//! codes) record the stamp they were issued under, and sessions the stamp of
//! their last proof of identity (sign-in or step-up); a stale one is refused.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column, nullable): one statement each, as SQLite alters one column at a time.
const COLUMNS: [(&str, &str, bool); 3] = [
    ("users", "security_stamp", false),
    ("one_time_tokens", "stamp", true),
    ("sessions", "proof_stamp", false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, nullable) in COLUMNS {
            let mut def = ColumnDef::new(column);
            def.big_integer();
            if nullable {
                def.null();
            } else {
                def.not_null().default(0);
            }
            manager
                .alter_table(Table::alter().table(table).add_column(def).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, _) in COLUMNS {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
