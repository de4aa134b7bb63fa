//! `rr-redundancy`: every node keeps at least `min` established sessions with its own zone's route
//! reflectors.
//!
//! A zone's RRs are its declared `routeReflectors` plus the Calico RR nodes of the zone. Sessions are
//! counted from both sides, since either may be the only one collected: the node's own sessions
//! (observer = node) towards RR addresses, and the RRs' sessions (observer = RR node, or an observer
//! whose own addresses are RR addresses) towards the node's addresses. Each RR counts once.
//!
//! A node is judged only when there is data: its own sessions, or sessions of its zone's RRs. When
//! only the RR side is there and some of the zone's RRs were not observed, a low count could be the
//! missing collection rather than the node, so the node is left undetermined instead of failed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Deserialize;

use super::{FindingSet, Outcome, count};
use crate::model::{BgpSession, Origin};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// Established sessions with distinct route reflectors of the node's zone.
    pub min: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { min: 2 }
    }
}

/// One name per route reflector, whichever side reported it: the RR node's name, else its address.
fn rr_key(ctx: &Zoning, addr: IpAddr) -> String {
    match ctx.node_at(addr) {
        Some(n) if n.node.is_route_reflector() => n.node.name.clone(),
        _ => addr.to_string(),
    }
}

/// The RR an observer is, if it is one of `rrs`.
fn observer_rr(ctx: &Zoning, observer: &str, zone: &str, rrs: &BTreeSet<IpAddr>) -> Option<String> {
    if let Some(n) = ctx.node(observer)
        && n.node.is_route_reflector()
        && n.zone() == Some(zone)
    {
        return Some(n.node.name.clone());
    }
    ctx.observer_addrs(observer).into_iter().find(|a| rrs.contains(a)).map(|a| rr_key(ctx, a))
}

