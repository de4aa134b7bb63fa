//! The nightly job, stage by stage:
//!
//! ```text
//! begin run ─▶ collect each source ─▶ store payloads + facts ─▶ evaluate rule packs
//!          ─▶ drift vs previous run ─▶ sign report (chained) ─▶ write .dsse.json + .md ─▶ finish run
//! ```
//!
//! Every stage commits before the next starts, so a crash at any point leaves the earlier runs
//! untouched and this run `running` in the database, which the next open marks `incomplete`.
//! Each source is stored as soon as it is collected and its raw payloads are dropped then: the
//! run holds every source's facts, but only a few sources' bytes at a time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::collect::gather::{CursorBook, Gathered, gather_incremental, reads_incrementally, spawn_gather};
use crate::collect::record::record;
use crate::collect::replay::Collected;
use crate::config::Settings;
use crate::evidence::keys::SigningKey;
use crate::evidence::report::{
    Drift, RulePackRef as ReportPackRef, RunReport, Summary, ToolInfo, sign_report,
};
use crate::model::{Facts, Finding, RuleResult, Severity, SourceRun, SourceStatus};
use crate::rules::{self, AuditInput, LoadedPack};
use crate::store::{FileCursor, RunStatus, Store};

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    RulePack(#[from] rules::RulePackError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error("{path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(transparent)]
    Record(#[from] crate::collect::record::RecordError),
}

/// What a finished run looked like, for the CLI and the demo.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
    pub sources: Vec<SourceRun>,
    pub results: Vec<RuleResult>,
    pub findings: Vec<Finding>,
    pub new: Vec<Finding>,
    pub resolved: Vec<Finding>,
    pub persisting: Vec<Finding>,
    pub evidence_complete: bool,
    pub report_file: Option<PathBuf>,
    pub markdown_file: Option<PathBuf>,
    pub report_digest: Option<String>,
    /// Notifications this run queued (one per channel that had something to tell).
    pub alerts_queued: usize,
    /// What the delivery pass after the run did (all pending notifications, older ones included).
    pub delivery: Option<crate::alert::deliver::DeliveryReport>,
}

impl RunOutcome {
    /// Exit status per the CLI contract: 1 when a finding other than an evidence gap is at or
    /// above `fail_on`; else 3 when evidence is incomplete; else 0.
    pub fn exit_code(&self, fail_on: Severity) -> u8 {
        let violation = self.findings.iter().any(|f| f.severity >= fail_on && !is_evidence_gap(f));
        if violation {
            1
        } else if !self.evidence_complete {
            3
        } else {
            0
        }
    }
}

fn is_evidence_gap(f: &Finding) -> bool {
    f.rule_id == "ZI-EVIDENCE-GAP"
}

/// Where signed run reports go.
#[derive(Debug, Clone)]
pub struct ReportSink {
    pub dir: PathBuf,
}

pub struct RunOptions<'a> {
    /// The run's start time (the demo uses the night's date; a real run, now).
    pub started_at: DateTime<Utc>,
    /// Only these sources (empty: all).
    pub only_sources: &'a [String],
    /// Also write every payload in replay form, with a replay config, into this directory.
    pub record: Option<&'a Path>,
    /// `None`: snapshot only (`collect`), no evaluation and no report.
    pub evaluate: Option<(&'a SigningKey, &'a ReportSink)>,
}

