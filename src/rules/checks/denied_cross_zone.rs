//! `denied-cross-zone`: many denied attempts between two zones at one firewall.
//!
//! The firewall did its job, but a steady stream of blocked connections from one zone into another
//! is either a workload that depends on a flow nobody approved (it will be "fixed" by widening a
//! rule) or something probing across the boundary. Both deserve eyes before they become a change.
//!
//! ```text
//!  flows with a denying action (deny, drop*, reset*, reject, block)
//!    zone pair: address zones, else the firewall zones' zones (as unapproved-flow reads them)
//!    grouped per (firewall, from zone, to zone), counts summed
//!    total >= threshold  -> one finding, evidence = the groups' sample lines
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::zone_address_mismatch::summary;
use super::{FindingSet, Outcome, count, thousands};
use crate::model::{FlowAggregate, Origin};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// Denied connections per firewall and zone pair at or above which it is a finding.
    pub threshold: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { threshold: 100 }
    }
}

/// The normalised actions (`FlowAggregate::action`) that mean the firewall refused the traffic.
pub fn is_denied(action: &str) -> bool {
    ["deny", "drop", "reset", "reject", "block"].iter().any(|p| action.starts_with(p))
}

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let flows = &input.facts.flows;
    if flows.is_empty() {
        return Outcome::skip("no firewall flows collected");
    }
    let settings = ctx.settings;
    let mut pairs: BTreeMap<(&str, &str, &str), Vec<&FlowAggregate>> = BTreeMap::new();
    let mut denied = 0usize;
    for f in flows.iter().filter(|f| is_denied(&f.action)) {
        denied += 1;
        let from = f.src_zone.as_deref().or_else(|| settings.zone_of_firewall_zone(&f.from_fw_zone));
        let to = f.dst_zone.as_deref().or_else(|| settings.zone_of_firewall_zone(&f.to_fw_zone));
        let (Some(from), Some(to)) = (from, to) else { continue };
        if from != to {
            pairs.entry((&f.firewall, from, to)).or_default().push(f);
        }
    }
    let mut findings = FindingSet::new(rule);
    for ((firewall, from, to), group) in &pairs {
        let total: u64 = group.iter().map(|f| f.count).sum();
        if total < params.threshold {
            continue;
        }
        // The busiest services first: they say what the blocked workload wanted.
        let mut by_service: BTreeMap<(&str, u16, &str), u64> = BTreeMap::new();
        for f in group {
            *by_service.entry((&f.protocol, f.dst_port, &f.rule)).or_insert(0) += f.count;
        }
        let mut services: Vec<_> = by_service.into_iter().collect();
        services.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut top: Vec<String> = services
            .iter()
            .take(3)
            .map(|((proto, port, rule), n)| {
                format!("{proto}/{port} by rule {rule} ({})", thousands(*n as usize))
            })
            .collect();
        if services.len() > 3 {
            top.push(format!("{} more", services.len() - 3));
        }
        let first = group.iter().map(|f| f.first_seen.as_str()).min().unwrap_or("");
        let last = group.iter().map(|f| f.last_seen.as_str()).max().unwrap_or("");
        let mut evidence: Vec<Origin> = group.iter().flat_map(|f| f.samples.iter().cloned()).collect();
        if evidence.is_empty() {
            evidence = group.iter().map(|f| summary(f)).collect();
        }
        findings.add(
            format!("{firewall}/{from}->{to}"),
            Some(from),
            format!(
                "{} denied on {firewall} from zone {from} to zone {to} between {first} and {last} \
                 (threshold {}): {}",
                count(total as usize, "connection", "connections"),
                thousands(params.threshold as usize),
                top.join(", ")
            ),
            evidence,
        );
    }
    let checked = format!(
        "{} ({} denied, {} between zones), {} at or above {}",
        count(flows.len(), "flow aggregate", "flow aggregates"),
        thousands(denied),
        count(pairs.len(), "zone pair", "zone pairs"),
        thousands(findings.len()),
        thousands(params.threshold as usize)
    );
    Outcome::judged(checked, findings.into_vec())
}

#[cfg(test)]
mod tests {
    use super::is_denied;
    use crate::model::{Facts, FlowAggregate, RuleStatus};
    use crate::rules::checks::testkit::*;

    fn denied(port: u16, n: u64, action: &str) -> FlowAggregate {
        let mut f = flow("trust-yellow", "trust-blue", action, "tcp", port, "interzone-default");
        f.count = n;
        f.samples[0].locator = format!("line {port}");
        f
    }

    #[test]
    fn few_denials_and_same_zone_denials_pass() {
        let mut intra = denied(22, 5000, "deny");
        intra.to_fw_zone = "trust-yellow".into();
        let facts = Facts {
            flows: vec![
                denied(22, 60, "deny"),
                denied(3389, 39, "drop"),
                intra,
                flow("trust-yellow", "trust-blue", "allow", "tcp", 443, "yellow-to-blue-https"),
            ],
            ..Default::default()
        };
        let (r, f) = eval("denied-cross-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "4 flow aggregates (3 denied, 1 zone pair between zones), 0 at or above 100");
        assert!(f.is_empty());
    }

    #[test]
    fn denials_summed_per_zone_pair_reach_the_threshold() {
        let facts = Facts {
            flows: vec![denied(22, 60, "deny"), denied(3389, 40, "reset-both"), denied(445, 2, "drop-icmp")],
            ..Default::default()
        };
        let (r, f) = eval("denied-cross-zone", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject, "fw1/yellow->blue");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(
            f[0].message,
            "102 connections denied on fw1 from zone yellow to zone blue between 2024/07/16 10:15:01 and \
             2024/07/16 11:02:44 (threshold 100): tcp/22 by rule interzone-default (60), \
             tcp/3389 by rule interzone-default (40), tcp/445 by rule interzone-default (2)"
        );
        let lines: Vec<&str> = f[0].evidence.iter().map(|e| e.locator.as_str()).collect();
        assert_eq!(lines, ["line 22", "line 3389", "line 445"]);
        let (r, _) = eval("denied-cross-zone", "{ threshold: 500 }", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
    }

    #[test]
    fn denying_actions_are_recognised() {
        for a in ["deny", "drop", "drop-icmp", "reset-both", "reset-client", "reject", "block"] {
            assert!(is_denied(a), "{a}");
        }
        for a in ["allow", "log", "accept"] {
            assert!(!is_denied(a), "{a}");
        }
    }

    #[test]
    fn unknown_params_are_rejected() {
        let pack = "apiVersion: zoneaudit.io/v1\nkind: RulePack\nmetadata: { name: t, version: '1' }\nrules:\n  \
                    - { id: T, title: t, severity: low, check: denied-cross-zone, params: { treshold: 5 } }\n";
        let e = crate::rules::load_pack_text(pack, "t.yaml").unwrap_err().to_string();
        assert!(e.contains("unknown field `treshold`"), "{e}");
    }
}
