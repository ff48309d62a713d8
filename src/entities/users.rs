//! A person who can sign in; `email` and `username` are stored normalised (lower case).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    /// argon2id PHC string; `None` for accounts that only sign in through a provider.
    pub password_hash: Option<String>,
    pub email_verified_at: Option<DateTimeUtc>,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// E.164, e.g. `+14155552671`.
    pub phone_number: Option<String>,
    pub avatar_key: Option<String>,
    pub role: Role,
    pub active: bool,
    /// Sealed with the master key.
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<DateTimeUtc>,
    pub totp_last_step: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_active_at: Option<DateTimeUtc>,
    /// Changes with every change of credentials or address; proofs issued
    /// under an older value are refused (`sessions::stamp`).
    pub security_stamp: i64,
    /// A JSON object only administrators write, copied into access tokens
    /// (`app_metadata`); `None` is `{}`.
    #[sea_orm(column_type = "Text", nullable)]
    pub app_metadata: Option<String>,
}

/// What an account may do, stored as `USER` or `ADMIN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "ADMIN")]
    Admin,
}

impl Model {
    /// The app metadata as a JSON object (`{}` when none, or unreadable).
    pub fn app_metadata(&self) -> serde_json::Value {
        self.app_metadata
            .as_deref()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Rereads account `id` from the write pool, so a change just made shows
/// (the read pool may lag behind it on a replica).
///
/// # Errors
/// `UNAUTHENTICATED` when the account is gone (deleted meanwhile); database errors.
pub async fn reread_from_writer(db: &crate::db::Db, id: Uuid) -> crate::error::AppResult<Model> {
    Entity::find_by_id(id)
        .one(db.writer())
        .await?
        .ok_or(crate::error::AppError::Unauthenticated)
}
