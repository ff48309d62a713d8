//! Pruning keeps what is inside the retention windows and removes the rest, in batches.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use authql::entities::{audit_log, mail_outbox, security_events, users};

use crate::helpers::spawn_app;

#[tokio::test]
async fn pruning_keeps_what_is_inside_the_windows_and_removes_the_rest() {
    let app = spawn_app().await;
    app.confirmed_user("kept@example.com").await;
    let user = users::Entity::find()
        .filter(users::Column::Email.eq("kept@example.com"))
        .one(app.state.db.writer())
        .await
        .unwrap()
        .unwrap();
    let db = app.state.db.writer();
    let long_ago = Utc::now() - chrono::Duration::days(100);
    // More old events than one batch deletes.
    let old_events: Vec<security_events::ActiveModel> = (0..1200)
        .map(|_| security_events::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user.id),
            kind: Set("LOGIN_FAILED".to_owned()),
            ip: Set(None),
            user_agent: Set(None),
            at: Set(long_ago),
        })
        .collect();
    for chunk in old_events.chunks(200) {
        security_events::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
    for age in [100, 10] {
        audit_log::Entity::insert(audit_log::ActiveModel {
            id: Set(Uuid::new_v4()),
            kind: Set("ROLE_CHANGED_BY_ADMIN".to_owned()),
            user_id: Set(Some(user.id)),
            actor_id: Set(None),
            ip: Set(None),
            at: Set(Utc::now() - chrono::Duration::days(age)),
        })
        .exec(db)
        .await
        .unwrap();
    }
    // The confirmation mail was sent: make it eight days old; queue an unsent one as old.
    mail_outbox::Entity::update_many()
        .col_expr(
            mail_outbox::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::days(8)),
        )
        .exec(db)
        .await
        .unwrap();
    let recent_events = app
        .scalar("SELECT COUNT(*) AS n FROM security_events WHERE kind <> 'LOGIN_FAILED'")
        .await;
    assert!(recent_events >= 2, "signed up, confirmed");

    let pruned = authql::jobs::prune(&app.state).await.unwrap();
    assert!(pruned >= 1202, "1200 events, an audit entry and a mail: {pruned}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM security_events WHERE kind = 'LOGIN_FAILED'")
            .await,
        0
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM security_events WHERE kind <> 'LOGIN_FAILED'")
            .await,
        recent_events,
        "recent events stay"
    );
    assert_eq!(app.count("audit_log").await, 1, "the entry inside the window stays");
    assert_eq!(app.count("mail_outbox").await, 0, "sent mail past MAIL_RETENTION goes");
    // Safe to run again, and on every instance at once.
    assert_eq!(authql::jobs::prune(&app.state).await.unwrap(), 0);
}

#[tokio::test]
async fn mail_still_being_tried_is_never_pruned() {
    let app = crate::helpers::spawn_app_on(crate::smtp::MailSink::unreachable(1), |c| {
        c.mail.retry_base = std::time::Duration::from_secs(3600);
    })
    .await;
    app.signup("waiting@example.com", crate::helpers::PASSWORD).await;
    mail_outbox::Entity::update_many()
        .col_expr(
            mail_outbox::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::days(30)),
        )
        .exec(app.state.db.writer())
        .await
        .unwrap();
    authql::jobs::prune(&app.state).await.unwrap();
    assert_eq!(app.count("mail_outbox").await, 1);
}
