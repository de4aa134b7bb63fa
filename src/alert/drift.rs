//! Topology drift: the BGP sessions, VRF prefixes and firewall zone pairs of a run, compared with an
//! accepted baseline (`zoneaudit baseline accept`).
//!
//! ```text
//!  Facts ──topology──▶ items, one per key, sorted:
//!     session:<observer>:<peer address>          a BGP session, whatever its state and counters
//!     prefix:<observer>:<table>:<prefix>         a prefix in a routing table (VRF, RR or node table)
//!     zonePair:<firewall>:<from zone>><to zone>  traffic the firewall allowed between two zones
//!  baseline items, current items ──compare (merge by key)──▶ appeared / vanished
//! ```
//!
//! Keys carry only what identifies an item, never a counter or a time, so an estate that did not
//! change gives the same keys every night; descriptions are for people and may change (a session's
//! state) without that being drift.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::model::{BgpSession, Facts, FlowAggregate, Route};
use crate::rules::context::{Placement, TableKind, Zoning};

/// What kind of topology item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TopologyKind {
    /// A BGP session seen by a collector (observer and peer).
    Session,
    /// A prefix in a zone routing table (VRF on a switch, an RR's table).
    Prefix,
    /// Traffic between two zones seen by a firewall.
    ZonePair,
}

/// One item of the topology. Ordered and compared by `key`, which is stable across runs
/// (`session:leaf1:172.31.10.5`, `prefix:leaf1:YELLOW:10.20.1.0/26`, `zonePair:fw-core:green>blue`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologyItem {
    pub key: String,
    pub kind: TopologyKind,
    /// The zone the item belongs to, when known (for routing).
    pub zone: Option<String>,
    /// For people: `VRF YELLOW on leaf1: 10.20.1.0/26`.
    pub description: String,
}

/// The run's topology: one item per BGP session, per prefix in a routing table and per firewall
/// zone pair, sorted by key, one item per key.
///
/// Only existence counts: counters, uptimes, next hops and ECMP paths are left out of the keys, so
/// an unchanged estate yields the same keys night after night. The zones come from the same
/// [`Zoning`] the rules use, so an item sits in the zone its findings would name. Placements are
/// cached per table: large estates carry hundreds of thousands of routes in a few hundred tables.
pub fn topology(facts: &Facts, settings: &Settings) -> Vec<TopologyItem> {
    let zoning = Zoning::new(settings, facts);
    let mut items: Vec<TopologyItem> =
        Vec::with_capacity(facts.sessions.len() + facts.routes.len() + facts.flows.len());
    items.extend(facts.sessions.iter().map(|s| session_item(&zoning, s)));
    let mut tables: BTreeMap<(&str, &str), Placement<'_>> = BTreeMap::new();
    for r in &facts.routes {
        let placement = *tables
            .entry((r.observer.as_str(), r.table.as_str()))
            .or_insert_with(|| zoning.route_placement(r));
        items.push(prefix_item(r, placement));
    }
    items.extend(facts.flows.iter().filter(|f| f.is_allowed()).map(|f| zone_pair_item(settings, f)));
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items.dedup_by(|later, first| later.key == first.key);
    items
}

fn session_item(zoning: &Zoning<'_>, s: &BgpSession) -> TopologyItem {
    let peer_zone = zoning.addr_zone(s.peer_addr);
    let mut peer = Vec::new();
    if let Some(n) = zoning.node_at(s.peer_addr) {
        peer.push(n.node.name.clone());
    }
    if let Some(z) = peer_zone {
        peer.push(format!("zone {z}"));
    }
    let peer = if peer.is_empty() { String::new() } else { format!(" ({})", peer.join(", ")) };
    let vrf = s.vrf.as_deref().map(|v| format!(" VRF {v}")).unwrap_or_default();
    TopologyItem {
        key: format!("session:{}:{}", s.observer, s.peer_addr),
        kind: TopologyKind::Session,
        zone: zoning.session_placement(s).zone.or(peer_zone).map(str::to_string),
        description: format!("session {}{vrf} <-> {}{peer}, {}", s.observer, s.peer_addr, s.state),
    }
}

fn prefix_item(r: &Route, placement: Placement<'_>) -> TopologyItem {
    let table = match placement.kind {
        TableKind::Vrf => "VRF",
        TableKind::Rr | TableKind::Node | TableKind::Other => "table",
    };
    TopologyItem {
        key: format!("prefix:{}:{}:{}", r.observer, r.table, r.prefix),
        kind: TopologyKind::Prefix,
        zone: placement.zone.map(str::to_string),
        description: format!("{table} {} on {}: {}", r.table, r.observer, r.prefix),
    }
}

