//! The period report as an OSCAL 1.1 **assessment-results** document (JSON), for GRC tools that read
//! OSCAL (the NIST Open Security Controls Assessment Language).
//!
//! ```text
//!  PeriodReport                     assessment-results
//!  ───────────────────────────────  ───────────────────────────────────────────────────────────────
//!  cluster, window, tool            metadata (title, last-modified = generatedAt, props)
//!  (the rule pack is the plan)      import-ap.href = "#<uuid>" ──▶ back-matter resource describing it
//!  the window                       results[0]  start = since, end = until, props + remarks: gaps
//!  runs + verification              results[0].assessment-log.entries[]  one per run
//!  every NIST 800-53 control        results[0].reviewed-controls.control-selections[0].include-controls
//!  RulePeriod                       observation (types control-objective): status per night, and the
//!                                   signed run reports of each night with evidence as relevant-evidence
//!  FindingPeriod                    observation (types finding): timeline, evidence as relevant-evidence
//!  RulePeriod × NIST control        finding: target objective-id = the control's OSCAL id (`sc-7`),
//!                                   status satisfied | not-satisfied, related-observations
//! ```
//!
//! Control mapping. Rule packs name controls as `<catalogue> <control>`. Only NIST SP 800-53 has an
//! OSCAL catalogue whose ids are known here: `NIST-800-53 SC-7` → `sc-7`, `NIST-800-53 AC-4(21)` →
//! `ac-4.21` (the id scheme of NIST's published 800-53 rev5 catalogue). Other catalogues
//! (`PCI-DSS-4.0 1.3.1`, `ISO-27001-2022 A.8.22`) have no OSCAL catalogue here, so they are carried as
//! props (`name = control`, our namespace, value = the text of the rule pack), never turned into
//! invented control ids. A rule that names no 800-53 control still gets one finding, targeted at the
//! rule itself (`zoneaudit-rule-<rule id>`, prop `target-kind = zoneaudit-rule`), so that its
//! failures are not lost to a reader who reads only the findings.
//!
//! Objective status: `not-satisfied` (reason `fail`) when the rule failed at any point of the window;
//! `satisfied` (reason `pass`) when every night that has verified evidence passed on complete evidence;
//! otherwise `not-satisfied` with reason `other` (evaluated only on partial evidence, nothing in scope,
//! evaluation errors, or no verified evidence at all). Nights without evidence never count as a pass:
//! they are counted in the finding's props and remarks, and listed in the result's remarks.
//!
//! Identity: every UUID is a version 5 UUID in the namespace [`namespace`] (itself the v5 UUID of
//! [`NS`] in the URL namespace), named by cluster, window, zone filter and the item (rule, control,
//! finding fingerprint, run). The same period report always gives the same document, and a later
//! report over the same window keeps the UUIDs of the same items, as OSCAL asks.
//!
//! Untrusted text: subjects, messages, source names, locators and excerpts come from the network.
//! OSCAL `markup-line` / `markup-multiline` fields are Markdown, so such text only ever appears
//! inside a code span or a fenced code block (where Markdown and HTML are not interpreted), and prop
//! values (plain strings that must be one line without edge whitespace) are collapsed to one line.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::period::{Cell, CoveredRun, FindingPeriod, PeriodReport, RulePeriod};
use crate::model::Origin;

/// The OSCAL version the document claims; the 1.1 line is what compliance-trestle 3.x validates.
pub const OSCAL_VERSION: &str = "1.1.2";

/// The namespace of zoneaudit's OSCAL props, and the name of its UUID namespace.
pub const NS: &str = "https://zoneaudit.io/ns/oscal";

/// The UUID namespace of every UUID in the document.
pub fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, NS.as_bytes())
}

/// The OSCAL control id of a control as the rule pack names it, when it is a NIST SP 800-53 control:
/// `NIST-800-53 SC-7` → `sc-7`, `NIST-800-53 AC-4(21)` → `ac-4.21`. `None` for other catalogues and
/// for text that is not a well-formed 800-53 id.
pub fn oscal_control_id(control: &str) -> Option<String> {
    let (catalogue, id) = control.trim().split_once(char::is_whitespace)?;
    if !catalogue.eq_ignore_ascii_case("NIST-800-53") {
        return None;
    }
    let id: String = id.chars().filter(|c| !c.is_whitespace()).collect();
    let (family, rest) = id.split_once('-')?;
    if family.len() != 2 || !family.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let (number, enhancement) = match rest.split_once('(') {
        Some((number, tail)) => (number, Some(tail.strip_suffix(')')?)),
        None => (rest, None),
    };
    let number = parse_number(number)?;
    let mut out = format!("{}-{number}", family.to_ascii_lowercase());
    if let Some(enhancement) = enhancement {
        out.push_str(&format!(".{}", parse_number(enhancement)?));
    }
    Some(out)
}

