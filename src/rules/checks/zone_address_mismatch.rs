//! `zone-address-mismatch`: addresses of one zone arriving on (or leaving through) another zone's
//! firewall interface.
//!
//! Two readings of the same traffic must agree:
//!
//! ```text
//!  ingress   zone_of_firewall_zone(from_fw_zone)  vs  src_zone (source address, LPM on the zone model)
//!  egress    zone_of_firewall_zone(to_fw_zone)    vs  dst_zone (destination address)
//! ```
//!
//! When they do not, packets of zone Y reached the firewall through zone Z's VRF: a route leak let
//! them into Z's table, or routing is asymmetric around the firewall. Either way the segmentation
//! the firewall is supposed to enforce is not the path the traffic took. An end whose firewall zone
//! or address has no zone (shared space, the internet) is not judged.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{FindingSet, Outcome, count, thousands};
use crate::model::{FlowAggregate, Origin};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// Compare the ingress interface's zone with the source address's zone.
    pub ingress: bool,
    /// Compare the egress interface's zone with the destination address's zone (destination NAT
    /// can make this differ on purpose: turn it off where the firewall publishes services).
    pub egress: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { ingress: true, egress: true }
    }
}

/// One mismatch subject: firewall, direction, firewall zone, address zone.
type Key<'a> = (&'a str, &'static str, &'a str, &'a str);

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let flows = &input.facts.flows;
    if flows.is_empty() {
        return Outcome::skip("no firewall flows collected");
    }
    let settings = ctx.settings;
    let mut mismatches: BTreeMap<Key<'_>, (&str, Vec<&FlowAggregate>)> = BTreeMap::new();
    let mut judged = 0usize;
    for f in flows {
        let mut sides: Vec<(&'static str, &str, Option<&str>)> = Vec::new();
        if params.ingress {
            sides.push(("ingress", &f.from_fw_zone, f.src_zone.as_deref()));
        }
        if params.egress {
            sides.push(("egress", &f.to_fw_zone, f.dst_zone.as_deref()));
        }
        let mut counted = false;
        for (direction, fw_zone, addr_zone) in sides {
            let (Some(interface_zone), Some(addr_zone)) =
                (settings.zone_of_firewall_zone(fw_zone), addr_zone)
            else {
                continue;
            };
            counted = true;
            if interface_zone != addr_zone {
                mismatches
                    .entry((&f.firewall, direction, fw_zone, addr_zone))
                    .or_insert_with(|| (interface_zone, Vec::new()))
                    .1
                    .push(f);
            }
        }
        judged += usize::from(counted);
    }
    let mut findings = FindingSet::new(rule);
    for ((firewall, direction, fw_zone, addr_zone), (interface_zone, group)) in &mismatches {
        let total: u64 = group.iter().map(|f| f.count).sum();
        let (first, last) = span(group);
        let (end, arriving) =
            if *direction == "ingress" { ("source", "arrived on") } else { ("destination", "left through") };
        let mut evidence: Vec<Origin> = group.iter().flat_map(|f| f.samples.iter().cloned()).collect();
        if evidence.is_empty() {
            evidence = group.iter().map(|f| summary(f)).collect();
        }
        findings.add(
            format!("{firewall}/{direction}/{fw_zone}/{addr_zone}"),
            Some(interface_zone),
            format!(
                "{} with {end} addresses in zone {addr_zone} {arriving} {firewall}'s interface in firewall zone \
                 {fw_zone} (zone {interface_zone}) between {first} and {last}: a route leak or asymmetric \
                 routing puts zone {addr_zone}'s traffic in zone {interface_zone}'s network",
                count(total as usize, "connection", "connections"),
            ),
            evidence,
        );
    }
    let checked = format!(
        "{} ({} with both zones known), {}",
        count(flows.len(), "flow aggregate", "flow aggregates"),
        thousands(judged),
        count(findings.len(), "zone/address mismatch", "zone/address mismatches")
    );
    Outcome::judged(checked, findings.into_vec())
}

/// Earliest first-seen and latest last-seen of a group (device time text sorts as time).
fn span<'a>(group: &[&'a FlowAggregate]) -> (&'a str, &'a str) {
    let first = group.iter().map(|f| f.first_seen.as_str()).min().unwrap_or("");
    let last = group.iter().map(|f| f.last_seen.as_str()).max().unwrap_or("");
    (first, last)
}

/// An aggregate without samples still names what the firewall logged.
pub(crate) fn summary(f: &FlowAggregate) -> Origin {
    Origin {
        source: f.firewall.as_str().into(),
        locator: format!("flows/{}/{}->{}/{}", f.rule, f.from_fw_zone, f.to_fw_zone, f.dst_port),
        excerpt: format!(
            "{} {} {}/{} from {} to {} ({}x)",
            f.rule, f.action, f.protocol, f.dst_port, f.from_fw_zone, f.to_fw_zone, f.count
        ),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn addresses_on_their_own_zones_interfaces_pass() {
        let mut ok = flow("trust-yellow", "trust-blue", "allow", "tcp", 443, "yellow-to-blue-https");
        ok.src_zone = Some("yellow".into());
        ok.dst_zone = Some("blue".into());
        // The internet side has no zone: not judged.
        let mut out = flow("trust-yellow", "untrust", "allow", "tcp", 443, "egress");
        out.src_zone = Some("yellow".into());
        let facts = Facts { flows: vec![ok, out], ..Default::default() };
        let (r, f) = eval("zone-address-mismatch", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "2 flow aggregates (2 with both zones known), 0 zone/address mismatches");
        assert!(f.is_empty());
    }

    #[test]
    fn blue_addresses_on_the_yellow_interface_are_a_mismatch() {
        let mut leak = flow("trust-yellow", "trust-blue", "allow", "tcp", 443, "yellow-to-blue-https");
        leak.src_zone = Some("blue".into());
        leak.dst_zone = Some("blue".into());
        let mut more = flow("trust-yellow", "trust-blue", "deny", "tcp", 22, "default-deny");
        more.src_zone = Some("blue".into());
        more.samples[0].locator = "line 77".into();
        let facts = Facts { flows: vec![leak, more], ..Default::default() };
        let (r, f) = eval("zone-address-mismatch", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 1, "one subject per firewall, direction and zone pair");
        assert_eq!(f[0].subject, "fw1/ingress/trust-yellow/blue");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert!(
            f[0].message.starts_with(
                "34 connections with source addresses in zone blue arrived on fw1's interface in firewall zone \
                 trust-yellow (zone yellow) between 2024/07/16 10:15:01 and 2024/07/16 11:02:44"
            ),
            "{}",
            f[0].message
        );
        let lines: Vec<&str> = f[0].evidence.iter().map(|e| e.locator.as_str()).collect();
        assert_eq!(lines, ["line 42", "line 77"]);
    }

    #[test]
    fn egress_mismatch_can_be_turned_off_for_published_services() {
        let mut dnat = flow("untrust", "trust-blue", "allow", "tcp", 443, "publish-web");
        dnat.dst_zone = Some("yellow".into());
        let facts = Facts { flows: vec![dnat], ..Default::default() };
        let (r, f) = eval("zone-address-mismatch", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "fw1/egress/trust-blue/yellow");
        assert!(
            f[0].message.contains("destination addresses in zone yellow left through"),
            "{}",
            f[0].message
        );
        let (r, _) = eval("zone-address-mismatch", "{ egress: false }", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
    }

    #[test]
    fn no_flows_is_a_skip() {
        let (r, _) = eval("zone-address-mismatch", "", &Facts::default());
        assert_eq!(r.status, RuleStatus::Skip);
    }
}
