//! The report chain as the database holds it: every run's signed report, checked in run order, and
//! the evidence those reports cite, checked against the stored payloads (`verify --chain`).
//!
//! ```text
//!  runs (by id) ──▶ report envelope bytes ──open_exact──▶ signature verdict (keyid) + RunReport
//!                                                    └──▶ chain: previousReport = digest of the nearest
//!                                                         earlier run that has a report (None for the first)
//!  RunReport ──▶ sources[].payloads[].sha256, findings[].evidence[].payload
//!                  └──▶ payloads row ──inflate + SHA-256──▶ intact | missing | mismatched
//!  RunReport ◀── compare ──▶ the run's rows (cluster, start, config, findings, evidence, results, sources)
//! ```
//!
//! A run without a report (it crashed, failed before signing, or only collected) is `missing`, not a
//! break: the next report links to the last one that exists, which is exactly what the pipeline writes.
//! A report whose signature fails cannot vouch for its link either, so the next report is checked
//! against the digest the database recorded for it; nor can it vouch for evidence, so its evidence is
//! not counted. A payload cited by many runs (an unchanged source, night after night) is hashed once
//! and counted against every run that cites it.
//!
//! Retention (`runs prune`) deletes a prefix of the runs and leaves a signed tombstone naming the
//! last pruned report. The first stored report then names a digest the database no longer holds;
//! that is a valid link exactly when a tombstone whose signature verifies lists it as its last
//! pruned report ("chain: follows pruned run N"). A `previousReport` no tombstone accounts for
//! still fails, and tombstones link to each other (`previousTombstone`) so none can go unseen.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use super::keys::Keyring;
use super::period::{Check, Verification};
use super::report::RunReport;
use super::tombstone::{self, Tombstone};
use super::verify::open_exact;
use crate::store::{RunRow, RunStatus, Store, StoreError};

/// One run with the verdict on its signed report.
#[derive(Debug, Clone)]
pub struct RunVerdict {
    pub run: RunRow,
    pub verification: Verification,
    /// The report, when its signature verified.
    pub report: Option<RunReport>,
}

/// Check the signature and chain link of every run's report, oldest first.
pub fn verify_reports(store: &Store, keys: &Keyring) -> Result<Vec<RunVerdict>, StoreError> {
    let tombstones = verify_tombstones(store, keys)?;
    reports_after_tombstones(store, keys, &tombstones)
}

fn reports_after_tombstones(
    store: &Store,
    keys: &Keyring,
    tombstones: &[TombstoneVerdict],
) -> Result<Vec<RunVerdict>, StoreError> {
    let pruned = pruned_links(tombstones);
    let runs = store.runs()?;
    let reported: HashMap<String, i64> =
        runs.iter().filter_map(|r| r.report_digest.clone().map(|d| (d, r.id))).collect();
    let mut out = Vec::new();
    // The digest the chain must continue from: the last report's, as stored.
    let mut last_digest: Option<(i64, String)> = None;
    // Runs without a report since that one: where a removed report would have been.
    let mut unreported: Vec<i64> = Vec::new();
    for run in runs {
        let Some((stored_digest, envelope)) = store.report(run.id)? else {
            unreported.push(run.id);
            out.push(RunVerdict {
                verification: Verification {
                    signature: Check::Missing,
                    chain: Check::Missing,
                    keyid: None,
                    detail: format!("run {} has no report (status {})", run.id, run.status),
                },
                run,
                report: None,
            });
            continue;
        };
        let place = format!("report of run {}", run.id);
        let verdict = match open_exact(&place, &envelope, keys) {
            Err(e) => RunVerdict {
                verification: Verification {
                    signature: Check::Failed,
                    chain: Check::Failed,
                    keyid: None,
                    detail: e.to_string(),
                },
                run,
                report: None,
            },
            Ok((report, digest)) => {
                let keyid = signer(&envelope);
                let gap = Gap { unreported: &unreported, reported: &reported, pruned: &pruned };
                let (chain, detail) =
                    chain_link(&run, &report, &digest, &stored_digest, last_digest.as_ref(), &gap);
                RunVerdict {
                    verification: Verification {
                        signature: Check::Ok,
                        chain,
                        keyid,
                        detail: format!("signature ok; {detail}"),
                    },
                    run,
                    report: Some(report),
                }
            }
        };
        last_digest = Some((verdict.run.id, stored_digest));
        unreported.clear();
        out.push(verdict);
    }
    Ok(out)
}

/// What lies between a report and the previous one, to say where a broken link points.
struct Gap<'a> {
    /// Runs without a report since the previous report.
    unreported: &'a [i64],
    /// Every stored report digest, with its run.
    reported: &'a HashMap<String, i64>,
    /// The last pruned report of every verified tombstone.
    pruned: &'a [PrunedLink],
}

impl Gap<'_> {
    /// The verified tombstone whose last pruned report is `previous_report`, for a run after it.
    fn follows_pruned(&self, previous_report: &str, run: i64) -> Option<&PrunedLink> {
        self.pruned.iter().find(|l| l.digest == previous_report && l.last_run < run)
    }

    fn explain(&self, previous_report: &str) -> String {
        let mut out = match self.reported.get(previous_report) {
            Some(run) => format!("; it is the digest of the report of run {run}"),
            None => "; no report in the database has that digest".to_string(),
        };
        if !self.unreported.is_empty() {
            let verb = if self.unreported.len() == 1 { "has" } else { "have" };
            out.push_str(&format!(
                "; {} before it {verb} no report (removed?)",
                runs_phrase(self.unreported)
            ));
        }
        out
    }
}

