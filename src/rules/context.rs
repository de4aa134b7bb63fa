//! The zoning context: where every node, observer, table and address sits in the declared zone model.
//!
//! Built once per evaluation and shared by every check, so that all rules agree on who is where:
//!
//! ```text
//!  node          ── labels ∈ zones.<z>.nodeSelector ──▶ zone by label   ┐
//!                ── BGP address (else node address) ∈ zone prefixes ──▶ zone by address ┘─▶ node zone
//!                                                                     (label wins, address fills in)
//!  observer/table (a route's table, a session's VRF)
//!     1. a node of that name           ──▶ the node's zone        (kind node / rr)
//!     2. zones.<z>.vrf on that device  ──▶ z                      (kind vrf; per table: one leaf
//!                                                                   carries several zones' VRFs)
//!     3. the observer's own session addresses (in that table first) ──▶ their single zone (rr / other)
//!     4. unknown
//!  address       ── zone prefixes (LPM) ──▶ zone, else the zone of the node that owns the address
//! ```
//!
//! Shared space has no zone: nothing in it is ever "cross-zone".

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Deserialize;

use super::selector::Selector;
use crate::config::Settings;
use crate::model::{BgpSession, Facts, NodeFact, Route};

/// What kind of device holds a routing table, for checks that look only at some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// A zone's VRF on a switch.
    Vrf,
    /// A route reflector (a Calico RR node or a declared `routeReflectors` address).
    Rr,
    /// A Calico node that is not a route reflector.
    Node,
    /// Anything else whose zone is known from its own session addresses.
    Other,
}

impl TableKind {
    pub const ALL: [TableKind; 4] = [TableKind::Vrf, TableKind::Rr, TableKind::Node, TableKind::Other];
}

/// Where an observer's table sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement<'a> {
    pub zone: Option<&'a str>,
    pub kind: TableKind,
}

/// One node and both readings of its zone.
#[derive(Debug, Clone)]
pub struct NodeZone<'a> {
    pub node: &'a NodeFact,
    /// Every zone whose `nodeSelector` matches the labels (more than one is a config problem).
    pub by_label: Vec<&'a str>,
    /// The first node address (BGP addresses first) inside a zone's prefixes.
    pub by_address: Option<(IpAddr, &'a str)>,
}

impl<'a> NodeZone<'a> {
    pub fn label_zone(&self) -> Option<&'a str> {
        match self.by_label.as_slice() {
            [z] => Some(z),
            _ => None,
        }
    }

    pub fn address_zone(&self) -> Option<&'a str> {
        self.by_address.map(|(_, z)| z)
    }

    /// The zone the node is treated as belonging to: the declared label reading, else its address.
    pub fn zone(&self) -> Option<&'a str> {
        self.label_zone().or_else(|| if self.by_label.len() > 1 { None } else { self.address_zone() })
    }
}

pub struct Zoning<'a> {
    pub settings: &'a Settings,
    nodes: BTreeMap<&'a str, NodeZone<'a>>,
    node_by_addr: BTreeMap<IpAddr, &'a str>,
    /// Local addresses each observer used in its sessions, with the table they were seen in.
    observer_addrs: BTreeMap<&'a str, Vec<(Option<&'a str>, IpAddr)>>,
}

/// BIRD, FRR and EOS all have their own name for the default table.
fn is_default_table(t: Option<&str>) -> bool {
    matches!(t, None | Some("default" | "master" | "master4" | "master6" | "main" | "global"))
}

fn same_table(a: Option<&str>, b: Option<&str>) -> bool {
    a == b || (is_default_table(a) && is_default_table(b))
}

impl<'a> Zoning<'a> {
    pub fn new(settings: &'a Settings, facts: &'a Facts) -> Self {
        let mut nodes = BTreeMap::new();
        let mut node_by_addr = BTreeMap::new();
        for n in &facts.nodes {
            let by_label = settings.zones_by_labels(&n.labels);
            let by_address = n
                .bgp_addresses()
                .into_iter()
                .chain(n.addresses.iter().copied())
                .find_map(|a| settings.zone_map.zone_of_addr(a).map(|z| (a, z)));
            for a in n.bgp_addresses().into_iter().chain(n.addresses.iter().copied()) {
                node_by_addr.entry(a).or_insert(n.name.as_str());
            }
            nodes.insert(n.name.as_str(), NodeZone { node: n, by_label, by_address });
        }
        let mut observer_addrs: BTreeMap<&str, Vec<(Option<&str>, IpAddr)>> = BTreeMap::new();
        for s in &facts.sessions {
            if let Some(local) = s.local_addr {
                let v = observer_addrs.entry(s.observer.as_str()).or_default();
                if !v.contains(&(s.vrf.as_deref(), local)) {
                    v.push((s.vrf.as_deref(), local));
                }
            }
        }
        Zoning { settings, nodes, node_by_addr, observer_addrs }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &NodeZone<'a>> {
        self.nodes.values()
    }

