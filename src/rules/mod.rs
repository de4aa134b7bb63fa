//! Evaluation: rule packs of built-in checks judged against one snapshot's facts.
//!
//! ```text
//!  RulePackRef ──load_packs──▶ [LoadedPack { RulePack { rules: [RuleDef] }, digest, origin }]
//!  Settings + Facts + SourceRuns ──Zoning (once)──▶ every check ──▶ Evaluation
//!                                                                   results:  one RuleResult per rule, always
//!                                                                   findings: sorted (severity desc, rule, subject)
//! ```
//!
//! A rule never disappears from the results: nothing in scope is `skip`, a check that cannot judge is
//! `error` (with the reason), so a report with only failures can never pass for evidence.

pub mod checks;
pub mod context;
pub mod pack;
pub mod selector;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use checks::{CheckKind, CheckParams, Outcome};
pub use context::Zoning;
pub use pack::{
    BUILTIN_ZONE_ISOLATION, LoadedPack, RuleDef, RulePack, RulePackError, load_pack_file, load_pack_text,
    load_packs,
};

use crate::config::Settings;
use crate::model::{Facts, Finding, RuleResult, SourceRun};

/// What one evaluation looks at.
pub struct AuditInput<'a> {
    pub settings: &'a Settings,
    pub facts: &'a Facts,
    pub sources: &'a [SourceRun],
    /// When the audited snapshot was taken: "unused for N days" counts back from here.
    pub now: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub results: Vec<RuleResult>,
    pub findings: Vec<Finding>,
}

/// Evaluate every rule of every pack, in pack order.
pub fn evaluate(packs: &[LoadedPack], input: &AuditInput) -> Evaluation {
    let zoning = Zoning::new(input.settings, input.facts);
    let mut results = Vec::new();
    let mut findings = Vec::new();
    for rule in packs.iter().flat_map(|p| &p.pack.rules) {
        // A bug in one check must cost that rule, not the night's evidence for every other rule.
        let outcome =
            catch_unwind(AssertUnwindSafe(|| checks::run(input, &zoning, rule))).unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Outcome::error(format!("check {} failed internally: {why}", rule.check))
            });
        results.push(RuleResult {
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            status: outcome.status,
            checked: outcome.checked,
            controls: rule.controls.clone(),
        });
        findings.extend(outcome.findings);
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    Evaluation { results, findings }
}

#[cfg(test)]
mod tests {
    use super::checks::testkit::*;
    use super::*;
    use crate::model::{RuleStatus, Severity};

    #[test]
    fn shipped_pack_gives_one_result_per_rule_and_sorted_findings() {
        let packs = load_packs(&[crate::config::RulePackRef::Builtin("zone-isolation".into())]).unwrap();
        let settings = settings();
        let facts = Facts {
            nodes: vec![node("y-w1", "yellow", "172.31.10.11"), node("b-w1", "blue", "172.31.20.11")],
            routes: vec![route("leaf1", "YELLOW", "10.20.1.0/26", "172.31.20.5")],
            sessions: vec![session("leaf1", Some("BLUE"), "172.31.20.1", "172.31.20.5", "Active")],
            ..Default::default()
        };
        let eval = evaluate(
            &packs,
            &AuditInput { settings: &settings, facts: &facts, sources: &[], now: chrono::Utc::now() },
        );
        assert_eq!(eval.results.len(), 18);
        let status = |id: &str| eval.results.iter().find(|r| r.rule_id == id).unwrap().status;
        assert_eq!(status("ZI-ROUTE-LEAK"), RuleStatus::Fail);
        assert_eq!(status("ZI-SESSION-DOWN"), RuleStatus::Fail);
        assert_eq!(status("ZI-MESH-MULTI-ZONE"), RuleStatus::Skip);
        assert_eq!(status("ZI-UNAPPROVED-FLOW"), RuleStatus::Skip);
        // Both configured sources never ran: evidence gaps.
        assert_eq!(status("ZI-EVIDENCE-GAP"), RuleStatus::Fail);
        let order: Vec<(Severity, &str)> =
            eval.findings.iter().map(|f| (f.severity, f.rule_id.as_str())).collect();
        let mut sorted = order.clone();
        sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        assert_eq!(order, sorted);
        assert_eq!(eval.findings[0].rule_id, "ZI-ROUTE-LEAK");
        assert!(eval.findings.iter().all(|f| !f.evidence.is_empty()));
    }
}