fn chain_link(
    run: &RunRow,
    report: &RunReport,
    digest: &str,
    stored_digest: &str,
    previous: Option<&(i64, String)>,
    gap: &Gap<'_>,
) -> (Check, String) {
    if digest != stored_digest {
        return (
            Check::Failed,
            format!(
                "chain: the database records digest {stored_digest} for run {}, the report is {digest}",
                run.id
            ),
        );
    }
    if report.run_id != run.id {
        return (
            Check::Failed,
            format!("chain: the report is of run {}, stored under run {}", report.run_id, run.id),
        );
    }
    // The first stored report after pruned runs links into the tombstone.
    if let (Some(p), None) = (report.previous_report.as_deref(), previous)
        && let Some(l) = gap.follows_pruned(p, run.id)
    {
        return (Check::Ok, format!("chain: follows pruned run {} ({})", l.report_run, l.tombstone));
    }
    match (report.previous_report.as_deref(), previous) {
        (None, None) => match gap.pruned.iter().rfind(|l| l.last_run < run.id) {
            Some(l) => (
                Check::Failed,
                format!(
                    "chain: no previous report recorded, but the {} lists pruned report {} of run {} before it",
                    l.tombstone, l.digest, l.report_run
                ),
            ),
            None => (Check::Ok, "chain: first report".to_string()),
        },
        (None, Some((id, _))) => (
            Check::Failed,
            format!("chain: no previous report recorded, but run {id} has a report before it"),
        ),
        (Some(p), Some((id, d))) if p == d => (Check::Ok, format!("chain: follows run {id}")),
        (Some(p), Some((id, d))) => (
            Check::Failed,
            format!("chain: previousReport {p} is not the digest of run {id} ({d}){}", gap.explain(p)),
        ),
        (Some(p), None) => (
            Check::Failed,
            format!(
                "chain: previousReport {p} names a report the database does not hold (pruned or removed){}",
                gap.explain(p)
            ),
        ),
    }
}

/// The keyid of the first signature, for the record (the signature itself was checked by `open_exact`).
fn signer(envelope: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(envelope).ok()?;
    value.pointer("/signatures/0/keyid")?.as_str().map(str::to_string)
}

/// How many evidence digests were checked against the stored payloads, and how many failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceTally {
    pub checked: u64,
    pub missing: u64,
    pub mismatched: u64,
}

impl EvidenceTally {
    fn count(&mut self, state: &PayloadState) {
        self.checked += 1;
        match state {
            PayloadState::Intact => {}
            PayloadState::Missing => self.missing += 1,
            PayloadState::Mismatched(_) => self.mismatched += 1,
        }
    }
}

/// One line of `verify --chain`: a run, its report's verdict, and what its evidence and rows say.
#[derive(Debug, Clone)]
pub struct RunLine {
    pub verdict: RunVerdict,
    /// The distinct digests the report cites; `None` when there is no report whose signature verified.
    pub evidence: Option<EvidenceTally>,
    /// Missing or mismatched evidence payloads, and database rows that contradict the report.
    pub problems: Vec<String>,
}

impl RunLine {
    /// Nothing failed. A run without a report is not a failure: there is nothing to tamper with.
    pub fn ok(&self) -> bool {
        let v = &self.verdict.verification;
        v.signature != Check::Failed && v.chain != Check::Failed && self.problems.is_empty()
    }

    pub fn has_report(&self) -> bool {
        self.verdict.verification.signature != Check::Missing
    }
}

/// The sums of a [`ChainVerdict`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainTotals {
    pub runs: usize,
    /// Runs with a report whose signature, chain link, evidence and rows all check.
    pub verified: usize,
    /// Runs with a report that does not check.
    pub failed: Vec<i64>,
    pub without_report: usize,
    /// Distinct evidence payloads over all runs (each hashed once).
    pub payloads: EvidenceTally,
    /// Every keyid that signed a verified report, with the runs it signed, in order of first use.
    pub keys: Vec<(String, Vec<i64>)>,
    /// Tombstones of pruned runs.
    pub tombstones: usize,
    /// The first run of each tombstone that does not verify or link.
    pub tombstones_failed: Vec<i64>,
}

/// The verdict of `verify --chain` over a whole database.
#[derive(Debug, Clone)]
pub struct ChainVerdict {
    pub database: PathBuf,
    /// What retention pruned, oldest first (empty when nothing was ever pruned).
    pub tombstones: Vec<TombstoneVerdict>,
    pub runs: Vec<RunLine>,
    pub totals: ChainTotals,
}

