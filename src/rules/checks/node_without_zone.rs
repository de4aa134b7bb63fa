//! `node-without-zone`: a node that no zone claims, neither by labels nor by address.
//!
//! Such a node is outside the zone model: nothing says which RRs it may peer with or which
//! prefixes it may hold, so every other rule silently skips it.

use super::{FindingSet, Outcome, count};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(_input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let mut findings = FindingSet::new(rule);
    let mut total = 0usize;
    for n in ctx.nodes() {
        total += 1;
        if n.by_label.is_empty() && n.by_address.is_none() {
            let addrs: Vec<String> =
                n.node.bgp_addresses().iter().chain(&n.node.addresses).map(|a| a.to_string()).collect();
            let addrs = if addrs.is_empty() { "no addresses".to_string() } else { addrs.join(", ") };
            findings.add(
                format!("node/{}", n.node.name),
                None,
                format!(
                    "node {} matches no zone's nodeSelector and none of its addresses ({addrs}) is in a zone's prefixes",
                    n.node.name
                ),
                vec![n.node.origin.clone()],
            );
        }
    }
    if total == 0 {
        return Outcome::skip("no nodes collected");
    }
    Outcome::judged(
        format!(
            "{}, {}",
            count(total, "node", "nodes"),
            count(findings.len(), "without a zone", "without a zone")
        ),
        findings.into_vec(),
    )
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn nodes_zoned_by_label_or_address_pass() {
        // y-w2 is unlabelled, but its address is yellow's.
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11"), node("y-w2", "", "172.31.10.12")],
            ..Default::default()
        };
        let (r, f) = eval("node-without-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "2 nodes, 0 without a zone");
        assert!(f.is_empty());
    }

    #[test]
    fn unlabelled_node_outside_every_zone_fails() {
        let facts = Facts { nodes: vec![node("stray", "", "100.64.0.7")], ..Default::default() };
        let (r, f) = eval("node-without-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "node/stray");
        assert_eq!(f[0].zone, None);
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("(100.64.0.7, 100.64.0.7)"), "{}", f[0].message);
        assert_eq!(f[0].evidence, vec![facts.nodes[0].origin.clone()]);
        let (r, _) = eval("node-without-zone", "", &Facts::default());
        assert_eq!(r.status, RuleStatus::Skip);
    }
}
