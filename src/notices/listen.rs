//! Hearing notices: one dedicated connection (a Redis subscription or a
//! PostgreSQL LISTEN) that reconnects with backoff when lost. While it is
//! down nothing fails; instances rely on their cache's lifetime, and each
//! (re)connection hands out a `Reset`, since notices may have been missed.

use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::{Channel, Notice, Notices, PG_CHANNEL};

/// How long connecting and subscribing may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// Where an outage stands: the next wait, and whether it was logged.
struct Outage {
    retry_in: Duration,
    warned: bool,
}

impl Outage {
    /// The listener is connected: the next outage starts afresh.
    fn connected(&mut self) {
        if self.warned {
            tracing::info!("the revocation listener is connected again");
        }
        self.retry_in = FIRST_RETRY;
        self.warned = false;
        ::metrics::gauge!("authql_revocation_listener_connected").set(1.0);
    }
}

impl Notices {
    /// Hears notices from every instance and hands each to `on`, until `stop`.
    /// Returns at once where no channel carries them.
    pub async fn listen(&self, on: impl Fn(Notice) + Send + Sync, stop: CancellationToken) {
        if matches!(self.channel, Channel::Alone | Channel::Off) {
            return;
        }
        let mut outage = Outage {
            retry_in: FIRST_RETRY,
            warned: false,
        };
        let on = |notice: Notice| {
            if notice != Notice::Reset {
                ::metrics::counter!("authql_revocation_notices_received_total").increment(1);
            }
            on(notice);
        };
        loop {
            let lost = tokio::select! {
                () = stop.cancelled() => return,
                lost = self.listen_once(&on, &mut outage) => lost,
            };
            ::metrics::gauge!("authql_revocation_listener_connected").set(0.0);
            if !outage.warned {
                tracing::warn!(error = %lost, "the revocation listener is down: other instances' revocations reach this one when its cache entries expire; reconnecting");
                outage.warned = true;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(outage.retry_in) => {}
            }
            outage.retry_in = (outage.retry_in * 2).min(LAST_RETRY);
        }
    }

    /// Connects, then hears until the connection is lost; returns why.
    async fn listen_once(&self, on: &(impl Fn(Notice) + Sync), outage: &mut Outage) -> String {
        match &self.channel {
            Channel::Alone | Channel::Off => "no channel".to_owned(),
            Channel::Redis { client, name, .. } => {
                let subscribed = tokio::time::timeout(CONNECT_WITHIN, async {
                    let mut pubsub = client.get_async_pubsub().await?;
                    pubsub.subscribe(name).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                });
                let pubsub = match subscribed.await {
                    Ok(Ok(pubsub)) => pubsub,
                    Ok(Err(e)) => return e.to_string(),
                    Err(_) => return "Redis did not answer in time".to_owned(),
                };
                outage.connected();
                on(Notice::Reset);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    if let Some(notice) = message.get_payload::<String>().ok().as_deref().and_then(Notice::parse) {
                        on(notice);
                    }
                }
                "the Redis subscription ended".to_owned()
            }
            Channel::Postgres { listen_url } => {
                let listening = tokio::time::timeout(CONNECT_WITHIN, async {
                    let mut listener = PgListener::connect(listen_url).await?;
                    listener.listen(PG_CHANNEL).await?;
                    Ok::<_, sea_orm::sqlx::Error>(listener)
                });
                let mut listener = match listening.await {
                    Ok(Ok(listener)) => listener,
                    Ok(Err(e)) => return e.to_string(),
                    Err(_) => return "PostgreSQL did not answer in time".to_owned(),
                };
                outage.connected();
                on(Notice::Reset);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            if let Some(notice) = Notice::parse(notification.payload()) {
                                on(notice);
                            }
                        }
                        Ok(None) => return "the connection was lost".to_owned(),
                        Err(e) => return e.to_string(),
                    }
                }
            }
        }
    }
}
