//! `mesh-multi-zone`: Calico's node-to-node mesh is on while nodes of more than one zone exist.
//!
//! The mesh peers every node with every other node, so one switch of
//! `BGPConfiguration default .spec.nodeToNodeMeshEnabled` undoes all zone isolation at once. With no
//! nodes collected, more than one declared zone is enough: the mesh would join them as they arrive.

use super::{FindingSet, Outcome, count};
use crate::rules::AuditInput;
use crate::rules::context::{Zoning, zone_counts};
use crate::rules::pack::RuleDef;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let Some(conf) = input.facts.bgp_configurations.iter().find(|c| c.name == "default") else {
        return Outcome::skip(format!(
            "no BGPConfiguration default collected ({} other)",
            input.facts.bgp_configurations.len()
        ));
    };
    if !conf.node_to_node_mesh {
        return Outcome::judged("BGPConfiguration default: node-to-node mesh disabled", Vec::new());
    }
    let zones = zone_counts(ctx.nodes());
    let mut findings = FindingSet::new(rule);
    let (spread, basis) = if ctx.nodes().next().is_some() {
        let list: Vec<String> =
            zones.iter().map(|(z, n)| format!("{z} ({})", count(*n, "node", "nodes"))).collect();
        (zones.len(), format!("nodes of zones {}", list.join(", ")))
    } else {
        let declared: Vec<&str> = ctx.settings.zones.keys().map(String::as_str).collect();
        (declared.len(), format!("no nodes collected and zones {} declared", declared.join(", ")))
    };
    if spread > 1 {
        let mut evidence = vec![conf.origin.clone()];
        for z in zones.keys() {
            evidence.extend(ctx.nodes().find(|n| n.zone() == Some(z)).map(|n| n.node.origin.clone()));
        }
        findings.add(
            "bgpconfiguration/default".into(),
            None,
            format!(
                "node-to-node mesh is enabled with {basis}: every node peers with every other zone's nodes"
            ),
            evidence,
        );
    }
    Outcome::judged(
        format!("BGPConfiguration default: node-to-node mesh enabled with {basis}"),
        findings.into_vec(),
    )
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    fn two_zones(mesh: bool) -> Facts {
        Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11"), node("b-w1", "blue", "172.31.20.11")],
            bgp_configurations: vec![bgp_configuration("default", mesh)],
            ..Default::default()
        }
    }

    #[test]
    fn mesh_off_passes() {
        let (r, f) = eval("mesh-multi-zone", "", &two_zones(false));
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "BGPConfiguration default: node-to-node mesh disabled");
        assert!(f.is_empty());
    }

    #[test]
    fn mesh_on_with_one_zone_passes() {
        let mut facts = two_zones(true);
        facts.nodes.truncate(1);
        let (r, _) = eval("mesh-multi-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
    }

    #[test]
    fn mesh_on_with_two_zones_fails() {
        let facts = two_zones(true);
        let (r, f) = eval("mesh-multi-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "bgpconfiguration/default");
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].zone, None);
        assert!(f[0].message.contains("nodes of zones blue (1 node), yellow (1 node)"), "{}", f[0].message);
        assert_eq!(f[0].evidence[0], facts.bgp_configurations[0].origin);
        assert_eq!(f[0].evidence.len(), 3);
    }

    #[test]
    fn mesh_on_without_nodes_counts_declared_zones() {
        let mut facts = two_zones(true);
        facts.nodes.clear();
        let (r, f) = eval("mesh-multi-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert!(f[0].message.contains("no nodes collected and zones blue, yellow declared"));
        let (r, _) = eval("mesh-multi-zone", "", &Facts::default());
        assert_eq!(r.status, RuleStatus::Skip);
    }
}
