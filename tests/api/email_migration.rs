//! The migration that makes stored addresses compare exactly and puts them in
//! the normal form of `Email`: it stops, naming them, for rows that would
//! collide or have no normal form, and rewrites the others. Each test runs on
//! the backend of TEST_DATABASE_URL; CI runs them on all three.

use authql::startup::Application;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};
use serde_json::json;
use uuid::Uuid;

use crate::db::TestDb;
use crate::helpers::{spawn_app_on_db, test_config};
use crate::smtp::MailSink;

const MIGRATION: &str = "m20261205_000010_exact_emails";

/// A database migrated up to, not including, the migration under test.
async fn before_the_migration() -> (TestDb, DatabaseConnection) {
    let db = TestDb::create().await;
    let conn = Database::connect(&db.url).await.unwrap();
    let earlier = Migrator::migrations()
        .iter()
        .position(|m| m.name() == MIGRATION)
        .expect("the migration is listed");
    Migrator::up(&conn, Some(u32::try_from(earlier).unwrap()))
        .await
        .unwrap();
    (db, conn)
}

/// Adds an active account with `email` as stored before the migration.
async fn insert_user(conn: &DatabaseConnection, email: &str) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table("users")
        .columns(["id", "email", "role", "active", "created_at", "updated_at"])
        .values_panic([
            id.into(),
            email.into(),
            "USER".into(),
            true.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    conn.execute(&insert).await?;
    Ok(id)
}

async fn emails_equal_to(conn: &DatabaseConnection, email: &str) -> usize {
    let select = Query::select()
        .column("id")
        .from("users")
        .and_where(Expr::col("email").eq(email))
        .to_owned();
    conn.query_all(&select).await.unwrap().len()
}

#[tokio::test]
async fn colliding_rows_and_rows_without_a_normal_form_stop_it_by_name() {
    let (db, conn) = before_the_migration().await;
    let ann_unicode = insert_user(&conn, "ann@bücher.example").await.unwrap();
    let ann_ascii = insert_user(&conn, "ann@xn--bcher-kva.example").await.unwrap();
    let jurgen = insert_user(&conn, "jürgen@example.com").await.unwrap();
    let carol = insert_user(&conn, "Carol@BÜCHER.example").await.unwrap();
    let mut named = vec![
        (ann_unicode, "ann@bücher.example"),
        (ann_ascii, "ann@xn--bcher-kva.example"),
        (jurgen, "jürgen@example.com"),
    ];
    // Settled below by deleting these.
    let mut duplicates = vec![ann_ascii];
    // MariaDB's default collation already refuses a second `bob` as a duplicate.
    if conn.get_database_backend() != DbBackend::MySql {
        let upper = insert_user(&conn, "Bob@example.com").await.unwrap();
        named.push((upper, "Bob@example.com"));
        named.push((insert_user(&conn, "bob@example.com").await.unwrap(), "bob@example.com"));
        duplicates.push(upper);
    }

    // The server refuses to start, and says why.
    let data_dir = tempfile::tempdir().unwrap();
    let config = test_config(&db, data_dir.path(), None).await;
    let Err(refused) = Application::build(config).await else {
        panic!("the server started with colliding addresses");
    };
    let message = format!("{refused:#}");
    for (id, email) in &named {
        assert!(message.contains(&id.to_string()), "{id} in {message}");
        assert!(message.contains(email), "{email} in {message}");
    }
    assert!(
        !message.contains(&carol.to_string()),
        "carol's address is fine: {message}"
    );
    assert_eq!(
        emails_equal_to(&conn, "Carol@BÜCHER.example").await,
        1,
        "nothing changed"
    );

    // The operator settles them, and it runs.
    for id in duplicates {
        let delete = Query::delete()
            .from_table("users")
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        conn.execute(&delete).await.unwrap();
    }
    let rename = Query::update()
        .table("users")
        .value("email", "juergen@example.com")
        .and_where(Expr::col("id").eq(jurgen))
        .to_owned();
    conn.execute(&rename).await.unwrap();
    conn.close().await.unwrap();
    let url = db.url.clone();
    let app = spawn_app_on_db(MailSink::start().await, db, url, |_| {}).await;

    // Stored in the normal form, found by any spelling, mailed as stored.
    let forgot = "mutation($e: String!) { forgotPassword(email: $e) }";
    for (typed, stored) in [
        ("carol@bücher.example", "carol@xn--bcher-kva.example"),
        ("ANN@BU\u{308}CHER.EXAMPLE", "ann@xn--bcher-kva.example"),
    ] {
        let r = app.gql(forgot, json!({ "e": typed })).await;
        assert_eq!(r["data"]["forgotPassword"], true, "{r}");
        assert_eq!(app.mail.wait_for(stored).await.subject(), "Reset your password");
    }
}

#[tokio::test]
async fn addresses_compare_exactly_afterwards() {
    let (db, conn) = before_the_migration().await;
    Migrator::up(&conn, None).await.unwrap();
    // Rows the application would never write, to see what the column itself compares.
    for email in ["victim@example.com", "victim@exämple.com", "Victim@example.com"] {
        insert_user(&conn, email)
            .await
            .unwrap_or_else(|e| panic!("{email} is another address: {e}"));
    }
    for email in ["victim@example.com", "victim@exämple.com", "victim@example.com "] {
        let expected = usize::from(!email.ends_with(' '));
        assert_eq!(emails_equal_to(&conn, email).await, expected, "{email:?}");
    }
    conn.close().await.unwrap();
    drop(db);
}
