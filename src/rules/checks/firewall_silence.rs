//! `firewall-silence`: a firewall log source that ran but carried no traffic.
//!
//! A core firewall passes traffic every minute of the night; a log source that read its files
//! without error and found no traffic event means the logs stopped arriving (syslog forwarding
//! broken, log profile removed from the rules, file rotated away), not that nothing crossed zones.
//! Every flow rule would pass on such a night, so the silence itself is an evidence gap.
//!
//! ```text
//!  source runs of firewall log kinds (panos, fortigate, asa, netfilter), not failed
//!     events = Σ count of the flow aggregates stamped with the run's source name
//!     events < minEvents -> finding; evidence = every payload the run read ("whole payload")
//!  failed or missing runs are evidence-gap's findings, not this rule's
//! ```

use serde::Deserialize;

use super::{FindingSet, Outcome, count, thousands};
use crate::config::SourceKind;
use crate::model::{FlowAggregate, Origin, SourceRun, SourceStatus};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// Fewer traffic events than this in a source's window is silence.
    pub min_events: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { min_events: 1 }
    }
}

fn is_firewall_log(run: &SourceRun) -> bool {
    run.kind.parse::<SourceKind>().is_ok_and(SourceKind::is_firewall_log)
}

/// Aggregates come from the run whose name their samples carry; unstamped ones (or ones without
/// samples) by the firewall the source observes.
fn from_run(f: &FlowAggregate, run: &SourceRun, observer: &str) -> bool {
    match f.samples.first() {
        Some(s) if !s.source.is_empty() => s.source == run.name,
        _ => f.firewall == observer,
    }
}

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let settings = ctx.settings;
    let runs: Vec<&SourceRun> = input.sources.iter().filter(|r| is_firewall_log(r)).collect();
    let ran: Vec<&SourceRun> = runs.iter().copied().filter(|r| r.status != SourceStatus::Failed).collect();
    if ran.is_empty() {
        return Outcome::skip(if runs.is_empty() {
            "no firewall log source run".to_string()
        } else {
            format!(
                "{} failed (evidence-gap reports them)",
                count(runs.len(), "firewall log source", "firewall log sources")
            )
        });
    }
    let mut findings = FindingSet::new(rule);
    let mut total_events = 0u64;
    for run in &ran {
        let observer =
            settings.sources.iter().find(|s| s.name == run.name).map_or(run.name.as_str(), |s| &s.observer);
        let counted: u64 =
            input.facts.flows.iter().filter(|f| from_run(f, run, observer)).map(|f| f.count).sum();
        // Each aggregate the run recorded stands for at least one event, facts at hand or not.
        let events = counted.max(run.counts.get("flows").copied().unwrap_or(0));
        total_events += events;
        if events >= params.min_events {
            continue;
        }
        let excerpt = if events == 0 {
            "0 traffic lines".to_string()
        } else {
            format!("{} in the source's payloads", count(events as usize, "traffic event", "traffic events"))
        };
        let mut evidence: Vec<Origin> = run
            .payloads
            .iter()
            .map(|p| Origin {
                source: run.name.as_str().into(),
                payload: p.sha256.as_str().into(),
                locator: "whole payload".into(),
                excerpt: excerpt.clone(),
            })
            .collect();
        if evidence.is_empty() {
            evidence.push(Origin {
                source: run.name.as_str().into(),
                payload: Default::default(),
                locator: format!("source run {} ({})", run.name, run.kind),
                excerpt: format!("{}: no payload read", run.status.as_str()),
            });
        }
        // Lines that were there but unreadable say what the firewall sent instead.
        evidence.extend(run.rejects.samples.iter().cloned());
        let read = count(run.payloads.len(), "payload", "payloads");
        let size: u64 = run.payloads.iter().map(|p| p.size).sum();
        let message = if events == 0 {
            format!(
                "firewall log source {} ({}) ran {} but yielded no traffic event ({read}, {} bytes): \
                 the firewall sent nothing in the window",
                run.name,
                run.kind,
                run.status.as_str(),
                thousands(size as usize)
            )
        } else {
            format!(
                "firewall log source {} ({}) yielded only {} ({read}), fewer than the {} expected",
                run.name,
                run.kind,
                count(events as usize, "traffic event", "traffic events"),
                thousands(params.min_events as usize)
            )
        };
        findings.add(format!("source/{}", run.name), None, message, evidence);
    }
    let checked = format!(
        "{} run ({} traffic events), {} silent",
        count(ran.len(), "firewall log source", "firewall log sources"),
        thousands(total_events as usize),
        thousands(findings.len())
    );
    Outcome::judged(checked, findings.into_vec())
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, PayloadRef, RuleStatus, SourceRun, SourceStatus};
    use crate::rules::checks::testkit::*;

    fn fw_run(name: &str, status: SourceStatus) -> SourceRun {
        let mut r = source_run(name, status, None);
        r.kind = "panos".into();
        r.payloads = vec![
            PayloadRef { name: "fw.log".into(), sha256: "a".repeat(64), size: 0 },
            PayloadRef { name: "fw.log.1".into(), sha256: "b".repeat(64), size: 120 },
        ];
        r
    }

    fn flows_from(source: &str) -> Facts {
        let mut f = flow("trust-yellow", "trust-blue", "allow", "tcp", 443, "yellow-to-blue-https");
        f.samples[0].source = source.into();
        Facts { flows: vec![f], ..Default::default() }
    }

    #[test]
    fn a_firewall_that_logged_traffic_passes() {
        let runs = [fw_run("fw1-logs", SourceStatus::Ok), source_run("calico", SourceStatus::Ok, None)];
        let (r, f) = eval_sources("firewall-silence", "", &flows_from("fw1-logs"), &runs);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "1 firewall log source run (17 traffic events), 0 silent");
        assert!(f.is_empty());
    }

    #[test]
    fn a_firewall_source_without_traffic_is_an_evidence_gap() {
        let runs = [fw_run("fw1-logs", SourceStatus::Ok), fw_run("fw2-logs", SourceStatus::Ok)];
        let (r, f) = eval_sources("firewall-silence", "", &flows_from("fw1-logs"), &runs);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject, "source/fw2-logs");
        assert_eq!(f[0].zone, None);
        assert_eq!(
            f[0].message,
            "firewall log source fw2-logs (panos) ran ok but yielded no traffic event (2 payloads, 120 bytes): \
             the firewall sent nothing in the window"
        );
        assert_eq!(f[0].evidence.len(), 2);
        assert_eq!(f[0].evidence[0].source, "fw2-logs");
        assert_eq!(f[0].evidence[0].payload, "a".repeat(64));
        assert_eq!(f[0].evidence[0].locator, "whole payload");
        assert_eq!(f[0].evidence[0].excerpt, "0 traffic lines");
        assert_eq!(f[0].evidence[1].payload, "b".repeat(64));
    }

    #[test]
    fn unstamped_flows_count_for_the_firewall_the_source_observes() {
        // `fw1` is what the flows name; the configured source of that name has no run-stamped samples.
        let mut facts = flows_from("");
        facts.flows[0].firewall = "fw1-logs".into();
        let (r, _) = eval_sources("firewall-silence", "", &facts, &[fw_run("fw1-logs", SourceStatus::Ok)]);
        assert_eq!(r.status, RuleStatus::Pass);
        // A run that recorded aggregates had traffic even when the facts are not at hand.
        let mut run = fw_run("fw1-logs", SourceStatus::Ok);
        run.counts.insert("flows".into(), 3);
        let (r, _) = eval_sources("firewall-silence", "", &Facts::default(), &[run]);
        assert_eq!(r.status, RuleStatus::Pass);
    }

    #[test]
    fn a_minimum_catches_a_nearly_silent_firewall() {
        let runs = [fw_run("fw1-logs", SourceStatus::Ok)];
        let (r, f) = eval_sources("firewall-silence", "{ minEvents: 1000 }", &flows_from("fw1-logs"), &runs);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(
            f[0].message,
            "firewall log source fw1-logs (panos) yielded only 17 traffic events (2 payloads), fewer than the 1,000 expected"
        );
        assert_eq!(f[0].evidence[0].excerpt, "17 traffic events in the source's payloads");
    }

    #[test]
    fn failed_and_non_firewall_sources_are_left_to_evidence_gap() {
        let (r, _) = eval_sources(
            "firewall-silence",
            "",
            &Facts::default(),
            &[source_run("calico", SourceStatus::Ok, None)],
        );
        assert_eq!((r.status, r.checked.as_str()), (RuleStatus::Skip, "no firewall log source run"));
        let (r, _) = eval_sources(
            "firewall-silence",
            "",
            &Facts::default(),
            &[fw_run("fw1-logs", SourceStatus::Failed)],
        );
        assert_eq!(r.status, RuleStatus::Skip);
        assert_eq!(r.checked, "1 firewall log source failed (evidence-gap reports them)");
    }
}
