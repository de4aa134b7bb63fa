//! The snapshot store: one SQLite file holds every run, its raw payloads, facts, results, findings and
//! signed reports. Only this module talks SQL.
//!
//! ```text
//!  runs ─┬─< source_runs ───< source_payloads >── payloads (sha256, zlib bytes)
//!        │        ┆ name, run in span                 ▲
//!        │     fact_rows (one per fact and span       │
//!        │     of runs, see `facts.rs`)               │
//!        ├─< rule_results                             │
//!        ├─< findings ─< evidence ────────────────────┘ (payload, nullable)
//!        └── reports (digest, DSSE envelope, markdown)
//!  log_cursors (source, path): how far each log file was read, see `cursor.rs`
//! ```
//!
//! Invariants:
//! - A run row is committed as `running` before anything of the run is written; every `record_*` is
//!   one transaction; `finish_run` sets the final status. A crash at any point therefore leaves earlier
//!   runs untouched and the interrupted run `running` with whatever whole steps it committed; the next
//!   `open` (or `begin_run`) marks it `incomplete` once the run lock shows its process is gone
//!   (see `lock.rs`). Nothing is ever deleted on open.
//! - Payloads are content-addressed and verified against their digest on every read; a source run may
//!   only link payloads already stored, and evidence may only name stored payloads.
//! - Sources of a run are written only while that run is being recorded by this `Store`; results,
//!   findings and reports may be replaced later (re-audit), except that a report cannot be replaced
//!   once a later run's report links to it (the hash chain).
//!
//! Durability: WAL with `synchronous=FULL`. A run is only a handful of large transactions, so the
//! extra fsync per commit costs nothing noticeable, and with `NORMAL` a power loss could roll back a
//! report that was already signed and published, forking the report hash chain.

mod cursor;
mod evidence_refs;
mod facts;
mod identity;
mod lock;
mod outbox;
mod prune;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::model::{
    Facts, Finding, Origin, PayloadRef, Rejects, RuleResult, RuleStatus, Severity, SourceRun, SourceStatus,
};
pub use cursor::FileCursor;
pub use evidence_refs::{PayloadCheck, RunRows};
use lock::RunLock;
pub use outbox::{Baseline, DeliveryState, OutboxRow};
pub use prune::{PrunePlan, Pruned, StoredTombstone};

/// How long a write waits for another connection's write lock, and `begin_run` for the run lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {}: cannot open: {source}", .path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("database {}: schema migration failed: {source}", .path.display())]
    Migrate { path: PathBuf, source: rusqlite_migration::Error },
    #[error("database {}: {op}: {source}", .path.display())]
    Sqlite { path: PathBuf, op: String, source: rusqlite::Error },
    #[error("database {}: {op}: {what}: {detail}", .path.display())]
    Corrupt { path: PathBuf, op: String, what: String, detail: String },
    #[error("database {}: {op}: cannot encode {what} as json: {source}", .path.display())]
    Encode { path: PathBuf, op: String, what: String, source: serde_json::Error },
    #[error("run lock {}: {source}", .path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("run lock {} is held by another zoneaudit run{}", .path.display(),
        .holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default())]
    RunInProgress { path: PathBuf, holder: Option<u32> },
    #[error("database {}: begin run: still recording run {run_id} (finish it first)", .path.display())]
    AlreadyRecording { path: PathBuf, run_id: i64 },
    #[error("database {}: run {run_id} does not exist", .path.display())]
    NoSuchRun { path: PathBuf, run_id: i64 },
    #[error("database {}: {op}: run {run_id} is not the run this process is recording", .path.display())]
    RunNotActive { path: PathBuf, op: String, run_id: i64 },
    #[error("database {}: source {source_name}: payload {sha256} ({payload_name}) is not stored", .path.display())]
    MissingPayload { path: PathBuf, source_name: String, payload_name: String, sha256: String },
    #[error("database {}: payload {sha256} is corrupt: {detail}", .path.display())]
    CorruptPayload { path: PathBuf, sha256: String, detail: String },
    #[error(
        "database {}: run {run_id} already has report {digest} and the report of run {later_run} links to it; \
         replacing it would break the report chain",
        .path.display()
    )]
    ReportChained { path: PathBuf, run_id: i64, digest: String, later_run: i64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Being recorded (or its process died and no `open` has noticed yet).
    Running,
    /// Finished normally; sources may still have failed (see `evidence_complete`).
    Complete,
    /// The process died before finishing; whatever it committed is kept.
    Incomplete,
    /// Finished with an operational error.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Incomplete => "incomplete",
            RunStatus::Failed => "failed",
        }
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "running" => Ok(RunStatus::Running),
            "complete" => Ok(RunStatus::Complete),
            "incomplete" => Ok(RunStatus::Incomplete),
            "failed" => Ok(RunStatus::Failed),
            other => Err(format!("unknown run status {other:?} (running|complete|incomplete|failed)")),
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run as listed by `runs list`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub cluster: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub config_digest: String,
    pub tool_version: String,
    pub report_digest: Option<String>,
    pub evidence_complete: Option<bool>,
    /// Number of findings recorded for the run.
    pub findings: u64,
}

