use super::sample::{self, FLOW_SUBJECT, LEAK_SUBJECT, date};
use super::*;

#[test]
fn nights_are_the_whole_days_of_the_window() {
    let p = sample::period();
    let dates: Vec<String> = p.nights.iter().map(|n| n.date.to_string()).collect();
    assert_eq!(dates, ["2024-07-10", "2024-07-11", "2024-07-12", "2024-07-13", "2024-07-14", "2024-07-15"]);
    let status: Vec<Cell> = p.nights.iter().map(|n| n.status).collect();
    use Cell::*;
    assert_eq!(status, [Pass, Fail, NoEvidence, Fail, Fail, NoEvidence]);
}

#[test]
fn a_run_on_the_partial_last_day_adds_that_night() {
    let mut input = sample::input();
    input.until = "2024-07-15T12:00:00Z".parse().unwrap();
    let p = build(input);
    assert_eq!(p.nights.last().unwrap().date, date("2024-07-15"), "run 15 started that morning");
    let mut input = sample::input();
    input.runs.pop();
    input.until = "2024-07-15T12:00:00Z".parse().unwrap();
    let p = build(input);
    assert_eq!(p.nights.last().unwrap().date, date("2024-07-14"), "no run yet today is no gap");
}

#[test]
fn rule_matrix_is_fail_at_any_point() {
    let p = sample::period();
    let leak = p.rules.iter().find(|r| r.rule_id == "ZI-ROUTE-LEAK").unwrap();
    use Cell::*;
    assert_eq!(leak.nights, [Pass, Fail, NoEvidence, Fail, Pass, NoEvidence]);
    assert_eq!(leak.status, Fail);
    assert_eq!((leak.failed_nights, leak.passed_nights), (2, 2));
    assert_eq!(leak.controls, ["NIST-800-53 SC-7", "PCI-DSS-4.0 1.3.1"]);
    let flow = p.rules.iter().find(|r| r.rule_id == "ZI-UNAPPROVED-FLOW").unwrap();
    // Night 4 found nothing but leaf2 had failed: not a pass.
    assert_eq!(flow.nights, [Pass, Pass, NoEvidence, Partial, Fail, NoEvidence]);
}

#[test]
fn zone_matrix_shows_the_worst_severity() {
    let p = sample::period();
    let names: Vec<&str> = p.zones.iter().map(|z| z.zone.as_str()).collect();
    assert_eq!(names, ["yellow", "blue", "green"]);
    let yellow = &p.zones[0];
    assert_eq!(yellow.nights[1].status, Cell::Fail);
    assert_eq!(yellow.nights[1].worst, Some(Severity::High));
    assert_eq!(yellow.nights[4].status, Cell::Pass);
    assert_eq!(yellow.findings, 1);
    assert_eq!(p.zones[1].nights[3].status, Cell::Partial, "blue had nothing, but night 4 was incomplete");
    assert_eq!(p.zones[1].status, Cell::NoEvidence, "never failed, but not every night has evidence");
    assert_eq!(p.zones[2].nights[4].worst, Some(Severity::Medium));
}

#[test]
fn findings_timeline() {
    let p = sample::period();
    assert_eq!(p.findings.len(), 2);
    let leak = &p.findings[0];
    assert_eq!(leak.subject, LEAK_SUBJECT);
    assert_eq!((leak.first_seen.run_id, leak.last_seen.run_id), (12, 13));
    assert_eq!(leak.resolved.as_ref().map(|r| r.run_id), Some(14));
    assert_eq!(leak.open_hours, 72);
    assert!(!leak.open_at_end);
    assert_eq!(leak.seen_in_runs, 2);
    let flow = &p.findings[1];
    assert_eq!(flow.subject, FLOW_SUBJECT);
    assert!(flow.resolved.is_none());
    // Open at the end: run 15 does not verify, so the last verified run (14) still has it.
    assert!(flow.open_at_end);
    assert_eq!(flow.open_hours, 46, "from run 14 at 02:00 to the end of the window");
}

#[test]
fn gaps_name_the_night_the_run_and_the_source() {
    let p = sample::period();
    let gaps: Vec<(String, GapKind, Option<i64>, Option<&str>)> =
        p.gaps.iter().map(|g| (g.date.to_string(), g.kind, g.run_id, g.source.as_deref())).collect();
    assert_eq!(
        gaps,
        [
            ("2024-07-12".to_string(), GapKind::NoRun, None, None),
            ("2024-07-13".to_string(), GapKind::SourceFailed, Some(13), Some("leaf2")),
            ("2024-07-15".to_string(), GapKind::ReportUnverified, Some(15), None),
        ]
    );
    assert!(p.gaps[1].detail.contains("timed out"), "{}", p.gaps[1].detail);
}

#[test]
fn nights_before_monitoring_began_are_not_monitored() {
    let mut input = sample::input();
    input.since = "2024-07-08T00:00:00Z".parse().unwrap();
    input.monitoring_since = Some("2024-07-10T02:00:00Z".parse().unwrap());
    let p = build(input);
    let first: Vec<GapKind> = p.gaps.iter().take(2).map(|g| g.kind).collect();
    assert_eq!(first, [GapKind::NotMonitored, GapKind::NotMonitored]);
}

#[test]
fn drift_lists_new_and_resolved_per_run() {
    let p = sample::period();
    let runs: Vec<(i64, usize, usize)> =
        p.drift.iter().map(|d| (d.run_id, d.new.len(), d.resolved.len())).collect();
    assert_eq!(runs, [(12, 1, 0), (14, 1, 1)]);
}

