//! Retention: deleting old runs without breaking the report chain silently.
//!
//! ```text
//!  runs by id:   1 2 3 … 20 │ 21 … 30
//!                ──pruned───┘  kept: the first run that started at/after the cutoff, is `running`,
//!                              is the latest complete run, or holds the latest report ends the prefix
//!  one transaction (under the run lock):
//!    INSERT tombstones (signed envelope naming every pruned run and the last pruned report digest)
//!    DELETE runs (source runs, results, findings, evidence, reports cascade;
//!                 outbox.run_id, baseline.run_id and log_cursors.run_id become NULL)
//!    DELETE fact_rows no kept run sees (a fact still reported by kept runs keeps its one row)
//!    DELETE payloads that no source_payloads or evidence row references any more
//!  then VACUUM (it cannot run inside a transaction) and a WAL checkpoint, so the file shrinks.
//! ```
//!
//! Only a prefix of the runs (by id) is ever pruned, so every stored report follows every pruned
//! one, and the first stored report's `previousReport` is the tombstone's `lastPrunedReport`.
//! The run lock is held throughout: no run can start (and put a payload not yet linked to a source
//! run, which the payload sweep would take for garbage) while runs are deleted.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::facts;
use super::lock::{self, RunLock};
use super::{Context, Decoder, Result, RunRow, RunStatus, Store, StoreError, timestamp, write_tx};

/// What `runs prune` would delete for a cutoff.
#[derive(Debug, Clone, PartialEq)]
pub struct PrunePlan {
    pub cutoff: DateTime<Utc>,
    /// Oldest first; empty when nothing is due.
    pub runs: Vec<RunRow>,
    /// Why runs older than the cutoff are kept, when some are (`run 7 is running`).
    pub held_back: Option<String>,
    /// Payloads no kept run references: deleted with the runs.
    pub payloads: u64,
    /// Their stored (compressed) bytes.
    pub payload_bytes: u64,
}

impl PrunePlan {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    fn ids(&self) -> Vec<i64> {
        self.runs.iter().map(|r| r.id).collect()
    }

    /// The digest of the newest pruned report: what the first kept report names as `previousReport`.
    pub fn last_report_digest(&self) -> Option<&str> {
        self.runs.iter().rev().find_map(|r| r.report_digest.as_deref())
    }
}

/// A tombstone as stored in the database.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTombstone {
    pub id: i64,
    pub first_run: i64,
    pub last_run: i64,
    pub runs: u64,
    pub last_report: Option<String>,
    /// `sha256:<hex>` of the envelope payload.
    pub digest: String,
    pub envelope: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// What a prune deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub runs: u64,
    pub payloads: u64,
    pub payload_bytes: u64,
}

/// A payload is still needed when a source run or an evidence item of a run outside `pruned` (a JSON
/// array of run ids) names it.
const ORPHANED_BY: &str = "FROM payloads p \
     WHERE NOT EXISTS (SELECT 1 FROM source_payloads sp JOIN source_runs s ON s.id = sp.source_run_id \
                       WHERE sp.sha256 = p.sha256 AND s.run_id NOT IN (SELECT value FROM json_each(?1))) \
       AND NOT EXISTS (SELECT 1 FROM evidence e JOIN findings f ON f.id = e.finding_id \
                       WHERE e.payload = p.sha256 AND f.run_id NOT IN (SELECT value FROM json_each(?1)))";

/// Payloads nothing references any more.
const UNREFERENCED: &str = "FROM payloads p \
     WHERE NOT EXISTS (SELECT 1 FROM source_payloads sp WHERE sp.sha256 = p.sha256) \
       AND NOT EXISTS (SELECT 1 FROM evidence e WHERE e.payload = p.sha256)";

