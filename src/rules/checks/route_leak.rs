//! `route-leak`: a zone's table carries a prefix that belongs to another zone.
//!
//! The route's table is placed in zone Z (node, VRF, or the observer's own addresses, see
//! [`Zoning`]); its prefix is attributed by longest match. `Zone(Y)` with Y != Z is a leak: workloads
//! of Z can reach Y without crossing the firewall. Shared, unknown and spanning prefixes are other
//! rules' business (`supernet-spanning-zones`).

use super::{FindingSet, Outcome, RouteScope, TableParams};
use crate::model::Attribution;
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &TableParams) -> Outcome {
    let mut scope = RouteScope::new();
    let mut findings = FindingSet::new(rule);
    for r in &input.facts.routes {
        let Some(table_zone) = scope.place(ctx, params, r) else { continue };
        if let Attribution::Zone(owner) = ctx.settings.zone_map.attribute(&r.prefix)
            && owner != table_zone
        {
            findings.add(
                format!("{}/{}/{}", r.observer, r.table, r.prefix),
                Some(table_zone),
                format!(
                    "prefix {} of zone {owner} is in zone {table_zone}'s table {} on {}",
                    r.prefix, r.table, r.observer
                ),
                vec![r.origin.clone()],
            );
        }
    }
    if let Some(reason) = scope.skip_reason(input.facts.routes.len()) {
        return Outcome::skip(reason);
    }
    Outcome::judged(scope.describe(findings.len(), "leak", "leaks"), findings.into_vec())
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn own_and_shared_prefixes_pass() {
        let facts = Facts {
            routes: vec![
                route("leaf1", "YELLOW", "10.10.1.0/26", "172.31.10.5"),
                route("leaf1", "YELLOW", "0.0.0.0/0", "192.0.2.1"),
                route("leaf1", "BLUE", "10.20.4.0/26", "172.31.20.5"),
            ],
            ..Default::default()
        };
        let (r, f) = eval("route-leak", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass, "{}", r.checked);
        assert_eq!(r.checked, "3 routes in 2 zone tables, 0 leaks");
        assert!(f.is_empty());
    }

    #[test]
    fn foreign_prefix_in_a_vrf_is_a_leak_with_the_route_as_evidence() {
        let facts = Facts {
            routes: vec![
                route("leaf1", "YELLOW", "10.10.1.0/26", "172.31.10.5"),
                route("leaf1", "YELLOW", "10.20.1.0/26", "172.31.10.5"),
            ],
            ..Default::default()
        };
        let (r, f) = eval("route-leak", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(r.checked, "2 routes in 1 zone table, 1 leak");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject, "leaf1/YELLOW/10.20.1.0/26");
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(
            f[0].message,
            "prefix 10.20.1.0/26 of zone blue is in zone yellow's table YELLOW on leaf1"
        );
        assert_eq!(f[0].evidence, vec![facts.routes[1].origin.clone()]);
    }

    #[test]
    fn node_tables_are_placed_by_the_node_and_can_be_excluded() {
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11")],
            routes: vec![route("y-w1", "master4", "10.20.1.0/26", "172.31.10.5")],
            ..Default::default()
        };
        let (r, f) = eval("route-leak", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "y-w1/master4/10.20.1.0/26");
        let (r, _) = eval("route-leak", "{ tables: [vrf, rr] }", &facts);
        assert_eq!(r.status, RuleStatus::Skip, "{}", r.checked);
    }

    #[test]
    fn tables_of_no_known_zone_are_skipped_not_judged() {
        let facts =
            Facts { routes: vec![route("core1", "default", "10.20.1.0/26", "")], ..Default::default() };
        let (r, _) = eval("route-leak", "", &facts);
        assert_eq!(r.status, RuleStatus::Skip);
        assert_eq!(r.checked, "1 route collected, none in a table of a known zone");
        let (r, _) = eval("route-leak", "", &Facts::default());
        assert_eq!(r.checked, "no routes collected");
    }

    #[test]
    fn observer_zone_from_its_session_addresses() {
        let facts = Facts {
            sessions: vec![session("rr-y1", None, "172.31.10.5", "172.31.10.11", "Established")],
            routes: vec![route("rr-y1", "master4", "10.20.1.0/26", "172.31.10.11")],
            ..Default::default()
        };
        let (r, f) = eval("route-leak", "{ tables: [rr] }", &facts);
        assert_eq!(r.status, RuleStatus::Fail, "{}", r.checked);
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
    }
}