/// A zone pair names declared zones where it can (from the addresses, else the firewall's zone
/// names, as `unapproved-flow` does), else the firewall's own zone name. It belongs to the zone
/// the traffic enters.
fn zone_pair_item(settings: &Settings, f: &FlowAggregate) -> TopologyItem {
    let zone_of = |attributed: &Option<String>, fw_zone: &str| -> (String, bool) {
        match attributed.as_deref().or_else(|| settings.zone_of_firewall_zone(fw_zone)) {
            Some(z) => (z.to_string(), true),
            None => (fw_zone.to_string(), false),
        }
    };
    let (from, _) = zone_of(&f.src_zone, &f.from_fw_zone);
    let (to, to_declared) = zone_of(&f.dst_zone, &f.to_fw_zone);
    TopologyItem {
        key: format!("zonePair:{}:{from}>{to}", f.firewall),
        kind: TopologyKind::ZonePair,
        zone: to_declared.then(|| to.clone()),
        description: format!("traffic {from} > {to} allowed by {}", f.firewall),
    }
}

/// Topology against the baseline, by key. Both lists sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologyDrift {
    pub appeared: Vec<TopologyItem>,
    pub vanished: Vec<TopologyItem>,
}

impl TopologyDrift {
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty() && self.vanished.is_empty()
    }
}

/// What `current` has that `baseline` has not (appeared), and the reverse (vanished).
///
/// Firewall zone pairs only ever appear: a pair is seen when traffic crosses it, and a night
/// without such traffic in the log says nothing about the path being closed.
pub fn compare(baseline: &[TopologyItem], current: &[TopologyItem]) -> TopologyDrift {
    // Sorted references, not copies: a large estate's topology is hundreds of thousands of items,
    // of which only the drifted few are cloned.
    fn sorted(items: &[TopologyItem]) -> Vec<&TopologyItem> {
        let mut v: Vec<&TopologyItem> = items.iter().collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v.dedup_by(|later, first| later.key == first.key);
        v
    }
    let (baseline, current) = (sorted(baseline), sorted(current));
    let mut drift = TopologyDrift::default();
    let (mut b, mut c) = (baseline.into_iter().peekable(), current.into_iter().peekable());
    loop {
        match (b.peek(), c.peek()) {
            (None, None) => break,
            (Some(_), None) => drift.vanished.extend(b.next().cloned()),
            (None, Some(_)) => drift.appeared.extend(c.next().cloned()),
            (Some(x), Some(y)) => match x.key.cmp(&y.key) {
                Ordering::Less => drift.vanished.extend(b.next().cloned()),
                Ordering::Greater => drift.appeared.extend(c.next().cloned()),
                Ordering::Equal => {
                    b.next();
                    c.next();
                }
            },
        }
    }
    drift.vanished.retain(|i| i.kind != TopologyKind::ZonePair);
    drift
}

impl TopologyKind {
    /// Heading of the kind's group in `zoneaudit diff`.
    pub fn heading(self) -> &'static str {
        match self {
            TopologyKind::Session => "BGP sessions",
            TopologyKind::Prefix => "prefixes",
            TopologyKind::ZonePair => "firewall zone pairs",
        }
    }
}

