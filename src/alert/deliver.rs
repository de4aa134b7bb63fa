//! Delivering the outbox: every pending notification, oldest first, with bounded retries and
//! exponential backoff; what still fails stays pending for the next run or `zoneaudit alerts flush`.
//!
//! ```text
//!  pending row ──attempt 1──▶ ok ─▶ delivered (recorded at once)
//!              └─transient──▶ wait backoff, 2×backoff, … up to `attempts` ─▶ still pending (last error kept)
//!              └─permanent──▶ no more attempts this run ─▶ still pending (last error kept)
//! ```
//!
//! Every attempt is recorded before the next begins, so a crash loses no state but the attempt in
//! flight; a notification whose delivery succeeded but was not yet recorded is sent again with the
//! same idempotency key, which the receiver can recognise.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::{AlertMessage, DeliveryError, email, webhook};
use crate::config::{Alerts, Channel, Target};
use crate::store::{OutboxRow, Store, StoreError};

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u32,
    pub still_pending: u32,
    pub attempts: u32,
    /// (outbox id, channel, last error) of what is still pending.
    pub failures: Vec<(i64, String, String)>,
}

/// Deliver every pending notification. Store errors abort (the database is the source of truth);
/// delivery errors never do.
pub async fn deliver_pending(store: &mut Store, alerts: &Alerts) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    let mut clients: HashMap<String, reqwest::Client> = HashMap::new();
    for row in store.pending_alerts()? {
        let outcome = deliver_one(store, alerts, &mut clients, &row, &mut report).await?;
        match outcome {
            Ok(()) => report.delivered += 1,
            Err(e) => {
                report.still_pending += 1;
                report.failures.push((row.id, row.message.channel.clone(), e.to_string()));
            }
        }
    }
    Ok(report)
}

