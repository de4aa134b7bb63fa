//! What zoneaudit tells a monitoring system, read from the store so that the numbers survive a
//! restart and agree with `runs list` / `runs show`:
//!
//! ```text
//!  store ──runs────────────▶ last run (start, duration, success, id), runs_total{status}
//!        ──last complete run─▶ findings{severity}, findings_by_rule{rule}, source_up{source,kind}
//!        ──outbox───────────▶ alert_outbox_pending
//!  process (serve only) ───▶ scheduled_runs_skipped_total, run_in_progress
//! ```
//!
//! "Last run" is the newest run that has finished (complete, incomplete or failed). A run succeeded
//! when it completed with complete evidence: a run with findings is a successful audit; a run whose
//! source failed (exit code 3) is not. The same text goes to `/metrics` and, for CronJob mode, to a
//! node-exporter textfile (`run --metrics-file`), written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::exposition::{Kind, TextWriter};
use crate::model::{Severity, SourceStatus};
use crate::store::{RunRow, RunStatus, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What only the serving process knows (not in the store).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessCounters {
    pub skipped_runs: u64,
    pub run_in_progress: bool,
}

/// The numbers of one exposition, read from the store.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub last_run: Option<RunRow>,
    pub last_complete_run: Option<i64>,
    pub findings_by_severity: BTreeMap<Severity, u64>,
    pub findings_by_rule: BTreeMap<String, u64>,
    /// (name, kind, up) of the last complete run's sources.
    pub sources: Vec<(String, String, bool)>,
    pub outbox_pending: u64,
    pub runs_by_status: BTreeMap<&'static str, u64>,
}

/// Which runs may be "the last run".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastRun {
    /// The newest finished run: a `running` row is a run still being recorded (serve).
    Finished,
    /// The newest run of any status: after this process's own run failed, its row is still
    /// `running` and is the run to report, as not successful (`run --metrics-file`).
    Newest,
}

const STATUSES: [RunStatus; 4] =
    [RunStatus::Complete, RunStatus::Incomplete, RunStatus::Failed, RunStatus::Running];
const SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

impl Snapshot {
    pub fn read(store: &Store, which: LastRun) -> Result<Snapshot, StoreError> {
        let runs = store.runs()?;
        let mut runs_by_status: BTreeMap<&'static str, u64> =
            STATUSES.iter().map(|s| (s.as_str(), 0)).collect();
        for r in &runs {
            *runs_by_status.entry(r.status.as_str()).or_default() += 1;
        }
        let last_run =
            runs.iter().rev().find(|r| which == LastRun::Newest || r.status != RunStatus::Running).cloned();
        let mut snapshot = Snapshot {
            last_run,
            runs_by_status,
            outbox_pending: store.pending_alerts()?.len() as u64,
            findings_by_severity: SEVERITIES.iter().map(|s| (*s, 0)).collect(),
            ..Snapshot::default()
        };
        if let Some(complete) = runs.iter().rev().find(|r| r.status == RunStatus::Complete) {
            snapshot.last_complete_run = Some(complete.id);
            for result in store.rule_results(complete.id)? {
                snapshot.findings_by_rule.entry(result.rule_id).or_default();
            }
            for f in store.findings(complete.id)? {
                *snapshot.findings_by_severity.entry(f.severity).or_default() += 1;
                *snapshot.findings_by_rule.entry(f.rule_id).or_default() += 1;
            }
            snapshot.sources = store
                .source_runs(complete.id)?
                .into_iter()
                .map(|s| (s.name, s.kind, s.status == SourceStatus::Ok))
                .collect();
        }
        Ok(snapshot)
    }

