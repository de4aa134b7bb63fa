//! Routing: one run's changes become at most one [`AlertMessage`] per channel.
//!
//! ```text
//!  RunChanges ──events──▶ new (first seen this run)      ┐
//!                         resolved (as last seen)         ├─ per channel: Route filter ─▶ sort ─▶ AlertMessage
//!                         drift (appeared / vanished)     │   (none when no event passes)
//!  open critical findings ─ last told ≥ repeatInterval ─▶ reminder (per channel) ┘
//! ```
//!
//! A channel's `Route` filters on what an event has: its kind, its severity (drift routes as
//! `medium`), its zone and its rule. A filter on something the event does not carry does not
//! exclude it: a cluster-wide finding (no zone) reaches every zone-filtered channel, and topology
//! drift (no rule) passes a `rules` filter — `rules` picks findings, `events` decides whether a
//! channel hears drift at all. Reminders are per channel because each channel remembers what it
//! was last told: a channel added later hears of an open critical finding on its first run.
//!
//! Events run new, resolved, drift, reminder; within a kind the most severe first, then by subject.

use chrono::{DateTime, TimeDelta, Utc};

use super::drift::{TopologyDrift, TopologyItem};
use super::{AlertEvent, AlertMessage, EventKind};
use crate::config::{Alerts, Channel, Route};
use crate::model::{Finding, Severity};

/// A finding of the previous complete run that this run, on complete evidence, no longer has.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFinding {
    /// As last seen.
    pub finding: Finding,
    pub last_seen: DateTime<Utc>,
}

/// A finding this run still has (a candidate for a reminder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenFinding<'a> {
    pub finding: &'a Finding,
    pub first_seen: DateTime<Utc>,
}

/// What changed in one run, against the previous complete run and the accepted baseline.
#[derive(Debug, Clone)]
pub struct RunChanges<'a> {
    pub cluster: &'a str,
    pub run_id: i64,
    pub run_started_at: DateTime<Utc>,
    pub new: Vec<&'a Finding>,
    pub resolved: Vec<ResolvedFinding>,
    /// Persisting findings.
    pub open: Vec<OpenFinding<'a>>,
    /// `None` when no baseline was accepted.
    pub drift: Option<&'a TopologyDrift>,
}

/// The messages of a run, one per channel that has something to hear, in channel order.
/// `last_notified(channel, key)` is when that channel was last told about the finding `key`.
pub fn messages(
    changes: &RunChanges,
    alerts: &Alerts,
    last_notified: &dyn Fn(&str, &str) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<AlertMessage> {
    let shared = shared_events(changes);
    let repeat = TimeDelta::from_std(alerts.repeat_interval).unwrap_or(TimeDelta::MAX);
    alerts
        .channels
        .iter()
        .filter_map(|channel| {
            let mut events: Vec<AlertEvent> =
                shared.iter().filter(|e| passes(&channel.route, e)).cloned().collect();
            events.extend(reminders(changes, channel, last_notified, now, repeat));
            if events.is_empty() {
                return None;
            }
            events.sort_by(event_order);
            Some(AlertMessage {
                cluster: changes.cluster.to_string(),
                run_id: changes.run_id,
                run_started_at: changes.run_started_at,
                channel: channel.name.clone(),
                idempotency_key: AlertMessage::idempotency_key_for(
                    changes.cluster,
                    changes.run_id,
                    &channel.name,
                ),
                events,
            })
        })
        .collect()
}

/// Does `route` let `event` through? See the module header for events without a zone or rule.
pub fn passes(route: &Route, event: &AlertEvent) -> bool {
    route.events.contains(&event.kind)
        && event.routing_severity() >= route.min_severity
        && event.zone.as_ref().is_none_or(|z| route.zones.is_empty() || route.zones.contains(z))
        && event.rule_id.as_ref().is_none_or(|r| route.rules.is_empty() || route.rules.contains(r))
}

/// New, resolved and drift events: the same for every channel, before routing.
fn shared_events(changes: &RunChanges) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    events.extend(changes.new.iter().map(|f| finding_event(EventKind::New, f, changes.run_started_at)));
    events
        .extend(changes.resolved.iter().map(|r| finding_event(EventKind::Resolved, &r.finding, r.last_seen)));
    if let Some(drift) = changes.drift {
        events.extend(drift.appeared.iter().map(|i| drift_event(i, "appeared since the baseline")));
        events.extend(drift.vanished.iter().map(|i| drift_event(i, "vanished since the baseline")));
    }
    events
}

