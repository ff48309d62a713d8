//! SQLite on a full disk: writes answer SERVICE_UNAVAILABLE (503 on the
//! plain routes), reads go on, nothing is corrupted, and writes work again
//! once space returns, without a restart.
//!
//! The disk is a small ext4 image loop-mounted by the test and filled with a
//! ballast file, which needs root. Where mounting is not possible the test
//! says so and skips, unless REQUIRE_LOOP_MOUNT is set (CI sets it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::db::TestDb;
use crate::helpers::{PASSWORD, TestApp, code, spawn_app_on_db};
use crate::smtp::MailSink;

/// A small filesystem of its own, unmounted on drop.
struct LoopMount {
    dir: tempfile::TempDir,
    _image: tempfile::TempDir,
}

impl LoopMount {
    /// Mounts a fresh 20 MiB ext4 image; `None` (with the reason printed)
    /// where that is not possible and not required.
    fn create() -> Option<Self> {
        let image_dir = tempfile::tempdir().unwrap();
        let image = image_dir.path().join("disk.img");
        let dir = tempfile::tempdir().unwrap();
        let steps: [(&str, Vec<&std::ffi::OsStr>); 3] = [
            ("truncate", vec!["-s".as_ref(), "20M".as_ref(), image.as_os_str()]),
            ("mkfs.ext4", vec!["-q".as_ref(), image.as_os_str()]),
            (
                "mount",
                vec![
                    "-o".as_ref(),
                    "loop".as_ref(),
                    image.as_os_str(),
                    dir.path().as_os_str(),
                ],
            ),
        ];
        for (program, args) in steps {
            let done = Command::new(program).args(&args).output();
            let failure = match done {
                Ok(out) if out.status.success() => continue,
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            let reason = format!("cannot make a loop-mounted disk ({program}: {})", failure.trim());
            assert!(std::env::var_os("REQUIRE_LOOP_MOUNT").is_none(), "{reason}");
            eprintln!("skipped: {reason}; run as root, or set REQUIRE_LOOP_MOUNT to make this a failure");
            return None;
        }
        Some(Self { dir, _image: image_dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a ballast file until the disk is full.
    fn fill(&self) -> PathBuf {
        let ballast = self.path().join("ballast");
        let mut file = std::fs::File::create(&ballast).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            if file.write_all(&block).and_then(|()| file.sync_all()).is_err() {
                break;
            }
        }
        // Whatever a smaller write still finds, down to the last block.
        while file.write_all(&[0u8; 512]).and_then(|()| file.sync_all()).is_ok() {}
        ballast
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        // Lazy: the server's tasks may still hold the database open.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// authql with its SQLite database on `disk`; `None` when the tests run on
/// a database server.
async fn app_on(disk: &LoopMount) -> Option<TestApp> {
    let db = TestDb::create().await;
    if !db.url.starts_with("sqlite:") {
        eprintln!("skipped: a full disk under SQLite is tested on SQLite only");
        return None;
    }
    let url = format!("sqlite://{}/authql.db?mode=rwc", disk.path().display());
    Some(spawn_app_on_db(MailSink::start().await, db, url, |c| c.limits.enabled = false).await)
}

#[tokio::test]
async fn a_full_disk_answers_unavailable_keeps_reading_and_writes_again_when_space_returns() {
    let Some(disk) = LoopMount::create() else {
        return;
    };
    let Some(app) = app_on(&disk).await else {
        return;
    };
    let before = app.user_with_tokens("before@example.com").await;
    let r = app.signup("pending@example.com", PASSWORD).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
    let link = app.mail.wait_for("pending@example.com").await.link();

    let ballast = disk.fill();
    // The write-ahead log reuses the space it already has: sign up until a
    // write needs a new block.
    let mut full = None;
    for i in 0..2000 {
        let r = app.signup(&format!("during{i}@example.com"), PASSWORD).await;
        if r["errors"].is_array() {
            full = Some(r);
            break;
        }
    }
    let full = full.expect("a write on a full disk fails");
    assert_eq!(code(&full), Some("SERVICE_UNAVAILABLE"), "{full}");
    let pressed = app.http.post(&link).send().await.unwrap();
    assert_eq!(pressed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.me(&before.access).await["data"]["me"]["email"],
        "before@example.com",
        "reads go on"
    );

    std::fs::remove_file(&ballast).unwrap();
    let r = app.signup("after@example.com", PASSWORD).await;
    assert_eq!(r["data"]["signup"]["confirmationRequired"], true, "{r}");
    assert!(app.press_confirm(&link).await.status().is_success());
    // Committed for good, not only in the writer's view: another
    // connection (what a restart would read) sees the confirmation.
    let other = sea_orm::Database::connect(format!("sqlite://{}/authql.db", disk.path().display()))
        .await
        .unwrap();
    let confirmed = other
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM users WHERE email = 'pending@example.com' AND email_verified_at IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.try_get::<i64>("", "n").unwrap(), 1);
    let r = app.login("pending@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["auth"].is_object(), "{r}");
    let integrity = integrity_check(&app).await;
    assert_eq!(integrity, "ok");
}

/// SQLite's own check of the database file.
async fn integrity_check(app: &TestApp) -> String {
    let db = app.state.db.writer();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "integrity_check").unwrap()
}
