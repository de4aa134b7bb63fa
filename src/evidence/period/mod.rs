//! The period report: every run of a window, read back from its signed run report, summarised for a
//! compliance officer.
//!
//! ```text
//!  runs in [since, until] ──▶ CoveredRun (signature + chain verdict, the RunReport when it verified)
//!        └──────────────── build() ──▶ PeriodReport
//!                                        nights    one per UTC calendar day
//!                                        rules     per rule × night status, worst at any point
//!                                        zones     per zone × night status
//!                                        findings  timeline: first seen, last seen, resolved, open for
//!                                        gaps      nights without a run, runs not complete, sources that failed,
//!                                                  reports that do not verify
//!                                        drift     new / resolved findings per run
//! ```
//!
//! "At any point during the window": a rule or zone is `fail` for a night when any run of that night
//! failed it, and for the window when any night did. Only what a *verified* run report says is
//! counted: a run whose report does not verify is an evidence gap, never a pass.
//!
//! A night is a UTC calendar day. The nights of a window are the days wholly inside it plus any day
//! on which a run of the window started (so a report made at noon covers that morning's run, and is
//! not short of a night it could not have had yet).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::report::{RunReport, ToolInfo};
use crate::model::{Origin, RuleStatus, Severity};

pub const SCHEMA: &str = "https://zoneaudit.io/schemas/period-report/v1";
pub const PREDICATE_TYPE: &str = "https://zoneaudit.io/attestation/period-report/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeriodReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub cluster: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub tool: ToolInfo,
    /// `--zone`: findings and zone rows of this zone only.
    pub zone_filter: Option<String>,
    /// The first run the database holds (of any status), if any: nights before it were not monitored.
    pub monitoring_since: Option<DateTime<Utc>>,
    pub nights: Vec<Night>,
    pub runs: Vec<CoveredRun>,
    pub rules: Vec<RulePeriod>,
    pub zones: Vec<ZonePeriod>,
    pub findings: Vec<FindingPeriod>,
    pub gaps: Vec<EvidenceGap>,
    pub drift: Vec<DriftEvent>,
    pub summary: PeriodSummary,
}

/// One UTC calendar day of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Night {
    pub date: NaiveDate,
    /// Runs that started that day, oldest first.
    pub runs: Vec<i64>,
    pub status: Cell,
}

/// The status of a rule, a zone or a night, on one night or over the window. Ordered from best to
/// worst where one night has several runs: the worst wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cell {
    /// Evaluated and nothing found, with complete evidence.
    Pass,
    /// The rule had nothing in scope (no data of its kind).
    Skip,
    /// Evaluated on incomplete evidence (a source failed or was partial): nothing found, but nothing proven.
    Partial,
    /// No verified run that night (no run, run not complete, or its report does not verify).
    NoEvidence,
    /// The rule could not be evaluated.
    Error,
    /// At least one finding.
    Fail,
}

impl Cell {
    pub fn as_str(self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Skip => "skip",
            Cell::Partial => "partial",
            Cell::NoEvidence => "noEvidence",
            Cell::Error => "error",
            Cell::Fail => "fail",
        }
    }
}

/// A run that started inside the window, and whether its signed report can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CoveredRun {
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `complete`, `incomplete`, `failed` or `running` (store run status).
    pub status: String,
    /// `sha256:<hex>` of the run report's payload, the digest the chain links; `None` without a report.
    pub report_digest: Option<String>,
    pub verification: Verification,
    pub evidence_complete: Option<bool>,
    pub findings: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verification {
    pub signature: Check,
    pub chain: Check,
    /// The key that signed the report, when the signature verified.
    pub keyid: Option<String>,
    /// What failed, or what was established.
    pub detail: String,
}

impl Verification {
    pub fn trusted(&self) -> bool {
        self.signature == Check::Ok && self.chain == Check::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Check {
    Ok,
    Failed,
    /// Nothing to check: the run has no report (it did not finish).
    Missing,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Ok => "ok",
            Check::Failed => "failed",
            Check::Missing => "missing",
        }
    }
}

