//! `selector-spans-zones`: a `BGPPeer` or `IPPool` selector that matches nodes of several zones.
//!
//! A `nodeSelector` that picks yellow and blue nodes gives both the same peering (or the same pod
//! address pool); a `peerSelector` that does so peers with both. `all()` counts: it is the IPPool
//! default and the typo that most often crosses zones. Disabled pools allocate nothing and are left out.

use std::collections::BTreeMap;

use super::{FindingSet, Outcome, count};
use crate::model::Origin;
use crate::rules::AuditInput;
use crate::rules::context::{Zoning, zone_counts};
use crate::rules::pack::RuleDef;
use crate::rules::selector::Selector;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let facts = input.facts;
    if facts.nodes.is_empty() {
        return Outcome::skip("no nodes collected: selectors have nothing to match");
    }
    // (resource kind, name, field, selector text, resource origin)
    let mut selectors: Vec<(&str, &str, &str, &str, &Origin)> = Vec::new();
    for p in &facts.bgp_peers {
        if let Some(s) = p.node_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            selectors.push(("bgppeer", &p.name, "nodeSelector", s, &p.origin));
        }
        if let Some(s) = p.peer_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            selectors.push(("bgppeer", &p.name, "peerSelector", s, &p.origin));
        }
    }
    for pool in facts.ip_pools.iter().filter(|p| !p.disabled) {
        selectors.push(("ippool", &pool.name, "nodeSelector", pool.node_selector.as_str(), &pool.origin));
    }
    if selectors.is_empty() {
        return Outcome::skip("no BGPPeer or enabled IPPool selectors collected");
    }
    let mut findings = FindingSet::new(rule);
    let mut errors = Vec::new();
    for (kind, name, field, text, origin) in &selectors {
        // An empty IPPool selector is Calico's default, all().
        let parsed = if text.trim().is_empty() { Ok(Selector::all()) } else { Selector::parse(text) };
        let sel = match parsed {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{kind} {name}: {field}: {e}"));
                continue;
            }
        };
        let matched = ctx.nodes_matching(&sel);
        let zones: BTreeMap<&str, usize> = zone_counts(matched.iter().copied());
        if zones.len() < 2 {
            continue;
        }
        let list: Vec<String> = zones.iter().map(|(z, n)| format!("{z} ({n})")).collect();
        let mut evidence = vec![(*origin).clone()];
        for z in zones.keys() {
            evidence.extend(matched.iter().find(|n| n.zone() == Some(z)).map(|n| n.node.origin.clone()));
        }
        let resource = if *kind == "bgppeer" { "BGPPeer" } else { "IPPool" };
        findings.add(
            format!("{kind}/{name}/{field}"),
            None,
            format!(
                "{field} {:?} of {resource} {name} matches nodes of zones {}",
                sel.text(),
                list.join(", ")
            ),
            evidence,
        );
    }
    let checked = format!(
        "{} over {}, {}",
        count(selectors.len(), "selector", "selectors"),
        count(facts.nodes.len(), "node", "nodes"),
        count(findings.len(), "spans zones", "span zones")
    );
    Outcome::judged(checked, findings.into_vec()).with_errors(&errors)
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    fn estate() -> Facts {
        Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11"), node("b-w1", "blue", "172.31.20.11")],
            ..Default::default()
        }
    }

    #[test]
    fn zone_scoped_selectors_pass() {
        let mut facts = estate();
        facts.bgp_peers = vec![bgp_peer("y", None, Some("zone == 'yellow'"), Some("172.31.10.5"), None)];
        facts.ip_pools = vec![pool("blue-pods", "10.20.0.0/16", "zone == 'blue'")];
        let mut disabled = pool("old", "10.0.0.0/8", "all()");
        disabled.disabled = true;
        facts.ip_pools.push(disabled);
        let (r, f) = eval("selector-spans-zones", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
        assert_eq!(r.checked, "2 selectors over 2 nodes, 0 span zones");
        assert!(f.is_empty());
    }

    #[test]
    fn all_pool_and_typo_selector_span_zones() {
        let mut facts = estate();
        facts.ip_pools = vec![pool("default-ipv4-ippool", "10.10.0.0/16", "all()")];
        facts.bgp_peers =
            vec![bgp_peer("y", None, Some("zone in {'yellow', 'blue'}"), Some("172.31.10.5"), None)];
        let (r, f) = eval("selector-spans-zones", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].subject, "bgppeer/y/nodeSelector");
        assert_eq!(f[1].subject, "ippool/default-ipv4-ippool/nodeSelector");
        assert_eq!(f[1].severity, Severity::High);
        assert_eq!(f[1].zone, None);
        assert_eq!(
            f[1].message,
            "nodeSelector \"all()\" of IPPool default-ipv4-ippool matches nodes of zones blue (1), yellow (1)"
        );
        assert_eq!(f[1].evidence[0], facts.ip_pools[0].origin);
        assert_eq!(f[1].evidence.len(), 3);
    }
}