/// One finding (by fingerprint) across all complete runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingHistory {
    pub fingerprint: String,
    pub rule_id: String,
    /// As of the last run that saw it.
    pub severity: Severity,
    pub zone: Option<String>,
    pub subject: String,
    /// As of the last run that saw it.
    pub message: String,
    pub first_seen_run: i64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_run: i64,
    pub last_seen_at: DateTime<Utc>,
    /// Present in the latest complete run.
    pub open: bool,
    /// The first complete run after `last_seen_run`, when the finding is no longer open.
    pub resolved_in_run: Option<i64>,
}

#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Held from `begin_run` to `finish_run`: the run this `Store` is recording.
    active: Option<(i64, RunLock)>,
    /// How long `begin_run` waits for a run lock held elsewhere.
    run_lock_wait: Duration,
}

/// Attaches the database path and the operation to SQLite errors.
trait Context<T> {
    fn at(self, path: &Path, op: &str) -> Result<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn at(self, path: &Path, op: &str) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite { path: path.to_path_buf(), op: op.to_string(), source })
    }
}

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Turns stored text back into typed values, naming the column when it cannot.
struct Decoder<'a> {
    path: &'a Path,
    op: &'a str,
}

impl Decoder<'_> {
    fn corrupt(&self, what: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_path_buf(),
            op: self.op.to_string(),
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }

    fn time(&self, what: &str, text: &str) -> Result<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.corrupt(what, format!("{text:?}: {e}")))
    }

    fn parsed<T: FromStr<Err: std::fmt::Display>>(&self, what: &str, text: &str) -> Result<T> {
        text.parse().map_err(|e| self.corrupt(what, e))
    }

    fn json<T: DeserializeOwned>(&self, what: &str, text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| self.corrupt(what, e))
    }

    fn source_status(&self, text: &str) -> Result<SourceStatus> {
        match text {
            "ok" => Ok(SourceStatus::Ok),
            "partial" => Ok(SourceStatus::Partial),
            "failed" => Ok(SourceStatus::Failed),
            other => Err(self.corrupt("source status", format!("unknown value {other:?}"))),
        }
    }

    fn rule_status(&self, text: &str) -> Result<RuleStatus> {
        match text {
            "pass" => Ok(RuleStatus::Pass),
            "fail" => Ok(RuleStatus::Fail),
            "error" => Ok(RuleStatus::Error),
            "skip" => Ok(RuleStatus::Skip),
            other => Err(self.corrupt("rule status", format!("unknown value {other:?}"))),
        }
    }

    fn count(&self, what: &str, n: i64) -> Result<u64> {
        u64::try_from(n).map_err(|e| self.corrupt(what, e))
    }
}

fn encode_json<T: Serialize + ?Sized>(path: &Path, op: &str, what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode {
        path: path.to_path_buf(),
        op: op.to_string(),
        what: what.to_string(),
        source,
    })
}

/// The `facts.kind` of each `Facts` list.
mod fact_kind {
    pub const NODE: &str = "node";
    pub const BGP_PEER: &str = "bgpPeer";
    pub const BGP_CONFIGURATION: &str = "bgpConfiguration";
    pub const IP_POOL: &str = "ipPool";
    pub const BLOCK_AFFINITY: &str = "blockAffinity";
    pub const SESSION: &str = "session";
    pub const ROUTE: &str = "route";
    pub const FLOW: &str = "flow";
    pub const RULE_HIT: &str = "ruleHit";
}