/// One rule over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RulePeriod {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    /// As named in the rule pack: `NIST-800-53 SC-7`, `PCI-DSS-4.0 1.3.1`, ...
    pub controls: Vec<String>,
    /// Parallel to [`PeriodReport::nights`].
    pub nights: Vec<Cell>,
    /// The worst of `nights`: `fail` when the rule failed at any point of the window.
    pub status: Cell,
    pub failed_nights: u32,
    pub passed_nights: u32,
    /// What the last verified run checked, in words.
    pub last_checked: String,
}

/// One zone over the window: the worst finding of the zone each night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZonePeriod {
    pub zone: String,
    /// Parallel to [`PeriodReport::nights`].
    pub nights: Vec<ZoneCell>,
    pub status: Cell,
    /// Distinct findings (fingerprints) of the zone in the window.
    pub findings: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneCell {
    pub status: Cell,
    /// The worst severity of the zone's findings that night (only with `fail`).
    pub worst: Option<Severity>,
    pub findings: u32,
}

/// One finding (by fingerprint) across the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingPeriod {
    pub fingerprint: String,
    pub rule_id: String,
    /// The highest severity it had in the window.
    pub severity: Severity,
    pub zone: Option<String>,
    pub subject: String,
    /// As of the last run that saw it.
    pub message: String,
    pub controls: Vec<String>,
    pub first_seen: Sighting,
    pub last_seen: Sighting,
    /// The first verified run after `last_seen` that no longer has it.
    pub resolved: Option<Sighting>,
    /// Still present in the last verified run of the window.
    pub open_at_end: bool,
    /// From first seen to resolved (or to the end of the window when still open), in whole hours.
    pub open_hours: i64,
    /// Verified runs in the window that had it.
    pub seen_in_runs: u32,
    /// Each of those runs, oldest first (one CSV row each).
    pub sightings: Vec<Sighting>,
    /// The evidence of the last run that saw it.
    pub evidence: Vec<Origin>,
    /// Whether it was already present in the last verified run before the window.
    pub open_before_window: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sighting {
    pub run_id: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvidenceGap {
    pub date: NaiveDate,
    pub kind: GapKind,
    pub run_id: Option<i64>,
    pub source: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GapKind {
    /// A night before the first run the database holds.
    NotMonitored,
    /// A night without any run.
    NoRun,
    /// The run did not finish (killed, crashed) or failed.
    RunNotComplete,
    /// The run's signed report is missing or does not verify (signature or chain).
    ReportUnverified,
    /// A source failed or delivered only part of its data.
    SourceFailed,
}

impl GapKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GapKind::NotMonitored => "notMonitored",
            GapKind::NoRun => "noRun",
            GapKind::RunNotComplete => "runNotComplete",
            GapKind::ReportUnverified => "reportUnverified",
            GapKind::SourceFailed => "sourceFailed",
        }
    }
}

/// What changed in one run compared with the run before it (by finding fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DriftEvent {
    pub run_id: i64,
    pub at: DateTime<Utc>,
    pub new: Vec<String>,
    pub resolved: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeriodSummary {
    pub nights: u32,
    /// Nights with at least one verified, complete run.
    pub nights_with_evidence: u32,
    pub runs: u32,
    pub runs_verified: u32,
    pub rules: u32,
    /// Rules that failed at any point in the window.
    pub rules_failed: u32,
    pub findings: u32,
    pub findings_open_at_end: u32,
    pub findings_resolved: u32,
    /// The worst severity of any finding in the window.
    pub worst_severity: Option<Severity>,
    pub gaps: u32,
    /// One sentence: the verdict a compliance officer reads first.
    pub verdict: String,
}

/// What [`build`] reads: one entry per run that started in the window.
#[derive(Debug, Clone)]
pub struct RunEvidence {
    pub run: CoveredRun,
    /// The run report, only when its signature verified.
    pub report: Option<RunReport>,
}

/// Everything [`build`] needs; gathered by the caller from the store and the keyring.
#[derive(Debug, Clone)]
pub struct PeriodInput {
    pub cluster: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub zone_filter: Option<String>,
    /// Zones declared in the configuration; zones seen only in findings are added.
    pub zones: Vec<String>,
    pub monitoring_since: Option<DateTime<Utc>>,
    /// The last verified report before the window, to tell a finding that opened inside the window
    /// from one carried into it.
    pub before_window: Option<RunReport>,
    /// Oldest first.
    pub runs: Vec<RunEvidence>,
}