/// Run the job: collect, store, and (unless snapshot-only) evaluate, sign and write the report.
pub async fn run(
    settings: &Settings,
    store: &mut Store,
    opts: RunOptions<'_>,
) -> Result<RunOutcome, PipelineError> {
    // Rule packs are loaded before anything is written: a broken pack is a config error, not a run.
    let packs = match opts.evaluate {
        Some(_) => rules::load_packs(&settings.rule_packs)?,
        None => Vec::new(),
    };
    // Elapsed time, not the wall clock, ends the run: a replayed night keeps its own timeline.
    let clock = std::time::Instant::now();
    let finished = || opts.started_at + chrono::Duration::from_std(clock.elapsed()).unwrap_or_default();
    // What had already drifted from the baseline at the previous run, worked out before this run's
    // facts are in memory: the previous run's facts and this run's never need to be held together.
    let earlier_drift = match opts.evaluate {
        Some(_) => drift_before(store, settings)?,
        None => None,
    };
    let run_id = store.begin_run(&settings.cluster, opts.started_at, &settings.digest, TOOL_VERSION)?;
    // Firewall logs are read incrementally: only what earlier recorded runs did not ingest.
    let mut prior = CursorBook::new();
    for s in settings.sources.iter().filter(|s| reads_incrementally(s)) {
        prior.insert(s.name.clone(), store.get_cursors(&s.name)?);
    }
    let mut kept = Kept::default();
    match opts.record {
        // A recording needs every payload at once, and is written before anything is stored.
        Some(dir) => {
            let Gathered { collected, mut cursors } =
                gather_incremental(settings, opts.only_sources, &prior).await;
            let config = record(dir, settings, &collected)?;
            tracing::info!(config = %config.display(), "recorded the collection for replay");
            for c in collected {
                let cursors = cursors.remove(&c.run.name);
                kept.store(store, run_id, c, cursors)?;
            }
        }
        None => {
            let (mut each, task) =
                spawn_gather(Arc::new(settings.clone()), opts.only_sources.to_vec(), prior);
            while let Some((c, cursors)) = each.recv().await {
                kept.store(store, run_id, c, cursors)?;
            }
            if let Err(e) = task.await
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    let Kept { facts, sources } = kept;
    let evidence_complete = sources.iter().all(|s| s.status == SourceStatus::Ok);
    let Some((key, sink)) = opts.evaluate else {
        store.finish_run(run_id, finished(), RunStatus::Complete, evidence_complete)?;
        return Ok(RunOutcome {
            run_id,
            started_at: opts.started_at,
            sources,
            results: Vec::new(),
            findings: Vec::new(),
            new: Vec::new(),
            resolved: Vec::new(),
            persisting: Vec::new(),
            evidence_complete,
            report_file: None,
            markdown_file: None,
            report_digest: None,
            alerts_queued: 0,
            delivery: None,
        });
    };
    let evaluation = rules::evaluate(
        &packs,
        &AuditInput { settings, facts: &facts, sources: &sources, now: opts.started_at },
    );
    let previous = previous_findings(store, run_id)?;
    let (new, resolved, persisting) = drift(&previous, &evaluation.findings);
    // Drift is judged on the run's topology, not its facts: they go before the baseline is loaded.
    let topology = earlier_drift.as_ref().map(|_| crate::alert::drift::topology(&facts, settings));
    drop(facts);
    let messages = alert_messages(
        store,
        settings,
        &AlertInput {
            run_id,
            started_at: opts.started_at,
            topology: topology.as_deref(),
            results: &evaluation.results,
            evidence_complete,
            new: &new,
            resolved: &resolved,
            persisting: &persisting,
            earlier_drift: earlier_drift.as_ref(),
        },
    )?;
    // Findings and the notifications about them commit together: never one without the other.
    store.record_evaluation_with_alerts(run_id, &evaluation.results, &evaluation.findings, &messages)?;
    let finished_at = finished();
    let report = RunReport {
        schema: crate::evidence::report::SCHEMA.to_string(),
        run_id,
        cluster: settings.cluster.clone(),
        started_at: opts.started_at,
        finished_at,
        tool: ToolInfo::this_build(),
        config_digest: settings.digest.clone(),
        rule_packs: pack_refs(&packs),
        sources: sources.clone(),
        results: evaluation.results.clone(),
        findings: evaluation.findings.clone(),
        drift: Drift {
            new: new.iter().map(|f| f.fingerprint.clone()).collect(),
            resolved: resolved.iter().map(|f| f.fingerprint.clone()).collect(),
            persisting: persisting.iter().map(|f| f.fingerprint.clone()).collect(),
        },
        summary: Summary::of(&sources, &evaluation.results, &evaluation.findings),
        previous_report: store.previous_report_digest(run_id)?,
    };
    let signed = sign_report(&report, key)?;
    let markdown = crate::evidence::markdown::render_run(&report);
    let stem = format!("run-{run_id:06}-{}", opts.started_at.format("%Y%m%dT%H%M%SZ"));
    let report_file = sink.dir.join(format!("{stem}.dsse.json"));
    let markdown_file = sink.dir.join(format!("{stem}.md"));
    write_file(&report_file, &signed.json)?;
    write_file(&markdown_file, markdown.as_bytes())?;
    store.record_report(run_id, &signed.digest, &signed.json, &markdown)?;
    store.finish_run(run_id, finished_at, RunStatus::Complete, evidence_complete)?;
    // Delivery comes after the run is recorded: a receiver that is down costs a retry later, never
    // the evidence. Older pending notifications go out too.
    let delivery = if settings.alerts.channels.is_empty() && messages.is_empty() {
        None
    } else {
        Some(crate::alert::deliver::deliver_pending(store, &settings.alerts).await?)
    };
    Ok(RunOutcome {
        run_id,
        started_at: opts.started_at,
        sources,
        results: evaluation.results,
        findings: evaluation.findings,
        new,
        resolved,
        persisting,
        evidence_complete,
        report_file: Some(report_file),
        markdown_file: Some(markdown_file),
        report_digest: Some(signed.digest),
        alerts_queued: messages.len(),
        delivery,
    })
}

/// What a run keeps of its sources once they are stored: facts and source runs for evaluation,
/// not their raw payloads.
#[derive(Default)]
struct Kept {
    facts: Facts,
    sources: Vec<SourceRun>,
}

impl Kept {
    /// Store one source's payloads and facts, then drop its payloads: a large estate's raw bytes
    /// are held a few sources at a time, never all together.
    fn store(
        &mut self,
        store: &mut Store,
        run_id: i64,
        collected: Collected,
        cursors: Option<Vec<FileCursor>>,
    ) -> Result<(), PipelineError> {
        let Collected { run, facts, payloads } = collected;
        // Each payload's bytes go as soon as they are stored.
        for p in payloads {
            store.put_payload(&p.bytes)?;
        }
        // Cursors advance in the same transaction as the source run: a run that dies earlier
        // leaves them where they were, so its lines are read again, never lost or doubled.
        match cursors {
            Some(c) => store.record_source_with_cursors(run_id, &run, &facts, &c)?,
            None => store.record_source(run_id, &run, &facts)?,
        }
        log_source(&run);
        self.facts.extend(facts);
        self.sources.push(run);
        Ok(())
    }
}

/// What [`alert_messages`] needs of the run.
struct AlertInput<'a> {
    run_id: i64,
    started_at: DateTime<Utc>,
    /// This run's topology, when there is a baseline to compare it with and channels to tell.
    topology: Option<&'a [crate::alert::drift::TopologyItem]>,
    results: &'a [RuleResult],
    evidence_complete: bool,
    new: &'a [Finding],
    resolved: &'a [Finding],
    persisting: &'a [Finding],
    /// Drift from the baseline as the previous complete run saw it ([`drift_before`]).
    earlier_drift: Option<&'a DriftKeys>,
}

/// The keys of the items that had appeared and vanished against the baseline: enough to tell this
/// run's drift from drift already told.
#[derive(Debug, Default)]
struct DriftKeys {
    appeared: BTreeSet<String>,
    vanished: BTreeSet<String>,
}

/// Drift of the latest complete run against the accepted baseline, when alerts would use it.
fn drift_before(store: &Store, settings: &Settings) -> Result<Option<DriftKeys>, PipelineError> {
    use crate::alert::drift;
    if settings.alerts.channels.is_empty() {
        return Ok(None);
    }
    if !store.has_baseline()? {
        return Ok(None);
    }
    let Some(previous) = store.latest_complete_run()? else { return Ok(Some(DriftKeys::default())) };
    // The previous run's facts are dropped once its topology is built, before the baseline's items
    // are loaded: on a large estate each of the three is hundreds of megabytes.
    let items = drift::topology(&store.facts(previous.id)?, settings);
    let Some(baseline) = store.baseline()? else { return Ok(None) };
    let before = drift::compare(&baseline.items, &items);
    let keys = |items: Vec<drift::TopologyItem>| items.into_iter().map(|i| i.key).collect();
    Ok(Some(DriftKeys { appeared: keys(before.appeared), vanished: keys(before.vanished) }))
}

/// The run's notifications, one per channel with something to tell. A finding counts as resolved
/// only when this run evaluated its rule on complete evidence: a source that failed hides findings,
/// it does not fix them.
fn alert_messages(
    store: &Store,
    settings: &Settings,
    run: &AlertInput<'_>,
) -> Result<Vec<crate::alert::AlertMessage>, PipelineError> {
    use crate::alert::{drift, route};
    if settings.alerts.channels.is_empty() {
        return Ok(Vec::new());
    }
    let history: std::collections::HashMap<String, crate::store::FindingHistory> =
        store.finding_history()?.into_iter().map(|h| (h.fingerprint.clone(), h)).collect();
    let evaluated = |rule: &str| {
        run.results.iter().any(|r| {
            r.rule_id == rule
                && matches!(r.status, crate::model::RuleStatus::Pass | crate::model::RuleStatus::Fail)
        })
    };
    let resolved: Vec<route::ResolvedFinding> = run
        .resolved
        .iter()
        .filter(|f| run.evidence_complete && evaluated(&f.rule_id))
        .map(|f| route::ResolvedFinding {
            finding: f.clone(),
            last_seen: history.get(&f.fingerprint).map_or(run.started_at, |h| h.last_seen_at),
        })
        .collect();
    let open: Vec<route::OpenFinding<'_>> = run
        .persisting
        .iter()
        .map(|f| route::OpenFinding {
            finding: f,
            first_seen: history.get(&f.fingerprint).map_or(run.started_at, |h| h.first_seen_at),
        })
        .collect();
    let baseline = match (run.topology, run.earlier_drift) {
        (Some(items), Some(before)) => store.baseline()?.map(|b| (b, items, before)),
        _ => None,
    };
    let topology_drift = match baseline {
        Some((baseline, items, before)) => {
            let mut now = drift::compare(&baseline.items, items);
            if !run.evidence_complete {
                // A source that failed delivered none of its sessions and prefixes: they are
                // unseen, not gone.
                now.vanished.clear();
            }
            Some(newly_drifted(now, before))
        }
        None => None,
    };
    let changes = route::RunChanges {
        cluster: &settings.cluster,
        run_id: run.run_id,
        run_started_at: run.started_at,
        new: run.new.iter().collect(),
        resolved,
        open,
        drift: topology_drift.as_ref(),
    };
    let last_notified = |channel: &str, key: &str| store.last_notified(channel, key).ok().flatten();
    Ok(route::messages(&changes, &settings.alerts, &last_notified, run.started_at))
}

fn log_source(run: &SourceRun) {
    match run.status {
        SourceStatus::Ok => tracing::info!(source = %run.name, status = "ok", "collected"),
        _ => tracing::warn!(
            source = %run.name,
            status = run.status.as_str(),
            error = run.error.as_deref().unwrap_or(""),
            "source incomplete"
        ),
    }
}

/// Drift against the baseline that the previous run did not already show: told once, when it
/// appears, not every night it persists.
fn newly_drifted(
    now: crate::alert::drift::TopologyDrift,
    before: &DriftKeys,
) -> crate::alert::drift::TopologyDrift {
    crate::alert::drift::TopologyDrift {
        appeared: now.appeared.into_iter().filter(|i| !before.appeared.contains(&i.key)).collect(),
        vanished: now.vanished.into_iter().filter(|i| !before.vanished.contains(&i.key)).collect(),
    }
}

/// Findings of the newest complete, evaluated run before this one.
fn previous_findings(store: &Store, run_id: i64) -> Result<Vec<Finding>, PipelineError> {
    let previous = store.runs()?.into_iter().rev().find(|r| r.id < run_id && r.status == RunStatus::Complete);
    match previous {
        Some(r) => Ok(store.findings(r.id)?),
        None => Ok(Vec::new()),
    }
}

/// New, resolved and persisting findings, by fingerprint.
pub fn drift(previous: &[Finding], current: &[Finding]) -> (Vec<Finding>, Vec<Finding>, Vec<Finding>) {
    let before: BTreeSet<&str> = previous.iter().map(|f| f.fingerprint.as_str()).collect();
    let now: BTreeSet<&str> = current.iter().map(|f| f.fingerprint.as_str()).collect();
    let new = current.iter().filter(|f| !before.contains(f.fingerprint.as_str())).cloned().collect();
    let persisting = current.iter().filter(|f| before.contains(f.fingerprint.as_str())).cloned().collect();
    let resolved = previous.iter().filter(|f| !now.contains(f.fingerprint.as_str())).cloned().collect();
    (new, resolved, persisting)
}

fn pack_refs(packs: &[LoadedPack]) -> Vec<ReportPackRef> {
    packs
        .iter()
        .map(|p| ReportPackRef {
            name: p.pack.name.clone(),
            version: p.pack.version.clone(),
            digest: p.digest.clone(),
        })
        .collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PipelineError> {
    let err = |source| PipelineError::Write { path: path.display().to_string(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // Write then rename: a report file is either whole or absent.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
