//! `cross-zone-session`: BGP between zones, observed or configured.
//!
//! Observed: a session whose observer's zone (for that VRF) and peer address's zone are both known
//! and differ. Any state counts, because a session stuck in `Active` is one config push away from
//! carrying routes; `severityWhenDown` (default one level below the rule's) marks that difference.
//! Configured: a node-scoped Calico `BGPPeer` whose nodes (`node` / `nodeSelector`) are in one zone
//! and whose peer (`peerIP`, or the nodes `peerSelector` picks) is in another. Global peers are
//! `global-peer-into-zone`'s finding, not repeated here. Shared and unknown space is never a zone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{FindingSet, Outcome, count, thousands, vrf_label};
use crate::model::{BgpPeerConfig, Origin, Severity};
use crate::rules::AuditInput;
use crate::rules::context::{NodeZone, Zoning, zone_counts};
use crate::rules::pack::RuleDef;
use crate::rules::selector::Selector;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// Severity of a cross-zone session that is not established; default one level below the rule.
    pub severity_when_down: Option<Severity>,
    /// Judge sessions as reported by BIRD / switches.
    pub observed: bool,
    /// Judge Calico `BGPPeer` resources.
    pub configured: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { severity_when_down: None, observed: true, configured: true }
    }
}

fn one_lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let mut findings = FindingSet::new(rule);
    let mut errors = Vec::new();
    let mut parts = Vec::new();
    let facts = input.facts;
    let down_severity = params.severity_when_down.unwrap_or_else(|| one_lower(rule.severity));

    if params.observed && !facts.sessions.is_empty() {
        let mut judged = 0usize;
        for s in &facts.sessions {
            let observer = ctx.session_placement(s);
            let (Some(oz), Some(pz)) = (observer.zone, ctx.addr_zone(s.peer_addr)) else { continue };
            judged += 1;
            if oz == pz {
                continue;
            }
            let severity = if s.is_established() { rule.severity } else { down_severity };
            findings.add_with_severity(
                format!("{}<->{}", s.observer, s.peer_addr),
                Some(oz),
                severity,
                format!(
                    "BGP session from {} (zone {oz}, VRF {}) to {} (zone {pz}) is {}",
                    s.observer,
                    vrf_label(s.vrf.as_deref()),
                    s.peer_addr,
                    s.state
                ),
                vec![s.origin.clone()],
            );
        }
        parts.push(format!(
            "{} observed ({} with both ends in a known zone)",
            count(facts.sessions.len(), "session", "sessions"),
            thousands(judged)
        ));
    }

    if params.configured && !facts.bgp_peers.is_empty() {
        let mut judged = 0usize;
        let mut global = 0usize;
        for p in &facts.bgp_peers {
            if p.is_global() {
                global += 1;
                continue;
            }
            match configured(ctx, p) {
                Ok(Some((zone, message, evidence))) => {
                    judged += 1;
                    findings.add(format!("bgppeer/{}", p.name), Some(zone), message, evidence);
                }
                Ok(None) => judged += 1,
                Err(e) => errors.push(e),
            }
        }
        let mut s =
            format!("{} configured ({judged} judged", count(facts.bgp_peers.len(), "BGPPeer", "BGPPeers"));
        if global > 0 {
            s.push_str(&format!(", {global} global left to global-peer-into-zone"));
        }
        s.push(')');
        parts.push(s);
    }

    if parts.is_empty() {
        return Outcome::skip("no BGP sessions or BGPPeers collected");
    }
    parts.push(count(findings.len(), "cross-zone peering", "cross-zone peerings"));
    Outcome::judged(parts.join(", "), findings.into_vec()).with_errors(&errors)
}

type Judgement<'a> = Option<(&'a str, String, Vec<Origin>)>;