const RUN_COLUMNS: &str = "r.id, r.cluster, r.started_at, r.finished_at, r.status, r.config_digest, \
    r.tool_version, rep.digest, r.evidence_complete, \
    (SELECT count(*) FROM findings f WHERE f.run_id = r.id) \
    FROM runs r LEFT JOIN reports rep ON rep.run_id = r.id";

type RawRun = (i64, String, String, Option<String>, String, String, String, Option<String>, Option<i64>, i64);

fn raw_run(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

impl Store {
    /// Opens (creating the file, not its directory) and migrates the database, then marks runs whose
    /// process is gone as `incomplete`.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                op: "open".into(),
                what: "journal mode".into(),
                detail: format!("sqlite refused WAL mode (journal_mode is {mode})"),
            });
        }
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        schema::MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate { path: path.to_path_buf(), source })?;
        let mut store = Store { conn, path: path.to_path_buf(), active: None, run_lock_wait: BUSY_TIMEOUT };
        store.mark_orphaned_runs()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .at(&self.path, "read schema version")
    }

    /// If no process holds the run lock, no run is being recorded, so every `running` row is an
    /// orphan of a process that died. If the lock is held, leave them: one of them is live.
    /// Only looks at the lock when there is a `running` row, so opening to read writes nothing.
    fn mark_orphaned_runs(&mut self) -> Result<()> {
        let any_running: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM runs WHERE status = 'running')", [], |row| row.get(0))
            .at(&self.path, "look for interrupted runs")?;
        if !any_running {
            return Ok(());
        }
        let lock_path = lock::lock_path(&self.path);
        let Some(lock) = RunLock::try_acquire(&lock_path, Duration::ZERO)? else {
            tracing::debug!(lock = %lock_path.display(), "a run is being recorded; not checking for orphaned runs");
            return Ok(());
        };
        let tx = write_tx(&mut self.conn, &self.path, "mark orphaned runs")?;
        Self::mark_orphans_in(&tx, &self.path)?;
        tx.commit().at(&self.path, "mark orphaned runs")?;
        drop(lock);
        Ok(())
    }

    /// Must only be called while holding the run lock.
    fn mark_orphans_in(tx: &Transaction<'_>, path: &Path) -> Result<()> {
        let op = "mark orphaned runs";
        let orphans: Vec<i64> = {
            let mut stmt =
                tx.prepare("SELECT id FROM runs WHERE status = 'running' ORDER BY id").at(path, op)?;
            stmt.query_map([], |row| row.get(0))
                .at(path, op)?
                .collect::<rusqlite::Result<_>>()
                .at(path, op)?
        };
        for id in &orphans {
            tracing::warn!(run = id, "run was interrupted (its process is gone); marking it incomplete");
        }
        tx.execute(
            "UPDATE runs SET status = 'incomplete', evidence_complete = 0 WHERE status = 'running'",
            [],
        )
        .at(path, op)?;
        Ok(())
    }

    fn require_active(&self, run_id: i64, op: &str) -> Result<()> {
        match &self.active {
            Some((id, _)) if *id == run_id => Ok(()),
            _ => Err(StoreError::RunNotActive { path: self.path.clone(), op: op.to_string(), run_id }),
        }
    }

    fn require_run(&self, run_id: i64, op: &str) -> Result<()> {
        let exists: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)", [run_id], |row| row.get(0))
            .at(&self.path, op)?;
        if exists { Ok(()) } else { Err(StoreError::NoSuchRun { path: self.path.clone(), run_id }) }
    }

    /// Takes the run lock and commits a `running` run row before anything of the run is written.
    pub fn begin_run(
        &mut self,
        cluster: &str,
        started_at: DateTime<Utc>,
        config_digest: &str,
        tool_version: &str,
    ) -> Result<i64> {
        let op = "begin run";
        let lock_path = lock::lock_path(&self.path);
        if let Some((run_id, _)) = &self.active {
            return Err(StoreError::AlreadyRecording { path: self.path.clone(), run_id: *run_id });
        }
        let Some(mut lock) = RunLock::try_acquire(&lock_path, self.run_lock_wait)? else {
            let holder = lock::holder(&lock_path);
            return Err(StoreError::RunInProgress { path: lock_path, holder });
        };
        lock.note_holder();
        let tx = write_tx(&mut self.conn, &self.path, op)?;
        // Holding the lock proves no other process is recording, so leftovers are orphans.
        Self::mark_orphans_in(&tx, &self.path)?;
        tx.execute(
            "INSERT INTO runs (cluster, started_at, status, config_digest, tool_version) \
             VALUES (?1, ?2, 'running', ?3, ?4)",
            params![cluster, timestamp(&started_at), config_digest, tool_version],
        )
        .at(&self.path, op)?;
        let run_id = tx.last_insert_rowid();
        tx.commit().at(&self.path, op)?;
        self.active = Some((run_id, lock));
        Ok(run_id)
    }

    /// Stores raw bytes once, keyed by their SHA-256 (hex), and returns the digest.
    pub fn put_payload(&mut self, bytes: &[u8]) -> Result<String> {
        let sha256 = sha256_hex(bytes);
        let op = format!("store payload {sha256}");
        let known: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM payloads WHERE sha256 = ?1)", [&sha256], |row| {
                row.get(0)
            })
            .at(&self.path, &op)?;
        if known {
            return Ok(sha256);
        }
        let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
        let zlib =
            encoder.write_all(bytes).and_then(|()| encoder.finish()).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                op: op.clone(),
                what: "zlib stream".into(),
                detail: e.to_string(),
            })?;
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "INSERT INTO payloads (sha256, size, zlib, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (sha256) DO NOTHING",
                params![sha256, size, zlib, timestamp(&Utc::now())],
            )
            .at(&self.path, &op)?;
        Ok(sha256)
    }

    /// The stored bytes, decompressed and checked against their digest.
    pub fn payload(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let op = format!("read payload {sha256}");
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT size, zlib FROM payloads WHERE sha256 = ?1", [sha256], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .at(&self.path, &op)?;
        let Some((size, zlib)) = row else { return Ok(None) };
        let corrupt = |detail: String| StoreError::CorruptPayload {
            path: self.path.clone(),
            sha256: sha256.to_string(),
            detail,
        };
        let size = u64::try_from(size).map_err(|_| corrupt(format!("negative size {size}")))?;
        // Bounded by the recorded size, so a damaged stream cannot inflate without limit.
        let mut bytes = Vec::new();
        ZlibDecoder::new(zlib.as_slice())
            .take(size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
        if bytes.len() as u64 != size {
            return Err(corrupt(format!("{} bytes stored, {size} recorded", bytes.len())));
        }
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(corrupt(format!("content hashes to {actual}")));
        }
        Ok(Some(bytes))
    }

    /// One transaction: the source run, links to its payloads (stored before via `put_payload`) and
    /// all its facts.
    pub fn record_source(&mut self, run_id: i64, source: &SourceRun, facts: &Facts) -> Result<()> {
        let op = format!("record source {}", source.name);
        self.require_active(run_id, &op)?;
        let tx = write_tx(&mut self.conn, &self.path, &op)?;
        write_source(&tx, &self.path, run_id, source, facts)?;
        tx.commit().at(&self.path, &op)
    }

    /// One transaction: replaces the run's rule results and findings (a re-audit overwrites).
    pub fn record_evaluation(
        &mut self,
        run_id: i64,
        results: &[RuleResult],
        findings: &[Finding],
    ) -> Result<()> {
        let op = format!("record evaluation of run {run_id}");
        self.require_run(run_id, &op)?;
        let tx = write_tx(&mut self.conn, &self.path, &op)?;
        write_evaluation(&tx, &self.path, run_id, results, findings)?;
        tx.commit().at(&self.path, &op)
    }

    /// Stores (or, for a re-audit, replaces) the run's signed report.
    pub fn record_report(
        &mut self,
        run_id: i64,
        digest: &str,
        envelope: &[u8],
        markdown: &str,
    ) -> Result<()> {
        let op = format!("record report of run {run_id}");
        self.require_run(run_id, &op)?;
        let path = self.path.clone();
        let tx = write_tx(&mut self.conn, &self.path, &op)?;
        let existing: Option<String> = tx
            .query_row("SELECT digest FROM reports WHERE run_id = ?1", [run_id], |row| row.get(0))
            .optional()
            .at(&path, &op)?;
        if let Some(old) = existing.filter(|old| old != digest) {
            let later: Option<i64> = tx
                .query_row("SELECT min(run_id) FROM reports WHERE run_id > ?1", [run_id], |row| row.get(0))
                .at(&path, &op)?;
            if let Some(later_run) = later {
                return Err(StoreError::ReportChained { path, run_id, digest: old, later_run });
            }
        }
        tx.execute(
            "INSERT INTO reports (run_id, digest, envelope, markdown, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (run_id) DO UPDATE SET digest = excluded.digest, envelope = excluded.envelope, \
             markdown = excluded.markdown, created_at = excluded.created_at",
            params![run_id, digest, envelope, markdown, timestamp(&Utc::now())],
        )
        .at(&path, &op)?;
        tx.commit().at(&path, &op)
    }

    /// Sets the final status of the run this `Store` is recording and releases the run lock.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        finished_at: DateTime<Utc>,
        status: RunStatus,
        evidence_complete: bool,
    ) -> Result<()> {
        let op = format!("finish run {run_id} as {status}");
        self.require_active(run_id, &op)?;
        if status == RunStatus::Running {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                op,
                what: "run status".into(),
                detail: "a run cannot finish as running".into(),
            });
        }
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, evidence_complete = ?4 WHERE id = ?1",
                params![run_id, timestamp(&finished_at), status.as_str(), evidence_complete],
            )
            .at(&self.path, &op)?;
        self.active = None;
        Ok(())
    }

    fn query_runs(&self, filter: &str, params: impl rusqlite::Params, op: &str) -> Result<Vec<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} {filter}");
        let raw: Vec<RawRun> = {
            let mut stmt = self.conn.prepare(&sql).at(&self.path, op)?;
            stmt.query_map(params, raw_run)
                .at(&self.path, op)?
                .collect::<rusqlite::Result<_>>()
                .at(&self.path, op)?
        };
        let d = Decoder { path: &self.path, op };
        raw.into_iter()
            .map(
                |(
                    id,
                    cluster,
                    started,
                    finished,
                    status,
                    config_digest,
                    tool_version,
                    report,
                    evidence,
                    n,
                )| {
                    Ok(RunRow {
                        id,
                        cluster,
                        started_at: d.time("runs.started_at", &started)?,
                        finished_at: finished.map(|t| d.time("runs.finished_at", &t)).transpose()?,
                        status: d.parsed("runs.status", &status)?,
                        config_digest,
                        tool_version,
                        report_digest: report,
                        evidence_complete: evidence.map(|v| v != 0),
                        findings: d.count("findings count", n)?,
                    })
                },
            )
            .collect()
    }

    /// Every run, newest last.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        self.query_runs("ORDER BY r.id", [], "list runs")
    }

    pub fn run(&self, id: i64) -> Result<Option<RunRow>> {
        Ok(self.query_runs("WHERE r.id = ?1", [id], &format!("read run {id}"))?.pop())
    }

    pub fn latest_complete_run(&self) -> Result<Option<RunRow>> {
        Ok(self
            .query_runs(
                "WHERE r.status = 'complete' ORDER BY r.id DESC LIMIT 1",
                [],
                "find latest complete run",
            )?
            .pop())
    }

    /// The digest of the newest report of a run before `before_run`: the link of the report chain.
    pub fn previous_report_digest(&self, before_run: i64) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT digest FROM reports WHERE run_id < ?1 ORDER BY run_id DESC LIMIT 1",
                [before_run],
                |row| row.get(0),
            )
            .optional()
            .at(&self.path, &format!("find the report before run {before_run}"))
    }

    pub fn source_runs(&self, run_id: i64) -> Result<Vec<SourceRun>> {
        let op = format!("read sources of run {run_id}");
        let (path, op) = (&self.path, op.as_str());
        type RawSource =
            (i64, String, String, String, Option<String>, String, String, String, String, String);
        let raw: Vec<RawSource> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, name, kind, status, error, started_at, finished_at, counts, rejects, notes \
                     FROM source_runs WHERE run_id = ?1 ORDER BY id",
                )
                .at(path, op)?;
            stmt.query_map([run_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .at(path, op)?
            .collect::<rusqlite::Result<_>>()
            .at(path, op)?
        };
        let mut links: HashMap<i64, Vec<(String, String, i64)>> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT sp.source_run_id, sp.name, sp.sha256, p.size \
                     FROM source_payloads sp JOIN source_runs s ON s.id = sp.source_run_id \
                     JOIN payloads p ON p.sha256 = sp.sha256 \
                     WHERE s.run_id = ?1 ORDER BY sp.source_run_id, sp.position",
                )
                .at(path, op)?;
            let rows = stmt
                .query_map([run_id], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .at(path, op)?;
            for row in rows {
                let (source_run_id, name, sha256, size) = row.at(path, op)?;
                links.entry(source_run_id).or_default().push((name, sha256, size));
            }
        }
        let d = Decoder { path, op };
        raw.into_iter()
            .map(|(id, name, kind, status, error, started, finished, counts, rejects, notes)| {
                let payloads = links
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, sha256, size)| {
                        Ok(PayloadRef { name, sha256, size: d.count("payloads.size", size)? })
                    })
                    .collect::<Result<_>>()?;
                Ok(SourceRun {
                    status: d.source_status(&status)?,
                    started_at: d.time("source_runs.started_at", &started)?,
                    finished_at: d.time("source_runs.finished_at", &finished)?,
                    counts: d.json::<BTreeMap<String, u64>>("source_runs.counts", &counts)?,
                    rejects: d.json::<Rejects>("source_runs.rejects", &rejects)?,
                    notes: d.json::<Vec<String>>("source_runs.notes", &notes)?,
                    name,
                    kind,
                    error,
                    payloads,
                })
            })
            .collect()
    }

    /// The facts the run recorded: its sources in recording order (a failed source has none),
    /// each source's facts in the order they were first stored (a fact that is new in this run
    /// comes after those its source already reported before).
    pub fn facts(&self, run_id: i64) -> Result<Facts> {
        facts::read(&self.conn, &self.path, run_id)
    }

    pub fn rule_results(&self, run_id: i64) -> Result<Vec<RuleResult>> {
        let op = format!("read rule results of run {run_id}");
        let (path, op) = (&self.path, op.as_str());
        type RawResult = (String, String, String, String, String, String);
        let raw: Vec<RawResult> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT rule_id, title, severity, status, checked, controls \
                     FROM rule_results WHERE run_id = ?1 ORDER BY id",
                )
                .at(path, op)?;
            stmt.query_map([run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .at(path, op)?
            .collect::<rusqlite::Result<_>>()
            .at(path, op)?
        };
        let d = Decoder { path, op };
        raw.into_iter()
            .map(|(rule_id, title, severity, status, checked, controls)| {
                Ok(RuleResult {
                    rule_id,
                    title,
                    severity: d.parsed("rule_results.severity", &severity)?,
                    status: d.rule_status(&status)?,
                    checked,
                    controls: d.json("rule_results.controls", &controls)?,
                })
            })
            .collect()
    }

    /// The run's findings, each with its evidence, in the order they were recorded.
    pub fn findings(&self, run_id: i64) -> Result<Vec<Finding>> {
        let op = format!("read findings of run {run_id}");
        let (path, op) = (&self.path, op.as_str());
        let mut evidence: HashMap<i64, Vec<Origin>> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT e.finding_id, e.source, e.payload, e.locator, e.excerpt \
                     FROM evidence e JOIN findings f ON f.id = e.finding_id \
                     WHERE f.run_id = ?1 ORDER BY e.id",
                )
                .at(path, op)?;
            let rows = stmt
                .query_map([run_id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        Origin {
                            source: r.get::<_, String>(1)?.into(),
                            payload: r.get::<_, Option<String>>(2)?.map(Into::into).unwrap_or_default(),
                            locator: r.get(3)?,
                            excerpt: r.get(4)?,
                        },
                    ))
                })
                .at(path, op)?;
            for row in rows {
                let (finding_id, origin) = row.at(path, op)?;
                evidence.entry(finding_id).or_default().push(origin);
            }
        }
        type RawFinding = (i64, String, String, String, Option<String>, String, String);
        let raw: Vec<RawFinding> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, fingerprint, rule_id, severity, zone, subject, message \
                     FROM findings WHERE run_id = ?1 ORDER BY id",
                )
                .at(path, op)?;
            stmt.query_map([run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .at(path, op)?
            .collect::<rusqlite::Result<_>>()
            .at(path, op)?
        };
        let d = Decoder { path, op };
        raw.into_iter()
            .map(|(id, fingerprint, rule_id, severity, zone, subject, message)| {
                Ok(Finding {
                    rule_id,
                    fingerprint,
                    severity: d.parsed("findings.severity", &severity)?,
                    zone,
                    subject,
                    message,
                    evidence: evidence.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The run's report: its digest and the signed envelope bytes.
    pub fn report(&self, run_id: i64) -> Result<Option<(String, Vec<u8>)>> {
        self.conn
            .query_row("SELECT digest, envelope FROM reports WHERE run_id = ?1", [run_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .at(&self.path, &format!("read report of run {run_id}"))
    }

    /// The run's report rendered as Markdown.
    pub fn report_markdown(&self, run_id: i64) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT markdown FROM reports WHERE run_id = ?1", [run_id], |r| r.get(0))
            .optional()
            .at(&self.path, &format!("read report of run {run_id}"))
    }

    /// Every finding ever seen in a complete run, by fingerprint, in order of first appearance.
    /// Interrupted and failed runs are not counted: a finding missing from a half-collected
    /// snapshot is not resolved.
    pub fn finding_history(&self) -> Result<Vec<FindingHistory>> {
        let op = "read finding history";
        let path = &self.path;
        let d = Decoder { path, op };
        let complete: Vec<(i64, DateTime<Utc>)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, started_at FROM runs WHERE status = 'complete' ORDER BY id")
                .at(path, op)?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).at(path, op)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, started) = row.at(path, op)?;
                out.push((id, d.time("runs.started_at", &started)?));
            }
            out
        };
        let Some(&(latest, _)) = complete.last() else { return Ok(Vec::new()) };
        let started: HashMap<i64, DateTime<Utc>> = complete.iter().copied().collect();

        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.run_id, f.fingerprint, f.rule_id, f.severity, f.zone, f.subject, f.message \
                 FROM findings f JOIN runs r ON r.id = f.run_id \
                 WHERE r.status = 'complete' ORDER BY f.run_id, f.id",
            )
            .at(path, op)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .at(path, op)?;
        let mut history: Vec<FindingHistory> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for row in rows {
            let (run_id, fingerprint, rule_id, severity, zone, subject, message) = row.at(path, op)?;
            let severity: Severity = d.parsed("findings.severity", &severity)?;
            let seen_at =
                started.get(&run_id).copied().ok_or_else(|| d.corrupt("findings.run_id", run_id))?;
            match index.get(&fingerprint) {
                Some(&i) => {
                    let h = &mut history[i];
                    h.severity = severity;
                    h.zone = zone;
                    h.subject = subject;
                    h.message = message;
                    h.last_seen_run = run_id;
                    h.last_seen_at = seen_at;
                }
                None => {
                    index.insert(fingerprint.clone(), history.len());
                    history.push(FindingHistory {
                        fingerprint,
                        rule_id,
                        severity,
                        zone,
                        subject,
                        message,
                        first_seen_run: run_id,
                        first_seen_at: seen_at,
                        last_seen_run: run_id,
                        last_seen_at: seen_at,
                        open: false,
                        resolved_in_run: None,
                    });
                }
            }
        }
        for h in &mut history {
            h.open = h.last_seen_run == latest;
            if !h.open {
                h.resolved_in_run = complete.iter().map(|&(id, _)| id).find(|&id| id > h.last_seen_run);
            }
        }
        Ok(history)
    }
}

