//! A message as night 2 of the demo produces it, for the channel tests.

use super::{AlertEvent, AlertMessage, EventKind};
use crate::model::Severity;

pub fn night_two(channel: &str) -> AlertMessage {
    let at = |s: &str| s.parse().expect("sample time");
    AlertMessage {
        cluster: "demo-dc1".into(),
        run_id: 2,
        run_started_at: at("2026-11-25T02:00:00Z"),
        channel: channel.into(),
        idempotency_key: AlertMessage::idempotency_key_for("demo-dc1", 2, channel),
        events: vec![
            AlertEvent {
                kind: EventKind::New,
                key: "5f0c2c1d9a7e4b3a8c6d2e1f0a9b8c7d".into(),
                severity: Some(Severity::Critical),
                rule_id: Some("ZI-ROUTE-LEAK".into()),
                zone: Some("yellow".into()),
                subject: "leaf1/YELLOW/10.20.1.0/26".into(),
                message: "VRF YELLOW on leaf1 carries 10.20.1.0/26 of zone blue <b>&</b>".into(),
                since: Some(at("2026-11-25T02:00:00Z")),
            },
            AlertEvent {
                kind: EventKind::New,
                key: "0a1b2c3d4e5f60718293a4b5c6d7e8f9".into(),
                severity: Some(Severity::Critical),
                rule_id: Some("ZI-CROSS-ZONE-SESSION".into()),
                zone: Some("yellow".into()),
                subject: "yellow-rr1<->172.31.20.21".into(),
                message: "yellow-rr1 has an established BGP session with blue-w1 (zone blue)".into(),
                since: Some(at("2026-11-25T02:00:00Z")),
            },
            AlertEvent {
                kind: EventKind::Drift,
                key: "prefix:leaf1:YELLOW:10.20.1.0/26".into(),
                severity: None,
                rule_id: None,
                zone: Some("yellow".into()),
                subject: "VRF YELLOW on leaf1: 10.20.1.0/26".into(),
                message: "appeared since the baseline (run 1)".into(),
                since: None,
            },
        ],
    }
}
