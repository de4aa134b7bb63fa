//! `unapproved-flow`: traffic the firewall allowed between two zones that `allowedFlows` does not
//! approve.
//!
//! Zones come from the addresses (attributed by the collector), else from the firewall's own zone
//! names (`firewallZones`). Same-zone traffic and traffic with an end in no zone are not inter-zone.

use super::{FindingSet, Outcome, count, thousands};
use crate::model::Origin;
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let flows = &input.facts.flows;
    if flows.is_empty() {
        return Outcome::skip("no firewall flows collected");
    }
    let settings = ctx.settings;
    let mut findings = FindingSet::new(rule);
    let (mut allowed, mut inter_zone) = (0usize, 0usize);
    for f in flows.iter().filter(|f| f.is_allowed()) {
        allowed += 1;
        let from = f.src_zone.as_deref().or_else(|| settings.zone_of_firewall_zone(&f.from_fw_zone));
        let to = f.dst_zone.as_deref().or_else(|| settings.zone_of_firewall_zone(&f.to_fw_zone));
        let (Some(from), Some(to)) = (from, to) else { continue };
        if from == to {
            continue;
        }
        inter_zone += 1;
        if settings.approved_flow(from, to, &f.protocol, f.dst_port).is_some() {
            continue;
        }
        let evidence = if f.samples.is_empty() {
            // An aggregate without samples still names what the firewall logged.
            vec![Origin {
                source: f.firewall.as_str().into(),
                locator: format!("flows/{}/{}->{}/{}", f.rule, f.from_fw_zone, f.to_fw_zone, f.dst_port),
                excerpt: format!(
                    "{} {} {}/{} from {} to {} ({}x)",
                    f.rule, f.action, f.protocol, f.dst_port, f.from_fw_zone, f.to_fw_zone, f.count
                ),
                ..Default::default()
            }]
        } else {
            f.samples.clone()
        };
        findings.add(
            format!("{}/{from}->{to}/{}/{}/{}", f.firewall, f.protocol, f.dst_port, f.rule),
            Some(to),
            format!(
                "{} allowed by rule {} on {} from zone {from} ({}) to zone {to} ({}) on {}/{} between {} and {}; \
                 no allowedFlows entry approves it",
                count(f.count as usize, "connection", "connections"),
                // ASA `Built` lines do not name the ACL that let the connection through.
                if f.rule.is_empty() { "(not logged)" } else { f.rule.as_str() },
                f.firewall,
                f.from_fw_zone,
                f.to_fw_zone,
                f.protocol,
                f.dst_port,
                f.first_seen,
                f.last_seen
            ),
            evidence,
        );
    }
    let checked = format!(
        "{} ({} allowed, {inter_zone} between zones), {}",
        count(flows.len(), "flow aggregate", "flow aggregates"),
        thousands(allowed),
        count(findings.len(), "unapproved", "unapproved")
    );
    Outcome::judged(checked, findings.into_vec())
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn approved_denied_and_intra_zone_flows_pass() {
        let facts = Facts {
            flows: vec![
                flow("trust-yellow", "trust-blue", "allow", "tcp", 443, "yellow-to-blue-https"),
                flow("trust-yellow", "trust-blue", "deny", "tcp", 22, "default-deny"),
                flow("trust-blue", "trust-blue", "allow", "tcp", 22, "intrazone-default"),
            ],
            ..Default::default()
        };
        let (r, f) = eval("unapproved-flow", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "3 flow aggregates (2 allowed, 1 between zones), 0 unapproved");
        assert!(f.is_empty());
    }

    #[test]
    fn allowed_ssh_between_zones_is_unapproved() {
        let mut facts = Facts::default();
        let mut ssh = flow("untrust", "trust-yellow", "allow", "tcp", 22, "temp-any");
        // Source attributed by address wins over the firewall zone name.
        ssh.src_zone = Some("blue".into());
        facts.flows = vec![ssh];
        let (r, f) = eval("unapproved-flow", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "fw1/blue->yellow/tcp/22/temp-any");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert!(
            f[0].message.starts_with("17 connections allowed by rule temp-any on fw1 from zone blue"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].evidence, facts.flows[0].samples);
    }
}