    /// The exposition text; `process` adds the serve-only metrics.
    pub fn render(&self, process: Option<ProcessCounters>) -> String {
        let mut w = TextWriter::new();
        self.last_run_metrics(&mut w);
        w.family("zoneaudit_findings", Kind::Gauge, "Findings of the last complete run, by severity.");
        for (severity, n) in self.findings_by_severity.iter().rev() {
            w.sample(&[("severity", severity.as_str())], *n as f64);
        }
        w.family(
            "zoneaudit_findings_by_rule",
            Kind::Gauge,
            "Findings of the last complete run, by rule (0 for a rule that passed).",
        );
        for (rule, n) in &self.findings_by_rule {
            w.sample(&[("rule", rule)], *n as f64);
        }
        w.family(
            "zoneaudit_source_up",
            Kind::Gauge,
            "Whether a source was read completely in the last complete run (1 ok, 0 partial or failed).",
        );
        for (name, kind, up) in &self.sources {
            w.sample(&[("source", name), ("kind", kind)], if *up { 1.0 } else { 0.0 });
        }
        w.family(
            "zoneaudit_alert_outbox_pending",
            Kind::Gauge,
            "Notifications in the outbox not yet delivered.",
        )
        .sample(&[], self.outbox_pending as f64);
        w.family("zoneaudit_runs_total", Kind::Counter, "Runs in the database, by status.");
        for (status, n) in &self.runs_by_status {
            w.sample(&[("status", status)], *n as f64);
        }
        if let Some(p) = process {
            w.family(
                "zoneaudit_scheduled_runs_skipped_total",
                Kind::Counter,
                "Scheduled runs not started because the previous run was still going.",
            )
            .sample(&[], p.skipped_runs as f64);
            w.family("zoneaudit_run_in_progress", Kind::Gauge, "1 while a run is being recorded.")
                .sample(&[], if p.run_in_progress { 1.0 } else { 0.0 });
        }
        w.family("zoneaudit_build_info", Kind::Gauge, "The zoneaudit build: version and commit.")
            .sample(&[("version", env!("CARGO_PKG_VERSION")), ("commit", env!("ZONEAUDIT_COMMIT"))], 1.0);
        w.finish()
    }

    fn last_run_metrics(&self, w: &mut TextWriter) {
        let run = self.last_run.as_ref();
        w.family(
            "zoneaudit_last_run_start_timestamp_seconds",
            Kind::Gauge,
            "When the last finished run started (Unix time).",
        );
        if let Some(r) = run {
            w.sample(&[], r.started_at.timestamp_millis() as f64 / 1000.0);
        }
        w.family("zoneaudit_last_run_duration_seconds", Kind::Gauge, "How long the last finished run took.");
        // An interrupted run has no end, so no duration: absent rather than a made-up number.
        if let Some(end) = run.and_then(|r| r.finished_at.map(|f| f - r.started_at)) {
            w.sample(&[], end.num_milliseconds() as f64 / 1000.0);
        }
        w.family(
            "zoneaudit_last_run_success",
            Kind::Gauge,
            "1 when the last finished run completed with complete evidence, else 0.",
        );
        if let Some(r) = run {
            w.sample(&[], if succeeded(r) { 1.0 } else { 0.0 });
        }
        w.family(
            "zoneaudit_last_run_id",
            Kind::Gauge,
            "The id of the last finished run (as in `runs list`).",
        );
        if let Some(r) = run {
            w.sample(&[], r.id as f64);
        }
    }
}

pub fn succeeded(run: &RunRow) -> bool {
    run.status == RunStatus::Complete && run.evidence_complete == Some(true)
}