impl ChainVerdict {
    /// Every tombstone and report verifies and links, every report cites only intact payloads and
    /// agrees with its rows.
    pub fn ok(&self) -> bool {
        self.tombstones.iter().all(|t| t.ok()) && self.runs.iter().all(RunLine::ok)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PayloadState {
    Intact,
    Missing,
    Mismatched(String),
}

/// `verify --chain`: signatures, exact form and chain of every report (see [`verify_reports`]), the
/// evidence payloads every verified report cites, and the run rows against the report.
pub fn verify_store(store: &Store, keys: &Keyring) -> Result<ChainVerdict, StoreError> {
    let tombstones = verify_tombstones(store, keys)?;
    let verdicts = reports_after_tombstones(store, keys, &tombstones)?;
    let mut payloads: HashMap<String, PayloadState> = HashMap::new();
    let mut runs = Vec::with_capacity(verdicts.len());
    for verdict in verdicts {
        let (evidence, problems) = match &verdict.report {
            None => (None, Vec::new()),
            Some(report) => {
                let (tally, mut problems) = check_evidence(store, report, &mut payloads)?;
                problems.extend(check_rows(store, &verdict.run, report)?);
                (Some(tally), problems)
            }
        };
        runs.push(RunLine { verdict, evidence, problems });
    }
    let mut totals = totals(&runs, payloads.values());
    totals.tombstones = tombstones.len();
    totals.tombstones_failed = tombstones.iter().filter(|t| !t.ok()).map(|t| t.first_run).collect();
    Ok(ChainVerdict { database: store.path().to_path_buf(), tombstones, runs, totals })
}

/// At most this many digests are named per run; the counts say how many there are.
const NAMED_PER_RUN: usize = 3;

fn check_evidence(
    store: &Store,
    report: &RunReport,
    cache: &mut HashMap<String, PayloadState>,
) -> Result<(EvidenceTally, Vec<String>), StoreError> {
    let cited: BTreeSet<&str> = report
        .sources
        .iter()
        .flat_map(|s| s.payloads.iter().map(|p| p.sha256.as_str()))
        .chain(report.findings.iter().flat_map(|f| f.evidence.iter().map(|e| e.payload.as_str())))
        .filter(|d| !d.is_empty())
        .collect();
    let mut tally = EvidenceTally::default();
    let mut bad = Vec::new();
    for digest in cited {
        let state = match cache.get(digest) {
            Some(state) => state.clone(),
            None => {
                let check = store.payload_digest_check(digest)?;
                let state = match (check.is_missing(), check.mismatch()) {
                    (true, _) => PayloadState::Missing,
                    (false, Some(detail)) => PayloadState::Mismatched(detail.to_string()),
                    (false, None) => PayloadState::Intact,
                };
                cache.insert(digest.to_string(), state.clone());
                state
            }
        };
        tally.count(&state);
        match state {
            PayloadState::Intact => {}
            PayloadState::Missing => bad.push(format!("evidence payload {digest} is not stored")),
            PayloadState::Mismatched(detail) => {
                bad.push(format!("evidence payload {digest} does not match its digest: {detail}"))
            }
        }
    }
    if bad.len() > NAMED_PER_RUN {
        let more = bad.len() - NAMED_PER_RUN;
        bad.truncate(NAMED_PER_RUN);
        bad.push(format!("{more} more evidence payloads missing or mismatched"));
    }
    Ok((tally, bad))
}

/// The cheap cross-checks: what the run's rows say against what its signed report says. A run that
/// did not finish normally has no reliable final row values (`evidence_complete` is reset when an
/// orphaned run is marked incomplete), so only a complete run's completeness is compared.
fn check_rows(store: &Store, run: &RunRow, report: &RunReport) -> Result<Vec<String>, StoreError> {
    let rows = store.run_rows(run.id)?;
    let mut problems = Vec::new();
    let mut compare = |what: &str, database: String, signed: String| {
        if database != signed {
            problems.push(format!("database {what}: {database}, report: {signed}"));
        }
    };
    compare("cluster", run.cluster.clone(), report.cluster.clone());
    compare("start", time(&run.started_at), time(&report.started_at));
    compare("config digest", run.config_digest.clone(), report.config_digest.clone());
    compare("tool version", run.tool_version.clone(), report.tool.version.clone());
    compare("findings", rows.fingerprints.len().to_string(), report.findings.len().to_string());
    let evidence: usize = report.findings.iter().map(|f| f.evidence.len()).sum();
    compare("evidence items", rows.evidence.to_string(), evidence.to_string());
    compare("rule results", rows.rule_results.to_string(), report.results.len().to_string());
    let mut sources: Vec<&str> = report.sources.iter().map(|s| s.name.as_str()).collect();
    sources.sort_unstable();
    compare("sources", rows.sources.join(","), sources.join(","));
    if run.status == RunStatus::Complete {
        let database = run.evidence_complete.map_or("unknown".to_string(), |c| c.to_string());
        compare("evidence complete", database, report.summary.evidence_complete.to_string());
    }
    if rows.fingerprints.len() == report.findings.len() {
        let mut signed: Vec<&str> = report.findings.iter().map(|f| f.fingerprint.as_str()).collect();
        signed.sort_unstable();
        if rows.fingerprints.iter().map(String::as_str).ne(signed.iter().copied()) {
            problems.push("database finding fingerprints differ from the report's".to_string());
        }
    }
    Ok(problems)
}

fn totals<'a>(runs: &[RunLine], payloads: impl Iterator<Item = &'a PayloadState>) -> ChainTotals {
    let mut totals = ChainTotals { runs: runs.len(), ..ChainTotals::default() };
    for state in payloads {
        totals.payloads.count(state);
    }
    for line in runs {
        let id = line.verdict.run.id;
        match (line.has_report(), line.ok()) {
            (false, _) => totals.without_report += 1,
            (true, true) => totals.verified += 1,
            (true, false) => totals.failed.push(id),
        }
        if let Some(keyid) = &line.verdict.verification.keyid {
            match totals.keys.iter_mut().find(|(k, _)| k == keyid) {
                Some((_, signed)) => signed.push(id),
                None => totals.keys.push((keyid.clone(), vec![id])),
            }
        }
    }
    totals
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `run 3`, `runs 2, 3, 4` (as ranges: `runs 2-4, 7`).
fn runs_phrase(ids: &[i64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { ids[i].to_string() } else { format!("{}-{}", ids[i], ids[j]) });
        i = j + 1;
    }
    let noun = if ids.len() == 1 { "run" } else { "runs" };
    format!("{noun} {}", parts.join(", "))
}

/// Text that came from the database or a report file is shown on a terminal: control characters
/// (a newline forging a table line, an escape sequence) are shown escaped, never interpreted.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// `sha256:` and the first 12 hex digits: enough to tell keys apart in a column; the final line
/// gives them in full.
fn short_keyid(keyid: &str) -> String {
    printable(&keyid.chars().take("sha256:".len() + 12).collect::<String>())
}

/// A table of whole lines, each ending in a newline (the last one too): print it with `print!`.
impl fmt::Display for ChainVerdict {
    /// ```text
    ///    RUN  STARTED               STATUS      SIGNATURE  CHAIN    KEYID                CHECKED  MISSING  MISMATCHED  DETAIL
    ///      1  2026-11-24T02:00:00Z  complete    ok         ok       sha256:3f1a2b4c5d6e       38        0           0  chain: first report
    ///      2  2026-11-25T02:00:00Z  incomplete  missing    missing  -                          -        -           -  run 2 has no report (status incomplete)
    /// chain OK: 2 runs, 1 report verified, 0 failed, 1 run without a report; evidence payloads: 38 checked, 0 missing, 0 mismatched; keys: sha256:… (run 1)
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>6}  {:<20}  {:<10}  {:<9}  {:<7}  {:<19}  {:>7}  {:>7}  {:>10}  DETAIL",
            "RUN", "STARTED", "STATUS", "SIGNATURE", "CHAIN", "KEYID", "CHECKED", "MISSING", "MISMATCHED"
        )?;
        for tombstone in &self.tombstones {
            writeln!(f, "{tombstone}")?;
        }
        for line in &self.runs {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "{}", self.totals)
    }
}

