//! Drift alerts: what changed in a run, routed per channel, written to an outbox in the run's
//! evaluation transaction, then delivered by email or webhook — never lost, never sent twice.
//!
//! ```text
//!  run findings + previous run ──▶ finding events (new / resolved / reminder)        ┐
//!  run facts + accepted baseline ─drift──▶ topology events (appeared / vanished)     ├─route──▶ AlertMessage per channel
//!                                                                                    ┘   (one per run per channel, none when nothing changed)
//!  AlertMessage ──store (same transaction as the findings)──▶ outbox row (pending, idempotency key)
//!  outbox ──deliver (bounded retries, exponential backoff; again on the next run or `alerts flush`)──▶ email / webhook
//! ```
//!
//! The idempotency key is derived from cluster, run and channel, and travels with every attempt
//! (`Idempotency-Key` header; `X-Zoneaudit-Idempotency-Key` for email), so a resend after a crash
//! between "sent" and "marked delivered" is recognisable by the receiver.
//! Messages carry no secret: channel credentials and webhook URLs stay in the configuration.

pub mod deliver;
pub mod drift;
pub mod email;
pub mod route;
pub mod webhook;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Severity;

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    /// A finding that the previous complete run did not have.
    New,
    /// A finding of the previous complete run that this run, on complete evidence, no longer has.
    Resolved,
    /// Topology against the accepted baseline: a BGP session, a VRF prefix or a firewall zone pair
    /// that appeared or vanished.
    Drift,
    /// An unresolved critical finding, again after the repeat interval.
    Reminder,
}

impl EventKind {
    pub const ALL: [EventKind; 4] =
        [EventKind::New, EventKind::Resolved, EventKind::Drift, EventKind::Reminder];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Resolved => "resolved",
            EventKind::Drift => "drift",
            EventKind::Reminder => "reminder",
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event type {s:?} (new|resolved|drift|reminder)"))
    }
}

/// One thing to tell: a finding that is new, resolved or still open, or a topology change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertEvent {
    pub kind: EventKind,
    /// Finding fingerprint, or the topology item's stable key (`session:leaf1:172.31.10.5`).
    pub key: String,
    /// Findings: the rule's; topology drift: `None` (routing by severity treats it as `medium`).
    pub severity: Option<Severity>,
    pub rule_id: Option<String>,
    pub zone: Option<String>,
    /// `leaf1/YELLOW/10.20.1.0/26`; for drift the item (`VRF YELLOW on leaf1: 10.20.1.0/26`).
    pub subject: String,
    /// Findings: the message; drift: `appeared` or `vanished` and what it is.
    pub message: String,
    /// When the finding was first seen (new, reminder) or last seen (resolved).
    pub since: Option<DateTime<Utc>>,
}

impl AlertEvent {
    /// The severity routing compares against `minSeverity`.
    pub fn routing_severity(&self) -> Severity {
        self.severity.unwrap_or(Severity::Medium)
    }
}

/// One notification: everything one channel hears about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertMessage {
    pub cluster: String,
    pub run_id: i64,
    pub run_started_at: DateTime<Utc>,
    pub channel: String,
    /// Stable for (cluster, run, channel): see the module header.
    pub idempotency_key: String,
    /// Events in the order new, resolved, drift, reminder; within a kind, most severe first.
    pub events: Vec<AlertEvent>,
}

impl AlertMessage {
    pub fn idempotency_key_for(cluster: &str, run_id: i64, channel: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [cluster.as_bytes(), run_id.to_string().as_bytes(), channel.as_bytes()] {
            h.update(part);
            h.update([0u8]);
        }
        format!("zoneaudit-{}", &hex::encode(h.finalize())[..32])
    }

    /// Number of events per kind.
    pub fn counts(&self) -> BTreeMap<EventKind, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.events {
            *counts.entry(e.kind).or_insert(0) += 1;
        }
        counts
    }

    /// The worst severity among the events that are not resolutions (what the reader must act on).
    pub fn worst(&self) -> Option<Severity> {
        self.events.iter().filter(|e| e.kind != EventKind::Resolved).map(AlertEvent::routing_severity).max()
    }

    /// `[zoneaudit] demo-dc1: 2 new, 1 resolved (worst: critical)`: cluster, counts and worst severity.
    pub fn subject_line(&self) -> String {
        let counts = self.counts();
        let parts: Vec<String> = EventKind::ALL
            .iter()
            .filter_map(|k| counts.get(k).map(|n| format!("{n} {}", k.as_str())))
            .collect();
        let worst = self.worst().map(|s| format!(" (worst: {})", s.as_str())).unwrap_or_default();
        format!("[zoneaudit] {}: {}{worst}", self.cluster, parts.join(", "))
    }
}

#[cfg(test)]
pub mod sample;

/// Why a delivery attempt failed. Messages never contain a secret: no password, no webhook URL
/// (Slack's carries its token), no HMAC secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: connection refused, timeout, HTTP 5xx / 408 / 429, SMTP 4xx.
    #[error("{0}")]
    Transient(String),
    /// Retrying now cannot help (bad credentials, HTTP 4xx, SMTP 5xx, a secret file missing): no
    /// more attempts in this run; the notification stays pending for the next run or `alerts flush`.
    #[error("{0}")]
    Permanent(String),
}

impl DeliveryError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryError::Permanent(_))
    }
}
