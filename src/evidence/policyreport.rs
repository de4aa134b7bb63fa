//! The period report as a Kubernetes `ClusterPolicyReport` (`wgpolicyk8s.io/v1alpha2`, the Policy
//! Report API of the Kubernetes Policy WG), YAML, for `kubectl apply` and dashboards such as Policy
//! Reporter.
//!
//! ```text
//!  PeriodReport                 ClusterPolicyReport  zoneaudit-<cluster>[-<zone>]
//!  ──────────────────────────   ─────────────────────────────────────────────────────────────────
//!  cluster, window              metadata.name, labels (managed-by), annotations (window, verdict)
//!  RulePeriod                   results[]  category "zone isolation window", result = window status
//!  FindingPeriod                results[]  category "zone isolation finding", result fail
//!  (counts of results)          summary {pass, fail, warn, error, skip}
//! ```
//!
//! Window status → `result` (one of the CRD's pass|fail|warn|error|skip): pass → pass; fail (at any
//! point of the window) → fail; skip (nothing in scope) → skip; error → error; partial (nothing found,
//! but only on incomplete evidence) → warn; noEvidence (no verified run checked the rule in the whole
//! window) → **error**, with a message saying so: the rule could not be evaluated, which `skip`
//! ("not selected for evaluation") would hide from a dashboard. Nights without evidence inside an
//! otherwise passing window are in the `nightsWithoutEvidence` property.
//!
//! Every string, most of them from the network (subjects, messages, the cluster name), goes through
//! serde-saphyr's serializer, which quotes whatever YAML would otherwise read as another type or
//! structure (`yes`, `3`, `- x`, `a: b`, `#`, newlines); numbers in `properties` stay strings, as the
//! CRD's `map[string]string` requires.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::period::{Cell, FindingPeriod, PeriodReport, RulePeriod};

pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";
pub const KIND: &str = "ClusterPolicyReport";
/// `source` of every result: the engine that manages the report.
pub const SOURCE: &str = "zoneaudit";
pub const CATEGORY_WINDOW: &str = "zone isolation window";
pub const CATEGORY_FINDING: &str = "zone isolation finding";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterPolicyReport {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    summary: Summary,
    results: Vec<PolicyResult>,
}

#[derive(Debug, Serialize)]
struct Metadata {
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    pass: u32,
    fail: u32,
    warn: u32,
    error: u32,
    skip: u32,
}

