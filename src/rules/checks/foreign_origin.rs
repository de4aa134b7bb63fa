//! `foreign-origin`: a zone's own prefix, in its own table, learned from another zone.
//!
//! The prefix and the table agree, but the neighbour that announced it (BIRD `from`, else the first
//! next hop) sits in another zone: traffic for the zone's own workloads leaves through a foreign
//! router, or another zone is hijacking the space.

use super::{FindingSet, Outcome, RouteScope, TableParams, count};
use crate::model::Attribution;
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &TableParams) -> Outcome {
    let mut scope = RouteScope::new();
    let mut findings = FindingSet::new(rule);
    let mut judged = 0usize;
    for r in &input.facts.routes {
        let Some(table_zone) = scope.place(ctx, params, r) else { continue };
        if ctx.settings.zone_map.attribute(&r.prefix) != Attribution::Zone(table_zone.to_string()) {
            continue;
        }
        let Some(from) = r.learned_from.or_else(|| r.next_hops.first().copied()) else { continue };
        let Some(from_zone) = ctx.addr_zone(from) else { continue };
        judged += 1;
        if from_zone != table_zone {
            findings.add(
                format!("{}/{}/{}", r.observer, r.table, r.prefix),
                Some(table_zone),
                format!(
                    "prefix {} of zone {table_zone} in its table {} on {} was learned from {from} in zone {from_zone}",
                    r.prefix, r.table, r.observer
                ),
                vec![r.origin.clone()],
            );
        }
    }
    if let Some(reason) = scope.skip_reason(input.facts.routes.len()) {
        return Outcome::skip(reason);
    }
    if judged == 0 {
        return Outcome::skip(format!(
            "{}: none is a zone's own prefix learned from an address of a known zone",
            scope.describe(0, "foreign origin", "foreign origins")
        ));
    }
    Outcome::judged(
        format!(
            "{}; {} with a neighbour of known zone",
            scope.describe(findings.len(), "foreign origin", "foreign origins"),
            count(judged, "own-zone route", "own-zone routes")
        ),
        findings.into_vec(),
    )
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn own_prefix_from_own_rr_passes() {
        let facts = Facts {
            routes: vec![route("leaf1", "YELLOW", "10.10.1.0/26", "172.31.10.5")],
            ..Default::default()
        };
        let (r, f) = eval("foreign-origin", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
        assert!(r.checked.contains("1 own-zone route"), "{}", r.checked);
        assert!(f.is_empty());
    }

    #[test]
    fn own_prefix_learned_from_another_zone_fails() {
        let facts = Facts {
            routes: vec![route("leaf1", "YELLOW", "10.10.1.0/26", "172.31.20.5")],
            ..Default::default()
        };
        let (r, f) = eval("foreign-origin", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "leaf1/YELLOW/10.10.1.0/26");
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert!(f[0].message.ends_with("was learned from 172.31.20.5 in zone blue"), "{}", f[0].message);
        assert_eq!(f[0].evidence, vec![facts.routes[0].origin.clone()]);
    }

    #[test]
    fn next_hop_is_used_when_learned_from_is_unknown() {
        let mut facts = Facts::default();
        let mut r = route("leaf1", "BLUE", "10.20.1.0/26", "10.10.0.1");
        r.learned_from = None;
        facts.routes = vec![r];
        let (res, f) = eval("foreign-origin", "", &facts);
        assert_eq!(res.status, RuleStatus::Fail);
        assert_eq!(f[0].zone.as_deref(), Some("blue"));
    }
}
