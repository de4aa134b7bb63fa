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
/// worst: where one night has several runs, and over the window, the worst wins — so a window with
/// a night without evidence is never a `pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cell {
    /// The rule had nothing in scope (no data of its kind). Below `Pass`: a rule that passed some
    /// nights and had nothing to check on others passed.
    Skip,
    /// Evaluated and nothing found, with complete evidence.
    Pass,
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
    /// The worst of `nights`: `fail` when the rule failed at any point of the window, `noEvidence`
    /// when it never failed but some night has no evidence.
    pub status: Cell,
    pub failed_nights: u32,
    pub passed_nights: u32,
    /// Nights without verified evidence (no run, run not complete, report does not verify).
    pub no_evidence_nights: u32,
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
    /// The first run after `last_seen` that evaluated the rule on complete evidence and no longer
    /// has the finding. A run that could not see it (a source failed, the rule errored) resolves nothing.
    pub resolved: Option<Sighting>,
    /// Every resolution in the window, oldest first: more than one when the finding came back.
    pub resolutions: Vec<Sighting>,
    /// Still present in the last verified run of the window.
    pub open_at_end: bool,
    /// Hours open inside the evidence: the sum of its episodes, each from its first sighting to its
    /// resolution, or to the end of the window (never past the report's generation) when still open.
    /// For a finding carried into the window, counted from its sighting before the window.
    pub open_hours: i64,
    /// Verified runs in the window that had it.
    pub seen_in_runs: u32,
    /// Each of those runs, oldest first (one CSV row each).
    pub sightings: Vec<Sighting>,
    /// The evidence of the last run that saw it.
    pub evidence: Vec<Origin>,
    /// Whether it was already present in the last verified run before the window (then `first_seen`
    /// is that run, and `seen_in_runs` counts only runs inside the window).
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
    /// Nights with at least one verified run (complete or partial evidence).
    pub nights_with_evidence: u32,
    /// Of those, nights whose evidence was incomplete (a source failed) and nothing was found.
    pub nights_partial: u32,
    /// Nights before the first run the database holds.
    pub nights_not_monitored: u32,
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

/// Whether a finding of zone `of` counts under the zone filter `filter`. A finding without a zone
/// (the node-to-node mesh, a node of no zone, an evidence gap) concerns every zone.
fn in_zone(filter: Option<&str>, of: Option<&str>) -> bool {
    match (filter, of) {
        (None, _) | (_, None) => true,
        (Some(want), Some(zone)) => want == zone,
    }
}