/// Open critical findings this channel has not heard of for at least the repeat interval (or never).
fn reminders(
    changes: &RunChanges,
    channel: &Channel,
    last_notified: &dyn Fn(&str, &str) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    repeat: TimeDelta,
) -> Vec<AlertEvent> {
    changes
        .open
        .iter()
        .filter(|o| o.finding.severity == Severity::Critical)
        .map(|o| finding_event(EventKind::Reminder, o.finding, o.first_seen))
        .filter(|e| passes(&channel.route, e))
        .filter(|e| {
            last_notified(&channel.name, &e.key).is_none_or(|told| now.signed_duration_since(told) >= repeat)
        })
        .collect()
}

fn finding_event(kind: EventKind, f: &Finding, since: DateTime<Utc>) -> AlertEvent {
    AlertEvent {
        kind,
        key: f.fingerprint.clone(),
        severity: Some(f.severity),
        rule_id: Some(f.rule_id.clone()),
        zone: f.zone.clone(),
        subject: f.subject.clone(),
        message: f.message.clone(),
        since: Some(since),
    }
}

fn drift_event(item: &TopologyItem, what: &str) -> AlertEvent {
    AlertEvent {
        kind: EventKind::Drift,
        key: item.key.clone(),
        severity: None,
        rule_id: None,
        zone: item.zone.clone(),
        subject: item.description.clone(),
        message: what.to_string(),
        since: None,
    }
}