    pub fn node(&self, name: &str) -> Option<&NodeZone<'a>> {
        self.nodes.get(name)
    }

    pub fn node_zone(&self, name: &str) -> Option<&'a str> {
        self.nodes.get(name).and_then(NodeZone::zone)
    }

    /// The node that owns an address (BGP or node address).
    pub fn node_at(&self, addr: IpAddr) -> Option<&NodeZone<'a>> {
        self.node_by_addr.get(&addr).and_then(|n| self.nodes.get(n))
    }

    /// Zone of a peer or next-hop address: the zone prefixes, else the zone of the node at it.
    pub fn addr_zone(&self, addr: IpAddr) -> Option<&'a str> {
        self.settings.zone_map.zone_of_addr(addr).or_else(|| self.node_at(addr).and_then(NodeZone::zone))
    }

    /// Is this address one of a zone's route reflectors (declared, or a Calico RR node)?
    pub fn is_route_reflector_addr(&self, addr: IpAddr) -> bool {
        self.settings.zone_of_route_reflector(addr).is_some()
            || self.node_at(addr).is_some_and(|n| n.node.is_route_reflector())
    }

    /// The route reflector addresses of a zone: declared ones plus the BGP addresses of RR nodes.
    pub fn route_reflectors_of(&self, zone: &str) -> BTreeSet<IpAddr> {
        let mut out: BTreeSet<IpAddr> = self
            .settings
            .zones
            .get(zone)
            .map(|z| z.route_reflectors.iter().copied().collect())
            .unwrap_or_default();
        for n in self.nodes.values() {
            if n.node.is_route_reflector() && n.zone() == Some(zone) {
                out.extend(n.node.bgp_addresses());
            }
        }
        out
    }

    /// Local addresses an observer used in its sessions (any table).
    pub fn observer_addrs(&self, observer: &str) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .observer_addrs
            .get(observer)
            .map(|v| v.iter().map(|(_, a)| *a).collect())
            .unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }

    /// Where the table `table` of `observer` sits (routes: their table; sessions: their VRF).
    pub fn placement(&self, observer: &str, table: Option<&str>) -> Placement<'a> {
        let mut kind = None;
        if let Some(n) = self.nodes.get(observer) {
            let k = if n.node.is_route_reflector() { TableKind::Rr } else { TableKind::Node };
            if let Some(zone) = n.zone() {
                return Placement { zone: Some(zone), kind: k };
            }
            kind = Some(k);
        }
        if let Some(t) = table
            && let Some(zone) = self.settings.zone_of_vrf(observer, t)
        {
            return Placement { zone: Some(zone), kind: TableKind::Vrf };
        }
        let addrs = self.observer_addrs.get(observer).map(Vec::as_slice).unwrap_or_default();
        let in_table: Vec<IpAddr> =
            addrs.iter().filter(|(t, _)| same_table(*t, table)).map(|(_, a)| *a).collect();
        let candidates: Vec<IpAddr> =
            if in_table.is_empty() { addrs.iter().map(|(_, a)| *a).collect() } else { in_table };
        let zones: BTreeSet<&'a str> = candidates.iter().filter_map(|a| self.addr_zone(*a)).collect();
        let rr = candidates.iter().any(|a| self.is_route_reflector_addr(*a));
        let kind = kind.unwrap_or(if rr { TableKind::Rr } else { TableKind::Other });
        match zones.len() {
            1 => Placement { zone: zones.into_iter().next(), kind },
            _ => Placement { zone: None, kind },
        }
    }

    pub fn route_placement(&self, r: &Route) -> Placement<'a> {
        self.placement(&r.observer, Some(&r.table))
    }

    /// The observer's zone for one session: node, VRF, then the session's own local address.
    pub fn session_placement(&self, s: &BgpSession) -> Placement<'a> {
        let p = self.placement(&s.observer, s.vrf.as_deref());
        if p.zone.is_some() {
            return p;
        }
        match s.local_addr.and_then(|a| self.addr_zone(a)) {
            Some(zone) => Placement { zone: Some(zone), kind: p.kind },
            None => p,
        }
    }

    /// Nodes a selector matches.
    pub fn nodes_matching(&self, selector: &Selector) -> Vec<&NodeZone<'a>> {
        self.nodes.values().filter(|n| selector.matches(&n.node.labels)).collect()
    }
}