#[derive(Debug, Serialize)]
struct PolicyResult {
    source: &'static str,
    policy: String,
    rule: String,
    category: &'static str,
    severity: &'static str,
    timestamp: Timestamp,
    result: &'static str,
    scored: bool,
    message: String,
    properties: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Timestamp {
    seconds: i64,
    nanos: i32,
}

impl Timestamp {
    fn of(t: DateTime<Utc>) -> Self {
        Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
    }
}

/// The ClusterPolicyReport of a period report, as YAML.
pub fn render(report: &PeriodReport) -> String {
    let mut results: Vec<PolicyResult> = report.rules.iter().map(|r| window_result(report, r)).collect();
    results.extend(report.findings.iter().map(finding_result));
    let document = ClusterPolicyReport {
        api_version: API_VERSION,
        kind: KIND,
        metadata: metadata(report),
        summary: summary(&results),
        results,
    };
    serde_saphyr::to_string(&document).expect("plain structs of strings and numbers always serialise")
}

/// `zoneaudit-<cluster>[-<zone>]` as a DNS-1123 label: lower case alphanumerics and `-`, at most 63
/// characters, alphanumeric at both ends. The zone keeps a `--zone` report from replacing the whole one.
pub fn report_name(cluster: &str, zone: Option<&str>) -> String {
    let mut raw = format!("zoneaudit-{cluster}");
    if let Some(zone) = zone {
        raw.push('-');
        raw.push_str(zone);
    }
    let mut name = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

fn metadata(report: &PeriodReport) -> Metadata {
    let labels = BTreeMap::from([("app.kubernetes.io/managed-by".to_string(), "zoneaudit".to_string())]);
    let mut annotations = BTreeMap::from([
        ("zoneaudit.io/cluster".to_string(), report.cluster.clone()),
        ("zoneaudit.io/window".to_string(), window(report)),
        ("zoneaudit.io/generated-at".to_string(), report.generated_at.to_rfc3339()),
        ("zoneaudit.io/verdict".to_string(), report.summary.verdict.clone()),
    ]);
    if let Some(zone) = &report.zone_filter {
        annotations.insert("zoneaudit.io/zone".to_string(), zone.clone());
    }
    Metadata { name: report_name(&report.cluster, report.zone_filter.as_deref()), labels, annotations }
}

/// The window as an ISO 8601 interval.
fn window(report: &PeriodReport) -> String {
    format!("{}/{}", report.since.to_rfc3339(), report.until.to_rfc3339())
}

fn summary(results: &[PolicyResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        match r.result {
            "pass" => s.pass += 1,
            "fail" => s.fail += 1,
            "warn" => s.warn += 1,
            "error" => s.error += 1,
            _ => s.skip += 1,
        }
    }
    s
}

/// The CRD result of a window status (see the module header for why noEvidence is an error).
fn result_of(cell: Cell) -> &'static str {
    match cell {
        Cell::Pass => "pass",
        Cell::Fail => "fail",
        Cell::Skip => "skip",
        Cell::Partial => "warn",
        Cell::Error | Cell::NoEvidence => "error",
    }
}

fn window_message(report: &PeriodReport, rule: &RulePeriod) -> String {
    let nights = rule.nights.len();
    let failed: Vec<String> = report
        .nights
        .iter()
        .zip(&rule.nights)
        .filter(|(_, c)| **c == Cell::Fail)
        .map(|(n, _)| n.date.to_string())
        .collect();
    let verdict = match rule.status {
        Cell::Fail => format!("failed on {} of {nights} nights ({})", failed.len(), failed.join(", ")),
        Cell::Pass => format!("passed on every night with evidence ({} of {nights})", rule.passed_nights),
        Cell::Partial => "no violation found, but only on incomplete evidence".to_string(),
        Cell::Skip => "nothing in scope in the window".to_string(),
        Cell::Error => "could not be evaluated in the window".to_string(),
        Cell::NoEvidence => "no verified evidence in the window: the rule could not be checked".to_string(),
    };
    format!("{}: {verdict}", rule.title)
}

fn window_result(report: &PeriodReport, rule: &RulePeriod) -> PolicyResult {
    let without = rule.nights.iter().filter(|c| **c == Cell::NoEvidence).count();
    let properties = BTreeMap::from([
        ("controls".to_string(), rule.controls.join("; ")),
        ("status".to_string(), rule.status.as_str().to_string()),
        ("failedNights".to_string(), rule.failed_nights.to_string()),
        ("passedNights".to_string(), rule.passed_nights.to_string()),
        ("nightsWithoutEvidence".to_string(), without.to_string()),
        ("nights".to_string(), rule.nights.len().to_string()),
        ("window".to_string(), window(report)),
    ]);
    PolicyResult {
        source: SOURCE,
        policy: rule.rule_id.clone(),
        rule: rule.rule_id.clone(),
        category: CATEGORY_WINDOW,
        severity: rule.severity.as_str(),
        timestamp: Timestamp::of(report.generated_at),
        result: result_of(rule.status),
        scored: true,
        message: window_message(report, rule),
        properties,
    }
}

fn finding_result(finding: &FindingPeriod) -> PolicyResult {
    let mut properties = BTreeMap::from([
        ("fingerprint".to_string(), finding.fingerprint.clone()),
        ("subject".to_string(), finding.subject.clone()),
        ("firstSeen".to_string(), finding.first_seen.at.to_rfc3339()),
        ("lastSeen".to_string(), finding.last_seen.at.to_rfc3339()),
        ("open".to_string(), finding.open_at_end.to_string()),
        ("openHours".to_string(), finding.open_hours.to_string()),
        ("seenInRuns".to_string(), finding.seen_in_runs.to_string()),
        ("controls".to_string(), finding.controls.join("; ")),
    ]);
    if let Some(zone) = &finding.zone {
        properties.insert("zone".to_string(), zone.clone());
    }
    if let Some(resolved) = &finding.resolved {
        properties.insert("resolved".to_string(), resolved.at.to_rfc3339());
    }
    let evidence: Vec<String> =
        finding.evidence.iter().map(|o| format!("{} {}", o.source, o.locator)).collect();
    if !evidence.is_empty() {
        properties.insert("evidence".to_string(), evidence.join("; "));
    }
    PolicyResult {
        source: SOURCE,
        policy: finding.rule_id.clone(),
        rule: finding.rule_id.clone(),
        category: CATEGORY_FINDING,
        severity: finding.severity.as_str(),
        timestamp: Timestamp::of(finding.last_seen.at),
        result: "fail",
        scored: true,
        message: format!("{}: {}", finding.subject, finding.message),
        properties,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::evidence::period::sample::{self, LEAK_SUBJECT};

    /// The CRD as published (wgpolicyk8s.io v1alpha2 `ClusterPolicyReport`), fields zoneaudit may write:
    /// anything else in the output fails to parse.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Crd {
        api_version: String,
        kind: String,
        metadata: CrdMetadata,
        #[serde(default)]
        summary: Option<CrdSummary>,
        #[serde(default)]
        results: Vec<CrdResult>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CrdMetadata {
        name: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        annotations: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    struct CrdSummary {
        pass: u32,
        fail: u32,
        warn: u32,
        error: u32,
        skip: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CrdResult {
        source: Option<String>,
        policy: String,
        rule: Option<String>,
        category: Option<String>,
        severity: Option<CrdSeverity>,
        timestamp: Option<CrdTimestamp>,
        result: Option<CrdOutcome>,
        scored: Option<bool>,
        message: Option<String>,
        #[serde(default)]
        properties: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
    #[serde(rename_all = "lowercase")]
    enum CrdOutcome {
        Pass,
        Fail,
        Warn,
        Error,
        Skip,
    }

    #[derive(Debug, Deserialize, PartialEq, Eq)]
    #[serde(rename_all = "lowercase")]
    enum CrdSeverity {
        Critical,
        High,
        Medium,
        Low,
        Info,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CrdTimestamp {
        seconds: i64,
        nanos: i32,
    }

    fn parse(yaml: &str) -> Crd {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    fn is_dns1123_label(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
    }

    #[test]
    fn the_report_parses_back_as_the_crd_with_valid_enums_and_name() {
        let report = sample::period();
        let crd = parse(&render(&report));
        assert_eq!(crd.api_version, "wgpolicyk8s.io/v1alpha2");
        assert_eq!(crd.kind, "ClusterPolicyReport");
        assert_eq!(crd.metadata.name, "zoneaudit-prod-eu1");
        assert!(is_dns1123_label(&crd.metadata.name));
        assert_eq!(crd.metadata.labels["app.kubernetes.io/managed-by"], "zoneaudit");
        assert_eq!(crd.results.len(), report.rules.len() + report.findings.len());
        for r in &crd.results {
            assert_eq!(r.source.as_deref(), Some("zoneaudit"));
            assert_eq!(r.rule.as_deref(), Some(r.policy.as_str()), "one rule per policy");
            assert!(r.severity.is_some() && r.result.is_some() && r.scored == Some(true));
            let ts = r.timestamp.as_ref().unwrap();
            assert!(ts.seconds > 1_700_000_000 && (0..1_000_000_000).contains(&ts.nanos));
        }
    }

    #[test]
    fn summary_counts_equal_the_results() {
        let crd = parse(&render(&sample::period()));
        let count = |o: CrdOutcome| crd.results.iter().filter(|r| r.result == Some(o)).count() as u32;
        let expected = CrdSummary {
            pass: count(CrdOutcome::Pass),
            fail: count(CrdOutcome::Fail),
            warn: count(CrdOutcome::Warn),
            error: count(CrdOutcome::Error),
            skip: count(CrdOutcome::Skip),
        };
        assert_eq!(crd.summary, Some(expected));
        // Both rules and both findings of the sample failed at some point.
        assert_eq!(crd.summary.unwrap().fail, 4);
    }

    #[test]
    fn the_leak_is_a_failed_window_and_a_failed_finding() {
        let crd = parse(&render(&sample::period()));
        let window = crd
            .results
            .iter()
            .find(|r| r.policy == "ZI-ROUTE-LEAK" && r.category.as_deref() == Some(CATEGORY_WINDOW))
            .unwrap();
        assert_eq!(window.result, Some(CrdOutcome::Fail));
        assert_eq!(window.severity, Some(CrdSeverity::High));
        assert_eq!(window.properties["failedNights"], "2");
        assert_eq!(window.properties["controls"], "NIST-800-53 SC-7; PCI-DSS-4.0 1.3.1");
        assert_eq!(window.properties["window"], "2024-07-10T00:00:00+00:00/2024-07-16T00:00:00+00:00");
        assert!(window.message.as_deref().unwrap().contains("2024-07-11, 2024-07-13"));
        let finding = crd
            .results
            .iter()
            .find(|r| r.policy == "ZI-ROUTE-LEAK" && r.category.as_deref() == Some(CATEGORY_FINDING))
            .unwrap();
        assert_eq!(finding.result, Some(CrdOutcome::Fail));
        assert_eq!(finding.properties["subject"], LEAK_SUBJECT);
        assert_eq!(finding.properties["zone"], "yellow");
        assert_eq!(finding.properties["open"], "false");
        assert_eq!(finding.properties["firstSeen"], "2024-07-11T02:00:00+00:00");
        assert_eq!(finding.properties["resolved"], "2024-07-14T02:00:00+00:00");
        assert_eq!(finding.timestamp.as_ref().unwrap().seconds, 1_720_836_000, "last seen 2024-07-13T02:00Z");
    }

    #[test]
    fn a_rule_without_evidence_is_an_error_that_says_so() {
        let mut report = sample::period();
        report.rules[0].status = Cell::NoEvidence;
        report.rules[1].status = Cell::Partial;
        let crd = parse(&render(&report));
        assert_eq!(crd.results[0].result, Some(CrdOutcome::Error));
        assert!(crd.results[0].message.as_deref().unwrap().contains("no verified evidence"));
        assert_eq!(crd.results[1].result, Some(CrdOutcome::Warn));
    }

    #[test]
    fn hostile_network_text_survives_as_the_same_strings() {
        let mut report = sample::period();
        report.cluster = "Prod_EU 1!".into();
        let hostile = ["yes", "3", "- x: y # z", "a: b\nkind: Secret", "'\"\\", "null", "~", "&a *a !!str"];
        report.findings[0].subject = hostile.join(" | ");
        report.findings[1].subject = "3".into();
        report.findings[1].message = "kind: Secret\n---\napiVersion: v1".into();
        let yaml = render(&report);
        let crd = parse(&yaml);
        assert_eq!(crd.metadata.name, "zoneaudit-prod-eu-1");
        assert_eq!(crd.metadata.annotations["zoneaudit.io/cluster"], "Prod_EU 1!");
        let findings: Vec<&CrdResult> =
            crd.results.iter().filter(|r| r.category.as_deref() == Some(CATEGORY_FINDING)).collect();
        assert_eq!(findings[0].properties["subject"], hostile.join(" | "));
        assert_eq!(findings[1].properties["subject"], "3");
        assert_eq!(findings[1].message.as_deref(), Some("3: kind: Secret\n---\napiVersion: v1"));
        // One document: the embedded `---` did not start another.
        assert_eq!(yaml.lines().filter(|l| *l == "---").count(), 0, "{yaml}");
        // Numbers in properties stay strings for the CRD's map[string]string.
        assert!(!yaml.contains("subject: 3\n"), "{yaml}");
    }

    #[test]
    fn report_names_are_dns1123_labels() {
        for (cluster, zone) in [
            ("prod-eu1", None),
            ("Prod_EU 1!", Some("Blue")),
            ("", None),
            ("---", Some("---")),
            (&"x".repeat(100) as &str, None),
            ("ünïcode.cluster", None),
        ] {
            let name = report_name(cluster, zone);
            assert!(is_dns1123_label(&name), "{cluster:?} {zone:?} → {name:?}");
            assert!(name.starts_with("zoneaudit"), "{name}");
        }
        assert_eq!(report_name("prod", Some("blue")), "zoneaudit-prod-blue");
    }
}
