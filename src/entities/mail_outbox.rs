//! Mail waiting to be sent, written in the same transaction as the change that caused it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    /// What the mail is for; `None` for mail queued before kinds were recorded.
    pub kind: Option<MailKind>,
    /// Sealed; emptied once sent, since it may hold a live token.
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Sealed; emptied once sent.
    #[sea_orm(column_type = "Text")]
    pub html: String,
    pub attempts: i32,
    /// `None` once sent or given up.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// A worker holds the row until then.
    pub claimed_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

/// What a mail is for, so the outbox can tell whether one like it went out recently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum MailKind {
    #[sea_orm(string_value = "confirm_email")]
    ConfirmEmail,
    #[sea_orm(string_value = "account_exists")]
    AccountExists,
    #[sea_orm(string_value = "reset_password")]
    ResetPassword,
    #[sea_orm(string_value = "password_changed")]
    PasswordChanged,
    #[sea_orm(string_value = "login_code")]
    LoginCode,
    #[sea_orm(string_value = "step_up_code")]
    StepUpCode,
    /// Tells the owner of a change to their account; holds no token or code.
    #[sea_orm(string_value = "notice")]
    Notice,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
