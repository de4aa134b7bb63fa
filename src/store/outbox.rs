//! The alert outbox, the per-channel notification memory (for reminders), and the accepted baseline.
//!
//! Outbox rows are written in the transaction that records the run's findings
//! ([`Store::record_evaluation_with_alerts`]): a run that dies before it leaves no half-told story,
//! and a run that recorded its findings has its notifications queued. A row is `pending` until a
//! delivery succeeds (`delivered`); attempts and the last error are kept for `alerts list`.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Context, Decoder, Result, Store, encode_json, timestamp, write_evaluation, write_tx};
use crate::alert::AlertMessage;
use crate::alert::drift::TopologyItem;
use crate::model::{Finding, RuleResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
        }
    }
}

/// One notification in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub message: AlertMessage,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The accepted topology baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// `None` once retention pruned that run: the baseline's items stay.
    pub run_id: Option<i64>,
    pub accepted_at: DateTime<Utc>,
    pub items: Vec<TopologyItem>,
}

const OUTBOX_COLUMNS: &str =
    "id, message, state, attempts, last_error, created_at, last_attempt_at, delivered_at FROM outbox";

type RawOutbox = (i64, String, String, i64, Option<String>, String, Option<String>, Option<String>);

impl Store {
    /// [`Store::record_evaluation`] plus the run's notifications, in one transaction. Each message's
    /// events also update when that channel last heard of each finding (reminders count from it).
    pub fn record_evaluation_with_alerts(
        &mut self,
        run_id: i64,
        results: &[RuleResult],
        findings: &[Finding],
        messages: &[AlertMessage],
    ) -> Result<()> {
        let op = format!("record evaluation and alerts of run {run_id}");
        self.require_run(run_id, &op)?;
        let path = self.path.clone();
        let tx = write_tx(&mut self.conn, &self.path, &op)?;
        write_evaluation(&tx, &path, run_id, results, findings)?;
        for message in messages {
            queue(&tx, &path, &op, message)?;
        }
        tx.commit().at(&path, &op)
    }

    /// Pending notifications, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<OutboxRow>> {
        self.query_outbox("WHERE state = 'pending' ORDER BY id", "read pending alerts")
    }

    /// The newest `limit` notifications, newest first.
    pub fn alerts(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        self.query_outbox(&format!("ORDER BY id DESC LIMIT {limit}"), "list alerts")
    }

    /// Records one delivery attempt: delivered, or still pending with the error (which must not
    /// contain a secret: the sender strips URLs and credentials before it gets here).
    pub fn record_attempt(
        &mut self,
        id: i64,
        at: DateTime<Utc>,
        outcome: std::result::Result<(), &str>,
    ) -> Result<()> {
        let op = format!("record delivery attempt of alert {id}");
        let (state, error, delivered) = match outcome {
            Ok(()) => (DeliveryState::Delivered, None, Some(timestamp(&at))),
            Err(e) => (DeliveryState::Pending, Some(e.to_string()), None),
        };
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, state = ?2, last_error = ?3, last_attempt_at = ?4, \
                 delivered_at = ?5 WHERE id = ?1",
                params![id, state.as_str(), error, timestamp(&at), delivered],
            )
            .at(&self.path, &op)?;
        Ok(())
    }

    /// When `channel` last heard of `key` (a finding fingerprint), if ever.
    pub fn last_notified(&self, channel: &str, key: &str) -> Result<Option<DateTime<Utc>>> {
        let op = "read notification memory";
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT notified_at FROM notified WHERE channel = ?1 AND key = ?2",
                params![channel, key],
                |r| r.get(0),
            )
            .optional()
            .at(&self.path, op)?;
        let d = Decoder { path: &self.path, op };
        text.map(|t| d.time("notified.notified_at", &t)).transpose()
    }

    /// Accept `items` (the topology of `run_id`) as the baseline drift is measured against.
    pub fn accept_baseline(&mut self, run_id: i64, at: DateTime<Utc>, items: &[TopologyItem]) -> Result<()> {
        let op = format!("accept run {run_id} as baseline");
        self.require_run(run_id, &op)?;
        let json = encode_json(&self.path, &op, "baseline items", items)?;
        self.conn
            .execute(
                "INSERT INTO baseline (id, run_id, accepted_at, items) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, accepted_at = excluded.accepted_at, \
                 items = excluded.items",
                params![run_id, timestamp(&at), json],
            )
            .at(&self.path, &op)?;
        Ok(())
    }

    /// Whether a baseline has been accepted, without reading its items.
    pub fn has_baseline(&self) -> Result<bool> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM baseline WHERE id = 1)", [], |r| r.get(0))
            .at(&self.path, "read baseline")
    }

    pub fn baseline(&self) -> Result<Option<Baseline>> {
        let op = "read baseline";
        let row: Option<(Option<i64>, String, String)> = self
            .conn
            .query_row("SELECT run_id, accepted_at, items FROM baseline WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .at(&self.path, op)?;
        let d = Decoder { path: &self.path, op };
        row.map(|(run_id, at, items)| {
            Ok(Baseline {
                run_id,
                accepted_at: d.time("baseline.accepted_at", &at)?,
                items: d.json("baseline.items", &items)?,
            })
        })
        .transpose()
    }

    fn query_outbox(&self, filter: &str, op: &str) -> Result<Vec<OutboxRow>> {
        let raw: Vec<RawOutbox> = {
            let mut stmt =
                self.conn.prepare(&format!("SELECT {OUTBOX_COLUMNS} {filter}")).at(&self.path, op)?;
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .at(&self.path, op)?
            .collect::<rusqlite::Result<_>>()
            .at(&self.path, op)?
        };
        let d = Decoder { path: &self.path, op };
        raw.into_iter()
            .map(|(id, message, state, attempts, last_error, created, last_attempt, delivered)| {
                Ok(OutboxRow {
                    id,
                    message: d.json("outbox.message", &message)?,
                    state: match state.as_str() {
                        "pending" => DeliveryState::Pending,
                        "delivered" => DeliveryState::Delivered,
                        other => return Err(d.corrupt("outbox.state", format!("unknown value {other:?}"))),
                    },
                    attempts: d.count("outbox.attempts", attempts)? as u32,
                    last_error,
                    created_at: d.time("outbox.created_at", &created)?,
                    last_attempt_at: last_attempt
                        .map(|t| d.time("outbox.last_attempt_at", &t))
                        .transpose()?,
                    delivered_at: delivered.map(|t| d.time("outbox.delivered_at", &t)).transpose()?,
                })
            })
            .collect()
    }
}

/// Queue one message (a re-audit of the same run queues nothing twice: the key is unique).
fn queue(tx: &Transaction<'_>, path: &std::path::Path, op: &str, message: &AlertMessage) -> Result<()> {
    let json = encode_json(path, op, "alert message", message)?;
    let now = timestamp(&Utc::now());
    tx.execute(
        "INSERT INTO outbox (run_id, channel, idempotency_key, message, state, attempts, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5) ON CONFLICT (idempotency_key) DO NOTHING",
        params![message.run_id, message.channel, message.idempotency_key, json, now],
    )
    .at(path, op)?;
    let at = timestamp(&message.run_started_at);
    for event in &message.events {
        tx.execute(
            "INSERT INTO notified (channel, key, notified_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (channel, key) DO UPDATE SET notified_at = excluded.notified_at",
            params![message.channel, event.key, at],
        )
        .at(path, op)?;
    }
    Ok(())
}