async fn deliver_one(
    store: &mut Store,
    alerts: &Alerts,
    clients: &mut HashMap<String, reqwest::Client>,
    row: &OutboxRow,
    report: &mut DeliveryReport,
) -> Result<Result<(), DeliveryError>, StoreError> {
    let Some(channel) = alerts.channels.iter().find(|c| c.name == row.message.channel) else {
        let e = DeliveryError::Permanent(format!(
            "channel {:?} is not in the configuration any more (kept pending)",
            row.message.channel
        ));
        store.record_attempt(row.id, Utc::now(), Err(&e.to_string()))?;
        report.attempts += 1;
        return Ok(Err(e));
    };
    let mut wait = alerts.backoff;
    let mut last = Err(DeliveryError::Transient("not attempted".into()));
    for attempt in 1..=alerts.attempts {
        last = send(channel, &row.message, alerts.timeout, clients).await;
        report.attempts += 1;
        match &last {
            Ok(()) => {
                store.record_attempt(row.id, Utc::now(), Ok(()))?;
                tracing::info!(channel = %channel.name, run = row.message.run_id, attempt, "alert delivered");
                return Ok(Ok(()));
            }
            Err(e) => {
                store.record_attempt(row.id, Utc::now(), Err(&e.to_string()))?;
                tracing::warn!(channel = %channel.name, run = row.message.run_id, attempt, error = %e, "alert not delivered");
                if e.is_permanent() || attempt == alerts.attempts {
                    break;
                }
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
    }
    Ok(last)
}

async fn send(
    channel: &Channel,
    message: &AlertMessage,
    timeout: Duration,
    clients: &mut HashMap<String, reqwest::Client>,
) -> Result<(), DeliveryError> {
    match &channel.target {
        Target::Email(target) => email::send(target, message, timeout).await,
        Target::Webhook(target) => {
            let client = match clients.get(&channel.name) {
                Some(c) => c.clone(),
                None => {
                    let c = webhook::client(target, timeout)?;
                    clients.insert(channel.name.clone(), c.clone());
                    c
                }
            };
            webhook::send(&client, target, message).await
        }
    }
}

#[cfg(test)]
mod tests {
    //! The delivery loop against a real local receiver and a real SQLite outbox: a receiver that
    //! answers 500, one that times out, one that is down and then up. Zero lost, zero duplicated,
    //! proven by what the receiver accepted.

    use std::time::Duration;

    use super::*;
    use crate::alert::sample::night_two;
    use crate::alert::webhook::testkit::{self, Receiver, Reply};
    use crate::config::{Route, WebhookFormat, WebhookTarget, WebhookUrl};
    use crate::model::Severity;
    use crate::store::{DeliveryState, RunStatus};

    fn alerts(url: String, attempts: u32) -> Alerts {
        Alerts {
            attempts,
            backoff: Duration::from_millis(20),
            timeout: Duration::from_millis(700),
            channels: vec![Channel {
                name: "hook".into(),
                route: Route {
                    min_severity: Severity::Low,
                    zones: vec![],
                    rules: vec![],
                    events: crate::alert::EventKind::ALL.into_iter().collect(),
                },
                target: Target::Webhook(WebhookTarget {
                    format: WebhookFormat::Generic,
                    url: WebhookUrl::Inline(url),
                    secret: None,
                    ca_file: None,
                }),
            }],
            ..Alerts::default()
        }
    }

    /// A store with one finished run whose evaluation queued `night_two("hook")`.
    fn queued(dir: &std::path::Path) -> (Store, AlertMessage) {
        let mut store = Store::open(&dir.join("za.db")).unwrap();
        let message = night_two("hook");
        let run = store.begin_run("demo-dc1", message.run_started_at, "c", "v").unwrap();
        let mut message = message;
        message.run_id = run;
        message.idempotency_key = AlertMessage::idempotency_key_for("demo-dc1", run, "hook");
        store.record_evaluation_with_alerts(run, &[], &[], std::slice::from_ref(&message)).unwrap();
        store.finish_run(run, message.run_started_at, RunStatus::Complete, true).unwrap();
        (store, message)
    }

    fn provider() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    #[tokio::test]
    async fn a_500_and_a_timeout_are_retried_and_the_message_is_accepted_once() {
        provider();
        let dir = tempfile::tempdir().unwrap();
        let (mut store, message) = queued(dir.path());
        let receiver = Receiver::start(vec![Reply::Status(500), Reply::Stall(Duration::from_secs(3))]);
        let report = deliver_pending(&mut store, &alerts(receiver.url(), 4)).await.unwrap();
        assert_eq!((report.delivered, report.still_pending, report.attempts), (1, 0, 3), "{report:?}");
        // Three requests arrived (the stalled one too), all with one key; exactly one was accepted.
        assert_eq!(receiver.requests().len(), 3);
        assert_eq!(receiver.distinct_idempotency_keys().len(), 1);
        assert_eq!(receiver.accepted_idempotency_keys(), vec![message.idempotency_key.clone()]);
        let row = &store.alerts(10).unwrap()[0];
        assert_eq!((row.state, row.attempts), (DeliveryState::Delivered, 3));
        // Nothing is pending any more: a second pass sends nothing.
        let again = deliver_pending(&mut store, &alerts(receiver.url(), 4)).await.unwrap();
        assert_eq!((again.delivered, again.attempts), (0, 0));
        assert_eq!(receiver.requests().len(), 3);
    }

    #[tokio::test]
    async fn a_receiver_that_is_down_gets_the_message_once_when_it_is_back() {
        provider();
        let dir = tempfile::tempdir().unwrap();
        let (mut store, message) = queued(dir.path());
        let port = testkit::unused_port();
        let config = alerts(testkit::url_on(port), 2);
        let report = deliver_pending(&mut store, &config).await.unwrap();
        assert_eq!((report.delivered, report.still_pending, report.attempts), (0, 1, 2));
        let row = &store.pending_alerts().unwrap()[0];
        assert_eq!(row.attempts, 2);
        let error = row.last_error.as_deref().unwrap();
        assert!(error.contains("webhook hook (generic)"), "{error}");
        assert!(!error.contains(testkit::TOKEN), "the URL's token is not stored: {error}");

        let receiver = Receiver::start_on(port, vec![]);
        let report = deliver_pending(&mut store, &config).await.unwrap();
        assert_eq!((report.delivered, report.still_pending), (1, 0));
        assert_eq!(receiver.accepted_idempotency_keys(), vec![message.idempotency_key]);
        assert!(store.pending_alerts().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_permanent_error_is_not_retried_in_the_run_and_stays_pending() {
        provider();
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = queued(dir.path());
        let receiver = Receiver::start(vec![Reply::Status(400)]);
        let report = deliver_pending(&mut store, &alerts(receiver.url(), 4)).await.unwrap();
        assert_eq!((report.delivered, report.still_pending, report.attempts), (0, 1, 1));
        assert_eq!(receiver.requests().len(), 1);
        assert!(report.failures[0].2.contains("HTTP 400"), "{:?}", report.failures);
        // Next run (or `alerts flush`): tried again, and delivered now that the receiver accepts.
        let report = deliver_pending(&mut store, &alerts(receiver.url(), 4)).await.unwrap();
        assert_eq!(report.delivered, 1);
        assert_eq!(receiver.accepted_idempotency_keys().len(), 1);
    }

    #[tokio::test]
    async fn a_channel_removed_from_the_config_keeps_its_messages_pending() {
        provider();
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = queued(dir.path());
        let report = deliver_pending(&mut store, &Alerts::default()).await.unwrap();
        assert_eq!(report.still_pending, 1);
        assert!(report.failures[0].2.contains("not in the configuration"), "{:?}", report.failures);
    }
}