/// Digits only, without leading zeros (`07` is control 7, as the catalogue spells it).
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The assessment-results document of a period report, pretty JSON with a final newline.
pub fn render(report: &PeriodReport) -> String {
    let ids = Ids::of(report);
    let document = json!({
        "assessment-results": {
            "uuid": ids.uuid(&["assessment-results"]),
            "metadata": metadata(report),
            "import-ap": {
                "href": format!("#{}", ids.uuid(&["plan"])),
                "remarks": "There is no separate OSCAL assessment plan: the plan is the zoneaudit rule pack, \
                    run nightly against the cluster. The back-matter resource this href points to describes it.",
            },
            "results": [result(report, &ids)],
            "back-matter": {
                "resources": [plan_resource(report, &ids)],
            },
        }
    });
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value always serialises");
    text.push('\n');
    text
}

/// Deterministic UUIDs of the items of one period report.
struct Ids {
    /// Cluster, window and zone filter: what makes two documents different subjects.
    scope: Vec<String>,
}

impl Ids {
    fn of(report: &PeriodReport) -> Self {
        Ids {
            scope: vec![
                report.cluster.clone(),
                time(report.since),
                time(report.until),
                report.zone_filter.clone().unwrap_or_default(),
            ],
        }
    }

    fn uuid(&self, item: &[&str]) -> String {
        // A JSON array as the name: no two different lists of parts can give the same bytes.
        let name = serde_json::to_string(&(&self.scope, item)).expect("strings always serialise");
        Uuid::new_v5(&namespace(), name.as_bytes()).to_string()
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn prop(name: &str, value: impl AsRef<str>) -> Value {
    json!({ "name": name, "ns": NS, "value": prop_value(value.as_ref()) })
}

/// OSCAL prop values are one line with no whitespace at either end, and never empty.
fn prop_value(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() { "(empty)".to_string() } else { line }
}

/// Untrusted text as a Markdown code span: shown as typed, never interpreted as Markdown or HTML.
fn code(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty)".to_string();
    }
    let fence = "`".repeat(longest_backtick_run(&line) + 1);
    // A span that starts or ends with a backtick needs a space inside the fence (CommonMark strips it).
    let pad = if line.starts_with('`') || line.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{line}{pad}{fence}")
}

/// Untrusted multi-line text as a fenced code block that no line of the text can close.
fn fenced(text: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(text) + 1).max(3));
    format!("{fence}text\n{}\n{fence}", text.trim_end_matches(['\n', '\r']))
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn metadata(report: &PeriodReport) -> Value {
    let mut props = vec![
        prop("cluster", &report.cluster),
        prop("tool", &report.tool.name),
        prop("tool-version", &report.tool.version),
        prop("period-report-schema", &report.schema),
    ];
    if let Some(zone) = &report.zone_filter {
        props.push(prop("zone", zone));
    }
    json!({
        "title": format!(
            "zoneaudit zone-isolation assessment of {} from {} to {}",
            code(&report.cluster),
            time(report.since),
            time(report.until)
        ),
        "last-modified": time(report.generated_at),
        // The document is regenerated, not edited: its generation time is its version.
        "version": time(report.generated_at),
        "oscal-version": OSCAL_VERSION,
        "props": props,
        "remarks": format!(
            "Generated by {} {} from the signed nightly run reports of the window; only run reports \
             whose signature and chain verified are counted as evidence.",
            report.tool.name, report.tool.version
        ),
    })
}

fn plan_resource(report: &PeriodReport, ids: &Ids) -> Value {
    let rules: Vec<String> =
        report.rules.iter().map(|r| format!("- {}: {}", code(&r.rule_id), code(&r.title))).collect();
    json!({
        "uuid": ids.uuid(&["plan"]),
        "title": "zoneaudit rule pack (assessment plan)",
        "description": format!(
            "The assessment plan of these results is the zoneaudit rule pack, evaluated against the \
             collected network state of cluster {} on every run. Rules of the window:\n\n{}",
            code(&report.cluster),
            if rules.is_empty() { "(none)".to_string() } else { rules.join("\n") }
        ),
        "props": [prop("kind", "rule-pack")],
    })
}

