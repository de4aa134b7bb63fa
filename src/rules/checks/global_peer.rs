//! `global-peer-into-zone`: a `BGPPeer` without node scope whose peer is inside a zone.
//!
//! Without `node` or `nodeSelector` Calico gives the peering to every node, so every node of every
//! zone exchanges routes with that zone's router. A global peer towards shared space (a ToR, the
//! firewall transit) is the normal design and is not a finding.

use super::{FindingSet, Outcome, count};
use crate::rules::AuditInput;
use crate::rules::context::{Zoning, zone_counts};
use crate::rules::pack::RuleDef;
use crate::rules::selector::Selector;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let peers = &input.facts.bgp_peers;
    if peers.is_empty() {
        return Outcome::skip("no BGPPeers collected");
    }
    let mut findings = FindingSet::new(rule);
    let mut errors = Vec::new();
    let mut global = 0usize;
    let node_zones: Vec<&str> = zone_counts(ctx.nodes()).into_keys().collect();
    for p in peers.iter().filter(|p| p.is_global()) {
        global += 1;
        let mut targets: Vec<(String, &str)> = Vec::new();
        let mut evidence = vec![p.origin.clone()];
        if let Some(ip) = p.peer_ip
            && let Some(z) = ctx.addr_zone(ip)
        {
            targets.push((ip.to_string(), z));
        }
        if let Some(sel) = p.peer_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            match Selector::parse(sel) {
                Ok(parsed) => {
                    let matched = ctx.nodes_matching(&parsed);
                    for z in zone_counts(matched.iter().copied()).into_keys() {
                        targets.push((format!("the nodes of peerSelector {sel:?}"), z));
                        evidence.extend(
                            matched.iter().find(|n| n.zone() == Some(z)).map(|n| n.node.origin.clone()),
                        );
                    }
                }
                Err(e) => errors.push(format!("bgppeer {}: peerSelector: {e}", p.name)),
            }
        }
        let Some((_, zone)) = targets.first() else { continue };
        let what: Vec<String> = targets.iter().map(|(t, z)| format!("{t} in zone {z}")).collect();
        let everyone = if node_zones.is_empty() {
            "every node of every zone".to_string()
        } else {
            format!("every node of zones {}", node_zones.join(", "))
        };
        findings.add(
            format!("bgppeer/{}", p.name),
            Some(zone),
            format!(
                "global BGPPeer {} (no node or nodeSelector) peers {everyone} with {}",
                p.name,
                what.join(" and ")
            ),
            evidence,
        );
    }
    let checked = format!(
        "{} ({global} global), {}",
        count(peers.len(), "BGPPeer", "BGPPeers"),
        count(findings.len(), "global peer into a zone", "global peers into a zone")
    );
    Outcome::judged(checked, findings.into_vec()).with_errors(&errors)
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn scoped_peers_and_global_peer_to_shared_space_pass() {
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11")],
            bgp_peers: vec![
                bgp_peer("tor", None, None, Some("192.0.2.1"), None),
                bgp_peer("yellow-rr", None, Some("zone == 'yellow'"), Some("172.31.10.5"), None),
            ],
            ..Default::default()
        };
        let (r, f) = eval("global-peer-into-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "2 BGPPeers (1 global), 0 global peers into a zone");
        assert!(f.is_empty());
    }

    #[test]
    fn global_peer_to_a_zone_rr_fails() {
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11"), node("b-w1", "blue", "172.31.20.11")],
            bgp_peers: vec![bgp_peer("rr-yellow", None, Some(" "), Some("172.31.10.5"), None)],
            ..Default::default()
        };
        let (r, f) = eval("global-peer-into-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "bgppeer/rr-yellow");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].message,
            "global BGPPeer rr-yellow (no node or nodeSelector) peers every node of zones blue, yellow with 172.31.10.5 in zone yellow"
        );
        assert_eq!(f[0].evidence, vec![facts.bgp_peers[0].origin.clone()]);
    }

    #[test]
    fn global_peer_selecting_zone_nodes_fails() {
        let facts = Facts {
            nodes: vec![rr_node("b-rr1", "blue", "172.31.20.5")],
            bgp_peers: vec![bgp_peer("to-rrs", None, None, None, Some("has(route-reflector)"))],
            ..Default::default()
        };
        let (r, f) = eval("global-peer-into-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].zone.as_deref(), Some("blue"));
        assert_eq!(f[0].evidence[1], facts.nodes[0].origin);
    }
}