/// `run --metrics-file`: the metrics of the run just done (or attempted), as a node-exporter
/// textfile. Written to a temporary file in the same directory and renamed, so the collector never
/// reads half a file; readable by others, since node-exporter usually runs as another user.
pub fn write_textfile(path: &Path, store: &Store) -> Result<(), MetricsError> {
    let text = Snapshot::read(store, LastRun::Newest)?.render(None);
    let err = |source| MetricsError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".zoneaudit-metrics").tempfile_in(dir).map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).map_err(err)?;
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn run(id: i64, status: RunStatus, evidence: Option<bool>) -> RunRow {
        RunRow {
            id,
            cluster: "c".into(),
            started_at: Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap(),
            finished_at: (status != RunStatus::Running && status != RunStatus::Incomplete)
                .then(|| Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 3).unwrap()),
            status,
            config_digest: String::new(),
            tool_version: String::new(),
            report_digest: None,
            evidence_complete: evidence,
            findings: 0,
        }
    }

    fn value<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn a_complete_run_with_complete_evidence_is_a_success() {
        let snapshot = Snapshot {
            last_run: Some(run(4, RunStatus::Complete, Some(true))),
            last_complete_run: Some(4),
            findings_by_severity: SEVERITIES.iter().map(|s| (*s, 0)).chain([(Severity::High, 2)]).collect(),
            findings_by_rule: [("ZI-ROUTE-LEAK".to_string(), 2), ("ZI-SESSION-DOWN".to_string(), 0)].into(),
            sources: vec![
                ("fw \"core\"".into(), "panos".into(), false),
                ("calico".into(), "calico".into(), true),
            ],
            outbox_pending: 3,
            runs_by_status: [("complete", 4), ("running", 0)].into(),
        };
        let text = snapshot.render(Some(ProcessCounters { skipped_runs: 5, run_in_progress: true }));
        assert_eq!(value(&text, "zoneaudit_last_run_success"), Some("1"));
        assert_eq!(value(&text, "zoneaudit_last_run_id"), Some("4"));
        assert_eq!(value(&text, "zoneaudit_last_run_duration_seconds"), Some("3"));
        assert_eq!(value(&text, "zoneaudit_last_run_start_timestamp_seconds"), Some("1795744800"));
        assert_eq!(value(&text, r#"zoneaudit_findings{severity="high"}"#), Some("2"));
        assert_eq!(value(&text, r#"zoneaudit_findings{severity="critical"}"#), Some("0"));
        assert_eq!(value(&text, r#"zoneaudit_findings_by_rule{rule="ZI-SESSION-DOWN"}"#), Some("0"));
        assert_eq!(value(&text, r#"zoneaudit_source_up{source="fw \"core\"",kind="panos"}"#), Some("0"));
        assert_eq!(value(&text, r#"zoneaudit_source_up{source="calico",kind="calico"}"#), Some("1"));
        assert_eq!(value(&text, "zoneaudit_alert_outbox_pending"), Some("3"));
        assert_eq!(value(&text, "zoneaudit_scheduled_runs_skipped_total"), Some("5"));
        assert_eq!(value(&text, r#"zoneaudit_runs_total{status="complete"}"#), Some("4"));
        assert!(text.contains("# TYPE zoneaudit_runs_total counter\n"), "{text}");
        assert!(text.contains(r#"zoneaudit_build_info{version=""#), "{text}");
        // Every family once, HELP then TYPE, and its samples right after.
        let mut seen = std::collections::BTreeSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                current = rest.split(' ').next().unwrap().to_string();
                assert!(seen.insert(current.clone()), "{current} twice");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert!(rest.starts_with(&format!("{current} ")), "{line}");
            } else {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, current, "{line} outside its family");
            }
        }
    }

    #[test]
    fn incomplete_evidence_or_an_interrupted_run_is_not_a_success() {
        let gaps =
            Snapshot { last_run: Some(run(2, RunStatus::Complete, Some(false))), ..Default::default() };
        assert_eq!(value(&gaps.render(None), "zoneaudit_last_run_success"), Some("0"));
        let crashed =
            Snapshot { last_run: Some(run(3, RunStatus::Incomplete, Some(false))), ..Default::default() };
        let text = crashed.render(None);
        assert_eq!(value(&text, "zoneaudit_last_run_success"), Some("0"));
        assert_eq!(value(&text, "zoneaudit_last_run_duration_seconds"), None, "no end, no duration");
        assert!(!text.contains("zoneaudit_scheduled_runs_skipped_total"), "serve-only metric in a textfile");
    }

    #[test]
    fn an_empty_database_has_families_but_no_last_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("z.db")).unwrap();
        let file = dir.path().join("zoneaudit.prom");
        write_textfile(&file, &store).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.ends_with('\n'));
        assert!(text.contains("# TYPE zoneaudit_last_run_success gauge\n"), "{text}");
        assert_eq!(value(&text, "zoneaudit_last_run_success"), None);
        assert_eq!(value(&text, r#"zoneaudit_runs_total{status="complete"}"#), Some("0"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".zoneaudit-metrics"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
