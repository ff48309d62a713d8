//! A fresh database per test: a SQLite file, or a new database on the server
//! TEST_DATABASE_URL points to (PostgreSQL or MySQL/MariaDB), dropped afterwards.

use sea_orm::{ConnectionTrait, Database};

pub struct TestDb {
    pub url: String,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            None => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/authql.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    server: None,
                    _dir: Some(dir),
                }
            }
            Some(admin) => {
                let name = format!("authql_t_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin).await.expect("TEST_DATABASE_URL reachable");
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create a test database");
                conn.close().await.ok();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    server: Some((admin, name)),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.server.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(conn) = Database::connect(&admin).await else {
                    return;
                };
                let force = if admin.starts_with("postgres") {
                    " WITH (FORCE)"
                } else {
                    ""
                };
                if !admin.starts_with("postgres") {
                    // What PostgreSQL's FORCE does: end the connections still
                    // on the database. Work the app spawned after answering
                    // may hold one mid-transaction, and this thread blocks
                    // the test's runtime, so it would never finish and the
                    // DROP would wait for its lock forever.
                    kill_connections(&conn, &name).await;
                }
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                    .await;
                let _ = conn.close().await;
            });
        })
        .join();
    }
}

/// Ends every MySQL/MariaDB connection using database `name`.
async fn kill_connections(conn: &sea_orm::DatabaseConnection, name: &str) {
    use sea_orm::Statement;
    let sql = format!("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '{name}'");
    let Ok(rows) = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
    else {
        return;
    };
    for row in rows {
        // MariaDB's PROCESSLIST.ID is a signed BIGINT, MySQL's unsigned.
        let id = row
            .try_get::<i64>("", "id")
            .ok()
            .or_else(|| row.try_get::<u64>("", "id").ok().and_then(|id| i64::try_from(id).ok()));
        if let Some(id) = id {
            let _ = conn.execute_unprepared(&format!("KILL {id}")).await;
        }
    }
    // Should one survive anyway, give up on the DROP rather than wait a year.
    let _ = conn.execute_unprepared("SET SESSION lock_wait_timeout = 10").await;
}