fn result(report: &PeriodReport, ids: &Ids) -> Value {
    let mut result = json!({
        "uuid": ids.uuid(&["result"]),
        "title": format!("Zone isolation of {} over the window", code(&report.cluster)),
        "description": format!(
            "Every run of the window from {} to {}, with \"at any point during the window\" semantics: \
             a rule is not satisfied when any verified run of the window found a violation.\n\n{}",
            time(report.since),
            time(report.until),
            report.summary.verdict
        ),
        "start": time(report.since),
        "end": time(report.until),
        "props": result_props(report),
        "reviewed-controls": reviewed_controls(report),
    });
    let entries: Vec<Value> = report.runs.iter().map(|run| log_entry(run, ids)).collect();
    if !entries.is_empty() {
        result["assessment-log"] = json!({ "entries": entries });
    }
    let mut observations: Vec<Value> =
        report.rules.iter().map(|r| rule_observation(report, r, ids)).collect();
    observations.extend(report.findings.iter().map(|f| finding_observation(f, ids)));
    if !observations.is_empty() {
        result["observations"] = Value::Array(observations);
    }
    let findings: Vec<Value> = report.rules.iter().flat_map(|r| rule_findings(report, r, ids)).collect();
    if !findings.is_empty() {
        result["findings"] = Value::Array(findings);
    }
    result["remarks"] = Value::String(result_remarks(report));
    result
}

fn result_props(report: &PeriodReport) -> Vec<Value> {
    let s = &report.summary;
    let mut props = vec![
        prop("nights", s.nights.to_string()),
        prop("nights-with-evidence", s.nights_with_evidence.to_string()),
        prop("runs", s.runs.to_string()),
        prop("runs-verified", s.runs_verified.to_string()),
        prop("rules-failed", s.rules_failed.to_string()),
        prop("findings", s.findings.to_string()),
        prop("findings-open-at-end", s.findings_open_at_end.to_string()),
        prop("evidence-gaps", s.gaps.to_string()),
    ];
    if let Some(since) = report.monitoring_since {
        props.push(prop("monitoring-since", time(since)));
    }
    props
}

/// The verdict, the evidence gaps of the window, and why some controls have no OSCAL id.
fn result_remarks(report: &PeriodReport) -> String {
    let mut text = report.summary.verdict.clone();
    if report.gaps.is_empty() {
        text.push_str("\n\nEvidence gaps: none.");
    } else {
        text.push_str("\n\nEvidence gaps (nights or runs whose evidence is missing or incomplete):\n");
        for gap in &report.gaps {
            let mut line = format!("\n- {} {}", gap.date, gap.kind.as_str());
            if let Some(run) = gap.run_id {
                line.push_str(&format!(", run {run}"));
            }
            if let Some(source) = &gap.source {
                line.push_str(&format!(", source {}", code(source)));
            }
            line.push_str(&format!(": {}", code(&gap.detail)));
            text.push_str(&line);
        }
    }
    let others = other_catalogue_controls(report.rules.iter().flat_map(|r| r.controls.iter()));
    if !others.is_empty() {
        text.push_str(
            "\n\nControls of catalogues without an OSCAL catalogue here are carried as props \
             (name `control`) and not as control ids: ",
        );
        text.push_str(&others.iter().map(|c| code(c)).collect::<Vec<_>>().join(", "));
        text.push('.');
    }
    text
}

/// The controls of other catalogues, in first-seen order, once each.
fn other_catalogue_controls<'a>(controls: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for c in controls {
        if oscal_control_id(c).is_none() && !out.contains(&c.as_str()) {
            out.push(c);
        }
    }
    out
}

/// The 800-53 ids of some controls, in first-seen order, once each.
fn nist_ids<'a>(controls: impl Iterator<Item = &'a String>) -> Vec<(String, &'a str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    for c in controls {
        if let Some(id) = oscal_control_id(c)
            && !out.iter().any(|(seen, _)| *seen == id)
        {
            out.push((id, c));
        }
    }
    out
}

