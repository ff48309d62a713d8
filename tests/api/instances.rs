//! Several instances on one database: they start together and share what they must.

use authql::startup::Application;

use crate::db::TestDb;
use crate::helpers::test_config;

#[tokio::test]
async fn instances_starting_together_on_an_empty_database_all_come_up_with_one_key() {
    let db = TestDb::create().await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut builds = Vec::new();
    for dir in &dirs {
        let config = test_config(&db, dir.path(), None).await;
        builds.push(tokio::spawn(Application::build(config)));
    }
    let mut apps = Vec::new();
    for build in builds {
        apps.push(build.await.unwrap().expect("every instance starts"));
    }
    // They agree on the one signing key the first of them created.
    let jwks: Vec<String> = apps.iter().map(|a| a.state().keys.jwks()).collect();
    let doc: serde_json::Value = serde_json::from_str(&jwks[0]).unwrap();
    assert_eq!(doc["keys"].as_array().unwrap().len(), 1, "{doc}");
    assert!(jwks.iter().all(|j| *j == jwks[0]), "{jwks:?}");
}
