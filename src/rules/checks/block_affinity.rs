//! `block-affinity-outside-zone`: a node holds an IPAM block outside its zone's space.
//!
//! Pods on that node get addresses of another zone (or of no zone), so the routes Calico exports for
//! them land in the wrong zone's tables and the firewall attributes their traffic wrongly.

use super::{FindingSet, Outcome, count};
use crate::model::Attribution;
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let blocks = &input.facts.block_affinities;
    if blocks.is_empty() {
        return Outcome::skip("no block affinities collected");
    }
    let mut findings = FindingSet::new(rule);
    let mut judged = 0usize;
    for b in blocks {
        let Some(nz) = ctx.node(&b.node) else { continue };
        let Some(zone) = nz.zone() else { continue };
        judged += 1;
        let placed = match ctx.settings.zone_map.attribute(&b.cidr) {
            Attribution::Zone(z) if z == zone => continue,
            Attribution::Zone(z) => format!("in zone {z}'s space"),
            Attribution::Shared => "in shared space".to_string(),
            Attribution::Unknown => "outside every zone's space".to_string(),
            Attribution::SpansZones(zs) => format!("spanning zones {}", zs.join(", ")),
        };
        findings.add(
            format!("blockaffinity/{}/{}", b.node, b.cidr),
            Some(zone),
            format!("node {} of zone {zone} holds IPAM block {} {placed}", b.node, b.cidr),
            vec![b.origin.clone(), nz.node.origin.clone()],
        );
    }
    if judged == 0 {
        return Outcome::skip(format!(
            "{} collected, none on a node of known zone",
            count(blocks.len(), "block affinity", "block affinities")
        ));
    }
    let checked = format!(
        "{} on nodes of known zone ({} collected), {}",
        count(judged, "block affinity", "block affinities"),
        blocks.len(),
        count(findings.len(), "outside its zone", "outside their zone")
    );
    Outcome::judged(checked, findings.into_vec())
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn blocks_inside_the_node_zone_pass() {
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11")],
            block_affinities: vec![block("y-w1", "10.10.3.0/26"), block("ghost", "10.20.3.0/26")],
            ..Default::default()
        };
        let (r, f) = eval("block-affinity-outside-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "1 block affinity on nodes of known zone (2 collected), 0 outside their zone");
        assert!(f.is_empty());
    }

    #[test]
    fn block_of_another_zone_fails_with_block_and_node_as_evidence() {
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11")],
            block_affinities: vec![block("y-w1", "10.20.3.0/26"), block("y-w1", "100.64.0.0/26")],
            ..Default::default()
        };
        let (r, f) = eval("block-affinity-outside-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].subject, "blockaffinity/y-w1/10.20.3.0/26");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].message,
            "node y-w1 of zone yellow holds IPAM block 10.20.3.0/26 in zone blue's space"
        );
        assert_eq!(
            f[0].evidence,
            vec![facts.block_affinities[0].origin.clone(), facts.nodes[0].origin.clone()]
        );
        // 0.0.0.0/0 is declared shared, so space outside the zones is shared, not unknown.
        assert!(f[1].message.ends_with("100.64.0.0/26 in shared space"), "{}", f[1].message);
    }
}