impl fmt::Display for RunLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.verdict.verification;
        let run = &self.verdict.run;
        let keyid = v.keyid.as_deref().map_or("-".to_string(), short_keyid);
        let [checked, missing, mismatched] = match self.evidence {
            Some(t) => [t.checked, t.missing, t.mismatched].map(|n| n.to_string()),
            None => ["-", "-", "-"].map(str::to_string),
        };
        // The columns already say the signature is ok.
        let detail = v.detail.strip_prefix("signature ok; ").unwrap_or(&v.detail);
        let detail =
            std::iter::once(detail).chain(self.problems.iter().map(String::as_str)).collect::<Vec<_>>();
        write!(
            f,
            "{:>6}  {:<20}  {:<10}  {:<9}  {:<7}  {:<19}  {:>7}  {:>7}  {:>10}  {}",
            run.id,
            time(&run.started_at),
            run.status.as_str(),
            v.signature.as_str(),
            v.chain.as_str(),
            keyid,
            checked,
            missing,
            mismatched,
            printable(&detail.join("; "))
        )
    }
}

impl fmt::Display for ChainTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict =
            if self.failed.is_empty() && self.tombstones_failed.is_empty() { "OK" } else { "FAILED" };
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let failed = if self.failed.is_empty() {
            "0 failed".to_string()
        } else {
            format!("{} failed ({})", self.failed.len(), runs_phrase(&self.failed))
        };
        write!(
            f,
            "chain {verdict}: {}, {} verified, {failed}, {}; evidence payloads: {} checked, {} missing, {} mismatched",
            plural(self.runs, "run", "runs"),
            plural(self.verified, "report", "reports"),
            plural(self.without_report, "run without a report", "runs without a report"),
            self.payloads.checked,
            self.payloads.missing,
            self.payloads.mismatched,
        )?;
        if self.tombstones > 0 {
            write!(
                f,
                "; {}: {} verified, {} failed",
                plural(self.tombstones, "tombstone", "tombstones"),
                self.tombstones - self.tombstones_failed.len(),
                self.tombstones_failed.len()
            )?;
        }
        if self.keys.is_empty() {
            return write!(f, "; no verified signature");
        }
        let keys: Vec<String> =
            self.keys.iter().map(|(k, runs)| format!("{} ({})", printable(k), runs_phrase(runs))).collect();
        write!(f, "; keys: {}", keys.join(", "))
    }
}

// ── tombstones (retention: `runs prune`, see store/prune.rs and tombstone.rs) ─────────────────

/// One stored tombstone and its verdict.
#[derive(Debug, Clone)]
pub struct TombstoneVerdict {
    pub id: i64,
    pub first_run: i64,
    pub last_run: i64,
    pub signature: Check,
    /// Its `previousTombstone` names the tombstone stored before it.
    pub chain: Check,
    pub keyid: Option<String>,
    /// The tombstone and its envelope payload digest, when its signature verified.
    pub tombstone: Option<(Tombstone, String)>,
    pub detail: String,
}

impl TombstoneVerdict {
    pub fn ok(&self) -> bool {
        self.signature == Check::Ok && self.chain == Check::Ok
    }
}