#[test]
fn zone_filter_keeps_that_zone_only() {
    let mut input = sample::input();
    input.zone_filter = Some("green".into());
    let p = build(input);
    assert_eq!(p.zones.len(), 1);
    assert_eq!(p.findings.len(), 1);
    assert_eq!(p.findings[0].subject, FLOW_SUBJECT);
    let leak = p.rules.iter().find(|r| r.rule_id == "ZI-ROUTE-LEAK").unwrap();
    assert_eq!(leak.nights[1], Cell::Pass, "the leak was in yellow; green saw none");
    assert_eq!(leak.status, Cell::NoEvidence, "never failed for green, but nights without evidence");
}

#[test]
fn summary_and_verdict() {
    let p = sample::period();
    let s = &p.summary;
    assert_eq!((s.nights, s.nights_with_evidence, s.runs, s.runs_verified), (6, 4, 5, 4));
    assert_eq!((s.findings, s.findings_open_at_end, s.findings_resolved), (2, 1, 1));
    assert_eq!(s.worst_severity, Some(Severity::High));
    assert_eq!(s.rules_failed, 2);
    assert!(
        s.verdict
            .starts_with("Zone isolation was broken at some point: 2 finding(s), worst high, 1 still open"),
        "{}",
        s.verdict
    );
    assert!(s.verdict.contains("2 of 6 nights have no evidence"), "{}", s.verdict);
}

#[test]
fn serialises_in_camel_case_and_reads_back() {
    let p = sample::period();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["rules"][0]["nights"][2], "noEvidence");
    assert_eq!(json["gaps"][0]["kind"], "noRun");
    let back: PeriodReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}

fn leak_fingerprint() -> String {
    crate::model::Finding::fingerprint_for("ZI-ROUTE-LEAK", LEAK_SUBJECT)
}

#[test]
fn a_run_with_a_failed_source_resolves_nothing() {
    let mut input = sample::input();
    // Night 4 (run 13) lost leaf2 *and* no longer shows the leak: that is not a fix.
    let report = input.runs[2].report.as_mut().unwrap();
    report.findings.clear();
    report.results[0].status = RuleStatus::Pass;
    let p = build(input);
    let leak = p.findings.iter().find(|f| f.fingerprint == leak_fingerprint()).unwrap();
    assert_eq!(leak.resolved.as_ref().map(|r| r.run_id), Some(14), "resolved by the complete run 14, not 13");
}

#[test]
fn a_finding_that_comes_back_keeps_both_episodes() {
    let mut input = sample::input();
    // The leak is back in run 15, which this time verifies.
    let mut back = input.runs[4].clone();
    back.run.verification = input.runs[3].run.verification.clone();
    let mut report = input.runs[1].report.clone().unwrap();
    report.run_id = 15;
    report.started_at = back.run.started_at;
    back.report = Some(report);
    input.runs[4] = back;
    let p = build(input);
    let leak = p.findings.iter().find(|f| f.fingerprint == leak_fingerprint()).unwrap();
    let resolutions: Vec<i64> = leak.resolutions.iter().map(|r| r.run_id).collect();
    assert_eq!(resolutions, [14]);
    assert!(leak.resolved.is_none() && leak.open_at_end);
    // 72 h (run 12 to 14) plus 22 h (run 15 at 02:00 to the end of the window), not the gap between.
    assert_eq!(leak.open_hours, 72 + 22);
}

#[test]
fn a_cluster_wide_finding_counts_in_every_zone() {
    let mut input = sample::input();
    let report = input.runs[0].report.as_mut().unwrap();
    let mut mesh = report.findings.first().cloned().unwrap_or_else(input_leak);
    mesh.rule_id = "ZI-MESH-MULTI-ZONE".into();
    mesh.zone = None;
    mesh.fingerprint = "mesh".into();
    report.findings.push(mesh);
    input.zone_filter = Some("blue".into());
    let p = build(input);
    assert_eq!(p.zones[0].nights[0].status, Cell::Fail, "the mesh spans blue too");
    assert!(p.findings.iter().any(|f| f.fingerprint == "mesh"), "kept under --zone blue");
}

fn input_leak() -> crate::model::Finding {
    sample::input().runs[1].report.clone().unwrap().findings[0].clone()
}

#[test]
fn a_finding_carried_into_the_window_and_fixed_at_once_is_listed() {
    let mut input = sample::input();
    let mut before = input.runs[1].report.clone().unwrap();
    before.run_id = 10;
    before.started_at = "2024-07-09T02:00:00Z".parse().unwrap();
    input.before_window = Some(before);
    let p = build(input);
    let leak = p.findings.iter().find(|f| f.fingerprint == leak_fingerprint()).unwrap();
    assert!(leak.open_before_window);
    assert_eq!(leak.first_seen.run_id, 10);
    assert_eq!(leak.resolutions.first().map(|r| r.run_id), Some(11), "fixed by the window's first run");
}

#[test]
fn the_verdict_says_when_monitoring_began() {
    let mut input = sample::input();
    input.since = "2024-07-01T00:00:00Z".parse().unwrap();
    input.monitoring_since = Some("2024-07-10T02:00:00Z".parse().unwrap());
    let p = build(input);
    assert!(
        p.summary.verdict.contains("11 of 15 nights have no evidence (9 before monitoring began)"),
        "{}",
        p.summary.verdict
    );
    // Night 4 lost a source but still failed: a failure is evidence enough, not "incomplete".
    assert!(!p.summary.verdict.contains("incomplete"), "{}", p.summary.verdict);
}