/// The status of one run's result for a rule, counting only findings of the zone filter.
fn rule_cell(report: &RunReport, rule_id: &str, status: RuleStatus, zone: Option<&str>) -> Cell {
    let in_scope = |zone_of: &Option<String>| zone.is_none_or(|z| zone_of.as_deref() == Some(z));
    match status {
        RuleStatus::Fail => {
            let any = report.findings.iter().any(|f| f.rule_id == rule_id && in_scope(&f.zone));
            if any { Cell::Fail } else { evidence_cell(report) }
        }
        RuleStatus::Pass => evidence_cell(report),
        RuleStatus::Error => Cell::Error,
        RuleStatus::Skip => Cell::Skip,
    }
}

/// A clean result is a pass only on complete evidence.
fn evidence_cell(report: &RunReport) -> Cell {
    if report.summary.evidence_complete { Cell::Pass } else { Cell::Partial }
}

/// The nights of the window (see the module header).
fn nights_of(since: DateTime<Utc>, until: DateTime<Utc>, run_days: &BTreeSet<NaiveDate>) -> Vec<NaiveDate> {
    let mut days: BTreeSet<NaiveDate> = run_days.clone();
    let mut day = since.date_naive();
    while day <= until.date_naive() {
        let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let end = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
        if let (Some(start), Some(end)) = (start, end)
            && start >= since
            && end <= until
        {
            days.insert(day);
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    days.into_iter().collect()
}

/// Build the period report. Pure: everything it reads is in `input`.
pub fn build(input: PeriodInput) -> PeriodReport {
    let zone = input.zone_filter.as_deref();
    let run_days: BTreeSet<NaiveDate> = input.runs.iter().map(|r| r.run.started_at.date_naive()).collect();
    let dates = nights_of(input.since, input.until, &run_days);
    let day_index: BTreeMap<NaiveDate, usize> = dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let verified: Vec<(&CoveredRun, &RunReport)> = input
        .runs
        .iter()
        .filter(|r| r.run.verification.trusted() && r.run.status == "complete")
        .filter_map(|r| r.report.as_ref().map(|rep| (&r.run, rep)))
        .collect();

    let nights = build_nights(&dates, &input.runs, &verified);
    let rules = build_rules(&dates, &day_index, &verified, zone);
    let zones = build_zones(&input.zones, &dates, &day_index, &verified, zone);
    let findings = build_findings(&verified, input.before_window.as_ref(), input.until, zone);
    let gaps = build_gaps(&nights, &input.runs, input.monitoring_since);
    let drift = build_drift(input.before_window.as_ref(), &verified, zone);
    let summary = summarise(&nights, &input.runs, &rules, &findings, &gaps);
    PeriodReport {
        schema: SCHEMA.to_string(),
        cluster: input.cluster,
        since: input.since,
        until: input.until,
        generated_at: input.generated_at,
        tool: ToolInfo::this_build(),
        zone_filter: input.zone_filter,
        monitoring_since: input.monitoring_since,
        nights,
        runs: input.runs.into_iter().map(|r| r.run).collect(),
        rules,
        zones,
        findings,
        gaps,
        drift,
        summary,
    }
}

fn build_nights(
    dates: &[NaiveDate],
    runs: &[RunEvidence],
    verified: &[(&CoveredRun, &RunReport)],
) -> Vec<Night> {
    dates
        .iter()
        .map(|date| {
            let of_day: Vec<i64> = runs
                .iter()
                .filter(|r| r.run.started_at.date_naive() == *date)
                .map(|r| r.run.run_id)
                .collect();
            let cells: Vec<Cell> = verified
                .iter()
                .filter(|(run, _)| run.started_at.date_naive() == *date)
                .map(
                    |(_, report)| {
                        if !report.findings.is_empty() { Cell::Fail } else { evidence_cell(report) }
                    },
                )
                .collect();
            Night { date: *date, runs: of_day, status: cells.into_iter().max().unwrap_or(Cell::NoEvidence) }
        })
        .collect()
}

fn build_rules(
    dates: &[NaiveDate],
    day_index: &BTreeMap<NaiveDate, usize>,
    verified: &[(&CoveredRun, &RunReport)],
    zone: Option<&str>,
) -> Vec<RulePeriod> {
    let mut rules: BTreeMap<String, RulePeriod> = BTreeMap::new();
    let mut seen: Vec<Vec<Option<Cell>>> = Vec::new();
    let mut order: BTreeMap<String, usize> = BTreeMap::new();
    for (run, report) in verified {
        let Some(&night) = day_index.get(&run.started_at.date_naive()) else { continue };
        for result in &report.results {
            let index = *order.entry(result.rule_id.clone()).or_insert_with(|| {
                seen.push(vec![None; dates.len()]);
                seen.len() - 1
            });
            let cell = rule_cell(report, &result.rule_id, result.status, zone);
            let slot = &mut seen[index][night];
            *slot = Some(slot.map_or(cell, |c| c.max(cell)));
            let entry = rules.entry(result.rule_id.clone()).or_insert_with(|| RulePeriod {
                rule_id: result.rule_id.clone(),
                title: String::new(),
                severity: result.severity,
                controls: Vec::new(),
                nights: Vec::new(),
                status: Cell::NoEvidence,
                failed_nights: 0,
                passed_nights: 0,
                last_checked: String::new(),
            });
            // Newest run wins for the descriptive fields.
            entry.title = result.title.clone();
            entry.severity = result.severity;
            entry.controls = result.controls.clone();
            entry.last_checked = result.checked.clone();
        }
    }
    let mut out: Vec<RulePeriod> = rules
        .into_values()
        .map(|mut rule| {
            let cells = &seen[order[&rule.rule_id]];
            rule.nights = cells.iter().map(|c| c.unwrap_or(Cell::NoEvidence)).collect();
            rule.status = rule
                .nights
                .iter()
                .copied()
                .filter(|c| *c != Cell::NoEvidence)
                .max()
                .unwrap_or(Cell::NoEvidence);
            rule.failed_nights = rule.nights.iter().filter(|c| **c == Cell::Fail).count() as u32;
            rule.passed_nights = rule.nights.iter().filter(|c| **c == Cell::Pass).count() as u32;
            rule
        })
        .collect();
    // The order of the rule pack is the order of the first report that has them.
    out.sort_by_key(|r| order[&r.rule_id]);
    out
}

fn build_zones(
    declared: &[String],
    dates: &[NaiveDate],
    day_index: &BTreeMap<NaiveDate, usize>,
    verified: &[(&CoveredRun, &RunReport)],
    zone: Option<&str>,
) -> Vec<ZonePeriod> {
    let mut names: Vec<String> = declared.to_vec();
    for (_, report) in verified {
        for f in &report.findings {
            if let Some(z) = &f.zone
                && !names.contains(z)
            {
                names.push(z.clone());
            }
        }
    }
    names.retain(|n| zone.is_none_or(|z| z == n));
    names
        .into_iter()
        .map(|name| {
            let mut cells: Vec<Option<ZoneCell>> = vec![None; dates.len()];
            let mut fingerprints: BTreeSet<&str> = BTreeSet::new();
            for (run, report) in verified {
                let Some(&night) = day_index.get(&run.started_at.date_naive()) else { continue };
                let of_zone: Vec<_> =
                    report.findings.iter().filter(|f| f.zone.as_deref() == Some(name.as_str())).collect();
                fingerprints.extend(of_zone.iter().map(|f| f.fingerprint.as_str()));
                let cell = if of_zone.is_empty() {
                    ZoneCell { status: evidence_cell(report), worst: None, findings: 0 }
                } else {
                    ZoneCell {
                        status: Cell::Fail,
                        worst: of_zone.iter().map(|f| f.severity).max(),
                        findings: of_zone.len() as u32,
                    }
                };
                let slot = &mut cells[night];
                *slot = Some(match slot {
                    None => cell,
                    Some(old) => ZoneCell {
                        status: old.status.max(cell.status),
                        worst: old.worst.max(cell.worst),
                        findings: old.findings.max(cell.findings),
                    },
                });
            }
            let nights: Vec<ZoneCell> = cells
                .into_iter()
                .map(|c| c.unwrap_or(ZoneCell { status: Cell::NoEvidence, worst: None, findings: 0 }))
                .collect();
            let status = nights
                .iter()
                .map(|c| c.status)
                .filter(|c| *c != Cell::NoEvidence)
                .max()
                .unwrap_or(Cell::NoEvidence);
            ZonePeriod { zone: name, nights, status, findings: fingerprints.len() as u32 }
        })
        .collect()
}

fn build_findings(
    verified: &[(&CoveredRun, &RunReport)],
    before: Option<&RunReport>,
    until: DateTime<Utc>,
    zone: Option<&str>,
) -> Vec<FindingPeriod> {
    let in_scope = |z: &Option<String>| zone.is_none_or(|want| z.as_deref() == Some(want));
    let carried: BTreeSet<&str> =
        before.map(|b| b.findings.iter().map(|f| f.fingerprint.as_str()).collect()).unwrap_or_default();
    let mut out: Vec<FindingPeriod> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (run, report) in verified {
        let sighting = Sighting { run_id: run.run_id, at: run.started_at };
        let present: BTreeSet<&str> = report.findings.iter().map(|f| f.fingerprint.as_str()).collect();
        // Resolution: the first verified run after the last sighting that no longer has the finding.
        for f in out.iter_mut() {
            if f.resolved.is_none() && !present.contains(f.fingerprint.as_str()) {
                f.resolved = Some(sighting.clone());
            }
        }
        for finding in report.findings.iter().filter(|f| in_scope(&f.zone)) {
            let controls = report
                .results
                .iter()
                .find(|r| r.rule_id == finding.rule_id)
                .map(|r| r.controls.clone())
                .unwrap_or_default();
            match index.get(&finding.fingerprint) {
                Some(&i) => {
                    let f = &mut out[i];
                    f.severity = f.severity.max(finding.severity);
                    f.message = finding.message.clone();
                    f.last_seen = sighting.clone();
                    f.resolved = None;
                    f.seen_in_runs += 1;
                    f.sightings.push(sighting.clone());
                    f.evidence = finding.evidence.clone();
                    f.controls = controls;
                }
                None => {
                    index.insert(finding.fingerprint.clone(), out.len());
                    out.push(FindingPeriod {
                        fingerprint: finding.fingerprint.clone(),
                        rule_id: finding.rule_id.clone(),
                        severity: finding.severity,
                        zone: finding.zone.clone(),
                        subject: finding.subject.clone(),
                        message: finding.message.clone(),
                        controls,
                        first_seen: sighting.clone(),
                        last_seen: sighting.clone(),
                        resolved: None,
                        open_at_end: false,
                        open_hours: 0,
                        seen_in_runs: 1,
                        sightings: vec![sighting.clone()],
                        evidence: finding.evidence.clone(),
                        open_before_window: carried.contains(finding.fingerprint.as_str()),
                    });
                }
            }
        }
    }
    let last_run = verified.last().map(|(run, _)| run.run_id);
    for f in &mut out {
        f.open_at_end = f.resolved.is_none() && Some(f.last_seen.run_id) == last_run;
        let end = f.resolved.as_ref().map_or(until, |r| r.at);
        f.open_hours = (end - f.first_seen.at).num_hours().max(0);
    }
    out
}

fn build_gaps(
    nights: &[Night],
    runs: &[RunEvidence],
    monitoring_since: Option<DateTime<Utc>>,
) -> Vec<EvidenceGap> {
    let mut gaps = Vec::new();
    let first_day = monitoring_since.map(|t| t.date_naive());
    for night in nights.iter().filter(|n| n.runs.is_empty()) {
        let before_monitoring = first_day.is_none_or(|first| night.date < first);
        let (kind, detail) = if before_monitoring {
            (GapKind::NotMonitored, "no run: before the first run in the database".to_string())
        } else {
            (GapKind::NoRun, "no run this night".to_string())
        };
        gaps.push(EvidenceGap { date: night.date, kind, run_id: None, source: None, detail });
    }
    for r in runs {
        let date = r.run.started_at.date_naive();
        let run_id = Some(r.run.run_id);
        if r.run.status != "complete" {
            gaps.push(EvidenceGap {
                date,
                kind: GapKind::RunNotComplete,
                run_id,
                source: None,
                detail: format!("run {} is {}", r.run.run_id, r.run.status),
            });
            continue;
        }
        if !r.run.verification.trusted() {
            gaps.push(EvidenceGap {
                date,
                kind: GapKind::ReportUnverified,
                run_id,
                source: None,
                detail: r.run.verification.detail.clone(),
            });
            continue;
        }
        let Some(report) = &r.report else { continue };
        for source in report.sources.iter().filter(|s| s.status != crate::model::SourceStatus::Ok) {
            gaps.push(EvidenceGap {
                date,
                kind: GapKind::SourceFailed,
                run_id,
                source: Some(source.name.clone()),
                detail: format!(
                    "{} ({}): {}",
                    source.status.as_str(),
                    source.kind,
                    source.error.as_deref().unwrap_or("delivered only part of its data")
                ),
            });
        }
    }
    gaps.sort_by(|a, b| (a.date, a.run_id, a.kind).cmp(&(b.date, b.run_id, b.kind)));
    gaps
}

fn build_drift(
    before: Option<&RunReport>,
    verified: &[(&CoveredRun, &RunReport)],
    zone: Option<&str>,
) -> Vec<DriftEvent> {
    let in_scope = |z: &Option<String>| zone.is_none_or(|want| z.as_deref() == Some(want));
    let fingerprints = |report: &RunReport| -> BTreeSet<String> {
        report.findings.iter().filter(|f| in_scope(&f.zone)).map(|f| f.fingerprint.clone()).collect()
    };
    let mut previous: Option<BTreeSet<String>> = before.map(fingerprints);
    let mut events = Vec::new();
    for (run, report) in verified {
        let current = fingerprints(report);
        let prev = previous.take().unwrap_or_default();
        let new: Vec<String> = current.difference(&prev).cloned().collect();
        let resolved: Vec<String> = prev.difference(&current).cloned().collect();
        if !new.is_empty() || !resolved.is_empty() {
            events.push(DriftEvent { run_id: run.run_id, at: run.started_at, new, resolved });
        }
        previous = Some(current);
    }
    events
}

fn summarise(
    nights: &[Night],
    runs: &[RunEvidence],
    rules: &[RulePeriod],
    findings: &[FindingPeriod],
    gaps: &[EvidenceGap],
) -> PeriodSummary {
    let nights_with_evidence = nights.iter().filter(|n| n.status != Cell::NoEvidence).count() as u32;
    let runs_verified = runs.iter().filter(|r| r.run.verification.trusted()).count() as u32;
    let rules_failed = rules.iter().filter(|r| r.status == Cell::Fail).count() as u32;
    let open = findings.iter().filter(|f| f.open_at_end).count() as u32;
    let resolved = findings.iter().filter(|f| f.resolved.is_some()).count() as u32;
    let worst = findings.iter().map(|f| f.severity).max();
    let missing = nights.len() as u32 - nights_with_evidence;
    let verdict = match (findings.len(), missing) {
        (0, 0) => format!(
            "Isolation held on every one of the {} nights, with verified evidence for each.",
            nights.len()
        ),
        (0, m) => format!(
            "No finding on the {nights_with_evidence} nights with verified evidence; {m} of {} nights have no evidence.",
            nights.len()
        ),
        (n, m) => {
            let gaps = if m == 0 {
                String::new()
            } else {
                format!("; {m} of {} nights have no evidence", nights.len())
            };
            format!(
                "Isolation was broken at some point: {n} finding(s), worst {}, {open} still open at the end{gaps}.",
                worst.map_or("none", Severity::as_str)
            )
        }
    };
    PeriodSummary {
        nights: nights.len() as u32,
        nights_with_evidence,
        runs: runs.len() as u32,
        runs_verified,
        rules: rules.len() as u32,
        rules_failed,
        findings: findings.len() as u32,
        findings_open_at_end: open,
        findings_resolved: resolved,
        worst_severity: worst,
        gaps: gaps.len() as u32,
        verdict,
    }
}

pub mod signed;

#[cfg(test)]
pub mod sample;

#[cfg(test)]
mod tests;
