//! A period of six nights with everything a period report must show, for the renderers' tests:
//!
//! ```text
//!  2024-07-10  run 11  pass (complete evidence)
//!  2024-07-11  run 12  ZI-ROUTE-LEAK yellow (high), new; the excerpt holds markup that must be escaped
//!  2024-07-12  —       no run
//!  2024-07-13  run 13  leak persists; source leaf2 failed
//!  2024-07-14  run 14  leak resolved; ZI-UNAPPROVED-FLOW green (medium), new, open at the end
//!  2024-07-15  run 15  report does not verify (signature failed): no evidence
//! ```

use chrono::{DateTime, NaiveDate, Utc};

use super::{Check, CoveredRun, PeriodInput, PeriodReport, RunEvidence, Verification, build};
use crate::evidence::report::{Drift, RunReport, SCHEMA, Summary, ToolInfo};
use crate::model::{
    Finding, Origin, PayloadRef, Rejects, RuleResult, RuleStatus, Severity, SourceRun, SourceStatus,
};

pub const LEAK_SUBJECT: &str = "leaf1/YELLOW/10.20.1.0/26";
pub const FLOW_SUBJECT: &str = "fw-core/green->blue/tcp/8080/green-to-blue-temp";
/// Network-supplied text in an evidence excerpt: every renderer must show it as text.
pub const HOSTILE_EXCERPT: &str = r#"{"description":"<script>alert('x')</script> & <b>leak</b>"}"#;

fn at(date: &str, hms: &str) -> DateTime<Utc> {
    format!("{date}T{hms}Z").parse().expect("sample time")
}

fn leak() -> Finding {
    Finding {
        rule_id: "ZI-ROUTE-LEAK".into(),
        fingerprint: Finding::fingerprint_for("ZI-ROUTE-LEAK", LEAK_SUBJECT),
        severity: Severity::High,
        zone: Some("yellow".into()),
        subject: LEAK_SUBJECT.into(),
        message: "VRF YELLOW on leaf1 carries 10.20.1.0/26 of zone blue".into(),
        evidence: vec![Origin {
            source: "leaf1".into(),
            payload: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
            locator: "/result/1/vrfs/YELLOW/bgpRouteEntries/10.20.1.0~126".into(),
            excerpt: HOSTILE_EXCERPT.into(),
        }],
    }
}

fn flow() -> Finding {
    Finding {
        rule_id: "ZI-UNAPPROVED-FLOW".into(),
        fingerprint: Finding::fingerprint_for("ZI-UNAPPROVED-FLOW", FLOW_SUBJECT),
        severity: Severity::Medium,
        zone: Some("green".into()),
        subject: FLOW_SUBJECT.into(),
        message: "fw-core allowed 42 sessions green -> blue tcp/8080 under rule green-to-blue-temp".into(),
        evidence: vec![Origin {
            source: "fw-core".into(),
            payload: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9".into(),
            locator: "line 3".into(),
            excerpt: "1,2024/07/14 01:12:00,024101003517,TRAFFIC,end,...,green-to-blue-temp,...".into(),
        }],
    }
}

fn result(rule: &str, title: &str, severity: Severity, failed: bool, controls: &[&str]) -> RuleResult {
    RuleResult {
        rule_id: rule.into(),
        title: title.into(),
        severity,
        status: if failed { RuleStatus::Fail } else { RuleStatus::Pass },
        checked: format!("{rule}: checked"),
        controls: controls.iter().map(|c| c.to_string()).collect(),
    }
}

fn source(name: &str, kind: &str, date: &str, ok: bool) -> SourceRun {
    SourceRun {
        name: name.into(),
        kind: kind.into(),
        status: if ok { SourceStatus::Ok } else { SourceStatus::Failed },
        error: (!ok).then(|| "connect 192.0.2.2:443: timed out after 30s".to_string()),
        started_at: at(date, "02:00:00"),
        finished_at: at(date, "02:00:05"),
        counts: Default::default(),
        payloads: if ok {
            vec![PayloadRef { name: format!("{name}.json"), sha256: "ab".repeat(32), size: 100 }]
        } else {
            Vec::new()
        },
        rejects: Rejects::default(),
        notes: Vec::new(),
    }
}

fn report(run_id: i64, date: &str, findings: Vec<Finding>, leaf2_ok: bool) -> RunReport {
    let leak_failed = findings.iter().any(|f| f.rule_id == "ZI-ROUTE-LEAK");
    let flow_failed = findings.iter().any(|f| f.rule_id == "ZI-UNAPPROVED-FLOW");
    let results = vec![
        result(
            "ZI-ROUTE-LEAK",
            "No route of one zone in another zone's VRF",
            Severity::High,
            leak_failed,
            &["NIST-800-53 SC-7", "PCI-DSS-4.0 1.3.1"],
        ),
        result(
            "ZI-UNAPPROVED-FLOW",
            "Every cross-zone flow matches an approved firewall rule",
            Severity::Medium,
            flow_failed,
            &["NIST-800-53 AC-4"],
        ),
    ];
    let sources = vec![source("leaf1", "eos", date, true), source("leaf2", "eos", date, leaf2_ok)];
    let summary = Summary::of(&sources, &results, &findings);
    RunReport {
        schema: SCHEMA.into(),
        run_id,
        cluster: "prod-eu1".into(),
        started_at: at(date, "02:00:00"),
        finished_at: at(date, "02:00:40"),
        tool: ToolInfo { name: "zoneaudit".into(), version: "0.1.0".into() },
        config_digest: "e3".repeat(32),
        rule_packs: Vec::new(),
        sources,
        results,
        findings,
        drift: Drift::default(),
        summary,
        previous_report: None,
    }
}

fn covered(report: &RunReport, trusted: bool) -> CoveredRun {
    CoveredRun {
        run_id: report.run_id,
        started_at: report.started_at,
        finished_at: Some(report.finished_at),
        status: "complete".into(),
        report_digest: Some(format!("sha256:{}", format!("{:02x}", report.run_id).repeat(32))),
        verification: Verification {
            signature: if trusted { Check::Ok } else { Check::Failed },
            chain: if trusted { Check::Ok } else { Check::Failed },
            keyid: trusted.then(|| "7f".repeat(32)),
            detail: if trusted {
                "signature ok; chain: follows the previous report".into()
            } else {
                "signatures[0]: signature by 7f7f… does not verify".into()
            },
        },
        evidence_complete: Some(report.summary.evidence_complete),
        findings: report.findings.len() as u64,
    }
}

/// The input of the six nights above.
pub fn input() -> PeriodInput {
    let reports = [
        (report(11, "2024-07-10", vec![], true), true),
        (report(12, "2024-07-11", vec![leak()], true), true),
        (report(13, "2024-07-13", vec![leak()], false), true),
        (report(14, "2024-07-14", vec![flow()], true), true),
        (report(15, "2024-07-15", vec![], true), false),
    ];
    PeriodInput {
        cluster: "prod-eu1".into(),
        since: at("2024-07-10", "00:00:00"),
        until: at("2024-07-16", "00:00:00"),
        generated_at: at("2024-07-16", "08:00:00"),
        zone_filter: None,
        zones: vec!["yellow".into(), "blue".into(), "green".into()],
        monitoring_since: Some(at("2024-07-01", "02:00:00")),
        before_window: None,
        runs: reports
            .into_iter()
            .map(|(report, trusted)| RunEvidence {
                run: covered(&report, trusted),
                report: trusted.then_some(report),
            })
            .collect(),
    }
}

/// The six nights as a period report.
pub fn period() -> PeriodReport {
    build(input())
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("sample date")
}