/// The status of one run's result for a rule, counting only findings of the zone filter.
fn rule_cell(report: &RunReport, rule_id: &str, status: RuleStatus, zone: Option<&str>) -> Cell {
    match status {
        RuleStatus::Fail => {
            let any =
                report.findings.iter().any(|f| f.rule_id == rule_id && in_zone(zone, f.zone.as_deref()));
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

/// The worst status over several runs or nights; `NoEvidence` when there is nothing.
fn worst(cells: impl IntoIterator<Item = Cell>) -> Cell {
    cells.into_iter().max().unwrap_or(Cell::NoEvidence)
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

/// Verified runs: complete, signature and chain ok, report at hand.
type Verified<'a> = Vec<(&'a CoveredRun, &'a RunReport)>;

/// Build the period report. Pure: everything it reads is in `input`.
pub fn build(input: PeriodInput) -> PeriodReport {
    let zone = input.zone_filter.as_deref();
    let run_days: BTreeSet<NaiveDate> = input.runs.iter().map(|r| r.run.started_at.date_naive()).collect();
    let dates = nights_of(input.since, input.until, &run_days);
    let day_index: BTreeMap<NaiveDate, usize> = dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let verified: Verified = input
        .runs
        .iter()
        .filter(|r| r.run.verification.trusted() && r.run.status == "complete")
        .filter_map(|r| r.report.as_ref().map(|rep| (&r.run, rep)))
        .collect();
    // Open hours never run past what the report could know.
    let horizon = input.until.min(input.generated_at);

    let nights = build_nights(&dates, &input.runs, &verified, zone);
    let rules = build_rules(&dates, &day_index, &verified, zone);
    let zones = build_zones(&input.zones, &dates, &day_index, &verified, zone);
    let findings = build_findings(&verified, input.before_window.as_ref(), horizon, zone);
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

/// A night: `fail` with a finding in scope, `error` when a rule could not be evaluated, otherwise
/// `pass` or `partial` by the completeness of the evidence; the worst of the night's verified runs.
fn build_nights(
    dates: &[NaiveDate],
    runs: &[RunEvidence],
    verified: &Verified,
    zone: Option<&str>,
) -> Vec<Night> {
    dates
        .iter()
        .map(|date| {
            let of_day: Vec<i64> = runs
                .iter()
                .filter(|r| r.run.started_at.date_naive() == *date)
                .map(|r| r.run.run_id)
                .collect();
            let status = worst(verified.iter().filter(|(run, _)| run.started_at.date_naive() == *date).map(
                |(_, report)| {
                    if report.findings.iter().any(|f| in_zone(zone, f.zone.as_deref())) {
                        Cell::Fail
                    } else if report.results.iter().any(|r| r.status == RuleStatus::Error) {
                        Cell::Error
                    } else {
                        evidence_cell(report)
                    }
                },
            ));
            Night { date: *date, runs: of_day, status }
        })
        .collect()
}

fn build_rules(
    dates: &[NaiveDate],
    day_index: &BTreeMap<NaiveDate, usize>,
    verified: &Verified,
    zone: Option<&str>,
) -> Vec<RulePeriod> {
    // In the order of the rule pack, as the first report that has them lists them.
    let mut rules: Vec<RulePeriod> = Vec::new();
    let mut cells: Vec<Vec<Option<Cell>>> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (run, report) in verified {
        let Some(&night) = day_index.get(&run.started_at.date_naive()) else { continue };
        for result in &report.results {
            let i = *index.entry(result.rule_id.clone()).or_insert_with(|| {
                cells.push(vec![None; dates.len()]);
                rules.push(RulePeriod {
                    rule_id: result.rule_id.clone(),
                    title: String::new(),
                    severity: result.severity,
                    controls: Vec::new(),
                    nights: Vec::new(),
                    status: Cell::NoEvidence,
                    failed_nights: 0,
                    passed_nights: 0,
                    no_evidence_nights: 0,
                    last_checked: String::new(),
                });
                rules.len() - 1
            });
            let cell = rule_cell(report, &result.rule_id, result.status, zone);
            let slot = &mut cells[i][night];
            *slot = Some(slot.map_or(cell, |c| c.max(cell)));
            // The newest run wins for the descriptive fields.
            let rule = &mut rules[i];
            rule.title = result.title.clone();
            rule.severity = result.severity;
            rule.controls = result.controls.clone();
            rule.last_checked = result.checked.clone();
        }
    }
    for (rule, cells) in rules.iter_mut().zip(cells) {
        rule.nights = cells.into_iter().map(|c| c.unwrap_or(Cell::NoEvidence)).collect();
        rule.status = worst(rule.nights.iter().copied());
        let count = |want: Cell| rule.nights.iter().filter(|c| **c == want).count() as u32;
        rule.failed_nights = count(Cell::Fail);
        rule.passed_nights = count(Cell::Pass);
        rule.no_evidence_nights = count(Cell::NoEvidence);
    }
    rules
}

fn build_zones(
    declared: &[String],
    dates: &[NaiveDate],
    day_index: &BTreeMap<NaiveDate, usize>,
    verified: &Verified,
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
                    report.findings.iter().filter(|f| in_zone(Some(&name), f.zone.as_deref())).collect();
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
            let status = worst(nights.iter().map(|c| c.status));
            ZonePeriod { zone: name, nights, status, findings: fingerprints.len() as u32 }
        })
        .collect()
}

/// Whether `report` shows that the finding is gone: its rule was evaluated (pass or fail) on complete
/// evidence and the finding is not among its findings.
fn shows_resolved(report: &RunReport, rule_id: &str, fingerprint: &str) -> bool {
    let evaluated = report
        .results
        .iter()
        .any(|r| r.rule_id == rule_id && matches!(r.status, RuleStatus::Pass | RuleStatus::Fail));
    report.summary.evidence_complete
        && evaluated
        && !report.findings.iter().any(|f| f.fingerprint == fingerprint)
}

fn new_finding(finding: &crate::model::Finding, controls: Vec<String>, first: Sighting) -> FindingPeriod {
    FindingPeriod {
        fingerprint: finding.fingerprint.clone(),
        rule_id: finding.rule_id.clone(),
        severity: finding.severity,
        zone: finding.zone.clone(),
        subject: finding.subject.clone(),
        message: finding.message.clone(),
        controls,
        first_seen: first.clone(),
        last_seen: first,
        resolved: None,
        resolutions: Vec::new(),
        open_at_end: false,
        open_hours: 0,
        seen_in_runs: 0,
        sightings: Vec::new(),
        evidence: finding.evidence.clone(),
        open_before_window: false,
    }
}

fn controls_of(report: &RunReport, rule_id: &str) -> Vec<String> {
    report.results.iter().find(|r| r.rule_id == rule_id).map(|r| r.controls.clone()).unwrap_or_default()
}

fn build_findings(
    verified: &Verified,
    before: Option<&RunReport>,
    horizon: DateTime<Utc>,
    zone: Option<&str>,
) -> Vec<FindingPeriod> {
    let mut out: Vec<FindingPeriod> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    // Open episodes: fingerprint -> when the current episode began.
    let mut open_since: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    // Findings carried into the window are part of it from its first run on, even when that run fixes them.
    if let Some(before) = before {
        let sighting = Sighting { run_id: before.run_id, at: before.started_at };
        for finding in before.findings.iter().filter(|f| in_zone(zone, f.zone.as_deref())) {
            let mut f = new_finding(finding, controls_of(before, &finding.rule_id), sighting.clone());
            f.open_before_window = true;
            index.insert(f.fingerprint.clone(), out.len());
            open_since.insert(f.fingerprint.clone(), sighting.at);
            out.push(f);
        }
    }
    for (run, report) in verified {
        let sighting = Sighting { run_id: run.run_id, at: run.started_at };
        for f in out.iter_mut() {
            if let Some(since) = open_since.get(&f.fingerprint).copied()
                && shows_resolved(report, &f.rule_id, &f.fingerprint)
            {
                f.open_hours += (sighting.at - since).num_hours().max(0);
                f.resolved = Some(sighting.clone());
                f.resolutions.push(sighting.clone());
                open_since.remove(&f.fingerprint);
            }
        }
        for finding in report.findings.iter().filter(|f| in_zone(zone, f.zone.as_deref())) {
            let i = match index.get(&finding.fingerprint) {
                Some(&i) => i,
                None => {
                    index.insert(finding.fingerprint.clone(), out.len());
                    out.push(new_finding(finding, Vec::new(), sighting.clone()));
                    out.len() - 1
                }
            };
            let f = &mut out[i];
            f.severity = f.severity.max(finding.severity);
            f.message = finding.message.clone();
            f.evidence = finding.evidence.clone();
            f.controls = controls_of(report, &finding.rule_id);
            f.last_seen = sighting.clone();
            f.resolved = None;
            f.seen_in_runs += 1;
            f.sightings.push(sighting.clone());
            open_since.entry(finding.fingerprint.clone()).or_insert(sighting.at);
        }
    }
    let last_run = verified.last().map(|(run, _)| run.run_id);
    for f in &mut out {
        if let Some(since) = open_since.get(&f.fingerprint) {
            f.open_hours += (horizon - *since).num_hours().max(0);
        }
        f.open_at_end = f.resolved.is_none() && Some(f.last_seen.run_id) == last_run;
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
    gaps.sort_by_key(|g| (g.date, g.run_id, g.kind));
    gaps
}

fn build_drift(before: Option<&RunReport>, verified: &Verified, zone: Option<&str>) -> Vec<DriftEvent> {
    let fingerprints = |report: &RunReport| -> BTreeSet<String> {
        report
            .findings
            .iter()
            .filter(|f| in_zone(zone, f.zone.as_deref()))
            .map(|f| f.fingerprint.clone())
            .collect()
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
    let count = |f: &dyn Fn(&Night) -> bool| nights.iter().filter(|n| f(n)).count() as u32;
    let nights_with_evidence = count(&|n| n.status != Cell::NoEvidence);
    let nights_partial = count(&|n| n.status == Cell::Partial);
    let not_monitored: BTreeSet<NaiveDate> =
        gaps.iter().filter(|g| g.kind == GapKind::NotMonitored).map(|g| g.date).collect();
    let nights_not_monitored = not_monitored.len() as u32;
    let runs_verified = runs.iter().filter(|r| r.run.verification.trusted()).count() as u32;
    let rules_failed = rules.iter().filter(|r| r.status == Cell::Fail).count() as u32;
    let open = findings.iter().filter(|f| f.open_at_end).count() as u32;
    let resolved = findings.iter().filter(|f| f.resolved.is_some()).count() as u32;
    let worst_severity = findings.iter().map(|f| f.severity).max();
    let total = nights.len() as u32;
    let verdict = verdict(&VerdictFacts {
        total,
        with_evidence: nights_with_evidence,
        partial: nights_partial,
        not_monitored: nights_not_monitored,
        findings: findings.len() as u32,
        serious: findings.iter().filter(|f| f.severity >= Severity::High).count() as u32,
        open,
        worst: worst_severity,
    });
    PeriodSummary {
        nights: total,
        nights_with_evidence,
        nights_partial,
        nights_not_monitored,
        runs: runs.len() as u32,
        runs_verified,
        rules: rules.len() as u32,
        rules_failed,
        findings: findings.len() as u32,
        findings_open_at_end: open,
        findings_resolved: resolved,
        worst_severity,
        gaps: gaps.len() as u32,
        verdict,
    }
}

struct VerdictFacts {
    total: u32,
    with_evidence: u32,
    partial: u32,
    not_monitored: u32,
    findings: u32,
    /// Findings of severity high or critical: what "isolation was broken" means.
    serious: u32,
    open: u32,
    worst: Option<Severity>,
}

/// One sentence a compliance officer reads first: what was found, then how much of the window the
/// evidence covers. It claims only what the verified evidence shows.
fn verdict(v: &VerdictFacts) -> String {
    let found = if v.with_evidence == 0 {
        "No verified evidence in this window".to_string()
    } else if v.serious > 0 {
        format!(
            "Zone isolation was broken at some point: {} finding(s), worst {}, {} still open at the end",
            v.findings,
            v.worst.map_or("none", Severity::as_str),
            v.open
        )
    } else if v.findings > 0 {
        format!(
            "No high or critical finding; {} lower-severity finding(s), worst {}, {} still open at the end",
            v.findings,
            v.worst.map_or("none", Severity::as_str),
            v.open
        )
    } else {
        format!("No finding on the {} night(s) with verified evidence", v.with_evidence)
    };
    let missing = v.total - v.with_evidence;
    let mut coverage = Vec::new();
    if missing > 0 {
        let before = if v.not_monitored > 0 {
            format!(" ({} before monitoring began)", v.not_monitored)
        } else {
            String::new()
        };
        coverage.push(format!("{missing} of {} nights have no evidence{before}", v.total));
    }
    if v.partial > 0 {
        coverage.push(format!("{} night(s) had incomplete evidence (a source failed)", v.partial));
    }
    if coverage.is_empty() && v.with_evidence > 0 {
        coverage.push(format!("verified evidence for all {} nights", v.total));
    }
    format!("{}; {}.", found, coverage.join("; "))
}

pub mod input;
pub mod signed;

#[cfg(test)]
pub mod sample;

#[cfg(test)]
mod tests;