impl Store {
    /// The runs that started before `cutoff` and may go: the longest prefix (by id) of such runs
    /// that holds no `running` run, not the latest complete run and not the latest report.
    pub fn prune_plan(&self, cutoff: DateTime<Utc>) -> Result<PrunePlan> {
        let op = "plan prune";
        let runs = self.runs()?;
        let latest_complete = runs.iter().rev().find(|r| r.status == RunStatus::Complete).map(|r| r.id);
        let latest_report = runs.iter().rev().find(|r| r.report_digest.is_some()).map(|r| r.id);
        let mut plan = PrunePlan { cutoff, runs: Vec::new(), held_back: None, payloads: 0, payload_bytes: 0 };
        for run in runs {
            if run.started_at >= cutoff {
                break;
            }
            let keep = if run.status == RunStatus::Running {
                Some(format!("run {} is running", run.id))
            } else if Some(run.id) == latest_complete {
                Some(format!("run {} is the latest complete run", run.id))
            } else if Some(run.id) == latest_report {
                Some(format!("run {} holds the latest report", run.id))
            } else {
                None
            };
            if let Some(reason) = keep {
                plan.held_back = Some(reason);
                break;
            }
            plan.runs.push(run);
        }
        if !plan.is_empty() {
            let ids = ids_json(&plan.ids());
            let (n, bytes): (i64, i64) = self
                .conn
                .query_row(
                    &format!("SELECT count(*), coalesce(sum(length(p.zlib)), 0) {ORPHANED_BY}"),
                    [&ids],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .at(&self.path, op)?;
            let d = Decoder { path: &self.path, op };
            plan.payloads = d.count("orphaned payloads", n)?;
            plan.payload_bytes = d.count("orphaned payload bytes", bytes)?;
        }
        Ok(plan)
    }

    /// Delete the runs of `plan` and the payloads only they referenced, storing the signed
    /// tombstone (`digest`, `envelope`) in the same transaction. Fails without changing anything
    /// when a run is being recorded or the plan no longer matches the database.
    pub fn prune(&mut self, plan: &PrunePlan, digest: &str, envelope: &[u8]) -> Result<Pruned> {
        let op = "prune runs";
        let (Some(first), Some(last)) = (plan.runs.first(), plan.runs.last()) else {
            return Ok(Pruned { runs: 0, payloads: 0, payload_bytes: 0 });
        };
        let (first, last) = (first.id, last.id);
        let lock_path = lock::lock_path(&self.path);
        let Some(_lock) = RunLock::try_acquire(&lock_path, self.run_lock_wait)? else {
            let holder = lock::holder(&lock_path);
            return Err(StoreError::RunInProgress { path: lock_path, holder });
        };
        // Under the lock the plan is made again: a run that started or finished since must not be
        // deleted on the strength of an older plan (the tombstone would not match either).
        let now = self.prune_plan(plan.cutoff)?;
        if now.ids() != plan.ids() {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                op: op.into(),
                what: "prune plan".into(),
                detail: "the runs due for pruning changed since the tombstone was signed; run prune again"
                    .into(),
            });
        }
        let ids = ids_json(&plan.ids());
        let tx = write_tx(&mut self.conn, &self.path, op)?;
        tx.execute(
            "INSERT INTO tombstones (first_run, last_run, runs, last_report, digest, envelope, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                first,
                last,
                i64::try_from(plan.runs.len()).unwrap_or(i64::MAX),
                plan.last_report_digest(),
                digest,
                envelope,
                timestamp(&Utc::now())
            ],
        )
        .at(&self.path, op)?;
        let runs = tx
            .execute("DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?1))", [&ids])
            .at(&self.path, op)?;
        // Fact rows name no payload by digest (the kept source runs' links do), so they are swept
        // by what the kept runs see, before and apart from the payloads.
        facts::sweep_unseen(&tx, &self.path, op, last)?;
        // The runs are gone, so "not referenced by a kept run" is "not referenced at all"; this also
        // sweeps payloads of runs that died before linking them (the plan counted those too).
        let (n, bytes): (i64, i64) = tx
            .query_row(
                &format!("SELECT count(*), coalesce(sum(length(p.zlib)), 0) {UNREFERENCED}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .at(&self.path, op)?;
        tx.execute(&format!("DELETE FROM payloads WHERE sha256 IN (SELECT p.sha256 {UNREFERENCED})"), [])
            .at(&self.path, op)?;
        tx.commit().at(&self.path, op)?;
        let d = Decoder { path: &self.path, op };
        Ok(Pruned {
            runs: runs as u64,
            payloads: d.count("payloads", n)?,
            payload_bytes: d.count("payload bytes", bytes)?,
        })
    }

    /// Rebuild the file without the free pages, then fold the WAL back in, so that the database file
    /// itself shrinks. Outside any transaction (SQLite refuses VACUUM inside one).
    pub fn vacuum(&mut self) -> Result<()> {
        self.conn.execute_batch("VACUUM").at(&self.path, "vacuum")?;
        self.checkpoint()
    }

    /// Copy the WAL into the database file and truncate it: afterwards the file size is the
    /// database size.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .at(&self.path, "checkpoint the write-ahead log")
    }

    /// Every tombstone, oldest first.
    pub fn tombstones(&self) -> Result<Vec<StoredTombstone>> {
        let op = "read tombstones";
        type Raw = (i64, i64, i64, i64, Option<String>, String, Vec<u8>, String);
        let raw: Vec<Raw> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, first_run, last_run, runs, last_report, digest, envelope, created_at \
                     FROM tombstones ORDER BY id",
                )
                .at(&self.path, op)?;
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .at(&self.path, op)?
            .collect::<rusqlite::Result<_>>()
            .at(&self.path, op)?
        };
        let d = Decoder { path: &self.path, op };
        raw.into_iter()
            .map(|(id, first_run, last_run, runs, last_report, digest, envelope, created)| {
                Ok(StoredTombstone {
                    id,
                    first_run,
                    last_run,
                    runs: d.count("tombstones.runs", runs)?,
                    last_report,
                    digest,
                    envelope,
                    created_at: d.time("tombstones.created_at", &created)?,
                })
            })
            .collect()
    }

    /// The digest of the newest tombstone: the next tombstone's `previousTombstone`.
    pub fn last_tombstone_digest(&self) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT digest FROM tombstones ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .at(&self.path, "read the last tombstone")
    }
}

fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::model::{Facts, Finding, Origin, PayloadRef, Rejects, Severity, SourceRun, SourceStatus};

    fn t0() -> DateTime<Utc> {
        "2025-01-01T02:00:00Z".parse().unwrap()
    }

    /// A complete run on `day` whose source stored `payloads` and whose one finding cites `evidence`.
    fn night(store: &mut Store, day: i64, payloads: &[&[u8]], evidence: &[u8], report: bool) -> i64 {
        let started = t0() + TimeDelta::days(day);
        let run = store.begin_run("c", started, "cfg", "0.1.0").unwrap();
        let refs = payloads
            .iter()
            .enumerate()
            .map(|(i, bytes)| PayloadRef {
                name: format!("p{i}"),
                sha256: store.put_payload(bytes).unwrap(),
                size: bytes.len() as u64,
            })
            .collect();
        let source = SourceRun {
            name: "leaf1".into(),
            kind: "eos".into(),
            status: SourceStatus::Ok,
            error: None,
            started_at: started,
            finished_at: started,
            counts: Default::default(),
            payloads: refs,
            rejects: Rejects::default(),
            notes: Vec::new(),
        };
        store.record_source(run, &source, &Facts::default()).unwrap();
        let cited = store.put_payload(evidence).unwrap();
        let finding = Finding {
            rule_id: "ZI-ROUTE-LEAK".into(),
            fingerprint: Finding::fingerprint_for("ZI-ROUTE-LEAK", "x"),
            severity: Severity::High,
            zone: None,
            subject: "x".into(),
            message: "m".into(),
            evidence: vec![Origin {
                source: "leaf1".into(),
                payload: cited.into(),
                locator: "1".into(),
                excerpt: "e".into(),
            }],
        };
        store.record_evaluation(run, &[], &[finding]).unwrap();
        if report {
            let digest = format!("sha256:{:064}", run);
            store.record_report(run, &digest, b"{}", "# r").unwrap();
        }
        store.finish_run(run, started, RunStatus::Complete, true).unwrap();
        run
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_payload_a_kept_run_references_survives_and_the_rest_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        // Shared by every night (an unchanged source), only night 1's, and cited as evidence by
        // night 1 and by night 3 through its source.
        let shared = b"unchanged calico nodes".as_slice();
        night(&mut store, 1, &[shared, b"night 1 routes"], b"night 1 evidence", true);
        night(&mut store, 2, &[shared, b"night 2 routes"], b"night 2 evidence", true);
        let kept = night(&mut store, 3, &[shared, b"night 1 evidence"], b"night 3 evidence", true);
        let plan = store.prune_plan(t0() + TimeDelta::days(3)).unwrap();
        assert_eq!(plan.runs.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(plan.held_back, None);
        // night 1 routes, night 2 routes, night 2 evidence.
        assert_eq!(plan.payloads, 3);
        assert!(plan.payload_bytes > 0);
        assert_eq!(plan.last_report_digest(), Some(format!("sha256:{:064}", 2).as_str()));

        let pruned = store.prune(&plan, "sha256:tomb", b"{\"envelope\":1}").unwrap();
        assert_eq!(pruned, Pruned { runs: 2, payloads: 3, payload_bytes: plan.payload_bytes });
        assert_eq!(store.runs().unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [kept]);
        for survivor in [shared, b"night 1 evidence".as_slice(), b"night 3 evidence".as_slice()] {
            assert!(store.payload(&super::super::sha256_hex(survivor)).unwrap().is_some());
        }
        for gone in [b"night 1 routes".as_slice(), b"night 2 routes", b"night 2 evidence"] {
            assert!(store.payload(&super::super::sha256_hex(gone)).unwrap().is_none());
        }
        // Nothing of the pruned runs is left behind.
        for table in ["source_runs", "rule_results", "findings", "reports"] {
            assert_eq!(
                count(&store, &format!("SELECT count(*) FROM {table} WHERE run_id < {kept}")),
                0,
                "{table}"
            );
        }
        let tombstones = store.tombstones().unwrap();
        assert_eq!(tombstones.len(), 1);
        let t = &tombstones[0];
        assert_eq!((t.first_run, t.last_run, t.runs), (1, 2, 2));
        assert_eq!(t.last_report.as_deref(), Some(format!("sha256:{:064}", 2).as_str()));
        assert_eq!(
            (t.digest.as_str(), t.envelope.as_slice()),
            ("sha256:tomb", b"{\"envelope\":1}".as_slice())
        );
        assert_eq!(store.last_tombstone_digest().unwrap().as_deref(), Some("sha256:tomb"));
        store.vacuum().unwrap();
        assert_eq!(store.runs().unwrap().len(), 1);
    }

    #[test]
    fn the_latest_complete_run_and_a_running_run_are_never_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.db");
        let mut store = Store::open(&path).unwrap();
        night(&mut store, 1, &[b"a"], b"e", true);
        night(&mut store, 2, &[b"b"], b"e", true);
        let far_future = t0() + TimeDelta::days(1000);
        let plan = store.prune_plan(far_future).unwrap();
        assert_eq!(plan.runs.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
        assert_eq!(plan.held_back.as_deref(), Some("run 2 is the latest complete run"));

        // A run being recorded (by this store: it holds the run lock) stops the prefix and the prune.
        let running = store.begin_run("c", t0() + TimeDelta::days(3), "cfg", "0.1.0").unwrap();
        let plan = store.prune_plan(far_future).unwrap();
        assert_eq!(plan.runs.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
        let mut other = Store::open(&path).unwrap();
        other.run_lock_wait = std::time::Duration::ZERO;
        let err = other.prune(&plan, "sha256:t", b"{}").unwrap_err();
        assert!(matches!(err, StoreError::RunInProgress { .. }), "{err}");
        assert_eq!(other.runs().unwrap().len(), 3, "nothing deleted");
        store.finish_run(running, t0() + TimeDelta::days(3), RunStatus::Failed, false).unwrap();

        // Nothing old enough: an empty plan.
        assert!(store.prune_plan(t0()).unwrap().is_empty());
    }

    #[test]
    fn a_plan_that_no_longer_matches_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        night(&mut store, 1, &[b"a"], b"e", true);
        night(&mut store, 2, &[b"b"], b"e", true);
        let mut plan = store.prune_plan(t0() + TimeDelta::days(1000)).unwrap();
        plan.runs.push(store.run(2).unwrap().unwrap());
        let err = store.prune(&plan, "sha256:t", b"{}").unwrap_err();
        assert!(err.to_string().contains("changed since the tombstone was signed"), "{err}");
        assert_eq!(store.runs().unwrap().len(), 2);
        assert!(store.tombstones().unwrap().is_empty());
    }
}
