//! `evidence-gap`: a source that failed, answered only in part, or never ran.
//!
//! Every other rule judges what was collected; this one says what was not, so that a quiet night
//! is never mistaken for a clean one.

use serde::Deserialize;

use super::{FindingSet, Outcome, count};
use crate::model::{Origin, SourceStatus};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// Report sources that answered only in part (rejected lines, some files unreadable).
    pub include_partial: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { include_partial: true }
    }
}

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let settings = ctx.settings;
    if input.sources.is_empty() && settings.sources.is_empty() {
        return Outcome::skip("no sources configured or run");
    }
    let mut findings = FindingSet::new(rule);
    let (mut failed, mut partial, mut missing) = (0usize, 0usize, 0usize);
    for run in input.sources {
        match run.status {
            SourceStatus::Ok => continue,
            SourceStatus::Failed => failed += 1,
            SourceStatus::Partial if params.include_partial => partial += 1,
            SourceStatus::Partial => continue,
        }
        let error = run.error.as_deref().unwrap_or("no error text recorded");
        let mut evidence = vec![Origin {
            source: run.name.as_str().into(),
            payload: run.payloads.first().map(|p| p.sha256.as_str().into()).unwrap_or_default(),
            locator: format!("source run {} ({})", run.name, run.kind),
            excerpt: format!("{}: {error}", run.status.as_str()),
        }];
        evidence.extend(run.rejects.samples.iter().cloned());
        findings.add(
            format!("source/{}", run.name),
            None,
            format!("source {} ({}) {}: {error}", run.name, run.kind, run.status.as_str()),
            evidence,
        );
    }
    for (i, spec) in settings.sources.iter().enumerate() {
        if input.sources.iter().any(|r| r.name == spec.name) {
            continue;
        }
        missing += 1;
        findings.add(
            format!("source/{}", spec.name),
            None,
            format!(
                "configured source {} ({}) has no source run: nothing was collected from it",
                spec.name,
                spec.kind.as_str()
            ),
            vec![Origin {
                source: "config".into(),
                payload: settings.digest.as_str().into(),
                locator: format!("{}: sources[{i}]", settings.file.display()),
                excerpt: format!("name: {}, kind: {}", spec.name, spec.kind.as_str()),
            }],
        );
    }
    let checked = format!(
        "{} run of {} configured: {failed} failed, {partial} partial, {missing} never ran",
        count(input.sources.len(), "source", "sources"),
        settings.sources.len()
    );
    Outcome::judged(checked, findings.into_vec())
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity, SourceStatus};
    use crate::rules::checks::testkit::*;

    #[test]
    fn every_configured_source_ok_passes() {
        let runs =
            [source_run("calico", SourceStatus::Ok, None), source_run("leaf1", SourceStatus::Ok, None)];
        let (r, f) = eval_sources("evidence-gap", "", &Facts::default(), &runs);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "2 sources run of 2 configured: 0 failed, 0 partial, 0 never ran");
        assert!(f.is_empty());
    }

    #[test]
    fn failed_and_missing_sources_are_gaps() {
        let runs = [source_run("calico", SourceStatus::Failed, Some("connection refused"))];
        let (r, f) = eval_sources("evidence-gap", "", &Facts::default(), &runs);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].subject, "source/calico");
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].zone, None);
        assert_eq!(f[0].message, "source calico (calico) failed: connection refused");
        assert_eq!(f[0].evidence[0].source, "calico");
        assert_eq!(f[0].evidence[0].excerpt, "failed: connection refused");
        assert_eq!(f[1].subject, "source/leaf1");
        assert!(f[1].message.contains("has no source run"), "{}", f[1].message);
        assert_eq!(f[1].evidence[0].locator, "zoneaudit.yaml: sources[1]");
    }

    #[test]
    fn partial_sources_can_be_excluded() {
        let runs = [
            source_run("calico", SourceStatus::Partial, Some("2 lines rejected")),
            source_run("leaf1", SourceStatus::Ok, None),
        ];
        let (r, _) = eval_sources("evidence-gap", "", &Facts::default(), &runs);
        assert_eq!(r.status, RuleStatus::Fail);
        let (r, _) = eval_sources("evidence-gap", "{ includePartial: false }", &Facts::default(), &runs);
        assert_eq!(r.status, RuleStatus::Pass);
    }
}
