//! `node-zone-mismatch`: a node's labels and its address disagree about its zone.
//!
//! The label decides which peerings and pools Calico gives the node; the address decides which
//! VRF its traffic arrives in. When they disagree the node is half in each zone. Labels that match
//! several zones' selectors are the same problem from the config side and reported here too.

use super::{FindingSet, Outcome, count};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(_input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let mut findings = FindingSet::new(rule);
    let mut total = 0usize;
    let mut both = 0usize;
    for n in ctx.nodes() {
        total += 1;
        let name = &n.node.name;
        if n.by_label.len() > 1 {
            findings.add(
                format!("node/{name}"),
                n.address_zone(),
                format!("labels of node {name} match the nodeSelectors of zones {}", n.by_label.join(", ")),
                vec![n.node.origin.clone()],
            );
            continue;
        }
        let (Some(label), Some((addr, by_addr))) = (n.label_zone(), n.by_address) else { continue };
        both += 1;
        if label != by_addr {
            findings.add(
                format!("node/{name}"),
                Some(label),
                format!(
                    "node {name} is in zone {label} by its labels but its address {addr} is in zone {by_addr}"
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
            "{} ({both} zoned by both label and address), {}",
            count(total, "node", "nodes"),
            count(findings.len(), "mismatch", "mismatches")
        ),
        findings.into_vec(),
    )
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn label_and_address_agree() {
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11"), node("b-w1", "blue", "172.31.20.11")],
            ..Default::default()
        };
        let (r, f) = eval("node-zone-mismatch", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "2 nodes (2 zoned by both label and address), 0 mismatches");
        assert!(f.is_empty());
    }

    #[test]
    fn relabelled_node_is_a_mismatch() {
        let facts = Facts { nodes: vec![node("b-w9", "yellow", "172.31.20.19")], ..Default::default() };
        let (r, f) = eval("node-zone-mismatch", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "node/b-w9");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].message,
            "node b-w9 is in zone yellow by its labels but its address 172.31.20.19 is in zone blue"
        );
        assert_eq!(f[0].evidence, vec![facts.nodes[0].origin.clone()]);
    }
}
