//! Avatars: real images in, a 256-pixel PNG out, served at an absolute URL.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app, spawn_app_with};

const UPLOAD: &str = "mutation($file: Upload!) { uploadAvatar(file: $file) { avatarUrl } }";

/// A `w`×`h` gradient in `format`.
pub(crate) fn picture(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let rgba = RgbaImage::from_fn(w, h, |x, y| Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255]));
    let image = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8()),
        _ => DynamicImage::ImageRgba8(rgba),
    };
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// Sends `bytes` as a GraphQL multipart upload (the spec's operations, map and file parts).
pub(crate) async fn upload(app: &TestApp, token: Option<&str>, bytes: Vec<u8>) -> Value {
    let operations = json!({ "query": UPLOAD, "variables": { "file": null } });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{ "0": ["variables.file"] }"#)
        .part("0", reqwest::multipart::Part::bytes(bytes).file_name("avatar.bin"));
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(form);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().json().await.unwrap()
}

async fn avatar_url(app: &TestApp, token: &str) -> Value {
    app.gql_as(token, "{ me { avatarUrl } }", json!({})).await["data"]["me"]["avatarUrl"].clone()
}

#[tokio::test]
async fn each_format_becomes_a_256_pixel_png_at_an_absolute_url() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("pic@example.com").await;
    assert!(avatar_url(&app, &me.access).await.is_null());
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::WebP] {
        let r = upload(&app, Some(&me.access), picture(format, 600, 400)).await;
        let url = r["data"]["uploadAvatar"]["avatarUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("{format:?}: {r}"));
        assert!(url.starts_with(&format!("{}/avatars/", app.address)), "{url}");
        assert_eq!(avatar_url(&app, &me.access).await, url);

        let resp = app.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert!(resp.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        let served = image::load_from_memory_with_format(&resp.bytes().await.unwrap(), ImageFormat::Png).unwrap();
        assert_eq!((served.width(), served.height()), (256, 256), "{format:?}");
    }
}

#[tokio::test]
async fn a_new_avatar_replaces_the_old_and_deleting_removes_it() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("swap@example.com").await;
    let first = upload(&app, Some(&me.access), picture(ImageFormat::Png, 64, 64)).await;
    let first = first["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap().to_owned();
    let second = upload(&app, Some(&me.access), picture(ImageFormat::Png, 64, 64)).await;
    let second = second["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "a new URL, so caches never show the old one");
    assert_eq!(app.http.get(&first).send().await.unwrap().status(), 404);
    assert_eq!(app.http.get(&second).send().await.unwrap().status(), 200);

    let r = app
        .gql_as(&me.access, "mutation { deleteAvatar { avatarUrl } }", json!({}))
        .await;
    assert!(r["data"]["deleteAvatar"]["avatarUrl"].is_null(), "{r}");
    assert_eq!(app.http.get(&second).send().await.unwrap().status(), 404);
    assert_eq!(app.count("avatars").await, 0);
}

/// The CRC of a PNG chunk (type and data), as the format defines it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small, valid PNG whose header claims 100 000 × 100 000 pixels (40 GB decoded).
fn decompression_bomb() -> Vec<u8> {
    let mut png = picture(ImageFormat::Png, 8, 8);
    // IHDR data starts at byte 16 (8 signature, 4 length, 4 type): width, height.
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[tokio::test]
async fn what_is_not_a_readable_image_is_refused_and_the_avatar_stays() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("bad@example.com").await;
    upload(&app, Some(&me.access), picture(ImageFormat::Png, 32, 32)).await;
    let kept = avatar_url(&app, &me.access).await;
    let truncated = picture(ImageFormat::Png, 300, 300)[..200].to_vec();
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    let bmp = b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0".to_vec();
    for (what, bytes) in [
        ("text", b"hello, I am not a picture".to_vec()),
        ("truncated PNG", truncated),
        ("SVG", svg),
        ("BMP", bmp),
        ("decompression bomb", decompression_bomb()),
        ("empty", Vec::new()),
    ] {
        let r = upload(&app, Some(&me.access), bytes).await;
        assert_eq!(code(&r), Some("UNSUPPORTED_MEDIA"), "{what}: {r}");
    }
    assert_eq!(avatar_url(&app, &me.access).await, kept);
    assert_eq!(app.count("avatars").await, 1);
}

#[tokio::test]
async fn uploads_need_a_session_and_stay_under_the_size_limit() {
    let app = spawn_app_with(|c| c.avatar_max_bytes = 20_000).await;
    let me = app.user_with_tokens("big@example.com").await;
    let small = picture(ImageFormat::Png, 16, 16);
    assert_eq!(code(&upload(&app, None, small).await), Some("UNAUTHENTICATED"));
    // Noise does not compress: well over 20 000 bytes.
    let noise = RgbaImage::from_fn(200, 200, |x, y| {
        Rgba([((x * 7) ^ (y * 13)) as u8, (x * y) as u8, (x + y * 3) as u8, 255])
    });
    let mut big = Vec::new();
    DynamicImage::ImageRgba8(noise)
        .write_to(&mut Cursor::new(&mut big), ImageFormat::Png)
        .unwrap();
    assert!(big.len() > 20_000, "{}", big.len());
    assert_eq!(
        code(&upload(&app, Some(&me.access), big).await),
        Some("PAYLOAD_TOO_LARGE")
    );
    assert!(avatar_url(&app, &me.access).await.is_null());
}

#[tokio::test]
async fn deleting_the_account_deletes_its_avatar() {
    let app = spawn_app().await;
    let me = app.user_with_tokens("gone@example.com").await;
    let r = upload(&app, Some(&me.access), picture(ImageFormat::Jpeg, 80, 80)).await;
    let url = r["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap().to_owned();
    let delete = "mutation($p: String!) { deleteAccount(password: $p) }";
    let r = app
        .gql_as(&me.access, delete, json!({ "p": crate::helpers::PASSWORD }))
        .await;
    assert_eq!(r["data"]["deleteAccount"], true, "{r}");
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(app.count("avatars").await, 0);
}