fn write_tx<'c>(conn: &'c mut Connection, path: &Path, op: &str) -> Result<Transaction<'c>> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from read to
    // write can fail with SQLITE_BUSY without the busy timeout ever applying.
    conn.transaction_with_behavior(TransactionBehavior::Immediate).at(path, op)
}

/// The body of `record_source`, apart so that tests can drop the transaction half-way.
fn write_source(
    tx: &Transaction<'_>,
    path: &Path,
    run_id: i64,
    source: &SourceRun,
    facts: &Facts,
) -> Result<()> {
    let op = format!("record source {}", source.name);
    let op = op.as_str();
    tx.execute(
        "INSERT INTO source_runs (run_id, name, kind, status, error, started_at, finished_at, counts, rejects, notes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            run_id,
            source.name,
            source.kind,
            source.status.as_str(),
            source.error,
            timestamp(&source.started_at),
            timestamp(&source.finished_at),
            encode_json(path, op, "counts", &source.counts)?,
            encode_json(path, op, "rejects", &source.rejects)?,
            encode_json(path, op, "notes", &source.notes)?,
        ],
    )
    .at(path, op)?;
    let source_run_id = tx.last_insert_rowid();

    let mut stored = tx.prepare_cached("SELECT size FROM payloads WHERE sha256 = ?1").at(path, op)?;
    let mut link = tx
        .prepare_cached(
            "INSERT INTO source_payloads (source_run_id, position, name, sha256) VALUES (?1, ?2, ?3, ?4)",
        )
        .at(path, op)?;
    for (position, payload) in source.payloads.iter().enumerate() {
        let size: Option<i64> = stored.query_row([&payload.sha256], |r| r.get(0)).optional().at(path, op)?;
        let Some(size) = size else {
            return Err(StoreError::MissingPayload {
                path: path.to_path_buf(),
                source_name: source.name.clone(),
                payload_name: payload.name.clone(),
                sha256: payload.sha256.clone(),
            });
        };
        if u64::try_from(size).ok() != Some(payload.size) {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                op: op.to_string(),
                what: format!("payload {}", payload.name),
                detail: format!("stored payload is {size} bytes, the source run says {}", payload.size),
            });
        }
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        link.execute(params![source_run_id, position, payload.name, payload.sha256]).at(path, op)?;
    }

    facts::record(tx, path, op, run_id, source, facts)?;
    Ok(())
}