/// A node-scoped BGPPeer: the zones of its nodes against the zones of its peer.
fn configured<'a>(ctx: &Zoning<'a>, p: &BgpPeerConfig) -> Result<Judgement<'a>, String> {
    let mut scope: Vec<&NodeZone<'a>> = Vec::new();
    if let Some(n) = &p.node
        && let Some(nz) = ctx.node(n)
    {
        scope.push(nz);
    }
    if let Some(sel) = p.node_selector.as_deref().filter(|s| !s.trim().is_empty()) {
        let sel = Selector::parse(sel).map_err(|e| format!("bgppeer {}: nodeSelector: {e}", p.name))?;
        scope.extend(ctx.nodes_matching(&sel));
    }
    let node_zones = zone_counts(scope.iter().copied());
    let mut peer_zones: BTreeMap<&str, usize> = BTreeMap::new();
    let mut peer_nodes: Vec<&NodeZone<'a>> = Vec::new();
    let mut peer_desc = Vec::new();
    if let Some(ip) = p.peer_ip {
        peer_desc.push(ip.to_string());
        if let Some(z) = ctx.addr_zone(ip) {
            *peer_zones.entry(z).or_insert(0) += 1;
        }
    }
    if let Some(sel) = p.peer_selector.as_deref().filter(|s| !s.trim().is_empty()) {
        let parsed = Selector::parse(sel).map_err(|e| format!("bgppeer {}: peerSelector: {e}", p.name))?;
        peer_desc.push(format!("the nodes of peerSelector {sel:?}"));
        peer_nodes = ctx.nodes_matching(&parsed);
        for (z, n) in zone_counts(peer_nodes.iter().copied()) {
            *peer_zones.entry(z).or_insert(0) += n;
        }
    }
    let crossing: Vec<(&str, &str)> = node_zones
        .keys()
        .flat_map(|nz| peer_zones.keys().filter(move |pz| *pz != nz).map(move |pz| (*nz, *pz)))
        .collect();
    let Some((zone, _)) = crossing.first().copied() else { return Ok(None) };
    let from: Vec<&str> = crossing.iter().map(|(n, _)| *n).collect::<BTreeSet<_>>().into_iter().collect();
    let to: Vec<&str> = crossing.iter().map(|(_, p)| *p).collect::<BTreeSet<_>>().into_iter().collect();
    let message = format!(
        "BGPPeer {} peers nodes of zone {} with {} in zone {}",
        p.name,
        from.join(", "),
        peer_desc.join(" and "),
        to.join(", ")
    );
    let mut evidence = vec![p.origin.clone()];
    for z in &from {
        evidence.extend(scope.iter().find(|n| n.zone() == Some(z)).map(|n| n.node.origin.clone()));
    }
    for z in &to {
        evidence.extend(peer_nodes.iter().find(|n| n.zone() == Some(z)).map(|n| n.node.origin.clone()));
    }
    Ok(Some((zone, message, evidence)))
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    fn estate() -> Facts {
        Facts {
            nodes: vec![
                node("y-w1", "yellow", "172.31.10.11"),
                rr_node("y-rr1", "yellow", "172.31.10.5"),
                node("b-w1", "blue", "172.31.20.11"),
                rr_node("b-rr1", "blue", "172.31.20.5"),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn sessions_and_peers_inside_zones_pass() {
        let mut facts = estate();
        facts.sessions = vec![
            session("y-w1", None, "172.31.10.11", "172.31.10.5", "Established"),
            session("leaf1", Some("BLUE"), "172.31.20.1", "172.31.20.5", "Established"),
            // A peer in shared space is not another zone.
            session("leaf1", Some("YELLOW"), "172.31.10.1", "192.0.2.1", "Established"),
        ];
        facts.bgp_peers = vec![
            bgp_peer("yellow-rr", None, Some("zone == 'yellow'"), Some("172.31.10.5"), None),
            bgp_peer(
                "blue-rr",
                None,
                Some("zone == 'blue' && !has(route-reflector)"),
                None,
                Some("zone == 'blue' && has(route-reflector)"),
            ),
        ];
        let (r, f) = eval("cross-zone-session", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
        assert_eq!(
            r.checked,
            "3 sessions observed (2 with both ends in a known zone), 2 BGPPeers configured (2 judged), 0 cross-zone peerings"
        );
        assert!(f.is_empty());
    }

    #[test]
    fn observed_session_between_zones_with_state_setting_severity() {
        let mut facts = estate();
        facts.sessions = vec![
            session("y-w1", None, "172.31.10.11", "172.31.20.5", "Established"),
            session("leaf1", Some("YELLOW"), "172.31.10.1", "172.31.20.6", "Active"),
        ];
        let (r, f) = eval("cross-zone-session", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 2);
        let up = f.iter().find(|f| f.subject == "y-w1<->172.31.20.5").unwrap();
        assert_eq!(up.severity, Severity::High);
        assert_eq!(up.zone.as_deref(), Some("yellow"));
        assert_eq!(up.evidence, vec![facts.sessions[0].origin.clone()]);
        let down = f.iter().find(|f| f.subject == "leaf1<->172.31.20.6").unwrap();
        assert_eq!(down.severity, Severity::Medium);
        assert_eq!(
            down.message,
            "BGP session from leaf1 (zone yellow, VRF YELLOW) to 172.31.20.6 (zone blue) is Active"
        );
        let (_, f) = eval("cross-zone-session", "{ severityWhenDown: low }", &facts);
        assert_eq!(f.iter().find(|f| f.subject == "leaf1<->172.31.20.6").unwrap().severity, Severity::Low);
    }

    #[test]
    fn configured_peer_from_yellow_nodes_to_blue_rr() {
        let mut facts = estate();
        facts.bgp_peers =
            vec![bgp_peer("yellow-to-rr", None, Some("zone == 'yellow'"), Some("172.31.20.5"), None)];
        let (r, f) = eval("cross-zone-session", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "bgppeer/yellow-to-rr");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].message,
            "BGPPeer yellow-to-rr peers nodes of zone yellow with 172.31.20.5 in zone blue"
        );
        assert_eq!(f[0].evidence[0], facts.bgp_peers[0].origin);
        // The first yellow node the selector matched (y-rr1 sorts before y-w1).
        assert_eq!(f[0].evidence[1], facts.nodes[1].origin);
    }

    #[test]
    fn bad_selector_is_an_error_naming_the_peer() {
        let mut facts = estate();
        facts.bgp_peers = vec![bgp_peer("typo", None, Some("zone == "), Some("172.31.20.5"), None)];
        let (r, _) = eval("cross-zone-session", "", &facts);
        assert_eq!(r.status, RuleStatus::Error);
        assert!(r.checked.contains("could not evaluate: bgppeer typo: nodeSelector: "), "{}", r.checked);
    }
}
