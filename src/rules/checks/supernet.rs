//! `supernet-spanning-zones`: a zone's table carries a supernet that covers another zone's space.
//!
//! `10.0.0.0/8` in yellow's VRF, when blue owns `10.20.0.0/16`, sends yellow's traffic for blue
//! somewhere other than the firewall. Declared `shared` prefixes (a default route) never span.

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
        if let Attribution::SpansZones(zones) = ctx.settings.zone_map.attribute(&r.prefix)
            && zones.iter().any(|z| z != table_zone)
        {
            findings.add(
                format!("{}/{}/{}", r.observer, r.table, r.prefix),
                Some(table_zone),
                format!(
                    "supernet {} in zone {table_zone}'s table {} on {} covers the space of zones {}",
                    r.prefix,
                    r.table,
                    r.observer,
                    zones.join(", ")
                ),
                vec![r.origin.clone()],
            );
        }
    }
    if let Some(reason) = scope.skip_reason(input.facts.routes.len()) {
        return Outcome::skip(reason);
    }
    Outcome::judged(
        scope.describe(findings.len(), "spanning supernet", "spanning supernets"),
        findings.into_vec(),
    )
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn default_route_and_own_aggregate_pass() {
        let facts = Facts {
            routes: vec![
                route("leaf1", "YELLOW", "0.0.0.0/0", "192.0.2.1"),
                route("leaf1", "YELLOW", "10.10.0.0/16", "172.31.10.5"),
            ],
            ..Default::default()
        };
        let (r, f) = eval("supernet-spanning-zones", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "2 routes in 1 zone table, 0 spanning supernets");
        assert!(f.is_empty());
    }

    #[test]
    fn slash_8_in_a_zone_vrf_spans_both_zones() {
        let facts =
            Facts { routes: vec![route("leaf1", "YELLOW", "10.0.0.0/8", "192.0.2.1")], ..Default::default() };
        let (r, f) = eval("supernet-spanning-zones", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "leaf1/YELLOW/10.0.0.0/8");
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert!(f[0].message.contains("covers the space of zones blue, yellow"), "{}", f[0].message);
        assert_eq!(f[0].evidence, vec![facts.routes[0].origin.clone()]);
    }
}