/// Kind (new, resolved, drift, reminder), then the most severe, then subject; key last so that the
/// order is total.
fn event_order(a: &AlertEvent, b: &AlertEvent) -> std::cmp::Ordering {
    a.kind
        .cmp(&b.kind)
        .then_with(|| b.routing_severity().cmp(&a.routing_severity()))
        .then_with(|| a.subject.cmp(&b.subject))
        .then_with(|| a.message.cmp(&b.message))
        .then_with(|| a.key.cmp(&b.key))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::alert::drift::TopologyKind;
    use crate::config::{Target, WebhookFormat, WebhookTarget, WebhookUrl};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const RUN: &str = "2026-11-25T02:00:00Z";

    fn finding(rule: &str, severity: Severity, zone: Option<&str>, subject: &str) -> Finding {
        Finding {
            rule_id: rule.into(),
            fingerprint: Finding::fingerprint_for(rule, subject),
            severity,
            zone: zone.map(str::to_string),
            subject: subject.into(),
            message: format!("{rule} on {subject}"),
            evidence: Vec::new(),
        }
    }

    fn channel(name: &str, min: Severity, zones: &[&str], rules: &[&str], events: &[EventKind]) -> Channel {
        Channel {
            name: name.into(),
            route: Route {
                min_severity: min,
                zones: zones.iter().map(|z| z.to_string()).collect(),
                rules: rules.iter().map(|r| r.to_string()).collect(),
                events: if events.is_empty() {
                    EventKind::ALL.into()
                } else {
                    events.iter().copied().collect()
                },
            },
            target: Target::Webhook(WebhookTarget {
                format: WebhookFormat::Generic,
                url: WebhookUrl::Inline("http://127.0.0.1:9/hook".into()),
                secret: None,
                ca_file: None,
            }),
        }
    }

    fn alerts(channels: Vec<Channel>) -> Alerts {
        Alerts { channels, ..Alerts::default() }
    }

    fn changes<'a>(new: Vec<&'a Finding>) -> RunChanges<'a> {
        RunChanges {
            cluster: "demo-dc1",
            run_id: 2,
            run_started_at: at(RUN),
            new,
            resolved: Vec::new(),
            open: Vec::new(),
            drift: None,
        }
    }

    fn never(_: &str, _: &str) -> Option<DateTime<Utc>> {
        None
    }

    fn send(changes: &RunChanges, alerts: &Alerts) -> BTreeMap<String, Vec<String>> {
        messages(changes, alerts, &never, at(RUN))
            .into_iter()
            .map(|m| {
                (
                    m.channel.clone(),
                    m.events.iter().map(|e| format!("{} {}", e.kind.as_str(), e.subject)).collect(),
                )
            })
            .collect()
    }

    fn leak() -> Finding {
        finding("ZI-ROUTE-LEAK", Severity::Critical, Some("yellow"), "leaf1/YELLOW/10.20.1.0/26")
    }

    fn drift() -> TopologyDrift {
        let item = |key: &str, zone: &str, description: &str| crate::alert::drift::TopologyItem {
            key: key.into(),
            kind: TopologyKind::Prefix,
            zone: Some(zone.into()),
            description: description.into(),
        };
        TopologyDrift {
            appeared: vec![item(
                "prefix:leaf1:YELLOW:10.20.1.0/26",
                "yellow",
                "VRF YELLOW on leaf1: 10.20.1.0/26",
            )],
            vanished: vec![item("prefix:leaf2:BLUE:10.20.2.0/26", "blue", "VRF BLUE on leaf2: 10.20.2.0/26")],
        }
    }

    #[test]
    fn one_message_per_channel_with_everything_it_routes() {
        let (leak, low) =
            (leak(), finding("ZI-SESSION-DOWN", Severity::Low, Some("blue"), "blue-rr1<->172.31.255.3"));
        let drift = drift();
        let mut run = changes(vec![&leak, &low]);
        run.drift = Some(&drift);
        let alerts = alerts(vec![
            channel("oncall", Severity::Info, &[], &[], &[]),
            channel("mail", Severity::High, &[], &[], &[]),
        ]);
        let sent = messages(&run, &alerts, &never, at(RUN));
        assert_eq!(sent.len(), 2);
        let oncall = &sent[0];
        assert_eq!(oncall.channel, "oncall");
        assert_eq!(oncall.cluster, "demo-dc1");
        assert_eq!(oncall.run_id, 2);
        assert_eq!(oncall.idempotency_key, AlertMessage::idempotency_key_for("demo-dc1", 2, "oncall"));
        assert_ne!(oncall.idempotency_key, sent[1].idempotency_key);
        assert_eq!(oncall.events.len(), 4);
        // Drift sorts by subject: BLUE's vanished prefix before YELLOW's new one.
        assert_eq!(oncall.events[2].message, "vanished since the baseline");
        let appeared = &oncall.events[3];
        assert_eq!(appeared.kind, EventKind::Drift);
        assert_eq!(appeared.key, "prefix:leaf1:YELLOW:10.20.1.0/26");
        assert_eq!(appeared.subject, "VRF YELLOW on leaf1: 10.20.1.0/26");
        assert_eq!(appeared.message, "appeared since the baseline");
        assert_eq!((appeared.severity, appeared.rule_id.as_deref()), (None, None));
        assert_eq!(oncall.subject_line(), "[zoneaudit] demo-dc1: 2 new, 2 drift (worst: critical)");
        // `high` and up: the leak, not the low finding nor the drift (routed as medium).
        assert_eq!(sent[1].events.len(), 1);
        assert_eq!(sent[1].events[0].key, leak.fingerprint);
        assert_eq!(sent[1].events[0].since, Some(at(RUN)));
    }

    #[test]
    fn nothing_changed_sends_nothing() {
        let alerts = alerts(vec![channel("oncall", Severity::Info, &[], &[], &[])]);
        assert!(messages(&changes(vec![]), &alerts, &never, at(RUN)).is_empty());
        let empty = TopologyDrift::default();
        let mut run = changes(vec![]);
        run.drift = Some(&empty);
        assert!(messages(&run, &alerts, &never, at(RUN)).is_empty());
        // Something changed, but nothing this channel routes: no message for it either.
        let low = finding("ZI-SESSION-DOWN", Severity::Low, Some("blue"), "x");
        let strict = self::alerts(vec![channel("mail", Severity::Critical, &[], &[], &[])]);
        assert!(messages(&changes(vec![&low]), &strict, &never, at(RUN)).is_empty());
    }

    #[test]
    fn zones_filter_findings_and_drift_but_zoneless_findings_reach_every_zone() {
        let (leak, blue) =
            (leak(), finding("ZI-ROUTE-LEAK", Severity::High, Some("blue"), "leaf2/BLUE/10.10.1.0/26"));
        let cluster_wide = finding("ZI-MESH-MULTI-ZONE", Severity::High, None, "bgpconfiguration/default");
        let drift = drift();
        let mut run = changes(vec![&leak, &blue, &cluster_wide]);
        run.drift = Some(&drift);
        let sent = send(&run, &alerts(vec![channel("yellow-team", Severity::Info, &["yellow"], &[], &[])]));
        assert_eq!(
            sent["yellow-team"],
            vec![
                "new leaf1/YELLOW/10.20.1.0/26",
                "new bgpconfiguration/default",
                "drift VRF YELLOW on leaf1: 10.20.1.0/26"
            ]
        );
    }

    #[test]
    fn rules_filter_findings_and_let_drift_through() {
        let (leak, mesh) =
            (leak(), finding("ZI-MESH-MULTI-ZONE", Severity::High, None, "bgpconfiguration/default"));
        let drift = drift();
        let mut run = changes(vec![&leak, &mesh]);
        run.drift = Some(&drift);
        let sent = send(&run, &alerts(vec![channel("leaks", Severity::Info, &[], &["ZI-ROUTE-LEAK"], &[])]));
        assert_eq!(
            sent["leaks"],
            vec![
                "new leaf1/YELLOW/10.20.1.0/26",
                "drift VRF BLUE on leaf2: 10.20.2.0/26",
                "drift VRF YELLOW on leaf1: 10.20.1.0/26"
            ]
        );
        // A channel that wants findings only says so with its event types.
        let sent = send(
            &run,
            &alerts(vec![channel("leaks", Severity::Info, &[], &["ZI-ROUTE-LEAK"], &[EventKind::New])]),
        );
        assert_eq!(sent["leaks"], vec!["new leaf1/YELLOW/10.20.1.0/26"]);
    }

    #[test]
    fn event_types_pick_what_a_channel_hears() {
        let (leak, fixed) = (
            leak(),
            finding("ZI-CROSS-ZONE-SESSION", Severity::Critical, Some("yellow"), "yellow-rr1<->172.31.20.21"),
        );
        let drift = drift();
        let mut run = changes(vec![&leak]);
        run.resolved =
            vec![ResolvedFinding { finding: fixed.clone(), last_seen: at("2026-11-24T02:00:00Z") }];
        run.drift = Some(&drift);
        let sent = messages(
            &run,
            &alerts(vec![
                channel("fixes", Severity::Info, &[], &[], &[EventKind::Resolved]),
                channel("topology", Severity::Info, &[], &[], &[EventKind::Drift]),
            ]),
            &never,
            at(RUN),
        );
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].events.len(), 1);
        let resolved = &sent[0].events[0];
        assert_eq!((resolved.kind, resolved.key.as_str()), (EventKind::Resolved, fixed.fingerprint.as_str()));
        assert_eq!(resolved.since, Some(at("2026-11-24T02:00:00Z")));
        assert_eq!(sent[0].subject_line(), "[zoneaudit] demo-dc1: 1 resolved");
        assert!(sent[1].events.iter().all(|e| e.kind == EventKind::Drift));
        assert_eq!(sent[1].events.len(), 2);
    }

    #[test]
    fn open_critical_findings_are_reminded_after_the_repeat_interval_only() {
        let (leak, high) =
            (leak(), finding("ZI-ROUTE-LEAK", Severity::High, Some("blue"), "leaf2/BLUE/10.10.1.0/26"));
        let first_seen = at("2026-11-10T02:00:00Z");
        let mut run = changes(vec![]);
        run.open =
            vec![OpenFinding { finding: &leak, first_seen }, OpenFinding { finding: &high, first_seen }];
        let alerts = alerts(vec![channel("oncall", Severity::Info, &[], &[], &[])]);
        assert_eq!(alerts.repeat_interval, std::time::Duration::from_secs(7 * 24 * 3600));
        let keys = [leak.fingerprint.clone(), high.fingerprint.clone()];
        let told = |when: &'static str| {
            let keys = keys.clone();
            move |channel: &str, key: &str| {
                assert_eq!(channel, "oncall");
                keys.iter().any(|k| k == key).then(|| at(when))
            }
        };
        // Told six days and 23 hours ago: not yet.
        assert!(messages(&run, &alerts, &told("2026-11-18T03:00:00Z"), at(RUN)).is_empty());
        // Told exactly seven days ago: again, and only about the critical one.
        let sent = messages(&run, &alerts, &told("2026-11-18T02:00:00Z"), at(RUN));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].events.len(), 1);
        let reminder = &sent[0].events[0];
        assert_eq!((reminder.kind, reminder.key.as_str()), (EventKind::Reminder, leak.fingerprint.as_str()));
        assert_eq!(reminder.since, Some(first_seen));
        assert_eq!(sent[0].subject_line(), "[zoneaudit] demo-dc1: 1 reminder (worst: critical)");
        // A channel that never heard of it (added later) hears now.
        assert_eq!(messages(&run, &alerts, &never, at(RUN))[0].events.len(), 1);
        // A shorter interval is honoured.
        let hourly = Alerts { repeat_interval: std::time::Duration::from_secs(3600), ..alerts.clone() };
        assert_eq!(messages(&run, &hourly, &told("2026-11-25T01:00:00Z"), at(RUN)).len(), 1);
        // Reminders follow the route like any event.
        let no_reminders = self::alerts(vec![channel("oncall", Severity::Info, &[], &[], &[EventKind::New])]);
        assert!(messages(&run, &no_reminders, &never, at(RUN)).is_empty());
    }

    #[test]
    fn reminders_are_per_channel() {
        let leak = leak();
        let mut run = changes(vec![]);
        run.open = vec![OpenFinding { finding: &leak, first_seen: at("2026-11-10T02:00:00Z") }];
        let alerts = alerts(vec![
            channel("old", Severity::Info, &[], &[], &[]),
            channel("added", Severity::Info, &[], &[], &[]),
        ]);
        let told = |channel: &str, _: &str| (channel == "old").then(|| at("2026-11-24T02:00:00Z"));
        let sent = messages(&run, &alerts, &told, at(RUN));
        assert_eq!(sent.iter().map(|m| m.channel.as_str()).collect::<Vec<_>>(), vec!["added"]);
    }

    #[test]
    fn events_run_new_resolved_drift_reminder_worst_first_then_by_subject() {
        let a_medium = finding("ZI-SESSION-DOWN", Severity::Medium, Some("yellow"), "a");
        let b_critical = finding("ZI-ROUTE-LEAK", Severity::Critical, Some("yellow"), "b");
        let c_critical = finding("ZI-ROUTE-LEAK", Severity::Critical, Some("yellow"), "c");
        let gone_low = finding("ZI-SESSION-DOWN", Severity::Low, Some("yellow"), "a-gone");
        let gone_high = finding("ZI-ROUTE-LEAK", Severity::High, Some("yellow"), "z-gone");
        let open = finding("ZI-CROSS-ZONE-SESSION", Severity::Critical, Some("yellow"), "0-open");
        let drift = drift();
        let mut run = changes(vec![&a_medium, &c_critical, &b_critical]);
        run.resolved = [&gone_low, &gone_high]
            .into_iter()
            .map(|f| ResolvedFinding { finding: f.clone(), last_seen: at("2026-11-24T02:00:00Z") })
            .collect();
        run.open = vec![OpenFinding { finding: &open, first_seen: at("2026-11-01T02:00:00Z") }];
        run.drift = Some(&drift);
        let sent = send(&run, &alerts(vec![channel("all", Severity::Info, &[], &[], &[])]));
        assert_eq!(
            sent["all"],
            vec![
                "new b",
                "new c",
                "new a",
                "resolved z-gone",
                "resolved a-gone",
                "drift VRF BLUE on leaf2: 10.20.2.0/26",
                "drift VRF YELLOW on leaf1: 10.20.1.0/26",
                "reminder 0-open"
            ]
        );
        let kinds: BTreeSet<EventKind> = EventKind::ALL.into();
        assert_eq!(kinds.len(), 4);
    }
}