/// A verified tombstone's last pruned report: a digest a stored report may name as its previous one.
struct PrunedLink {
    digest: String,
    /// The pruned run that report was of.
    report_run: i64,
    /// The tombstone's last pruned run: only later runs may follow it.
    last_run: i64,
    /// `tombstone of runs 1-20 sha256:…` for the verdict.
    tombstone: String,
}

fn pruned_links(tombstones: &[TombstoneVerdict]) -> Vec<PrunedLink> {
    tombstones
        .iter()
        .filter(|v| v.signature == Check::Ok)
        .filter_map(|v| {
            let (t, envelope_digest) = v.tombstone.as_ref()?;
            let digest = t.last_pruned_report.clone()?;
            let report_run =
                t.runs.iter().rfind(|r| r.report_digest.as_deref() == Some(digest.as_str()))?.run_id;
            Some(PrunedLink {
                digest,
                report_run,
                last_run: t.last_run(),
                tombstone: format!("tombstone of runs {}-{} {envelope_digest}", t.first_run(), t.last_run()),
            })
        })
        .collect()
}

/// Every stored tombstone: its signature and exact form, that the database columns say what the
/// signed tombstone says, that it links to the tombstone before it, and that no run it names as
/// pruned is still stored.
pub fn verify_tombstones(store: &Store, keys: &Keyring) -> Result<Vec<TombstoneVerdict>, StoreError> {
    let stored_runs: BTreeSet<i64> = store.runs()?.iter().map(|r| r.id).collect();
    let mut previous: Option<String> = None;
    let mut out = Vec::new();
    for stored in store.tombstones()? {
        let place = format!("tombstone of runs {}-{}", stored.first_run, stored.last_run);
        let mut verdict = TombstoneVerdict {
            id: stored.id,
            first_run: stored.first_run,
            last_run: stored.last_run,
            signature: Check::Failed,
            chain: Check::Failed,
            keyid: None,
            tombstone: None,
            detail: String::new(),
        };
        match tombstone::open_tombstone(&place, &stored.envelope, keys) {
            Err(e) => verdict.detail = e.to_string(),
            Ok((t, digest)) => {
                verdict.signature = Check::Ok;
                verdict.keyid = signer(&stored.envelope);
                let mut problems = Vec::new();
                if digest != stored.digest {
                    problems.push(format!("the database records digest {}", stored.digest));
                }
                let columns = (stored.first_run, stored.last_run, stored.runs, stored.last_report.as_deref());
                let signed =
                    (t.first_run(), t.last_run(), t.runs.len() as u64, t.last_pruned_report.as_deref());
                if columns != signed {
                    problems.push("the database columns differ from the signed tombstone".to_string());
                }
                let still: Vec<i64> =
                    t.runs.iter().map(|r| r.run_id).filter(|id| stored_runs.contains(id)).collect();
                if !still.is_empty() {
                    problems.push(format!("{} it lists as pruned still stored", runs_phrase(&still)));
                }
                if t.previous_tombstone != previous {
                    problems.push(format!(
                        "previousTombstone {} is not the tombstone stored before it ({})",
                        t.previous_tombstone.as_deref().unwrap_or("null"),
                        previous.as_deref().unwrap_or("none")
                    ));
                }
                verdict.chain = if problems.is_empty() { Check::Ok } else { Check::Failed };
                let mut detail = vec![format!("signature ok; {}", tombstone::describe(&t))];
                detail.extend(problems);
                verdict.detail = detail.join("; ");
                verdict.tombstone = Some((t, digest));
            }
        }
        previous = Some(stored.digest);
        out.push(verdict);
    }
    Ok(out)
}

/// A row of the `verify --chain` table: the pruned run range in the RUN column, `pruned` as status.
impl fmt::Display for TombstoneVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let started = self.tombstone.as_ref().map_or("-".to_string(), |(t, _)| time(&t.pruned_at));
        // The columns already say the signature is ok.
        let detail = self.detail.strip_prefix("signature ok; ").unwrap_or(&self.detail);
        write!(
            f,
            "{:>6}  {:<20}  {:<10}  {:<9}  {:<7}  {:<19}  {:>7}  {:>7}  {:>10}  {}",
            format!("{}-{}", self.first_run, self.last_run),
            started,
            "pruned",
            self.signature.as_str(),
            self.chain.as_str(),
            self.keyid.as_deref().map_or("-".to_string(), short_keyid),
            "-",
            "-",
            "-",
            printable(detail)
        )
    }
}

// ── end of tombstones ────────────────────────────────────────────────────────────────────────────

#[cfg(test)]
mod tests {
    use std::io::Write;

    use chrono::TimeDelta;
    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;
    use crate::evidence::keys::{KeyPair, SigningKey};
    use crate::evidence::report::{sample, sign_report};
    use crate::evidence::tombstone;
    use crate::model::Facts;

    struct Db {
        _dir: tempfile::TempDir,
        path: PathBuf,
        store: Store,
    }