/// `zoneaudit diff`: one group per kind, `+` appeared, `-` vanished.
///
/// ```text
/// prefixes
///   + VRF YELLOW on leaf1: 10.20.1.0/26
/// BGP sessions
///   - session yellow-rr1 <-> 172.31.20.21 (blue-w1, zone blue), Established
/// ```
impl std::fmt::Display for TopologyDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no topology drift");
        }
        for kind in [TopologyKind::Session, TopologyKind::Prefix, TopologyKind::ZonePair] {
            let appeared = self.appeared.iter().filter(|i| i.kind == kind).map(|i| ('+', i));
            let vanished = self.vanished.iter().filter(|i| i.kind == kind).map(|i| ('-', i));
            let lines: Vec<(char, &TopologyItem)> = appeared.chain(vanished).collect();
            if lines.is_empty() {
                continue;
            }
            writeln!(f, "{}", kind.heading())?;
            for (sign, item) in lines {
                writeln!(f, "  {sign} {}", item.description)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::collect::gather::gather;
    use crate::demo::estate::{self, Calendar};

    /// The demo's settings and every source's facts of night `number` (fixed calendar).
    fn demo_night(number: u32) -> (Settings, Facts) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zoneaudit.yaml"), estate::config_yaml()).unwrap();
        let night = Calendar::starting(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).night(number);
        estate::write_inputs(dir.path(), night).unwrap();
        let settings = Settings::load(&dir.path().join("zoneaudit.yaml")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let collected = runtime.block_on(gather(&settings, &[]));
        let mut facts = Facts::default();
        for c in collected {
            assert!(c.run.error.is_none(), "{}: {:?}", c.run.name, c.run.error);
            facts.extend(c.facts);
        }
        (settings, facts)
    }

    fn demo_topology(number: u32) -> Vec<TopologyItem> {
        let (settings, facts) = demo_night(number);
        topology(&facts, &settings)
    }

    fn keys(items: &[TopologyItem]) -> Vec<&str> {
        items.iter().map(|i| i.key.as_str()).collect()
    }

    #[test]
    fn an_unchanged_night_has_no_drift() {
        let night1 = demo_topology(1);
        assert!(night1.iter().any(|i| i.kind == TopologyKind::Session));
        assert!(night1.iter().any(|i| i.kind == TopologyKind::Prefix));
        assert!(night1.iter().any(|i| i.kind == TopologyKind::ZonePair));
        let drift = compare(&night1, &night1);
        assert!(drift.is_empty(), "{drift}");
        assert_eq!(drift.to_string(), "no topology drift\n");
        // A steady-state night a day older (other counters, uptimes, log) keeps the same keys.
        let (night4, night5) = (demo_topology(4), demo_topology(5));
        assert_eq!(keys(&night4), keys(&night5));
    }

    #[test]
    fn night_two_shows_the_leaked_prefix_and_the_stray_session() {
        let drift = compare(&demo_topology(1), &demo_topology(2));
        assert_eq!(
            keys(&drift.appeared),
            vec!["prefix:leaf1:YELLOW:10.20.1.0/26", "session:yellow-rr1:172.31.20.21"]
        );
        assert!(drift.vanished.is_empty(), "{drift}");
        let prefix = &drift.appeared[0];
        assert_eq!(prefix.description, "VRF YELLOW on leaf1: 10.20.1.0/26");
        assert_eq!(prefix.zone.as_deref(), Some("yellow"));
        let session = &drift.appeared[1];
        assert_eq!(session.kind, TopologyKind::Session);
        assert_eq!(session.zone.as_deref(), Some("yellow"));
        assert!(session.description.contains("blue-w1, zone blue"), "{}", session.description);
        assert_eq!(
            drift.to_string(),
            format!(
                "BGP sessions\n  + {}\nprefixes\n  + VRF YELLOW on leaf1: 10.20.1.0/26\n",
                session.description
            )
        );
        // Back to night 1's topology: both vanish again.
        let back = compare(&demo_topology(2), &demo_topology(1));
        assert_eq!(back.vanished, drift.appeared);
        assert!(back.to_string().contains("  - VRF YELLOW on leaf1: 10.20.1.0/26\n"), "{back}");
    }

    #[test]
    fn night_three_shows_the_new_zone_pair_only() {
        let drift = compare(&demo_topology(1), &demo_topology(3));
        assert_eq!(keys(&drift.appeared), vec!["zonePair:fw-core:green>blue"]);
        assert!(drift.vanished.is_empty(), "{drift}");
        assert_eq!(drift.appeared[0].zone.as_deref(), Some("blue"));
        assert_eq!(drift.to_string(), "firewall zone pairs\n  + traffic green > blue allowed by fw-core\n");
    }

    #[test]
    fn items_are_sorted_unique_and_ignore_paths_and_counters() {
        let settings =
            Settings::from_yaml(&estate::config_yaml(), "zoneaudit.yaml", Path::new("demo")).unwrap();
        let (_, facts) = demo_night(1);
        let items = topology(&facts, &settings);
        assert!(items.windows(2).all(|w| w[0].key < w[1].key));
        let mut more = facts.clone();
        // Another path to a known prefix and a session that lost its counters are no new items.
        more.routes.push(Route { next_hops: vec![], best: false, ..facts.routes[0].clone() });
        more.sessions[0].prefixes_received = None;
        more.sessions[0].since = None;
        assert_eq!(keys(&topology(&more, &settings)), keys(&items));
    }

    #[test]
    fn a_baseline_out_of_order_compares_the_same() {
        let night1 = demo_topology(1);
        let mut shuffled = night1.clone();
        shuffled.reverse();
        assert!(compare(&shuffled, &night1).is_empty());
        let drift = compare(&[], &night1[..3]);
        assert_eq!(drift.appeared, night1[..3].to_vec());
    }

    #[test]
    fn a_zone_pair_never_vanishes_on_a_quiet_night() {
        let pair = TopologyItem {
            key: "zonePair:fw-core:green>blue".into(),
            kind: TopologyKind::ZonePair,
            zone: Some("blue".into()),
            description: "traffic green > blue allowed by fw-core".into(),
        };
        assert!(compare(&[pair], &[]).is_empty());
    }
}
