//! An account's sign-in with an OpenID Connect provider: (provider, subject) is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The provider's configured name (`google`, ...).
    pub provider: String,
    /// The provider's `sub` for the person.
    pub subject: String,
    pub user_id: Uuid,
    /// The address the provider gave when the identity was linked.
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