/// The body of `record_evaluation`.
fn write_evaluation(
    tx: &Transaction<'_>,
    path: &Path,
    run_id: i64,
    results: &[RuleResult],
    findings: &[Finding],
) -> Result<()> {
    let op = format!("record evaluation of run {run_id}");
    let op = op.as_str();
    // Evidence goes with its findings (ON DELETE CASCADE).
    tx.execute("DELETE FROM findings WHERE run_id = ?1", [run_id]).at(path, op)?;
    tx.execute("DELETE FROM rule_results WHERE run_id = ?1", [run_id]).at(path, op)?;

    let mut insert_result = tx
        .prepare_cached(
            "INSERT INTO rule_results (run_id, rule_id, title, severity, status, checked, controls) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .at(path, op)?;
    for r in results {
        insert_result
            .execute(params![
                run_id,
                r.rule_id,
                r.title,
                r.severity.as_str(),
                r.status.as_str(),
                r.checked,
                encode_json(path, op, "controls", &r.controls)?,
            ])
            .at(path, &format!("{op}: rule {}", r.rule_id))?;
    }

    let mut insert_finding = tx
        .prepare_cached(
            "INSERT INTO findings (run_id, fingerprint, rule_id, severity, zone, subject, message) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .at(path, op)?;
    let mut insert_evidence = tx
        .prepare_cached(
            "INSERT INTO evidence (finding_id, source, payload, locator, excerpt) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .at(path, op)?;
    let mut stored =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM payloads WHERE sha256 = ?1)").at(path, op)?;
    for f in findings {
        insert_finding
            .execute(params![
                run_id,
                f.fingerprint,
                f.rule_id,
                f.severity.as_str(),
                f.zone,
                f.subject,
                f.message
            ])
            .at(path, op)?;
        let finding_id = tx.last_insert_rowid();
        for e in &f.evidence {
            let payload = (!e.payload.is_empty()).then_some(e.payload.as_str());
            if let Some(sha256) = payload {
                let known: bool = stored.query_row([sha256], |r| r.get(0)).at(path, op)?;
                if !known {
                    return Err(StoreError::MissingPayload {
                        path: path.to_path_buf(),
                        source_name: e.source.to_string(),
                        payload_name: format!("evidence for {} {}", f.rule_id, f.subject),
                        sha256: sha256.to_string(),
                    });
                }
            }
            insert_evidence
                .execute(params![finding_id, e.source.as_str(), payload, e.locator, e.excerpt])
                .at(path, op)?;
        }
    }
    Ok(())
}