fn reviewed_controls(report: &PeriodReport) -> Value {
    let ids = nist_ids(report.rules.iter().flat_map(|r| r.controls.iter()));
    let others = other_catalogue_controls(report.rules.iter().flat_map(|r| r.controls.iter()));
    let mut selection = json!({
        "description": "Every NIST SP 800-53 control named by a rule of the rule pack.",
    });
    if !others.is_empty() {
        selection["props"] = Value::Array(others.iter().map(|c| prop("control", c)).collect());
    }
    if !ids.is_empty() {
        selection["include-controls"] =
            Value::Array(ids.iter().map(|(id, _)| json!({ "control-id": id })).collect());
    }
    json!({
        "description": "The controls the zone-isolation rules evidence, as named in the rule pack.",
        "control-selections": [selection],
    })
}

fn log_entry(run: &CoveredRun, ids: &Ids) -> Value {
    let v = &run.verification;
    let mut props = vec![
        prop("run-id", run.run_id.to_string()),
        prop("run-status", &run.status),
        prop("signature", v.signature.as_str()),
        prop("chain", v.chain.as_str()),
        prop("findings", run.findings.to_string()),
    ];
    if let Some(digest) = &run.report_digest {
        props.push(prop("report-digest", digest));
    }
    if let Some(complete) = run.evidence_complete {
        props.push(prop("evidence-complete", complete.to_string()));
    }
    let mut entry = json!({
        "uuid": ids.uuid(&["run", &run.run_id.to_string()]),
        "title": format!("Run {}", run.run_id),
        "start": time(run.started_at),
    });
    if let Some(end) = run.finished_at {
        entry["end"] = Value::String(time(end));
    }
    entry["props"] = Value::Array(props);
    entry["remarks"] = Value::String(format!(
        "Verification of the signed run report: {}",
        if v.detail.is_empty() { "(no detail)".to_string() } else { code(&v.detail) }
    ));
    entry
}

/// When the window's evidence was last collected: the newest trusted run, else the report time.
fn last_collected(report: &PeriodReport) -> DateTime<Utc> {
    report
        .runs
        .iter()
        .filter(|r| r.verification.trusted() && r.status == "complete")
        .map(|r| r.started_at)
        .max()
        .unwrap_or(report.generated_at)
}

fn rule_observation(report: &PeriodReport, rule: &RulePeriod, ids: &Ids) -> Value {
    let per_night: Vec<String> =
        report.nights.iter().zip(&rule.nights).map(|(n, c)| format!("{} {}", n.date, c.as_str())).collect();
    let without = nights_without_evidence(rule);
    let mut props = vec![
        prop("rule-id", &rule.rule_id),
        prop("severity", rule.severity.as_str()),
        prop("window-status", rule.status.as_str()),
        prop("failed-nights", rule.failed_nights.to_string()),
        prop("passed-nights", rule.passed_nights.to_string()),
        prop("nights-without-evidence", without.to_string()),
    ];
    props.extend(rule.controls.iter().map(|c| prop("control", c)));
    let mut observation = json!({
        "uuid": ids.uuid(&["rule-observation", &rule.rule_id]),
        "title": format!("{} over the window: {}", code(&rule.rule_id), rule.status.as_str()),
        "description": format!(
            "Rule {} ({}) on every night of the window: {}.\n\nLast checked: {}",
            code(&rule.rule_id),
            code(&rule.title),
            if per_night.is_empty() { "(no nights)".to_string() } else { per_night.join(", ") },
            code(&rule.last_checked)
        ),
        "props": props,
        "methods": ["TEST"],
        "types": ["control-objective"],
    });
    let evidence = night_evidence(report, rule);
    if !evidence.is_empty() {
        observation["relevant-evidence"] = Value::Array(evidence);
    }
    observation["collected"] = Value::String(time(last_collected(report)));
    observation
}

fn nights_without_evidence(rule: &RulePeriod) -> usize {
    rule.nights.iter().filter(|c| **c == Cell::NoEvidence).count()
}