    fn db() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoneaudit.db");
        let store = Store::open(&path).unwrap();
        Db { _dir: dir, path, store }
    }

    /// The bytes run `night`'s finding cites: one payload per night, so damage to one is one run's.
    fn night_routes(night: i64) -> Vec<u8> {
        format!("leaf1 VRF YELLOW routes, night {night}\n10.20.1.0/26 via GREEN\n").into_bytes()
    }

    /// A complete run recorded the way the pipeline does (payloads, sources, evaluation, signed
    /// report chained to the previous one), signed by `key`.
    fn signed_run(store: &mut Store, night: i64, key: &SigningKey) -> i64 {
        let sample = sample::report(0, None);
        let started = sample.started_at + TimeDelta::days(night);
        let run =
            store.begin_run(&sample.cluster, started, &sample.config_digest, &sample.tool.version).unwrap();
        // The sample's calico payload is sha256("test").
        store.put_payload(b"test").unwrap();
        let evidence = store.put_payload(&night_routes(night)).unwrap();
        let mut report = sample::report(run, store.previous_report_digest(run).unwrap());
        report.started_at = started;
        report.finished_at = started + TimeDelta::minutes(1);
        report.sources[0].payloads[0].size = 4;
        report.findings[0].evidence[0].payload = evidence.into();
        for source in &report.sources {
            store.record_source(run, source, &Facts::default()).unwrap();
        }
        store.record_evaluation(run, &report.results, &report.findings).unwrap();
        let signed = sign_report(&report, key).unwrap();
        store.record_report(run, &signed.digest, &signed.json, "# report").unwrap();
        store
            .finish_run(run, report.finished_at, RunStatus::Complete, report.summary.evidence_complete)
            .unwrap();
        run
    }

    fn sql(db: &Db, statement: &str, params: impl rusqlite::Params) {
        rusqlite::Connection::open(&db.path).unwrap().execute(statement, params).unwrap();
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn line(verdict: &ChainVerdict, run: i64) -> &RunLine {
        verdict.runs.iter().find(|l| l.verdict.run.id == run).unwrap()
    }

    #[test]
    fn an_intact_chain_passes_with_every_evidence_digest_checked() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        for night in 1..=3 {
            signed_run(&mut db.store, night, &key.signing);
        }
        let verdict = verify_store(&db.store, &Keyring::new([key.public.clone()])).unwrap();
        assert!(verdict.ok(), "{verdict}");
        assert_eq!(verdict.database, db.path);
        for l in &verdict.runs {
            // The calico payload and that night's route payload.
            assert_eq!(l.evidence, Some(EvidenceTally { checked: 2, missing: 0, mismatched: 0 }), "{l}");
            assert!(l.problems.is_empty(), "{l}");
        }
        // The shared calico payload is one payload, not three.
        assert_eq!(verdict.totals.payloads, EvidenceTally { checked: 4, missing: 0, mismatched: 0 });
        assert_eq!(verdict.totals.keys, vec![(key.public.keyid().to_string(), vec![1, 2, 3])]);

        let text = verdict.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(text.ends_with(" (runs 1-3)\n"), "one whole line each, the last one too: {text:?}");
        assert!(
            lines[0].starts_with("   RUN  STARTED               STATUS      SIGNATURE  CHAIN    KEYID"),
            "{text}"
        );
        assert!(lines[0].ends_with("CHECKED  MISSING  MISMATCHED  DETAIL"), "{text}");
        let short = &key.public.keyid()[..19];
        assert_eq!(
            lines[2],
            format!(
                "     2  2024-07-18T02:00:00Z  complete    ok         ok       {short}        2        0           0  chain: follows run 1"
            )
        );
        assert_eq!(
            lines[4],
            format!(
                "chain OK: 3 runs, 3 reports verified, 0 failed, 0 runs without a report; evidence payloads: \
                 4 checked, 0 missing, 0 mismatched; keys: {} (runs 1-3)",
                key.public.keyid()
            )
        );
    }

    #[test]
    fn an_altered_payload_is_mismatched_for_the_run_that_cites_it() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        for night in 1..=3 {
            signed_run(&mut db.store, night, &key.signing);
        }
        let digest = crate::evidence::canonical::sha256_hex(&night_routes(2));
        let mut forged = night_routes(2);
        forged[0] = b'L';
        sql(&db, "UPDATE payloads SET zlib = ?1 WHERE sha256 = ?2", rusqlite::params![zlib(&forged), digest]);

        let verdict = verify_store(&db.store, &Keyring::new([key.public.clone()])).unwrap();
        assert!(!verdict.ok(), "{verdict}");
        let run2 = line(&verdict, 2);
        assert_eq!(run2.evidence, Some(EvidenceTally { checked: 2, missing: 0, mismatched: 1 }));
        assert_eq!(
            run2.problems,
            [format!(
                "evidence payload {digest} does not match its digest: content hashes to {}",
                crate::evidence::canonical::sha256_hex(&forged)
            )]
        );
        // Signature and chain are intact: the report is genuine, the database is not.
        assert!(run2.verdict.verification.trusted());
        assert!(line(&verdict, 1).ok() && line(&verdict, 3).ok(), "{verdict}");
        assert_eq!(verdict.totals.failed, [2]);
        let text = verdict.to_string();
        assert!(
            text.lines()
                .nth(2)
                .unwrap()
                .contains("       2        0           1  chain: follows run 1; evidence payload"),
            "{text}"
        );
        assert!(
            text.ends_with(" (runs 1-3)\n")
                && text
                    .lines()
                    .last()
                    .unwrap()
                    .starts_with("chain FAILED: 3 runs, 2 reports verified, 1 failed (run 2), "),
            "{text}"
        );
        assert!(text.contains("4 checked, 0 missing, 1 mismatched"), "{text}");

        // A payload row that is gone altogether: a hand edit with foreign keys off.
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute("DELETE FROM payloads WHERE sha256 = ?1", [&digest]).unwrap();
        let verdict = verify_store(&db.store, &Keyring::new([key.public.clone()])).unwrap();
        let run2 = line(&verdict, 2);
        assert_eq!(run2.evidence, Some(EvidenceTally { checked: 2, missing: 1, mismatched: 0 }));
        assert_eq!(run2.problems, [format!("evidence payload {digest} is not stored")]);
    }

    #[test]
    fn a_report_deleted_in_the_middle_breaks_the_chain_and_names_the_runs() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        for night in 1..=3 {
            signed_run(&mut db.store, night, &key.signing);
        }
        sql(&db, "DELETE FROM reports WHERE run_id = 2", []);
        let verdict = verify_store(&db.store, &Keyring::new([key.public])).unwrap();
        assert!(!verdict.ok(), "{verdict}");
        assert!(line(&verdict, 1).ok());
        let run2 = line(&verdict, 2);
        assert!(run2.ok() && !run2.has_report() && run2.evidence.is_none());
        assert_eq!(run2.verdict.verification.detail, "run 2 has no report (status complete)");
        let run3 = line(&verdict, 3);
        assert_eq!(run3.verdict.verification.signature, Check::Ok);
        assert_eq!(run3.verdict.verification.chain, Check::Failed);
        let detail = &run3.verdict.verification.detail;
        assert!(
            detail.contains("is not the digest of run 1")
                && detail.ends_with(
                    "no report in the database has that digest; run 2 before it has no report (removed?)"
                ),
            "{detail}"
        );
        assert!(
            verdict.to_string().lines().last().unwrap().contains("1 failed (run 3), 1 run without a report"),
            "{verdict}"
        );
    }

    #[test]
    fn a_run_without_report_is_listed_but_not_a_failure() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        signed_run(&mut db.store, 1, &key.signing);
        let t = sample::report(0, None).started_at + TimeDelta::days(2);
        let failed = db.store.begin_run("prod-eu1", t, "cfg", "0.1.0").unwrap();
        db.store.finish_run(failed, t, RunStatus::Failed, false).unwrap();
        signed_run(&mut db.store, 3, &key.signing);
        let verdict = verify_store(&db.store, &Keyring::new([key.public])).unwrap();
        assert!(verdict.ok(), "{verdict}");
        assert_eq!(verdict.totals.without_report, 1);
        let text = verdict.to_string();
        assert!(
            text.lines().nth(2).unwrap().ends_with(
                "failed      missing    missing  -                          -        -           -  run 2 has no report (status failed)"
            ),
            "{text}"
        );
        assert!(
            text.contains("chain OK: 3 runs, 2 reports verified, 0 failed, 1 run without a report"),
            "{text}"
        );
        assert!(line(&verdict, 3).verdict.verification.detail.ends_with("chain: follows run 1"));
    }

    /// Key rotation: the keyring holds the retired and the current key, and both keys' reports verify
    /// in one chain; without the retired key, its reports fail by name.
    #[test]
    fn reports_of_a_retired_key_verify_while_its_key_is_in_the_keyring() {
        let mut db = db();
        let old = KeyPair::generate().unwrap();
        let new = KeyPair::generate().unwrap();
        signed_run(&mut db.store, 1, &old.signing);
        signed_run(&mut db.store, 2, &old.signing);
        signed_run(&mut db.store, 3, &new.signing);
        let both = Keyring::new([old.public.clone(), new.public.clone()]);
        let verdict = verify_store(&db.store, &both).unwrap();
        assert!(verdict.ok(), "{verdict}");
        assert_eq!(
            verdict.totals.keys,
            vec![(old.public.keyid().to_string(), vec![1, 2]), (new.public.keyid().to_string(), vec![3])]
        );
        let last = verdict.to_string().lines().last().unwrap().to_string();
        assert!(
            last.ends_with(&format!(
                "keys: {} (runs 1-2), {} (run 3)",
                old.public.keyid(),
                new.public.keyid()
            )),
            "{last}"
        );

        let verdict = verify_store(&db.store, &Keyring::new([new.public.clone()])).unwrap();
        assert!(!verdict.ok());
        let run1 = line(&verdict, 1);
        assert_eq!(run1.verdict.verification.signature, Check::Failed);
        assert_eq!(
            run1.verdict.verification.detail,
            format!(
                "signatures[0]: unknown keyid \"{}\" (keyring has: {})",
                old.public.keyid(),
                new.public.keyid()
            )
        );
        // An unverified report vouches for no evidence.
        assert_eq!(run1.evidence, None);
        assert_eq!(verdict.totals.failed, [1, 2]);
        // Run 3 links to run 2 by the digest the database recorded for it, so the chain holds there.
        assert!(line(&verdict, 3).ok(), "{verdict}");
    }

    #[test]
    fn rows_that_contradict_the_signed_report_are_named() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        signed_run(&mut db.store, 1, &key.signing);
        sql(&db, "DELETE FROM findings WHERE run_id = 1", []);
        sql(&db, "UPDATE runs SET cluster = 'other' WHERE id = 1", []);
        let verdict = verify_store(&db.store, &Keyring::new([key.public])).unwrap();
        assert!(!verdict.ok());
        assert_eq!(
            line(&verdict, 1).problems,
            [
                "database cluster: other, report: prod-eu1",
                "database findings: 0, report: 1",
                "database evidence items: 0, report: 1",
            ]
        );
    }

    /// `runs prune` as the CLI does it: plan, sign a tombstone for the plan, prune.
    fn prune_before(store: &mut Store, night: i64, key: &SigningKey) -> String {
        let cutoff = sample::report(0, None).started_at + TimeDelta::days(night);
        let plan = store.prune_plan(cutoff).unwrap();
        let retention = tombstone::Retention { keep: "10d".into(), cutoff };
        let t = Tombstone::for_runs(&plan.runs, retention, cutoff, store.last_tombstone_digest().unwrap());
        let signed = tombstone::sign_tombstone(&t, key).unwrap();
        store.prune(&plan, &signed.digest, &signed.json).unwrap();
        signed.digest
    }

    #[test]
    fn the_first_kept_report_follows_the_tombstone_of_the_pruned_runs() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        for night in 1..=5 {
            signed_run(&mut db.store, night, &key.signing);
        }
        let keys = Keyring::new([key.public.clone()]);
        let first = prune_before(&mut db.store, 3, &key.signing);
        let verdict = verify_store(&db.store, &keys).unwrap();
        assert!(verdict.ok(), "{verdict}");
        assert_eq!(verdict.runs.len(), 3);
        let detail = &line(&verdict, 3).verdict.verification.detail;
        assert_eq!(
            detail,
            &format!("signature ok; chain: follows pruned run 2 (tombstone of runs 1-2 {first})")
        );
        let text = verdict.to_string();
        let row = text.lines().nth(1).unwrap();
        assert!(
            row.starts_with("   1-2  2024-07-19T02:00:00Z  pruned      ok         ok       sha256:"),
            "{text}"
        );
        assert!(
            row.contains("tombstone of runs 1-2 (2 runs, pruned 2024-07-19T02:00:00Z keeping 10d)"),
            "{text}"
        );
        assert!(
            text.contains("chain OK: 3 runs, 3 reports verified, 0 failed, 0 runs without a report"),
            "{text}"
        );
        assert!(
            text.lines().last().unwrap().contains("; 1 tombstone: 1 verified, 0 failed; keys: "),
            "{text}"
        );

        // A second prune links its tombstone to the first.
        prune_before(&mut db.store, 4, &key.signing);
        let verdict = verify_store(&db.store, &keys).unwrap();
        assert!(verdict.ok(), "{verdict}");
        assert_eq!(verdict.tombstones.len(), 2);
        assert!(line(&verdict, 4).verdict.verification.detail.contains("follows pruned run 3"), "{verdict}");

        // Without the key, the tombstone vouches for nothing and the link fails again.
        let other = KeyPair::generate().unwrap();
        let verdict = verify_store(&db.store, &Keyring::new([other.public])).unwrap();
        assert!(!verdict.ok());
        assert!(verdict.tombstones.iter().all(|t| t.signature == Check::Failed));
    }

    #[test]
    fn a_previous_report_no_tombstone_accounts_for_still_fails() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        for night in 1..=4 {
            signed_run(&mut db.store, night, &key.signing);
        }
        // Deleted by hand, no tombstone.
        sql(&db, "DELETE FROM runs WHERE id <= 2", []);
        let verdict = verify_store(&db.store, &Keyring::new([key.public.clone()])).unwrap();
        assert!(!verdict.ok());
        assert!(
            line(&verdict, 3)
                .verdict
                .verification
                .detail
                .contains("names a report the database does not hold"),
            "{verdict}"
        );
    }

    #[test]
    fn an_edited_tombstone_fails_and_names_what_changed() {
        let mut db = db();
        let key = KeyPair::generate().unwrap();
        for night in 1..=4 {
            signed_run(&mut db.store, night, &key.signing);
        }
        prune_before(&mut db.store, 3, &key.signing);
        let keys = Keyring::new([key.public.clone()]);

        // The columns say fewer runs were pruned than the signed tombstone lists.
        sql(&db, "UPDATE tombstones SET runs = 1", []);
        let verdict = verify_store(&db.store, &keys).unwrap();
        assert!(!verdict.ok());
        let t = &verdict.tombstones[0];
        assert_eq!((t.signature, t.chain), (Check::Ok, Check::Failed));
        assert!(t.detail.ends_with("the database columns differ from the signed tombstone"), "{}", t.detail);
        assert!(verdict.to_string().contains("chain FAILED: "), "{verdict}");

        // The envelope itself edited: the signature fails, and so does the link of run 3.
        sql(
            &db,
            "UPDATE tombstones SET runs = 2, envelope = CAST(replace(CAST(envelope AS TEXT), '\"sig\"', '\"sig\" ') AS BLOB)",
            [],
        );
        let verdict = verify_store(&db.store, &keys).unwrap();
        assert_eq!(verdict.tombstones[0].signature, Check::Failed, "{verdict}");
        assert_eq!(line(&verdict, 3).verdict.verification.chain, Check::Failed);
    }

    #[test]
    fn control_characters_from_the_database_are_escaped_on_the_terminal() {
        assert_eq!(printable("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(runs_phrase(&[1, 2, 3, 5, 7, 8]), "runs 1-3, 5, 7-8");
        assert_eq!(runs_phrase(&[4]), "run 4");
    }
}