/// Zones of a set of nodes, with how many nodes each (nodes without a zone are left out).
pub fn zone_counts<'a, 'b>(nodes: impl IntoIterator<Item = &'b NodeZone<'a>>) -> BTreeMap<&'a str, usize>
where
    'a: 'b,
{
    let mut out = BTreeMap::new();
    for n in nodes {
        if let Some(z) = n.zone() {
            *out.entry(z).or_insert(0) += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::checks::testkit::*;

    #[test]
    fn one_leaf_carries_several_zones_by_vrf() {
        let settings = settings();
        let facts = Facts::default();
        let z = Zoning::new(&settings, &facts);
        assert_eq!(
            z.placement("leaf1", Some("YELLOW")),
            Placement { zone: Some("yellow"), kind: TableKind::Vrf }
        );
        assert_eq!(
            z.placement("leaf1", Some("BLUE")),
            Placement { zone: Some("blue"), kind: TableKind::Vrf }
        );
        assert_eq!(z.placement("leaf1", Some("default")).zone, None);
    }

    #[test]
    fn nodes_are_zoned_by_label_first_then_address() {
        let settings = settings();
        let facts = Facts {
            nodes: vec![
                node("y-w1", "yellow", "172.31.10.11"),
                node("unlabelled", "", "172.31.20.40"),
                node("relabelled", "yellow", "172.31.20.41"),
                rr_node("y-rr1", "yellow", "172.31.10.5"),
            ],
            ..Default::default()
        };
        let z = Zoning::new(&settings, &facts);
        assert_eq!(z.node_zone("y-w1"), Some("yellow"));
        assert_eq!(z.node_zone("unlabelled"), Some("blue"));
        let r = z.node("relabelled").unwrap();
        assert_eq!(
            (r.label_zone(), r.address_zone(), r.zone()),
            (Some("yellow"), Some("blue"), Some("yellow"))
        );
        assert_eq!(
            z.placement("y-rr1", Some("master4")),
            Placement { zone: Some("yellow"), kind: TableKind::Rr }
        );
        // A node address outside every zone prefix still has its node's zone.
        assert_eq!(z.addr_zone("172.31.10.11".parse().unwrap()), Some("yellow"));
        assert_eq!(z.addr_zone("192.0.2.7".parse().unwrap()), None);
        assert!(z.is_route_reflector_addr("172.31.10.6".parse().unwrap()), "declared RR");
        assert_eq!(z.route_reflectors_of("yellow").len(), 2);
    }

    #[test]
    fn unknown_observer_is_placed_by_its_session_addresses_per_table() {
        let settings = settings();
        let facts = Facts {
            sessions: vec![
                session("rr-y1", None, "172.31.10.5", "172.31.10.11", "Established"),
                session("core", Some("T1"), "172.31.10.1", "192.0.2.1", "Established"),
                session("core", Some("T2"), "172.31.20.1", "192.0.2.1", "Established"),
            ],
            ..Default::default()
        };
        let z = Zoning::new(&settings, &facts);
        // BIRD's master4 and a session without VRF are the same default table.
        assert_eq!(
            z.placement("rr-y1", Some("master4")),
            Placement { zone: Some("yellow"), kind: TableKind::Rr }
        );
        assert_eq!(z.placement("core", Some("T2")), Placement { zone: Some("blue"), kind: TableKind::Other });
        // No session in that table, and the observer's addresses disagree: unknown.
        assert_eq!(z.placement("core", Some("T3")).zone, None);
        assert_eq!(z.placement("nobody", Some("T1")).zone, None);
    }
}