/// The signed run reports behind each night of a rule that has evidence.
fn night_evidence(report: &PeriodReport, rule: &RulePeriod) -> Vec<Value> {
    let mut out = Vec::new();
    for (night, cell) in report.nights.iter().zip(&rule.nights) {
        if *cell == Cell::NoEvidence {
            continue;
        }
        let runs: Vec<&CoveredRun> = report
            .runs
            .iter()
            .filter(|r| night.runs.contains(&r.run_id) && r.verification.trusted())
            .collect();
        let mut props = vec![prop("night", night.date.to_string()), prop("status", cell.as_str())];
        for run in &runs {
            props.push(prop("run-id", run.run_id.to_string()));
            if let Some(digest) = &run.report_digest {
                props.push(prop("report-digest", digest));
            }
        }
        let names: Vec<String> = runs.iter().map(|r| r.run_id.to_string()).collect();
        out.push(json!({
            "description": format!(
                "{}: {} {} by the signed run report(s) of run(s) {}",
                night.date, rule.rule_id, cell.as_str(), names.join(", ")
            ),
            "props": props,
        }));
    }
    out
}

fn finding_observation(finding: &FindingPeriod, ids: &Ids) -> Value {
    let mut props = vec![
        prop("rule-id", &finding.rule_id),
        prop("fingerprint", &finding.fingerprint),
        prop("severity", finding.severity.as_str()),
        prop("first-seen", time(finding.first_seen.at)),
        prop("last-seen", time(finding.last_seen.at)),
        prop("open-at-end", finding.open_at_end.to_string()),
        prop("open-hours", finding.open_hours.to_string()),
        prop("seen-in-runs", finding.seen_in_runs.to_string()),
    ];
    if let Some(zone) = &finding.zone {
        props.push(prop("zone", zone));
    }
    if let Some(resolved) = &finding.resolved {
        props.push(prop("resolved", time(resolved.at)));
    }
    props.extend(finding.controls.iter().map(|c| prop("control", c)));
    let timeline = match &finding.resolved {
        Some(r) => format!("resolved by run {} at {}", r.run_id, time(r.at)),
        None if finding.open_at_end => "still open at the end of the window".to_string(),
        None => "not seen again, but no verified run after it to confirm the resolution".to_string(),
    };
    let mut observation = json!({
        "uuid": ids.uuid(&["finding-observation", &finding.fingerprint]),
        "title": format!("{} {}", code(&finding.rule_id), code(&finding.subject)),
        "description": format!(
            "{} finding of rule {} on {}{}: {}\n\nFirst seen in run {} at {}, last seen in run {} at {}; {}; \
             seen in {} verified run(s).",
            finding.severity.as_str(),
            code(&finding.rule_id),
            code(&finding.subject),
            finding.zone.as_deref().map(|z| format!(" (zone {})", code(z))).unwrap_or_default(),
            code(&finding.message),
            finding.first_seen.run_id,
            time(finding.first_seen.at),
            finding.last_seen.run_id,
            time(finding.last_seen.at),
            timeline,
            finding.seen_in_runs
        ),
        "props": props,
        "methods": ["TEST"],
        "types": ["finding"],
    });
    if !finding.evidence.is_empty() {
        observation["relevant-evidence"] = Value::Array(finding.evidence.iter().map(evidence).collect());
    }
    observation["collected"] = Value::String(time(finding.last_seen.at));
    observation
}

/// One piece of evidence: where the fact was read (payload digest, locator) and the text itself.
fn evidence(origin: &Origin) -> Value {
    let mut props = vec![prop("source", &origin.source), prop("locator", &origin.locator)];
    if !origin.payload.is_empty() {
        props.push(prop("payload-sha256", &origin.payload));
    }
    json!({
        "description": format!(
            "From source {} at {} of the raw payload{}",
            code(&origin.source),
            code(&origin.locator),
            if origin.payload.is_empty() { String::new() } else { format!(" sha256:{}", origin.payload) }
        ),
        "props": props,
        "remarks": format!("Excerpt, exactly as collected:\n\n{}", fenced(&origin.excerpt)),
    })
}

/// What an assessor concludes about one rule over the window (see the module header).
fn objective_status(rule: &RulePeriod) -> (&'static str, &'static str, String) {
    let without = nights_without_evidence(rule);
    let gaps = if without == 0 {
        "verified evidence for every night".to_string()
    } else {
        format!("{without} of {} nights have no verified evidence", rule.nights.len())
    };
    match rule.status {
        Cell::Fail => (
            "not-satisfied",
            "fail",
            format!("Failed on {} of {} nights; {gaps}.", rule.failed_nights, rule.nights.len()),
        ),
        Cell::Pass => ("satisfied", "pass", format!("Passed on every night with evidence; {gaps}.")),
        other => (
            "not-satisfied",
            "other",
            format!("Not proven: the window status is {} (no violation found); {gaps}.", other.as_str()),
        ),
    }
}