/// A zone's route reflectors, computed once per zone.
struct ZoneRrs {
    addrs: BTreeSet<IpAddr>,
    /// One key per RR of the zone.
    keys: BTreeSet<String>,
    /// Keys of the RRs that reported sessions in this snapshot.
    observed: BTreeSet<String>,
}

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let sessions = &input.facts.sessions;
    // Indexes, so that big estates cost nodes + sessions, not nodes x sessions.
    let mut by_observer: BTreeMap<&str, Vec<&BgpSession>> = BTreeMap::new();
    let mut by_peer: BTreeMap<IpAddr, Vec<&BgpSession>> = BTreeMap::new();
    for s in sessions {
        by_observer.entry(s.observer.as_str()).or_default().push(s);
        by_peer.entry(s.peer_addr).or_default().push(s);
    }
    let mut zones: BTreeMap<&str, ZoneRrs> = BTreeMap::new();
    let mut findings = FindingSet::new(rule);
    let (mut in_scope, mut judged, mut no_data, mut undetermined) = (0usize, 0usize, 0usize, 0usize);
    for n in ctx.nodes().filter(|n| !n.node.is_route_reflector()) {
        let Some(zone) = n.zone() else { continue };
        in_scope += 1;
        let z = zones.entry(zone).or_insert_with(|| {
            let addrs = ctx.route_reflectors_of(zone);
            let keys = addrs.iter().map(|a| rr_key(ctx, *a)).collect();
            let observed = by_observer.keys().filter_map(|o| observer_rr(ctx, o, zone, &addrs)).collect();
            ZoneRrs { addrs, keys, observed }
        });
        let rrs = &z.addrs;
        let own = by_observer.get(n.node.name.as_str()).map(Vec::as_slice).unwrap_or_default();
        let node_side = !own.is_empty();
        if !node_side && z.observed.is_empty() {
            no_data += 1;
            continue;
        }
        let node_addrs: BTreeSet<IpAddr> =
            n.node.bgp_addresses().into_iter().chain(n.node.addresses.iter().copied()).collect();
        let mut up: BTreeSet<String> = BTreeSet::new();
        let mut evidence: Vec<Origin> = vec![n.node.origin.clone()];
        let towards_rrs =
            own.iter().filter(|s| rrs.contains(&s.peer_addr)).map(|s| (*s, Some(rr_key(ctx, s.peer_addr))));
        let from_rrs =
            node_addrs.iter().flat_map(|a| by_peer.get(a).map(Vec::as_slice).unwrap_or_default()).map(|s| {
                let rr = match s.local_addr.filter(|a| rrs.contains(a)) {
                    Some(local) => Some(rr_key(ctx, local)),
                    None => observer_rr(ctx, &s.observer, zone, rrs),
                };
                (*s, rr)
            });
        for (s, rr) in towards_rrs.chain(from_rrs) {
            let Some(rr) = rr else { continue };
            evidence.push(s.origin.clone());
            if s.is_established() {
                up.insert(rr);
            }
        }
        if up.len() >= params.min {
            judged += 1;
            continue;
        }
        if !node_side && !z.keys.is_subset(&z.observed) {
            undetermined += 1;
            continue;
        }
        judged += 1;
        let message = if rrs.is_empty() {
            format!(
                "node {} is in zone {zone}, which has no route reflectors declared or discovered",
                n.node.name
            )
        } else {
            let list: Vec<&str> = up.iter().map(String::as_str).collect();
            let list = if list.is_empty() { String::new() } else { format!(" ({})", list.join(", ")) };
            format!(
                "node {} has {} with zone {zone}'s route reflectors{list}, needs {}",
                n.node.name,
                count(up.len(), "established session", "established sessions"),
                params.min
            )
        };
        findings.add(format!("node/{}", n.node.name), Some(zone), message, evidence);
    }
    if in_scope == 0 {
        return Outcome::skip("no nodes of a known zone other than route reflectors");
    }
    if judged == 0 && undetermined == 0 {
        return Outcome::skip(format!("no session data for any of {}", count(in_scope, "node", "nodes")));
    }
    let mut checked = format!(
        "{} judged against their zone's route reflectors (min {}), {} below",
        count(judged, "node", "nodes"),
        params.min,
        findings.len()
    );
    if no_data > 0 {
        checked.push_str(&format!("; {no_data} without session data from either side"));
    }
    if undetermined > 0 {
        checked.push_str(&format!("; {undetermined} undetermined (seen only by RRs, not all RRs collected)"));
    }
    Outcome::judged(checked, findings.into_vec())
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    fn estate() -> Facts {
        Facts {
            nodes: vec![
                node("y-w1", "yellow", "172.31.10.11"),
                node("y-w2", "yellow", "172.31.10.12"),
                node("b-w1", "blue", "172.31.20.11"),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn two_rrs_counted_from_either_side_pass() {
        let mut facts = estate();
        facts.sessions = vec![
            // y-w1 reports its own sessions.
            session("y-w1", None, "172.31.10.11", "172.31.10.5", "Established"),
            session("y-w1", None, "172.31.10.11", "172.31.10.6", "Established"),
            // y-w2 is only seen by the two yellow RRs (standalone BIRD boxes).
            session("rr-y1", None, "172.31.10.5", "172.31.10.12", "Established"),
            session("rr-y2", None, "172.31.10.6", "172.31.10.12", "Established"),
        ];
        let (r, f) = eval("rr-redundancy", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
        assert_eq!(
            r.checked,
            "2 nodes judged against their zone's route reflectors (min 2), 0 below; 1 without session data from either side"
        );
        assert!(f.is_empty());
    }

    #[test]
    fn one_rr_down_is_below_minimum() {
        let mut facts = estate();
        facts.sessions = vec![
            session("y-w1", None, "172.31.10.11", "172.31.10.5", "Established"),
            session("y-w1", None, "172.31.10.11", "172.31.10.6", "Idle"),
            // Seen from the RR side too: the same RR counts once.
            session("rr-y1", None, "172.31.10.5", "172.31.10.11", "Established"),
        ];
        let (r, f) = eval("rr-redundancy", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject, "node/y-w1");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].message,
            "node y-w1 has 1 established session with zone yellow's route reflectors (172.31.10.5), needs 2"
        );
        assert_eq!(f[0].evidence[0], facts.nodes[0].origin);
        assert!(f[0].evidence.contains(&facts.sessions[1].origin));
        let (r, _) = eval("rr-redundancy", "{ min: 1 }", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
    }

    #[test]
    fn rr_nodes_count_and_partial_rr_data_is_undetermined() {
        let mut facts = estate();
        facts.nodes.push(rr_node("y-rr1", "yellow", "172.31.10.5"));
        // Only one of the zone's RRs was collected and it sees y-w1: cannot tell about the other.
        facts.sessions = vec![session("y-rr1", None, "172.31.10.5", "172.31.10.11", "Established")];
        let (r, f) = eval("rr-redundancy", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
        assert!(r.checked.contains("2 undetermined"), "{}", r.checked);
        assert!(f.is_empty());
    }

    #[test]
    fn no_session_data_skips() {
        let (r, _) = eval("rr-redundancy", "", &estate());
        assert_eq!(r.status, RuleStatus::Skip);
        assert_eq!(r.checked, "no session data for any of 3 nodes");
    }
}
