//! Avatars: decoded from PNG, JPEG, GIF or WebP, cropped to a square, and
//! re-encoded as a 256-pixel PNG, so nothing of the upload but its pixels
//! survives (no metadata, no polyglot payload). Kept in the database, so every
//! instance serves them, under a random key that changes with each upload.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::Profile;
use crate::client::ClientInfo;
use crate::crypto::random_token;
use crate::db;
use crate::entities::avatars;
use crate::entities::users::{self, reread_from_writer};
use crate::error::{AppError, AppResult};
use crate::limits::{Key, Limit};
use crate::webhooks::Event;

/// Width and height of every stored avatar.
pub const SIZE: u32 = 256;
/// Largest width or height accepted, before any pixel is decoded.
const MAX_SIDE: u32 = 8192;
/// Most memory one decoding may take.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// The formats accepted, told by the file's first bytes, never by its name or declared type.
const ACCEPTED: [ImageFormat; 4] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::WebP];

/// Decodes `upload` and re-encodes it as the stored avatar PNG.
///
/// # Errors
/// `UNSUPPORTED_MEDIA` for anything that is not a decodable PNG, JPEG, GIF
/// or WebP within the size limits.
pub fn reencode(upload: &[u8]) -> AppResult<Vec<u8>> {
    let unsupported = || AppError::UnsupportedMedia("the file is not a PNG, JPEG, GIF or WebP image authql can read");
    let mut reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| unsupported())?;
    if !reader.format().is_some_and(|f| ACCEPTED.contains(&f)) {
        return Err(unsupported());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| unsupported())?;
    let square = image.resize_to_fill(SIZE, SIZE, FilterType::Triangle);
    let mut png = Vec::new();
    square
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| AppError::internal(format!("encoding an avatar: {e}")))?;
    Ok(png)
}

/// Decodings allowed at once in this process: half the cores, at least one.
fn decoders() -> &'static tokio::sync::Semaphore {
    static DECODERS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    DECODERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

impl Profile {
    /// Replaces `user_id`'s avatar with `upload` and returns the account.
    ///
    /// # Errors
    /// `PAYLOAD_TOO_LARGE` over AVATAR_MAX_BYTES, `UNSUPPORTED_MEDIA` (see
    /// [`reencode`]), `RATE_LIMITED`, database errors. The old avatar stays then.
    #[tracing::instrument(skip(self, upload, client), fields(bytes = upload.len()))]
    pub async fn upload_avatar(&self, user_id: Uuid, upload: Vec<u8>, client: &ClientInfo) -> AppResult<users::Model> {
        self.limits
            .check(Limit::Upload, client.ip, Some(Key::Owner(user_id)))
            .await?;
        let max = self.avatar_max_bytes;
        if upload.len() > max {
            return Err(AppError::PayloadTooLarge(format!(
                "an avatar may have at most {max} bytes"
            )));
        }
        // Decoding is CPU work: off the async runtime, and at most half the cores
        // at a time, so a burst of uploads cannot take every core.
        let _turn = decoders()
            .acquire()
            .await
            .map_err(|_| AppError::internal("avatar decoders closed"))?;
        let png = tokio::task::spawn_blocking(move || reencode(&upload))
            .await
            .map_err(|e| AppError::internal(format!("avatar task: {e}")))??;
        let key = random_token();
        let mut tx = self.db.begin().await?;
        avatars::Entity::delete_many()
            .filter(avatars::Column::UserId.eq(user_id))
            .exec(&*tx)
            .await?;
        avatars::ActiveModel {
            key: Set(key.clone()),
            user_id: Set(user_id),
            image: Set(png),
            created_at: Set(db::now()),
        }
        .insert(&*tx)
        .await?;
        let url = self.webhooks.links().public(&format!("/avatars/{key}.png"));
        set_key(&*tx, user_id, Some(key)).await?;
        let change = Event::user_updated(user_id, serde_json::json!({ "avatarUrl": url }));
        self.webhooks.emit(&mut tx, change).await?;
        self.sessions.evict_user_on_commit(&mut tx, user_id);
        tx.commit().await?;
        reread_from_writer(&self.db, user_id).await
    }

    /// Removes `user_id`'s avatar (if any) and returns the account.
    ///
    /// # Errors
    /// When the database fails.
    #[tracing::instrument(skip(self))]
    pub async fn delete_avatar(&self, user_id: Uuid) -> AppResult<users::Model> {
        let mut tx = self.db.begin().await?;
        avatars::Entity::delete_many()
            .filter(avatars::Column::UserId.eq(user_id))
            .exec(&*tx)
            .await?;
        set_key(&*tx, user_id, None).await?;
        let change = Event::user_updated(user_id, serde_json::json!({ "avatarUrl": null }));
        self.webhooks.emit(&mut tx, change).await?;
        self.sessions.evict_user_on_commit(&mut tx, user_id);
        tx.commit().await?;
        reread_from_writer(&self.db, user_id).await
    }

    /// The stored PNG under `key`, if there is one.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn avatar_image(&self, key: &str) -> AppResult<Option<Vec<u8>>> {
        Ok(avatars::Entity::find_by_id(key.to_owned())
            .one(&self.db.read)
            .await?
            .map(|a| a.image))
    }
}

async fn set_key(conn: &impl ConnectionTrait, user_id: Uuid, key: Option<String>) -> AppResult<()> {
    users::Entity::update_many()
        .col_expr(users::Column::AvatarKey, Expr::value(key))
        .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}