fn rule_findings(report: &PeriodReport, rule: &RulePeriod, ids: &Ids) -> Vec<Value> {
    let nist = nist_ids(rule.controls.iter());
    let others = other_catalogue_controls(rule.controls.iter());
    let targets: Vec<(String, Option<&str>)> = if nist.is_empty() {
        vec![(rule_target(&rule.rule_id), None)]
    } else {
        nist.into_iter().map(|(id, text)| (id, Some(text))).collect()
    };
    let (state, reason, why) = objective_status(rule);
    let of_rule: Vec<&FindingPeriod> = report.findings.iter().filter(|f| f.rule_id == rule.rule_id).collect();
    let mut related = vec![json!({ "observation-uuid": ids.uuid(&["rule-observation", &rule.rule_id]) })];
    related.extend(
        of_rule
            .iter()
            .map(|f| json!({ "observation-uuid": ids.uuid(&["finding-observation", &f.fingerprint]) })),
    );
    let subjects: Vec<String> = of_rule.iter().map(|f| finding_line(f)).collect();
    targets
        .into_iter()
        .map(|(target, control)| {
            let mut props = vec![prop("rule-id", &rule.rule_id), prop("window-status", rule.status.as_str())];
            match control {
                Some(text) => props.push(prop("control", text)),
                None => props.push(prop("target-kind", "zoneaudit-rule")),
            }
            props.extend(others.iter().map(|c| prop("control", c)));
            props.push(prop("failed-nights", rule.failed_nights.to_string()));
            props.push(prop("nights-without-evidence", nights_without_evidence(rule).to_string()));
            json!({
                "uuid": ids.uuid(&["finding", &rule.rule_id, &target]),
                "title": format!("{} against {}", code(&rule.rule_id), target),
                "description": format!(
                    "Rule {} ({}) evidences {}. {}{}",
                    code(&rule.rule_id),
                    code(&rule.title),
                    control.map(code).unwrap_or_else(|| "no NIST SP 800-53 control".to_string()),
                    why,
                    if subjects.is_empty() {
                        String::new()
                    } else {
                        format!("\n\nFindings of the window:\n\n{}", subjects.join("\n"))
                    }
                ),
                "props": props,
                "target": {
                    "type": "objective-id",
                    "target-id": target,
                    "status": { "state": state, "reason": reason },
                },
                "related-observations": related,
            })
        })
        .collect()
}

fn finding_line(f: &FindingPeriod) -> String {
    let end = match &f.resolved {
        Some(r) => format!("resolved {}", time(r.at)),
        None if f.open_at_end => "open at the end".to_string(),
        None => "not confirmed resolved".to_string(),
    };
    format!("- {} ({}): first seen {}, {end}", code(&f.subject), f.severity.as_str(), time(f.first_seen.at))
}

/// The target id of a rule that names no 800-53 control: an OSCAL token made from the rule id.
fn rule_target(rule_id: &str) -> String {
    let token: String = rule_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("zoneaudit-rule-{token}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::evidence::period::sample::{self, FLOW_SUBJECT, HOSTILE_EXCERPT, LEAK_SUBJECT};

    fn doc(report: &PeriodReport) -> Value {
        serde_json::from_str(&render(report)).expect("render writes JSON")
    }

    fn result0(doc: &Value) -> &Value {
        &doc["assessment-results"]["results"][0]
    }

    fn finding_for<'a>(doc: &'a Value, rule: &str, target: &str) -> &'a Value {
        result0(doc)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["target"]["target-id"] == target
                    && f["props"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == "rule-id" && p["value"] == rule)
            })
            .unwrap_or_else(|| panic!("no finding {rule} × {target}"))
    }

    fn all_uuids(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "uuid" {
                        out.push(v.as_str().unwrap().to_string());
                    }
                    all_uuids(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| all_uuids(v, out)),
            _ => {}
        }
    }

    #[test]
    fn nist_controls_become_oscal_ids_and_others_do_not() {
        assert_eq!(oscal_control_id("NIST-800-53 SC-7").as_deref(), Some("sc-7"));
        assert_eq!(oscal_control_id("NIST-800-53 AC-4(21)").as_deref(), Some("ac-4.21"));
        assert_eq!(oscal_control_id("NIST-800-53 SC-7 (5)").as_deref(), Some("sc-7.5"));
        assert_eq!(oscal_control_id("NIST-800-53 CA-07").as_deref(), Some("ca-7"));
        assert_eq!(oscal_control_id("PCI-DSS-4.0 1.3.1"), None);
        assert_eq!(oscal_control_id("ISO-27001-2022 A.8.22"), None);
        assert_eq!(oscal_control_id("NIST-800-53 SC-7(x)"), None);
        assert_eq!(oscal_control_id("NIST-800-53 SC7"), None);
        assert_eq!(oscal_control_id("SC-7"), None);
    }

    #[test]
    fn document_has_the_required_assessment_results_structure() {
        let report = sample::period();
        let doc = doc(&report);
        let ar = &doc["assessment-results"];
        assert_eq!(ar["metadata"]["oscal-version"], OSCAL_VERSION);
        assert_eq!(ar["metadata"]["last-modified"], "2024-07-16T08:00:00Z");
        assert!(ar["metadata"]["title"].as_str().unwrap().contains("prod-eu1"));
        let href = ar["import-ap"]["href"].as_str().unwrap();
        let plan = &ar["back-matter"]["resources"][0];
        assert_eq!(
            href,
            format!("#{}", plan["uuid"].as_str().unwrap()),
            "import-ap points at the plan resource"
        );
        assert!(ar["import-ap"]["remarks"].as_str().unwrap().contains("rule pack"));
        let result = result0(&doc);
        assert_eq!(ar["results"].as_array().unwrap().len(), 1);
        assert_eq!(result["start"], "2024-07-10T00:00:00Z");
        assert_eq!(result["end"], "2024-07-16T00:00:00Z");
        let included: Vec<&str> = result["reviewed-controls"]["control-selections"][0]["include-controls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["control-id"].as_str().unwrap())
            .collect();
        assert_eq!(included, ["sc-7", "ac-4"]);
        // PCI has no OSCAL catalogue here: a prop, not a control id.
        let selection_props =
            result["reviewed-controls"]["control-selections"][0]["props"].as_array().unwrap();
        assert!(selection_props.iter().any(|p| p["name"] == "control" && p["value"] == "PCI-DSS-4.0 1.3.1"));
        assert_eq!(result["assessment-log"]["entries"].as_array().unwrap().len(), 5, "one entry per run");
    }

    #[test]
    fn a_rule_that_failed_at_any_point_is_not_satisfied_and_names_its_findings() {
        let doc = doc(&sample::period());
        let leak = finding_for(&doc, "ZI-ROUTE-LEAK", "sc-7");
        assert_eq!(leak["target"]["type"], "objective-id");
        assert_eq!(leak["target"]["status"]["state"], "not-satisfied");
        assert_eq!(leak["target"]["status"]["reason"], "fail");
        assert!(leak["description"].as_str().unwrap().contains(LEAK_SUBJECT));
        let props = leak["props"].as_array().unwrap();
        assert!(props.iter().any(|p| p["name"] == "control" && p["value"] == "PCI-DSS-4.0 1.3.1"));
        assert!(props.iter().all(|p| p["ns"] == NS));
        let flow = finding_for(&doc, "ZI-UNAPPROVED-FLOW", "ac-4");
        assert_eq!(flow["target"]["status"]["state"], "not-satisfied");
        assert!(flow["description"].as_str().unwrap().contains(FLOW_SUBJECT));
    }

    #[test]
    fn a_rule_that_passed_every_night_with_evidence_is_satisfied_with_its_gaps_said() {
        let mut report = sample::period();
        let rule = &mut report.rules[0];
        for cell in rule.nights.iter_mut().filter(|c| **c != Cell::NoEvidence) {
            *cell = Cell::Pass;
        }
        rule.status = Cell::Pass;
        rule.failed_nights = 0;
        let passed = doc(&report);
        let leak = finding_for(&passed, "ZI-ROUTE-LEAK", "sc-7");
        assert_eq!(leak["target"]["status"]["state"], "satisfied");
        assert!(leak["description"].as_str().unwrap().contains("2 of 6 nights have no verified evidence"));

        report.rules[0].status = Cell::Partial;
        let partial = doc(&report);
        let leak = finding_for(&partial, "ZI-ROUTE-LEAK", "sc-7");
        assert_eq!(leak["target"]["status"]["state"], "not-satisfied");
        assert_eq!(leak["target"]["status"]["reason"], "other");
    }

    #[test]
    fn a_finding_links_to_an_observation_that_carries_its_evidence() {
        let doc = doc(&sample::period());
        let leak = finding_for(&doc, "ZI-ROUTE-LEAK", "sc-7");
        let related: BTreeSet<&str> = leak["related-observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["observation-uuid"].as_str().unwrap())
            .collect();
        let observations = result0(&doc)["observations"].as_array().unwrap();
        let with_evidence = observations
            .iter()
            .filter(|o| related.contains(o["uuid"].as_str().unwrap()))
            .find(|o| o["types"][0] == "finding")
            .expect("the leak's observation is related");
        assert_eq!(with_evidence["methods"][0], "TEST");
        assert_eq!(with_evidence["collected"], "2024-07-13T02:00:00Z");
        let evidence = &with_evidence["relevant-evidence"][0];
        assert!(evidence["description"].as_str().unwrap().contains("leaf1"));
        let remarks = evidence["remarks"].as_str().unwrap();
        assert!(remarks.contains(&format!("```text\n{HOSTILE_EXCERPT}\n```")), "{remarks}");
        // Every related observation exists.
        for uuid in related {
            assert!(observations.iter().any(|o| o["uuid"] == uuid), "dangling {uuid}");
        }
    }

    #[test]
    fn network_text_is_never_markdown_outside_code() {
        assert_eq!(code("a <b>*x*</b>"), "`a <b>*x*</b>`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`y`"), "`` `y` ``");
        assert_eq!(code("two\nlines"), "`two lines`");
        assert_eq!(fenced("a\n```\nb"), "````text\na\n```\nb\n````");
        assert_eq!(prop_value("  a \n b  "), "a b");
        assert_eq!(prop_value(" \n"), "(empty)");
    }

    #[test]
    fn uuids_are_valid_v5_unique_and_the_output_is_deterministic() {
        let report = sample::period();
        let text = render(&report);
        assert_eq!(text, render(&report.clone()), "same report, same bytes");
        let mut uuids = Vec::new();
        all_uuids(&serde_json::from_str(&text).unwrap(), &mut uuids);
        assert!(uuids.len() > 10, "{uuids:?}");
        for u in &uuids {
            let parsed = Uuid::parse_str(u).unwrap();
            assert_eq!(parsed.get_version_num(), 5, "{u}");
        }
        let unique: BTreeSet<&String> = uuids.iter().collect();
        assert_eq!(unique.len(), uuids.len(), "duplicate uuid");

        let mut other = report.clone();
        other.cluster = "prod-us1".into();
        let mut other_uuids = Vec::new();
        all_uuids(&doc(&other), &mut other_uuids);
        assert!(other_uuids.iter().all(|u| !unique.contains(u)), "another cluster, other uuids");
    }

    #[test]
    fn evidence_gaps_are_listed_in_the_result() {
        let doc = doc(&sample::period());
        let result = result0(&doc);
        let remarks = result["remarks"].as_str().unwrap();
        assert!(remarks.contains("2024-07-12 noRun"), "{remarks}");
        assert!(remarks.contains("sourceFailed, run 13, source `leaf2`"), "{remarks}");
        assert!(remarks.contains("2024-07-15 reportUnverified"), "{remarks}");
        let gaps = result["props"].as_array().unwrap().iter().find(|p| p["name"] == "evidence-gaps").unwrap();
        assert_eq!(gaps["value"], sample::period().gaps.len().to_string());
    }

    #[test]
    fn a_rule_without_nist_controls_keeps_a_finding_on_the_rule_itself() {
        let mut report = sample::period();
        report.rules[1].controls = vec!["ISO-27001-2022 A.8.22".into()];
        let doc = doc(&report);
        let flow = finding_for(&doc, "ZI-UNAPPROVED-FLOW", "zoneaudit-rule-zi-unapproved-flow");
        let props = flow["props"].as_array().unwrap();
        assert!(props.iter().any(|p| p["name"] == "control" && p["value"] == "ISO-27001-2022 A.8.22"));
        assert!(props.iter().any(|p| p["name"] == "target-kind" && p["value"] == "zoneaudit-rule"));
    }
}
