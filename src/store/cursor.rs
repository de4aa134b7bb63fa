//! Log cursors: how far each log file of a source has been read, so that a nightly run reads only
//! the lines written since the last one.
//!
//! ```text
//!  log_cursors (source, path) ── one row per physical file last seen at `path`
//!     device, inode, size        what the file was when it was read
//!     read_to, lines             content bytes (decompressed for gzip) and complete lines ingested
//!     head_len, head_sha256      digest of the first bytes: recognises the file after a rename
//!     gzip_sha256                whole compressed file: an unchanged rotated `.gz` is not even opened
//! ```
//!
//! Invariant: a source's cursors change only in the transaction that records the source run whose
//! facts account for the lines up to them (`record_source_with_cursors`). If the process dies
//! before that commit, the cursors still point where the previous recorded run left them, so the
//! next run reads those lines again: nothing is lost and nothing is counted twice.

use std::path::Path;

use rusqlite::{Transaction, params};

use super::{Context, Result, StoreError, write_source, write_tx};
use crate::model::{Facts, SourceRun};

/// How far one physical log file has been read. The reader (`collect::logfile`) decides what the
/// fields mean for matching; the store keeps them exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCursor {
    /// Where the file was when it was read (it may since have been renamed by rotation).
    pub path: String,
    pub device: u64,
    pub inode: u64,
    /// Size on disk when read (compressed size for gzip).
    pub size: u64,
    /// Content bytes ingested: always the end of a complete line.
    pub read_to: u64,
    /// Lines ingested, so that line numbers in evidence stay those of the whole file.
    pub lines: u64,
    /// Number of leading content bytes `head_sha256` covers (at most 4 KiB; fewer for a small file).
    pub head_len: u64,
    pub head_sha256: String,
    /// SHA-256 of the whole compressed file, for gzip members.
    pub gzip_sha256: Option<String>,
}

// SQLite integers are signed 64-bit; device and inode numbers are stored bit for bit.
fn to_sql(n: u64) -> i64 {
    n as i64
}

fn from_sql(n: i64) -> u64 {
    n as u64
}

impl super::Store {
    /// The cursors recorded for a source by its last recorded run (empty for a source never read).
    pub fn get_cursors(&self, source: &str) -> Result<Vec<FileCursor>> {
        let op = format!("read log cursors of source {source}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, device, inode, size, read_to, lines, head_len, head_sha256, gzip_sha256 \
                 FROM log_cursors WHERE source = ?1 ORDER BY rowid",
            )
            .at(&self.path, &op)?;
        let rows = stmt
            .query_map([source], |r| {
                Ok(FileCursor {
                    path: r.get(0)?,
                    device: from_sql(r.get(1)?),
                    inode: from_sql(r.get(2)?),
                    size: from_sql(r.get(3)?),
                    read_to: from_sql(r.get(4)?),
                    lines: from_sql(r.get(5)?),
                    head_len: from_sql(r.get(6)?),
                    head_sha256: r.get(7)?,
                    gzip_sha256: r.get(8)?,
                })
            })
            .at(&self.path, &op)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path, &op)
    }

    /// One transaction: the source run, its payload links and facts (as `record_source`), and the
    /// source's new cursors replacing the old ones. Either all of it is committed or none.
    pub fn record_source_with_cursors(
        &mut self,
        run_id: i64,
        source: &SourceRun,
        facts: &Facts,
        cursors: &[FileCursor],
    ) -> Result<()> {
        let op = format!("record source {}", source.name);
        self.require_active(run_id, &op)?;
        let tx = write_tx(&mut self.conn, &self.path, &op)?;
        write_source(&tx, &self.path, run_id, source, facts)?;
        put_cursors(&tx, &self.path, &source.name, run_id, cursors)?;
        tx.commit().at(&self.path, &op)
    }
}

/// Replaces the source's cursors, inside the caller's transaction.
pub(super) fn put_cursors(
    tx: &Transaction<'_>,
    path: &Path,
    source: &str,
    run_id: i64,
    cursors: &[FileCursor],
) -> Result<()> {
    let op = format!("record log cursors of source {source}");
    let op = op.as_str();
    tx.execute("DELETE FROM log_cursors WHERE source = ?1", [source]).at(path, op)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO log_cursors (source, path, device, inode, size, read_to, lines, head_len, \
             head_sha256, gzip_sha256, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .at(path, op)?;
    for c in cursors {
        if c.read_to > c.size && c.gzip_sha256.is_none() {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                op: op.to_string(),
                what: format!("cursor of {}", c.path),
                detail: format!("read to byte {} of a {} byte file", c.read_to, c.size),
            });
        }
        insert
            .execute(params![
                source,
                c.path,
                to_sql(c.device),
                to_sql(c.inode),
                to_sql(c.size),
                to_sql(c.read_to),
                to_sql(c.lines),
                to_sql(c.head_len),
                c.head_sha256,
                c.gzip_sha256,
                run_id
            ])
            .at(path, &format!("{op}: {}", c.path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceStatus;
    use crate::store::{RunStatus, Store};
    use chrono::Utc;

    fn cursor(path: &str, read_to: u64) -> FileCursor {
        FileCursor {
            path: path.into(),
            device: u64::MAX - 1,
            inode: 4_000_000_123,
            size: read_to + 10,
            read_to,
            lines: read_to / 100,
            head_len: 4096,
            head_sha256: "a".repeat(64),
            gzip_sha256: None,
        }
    }

    fn source_run(name: &str) -> SourceRun {
        SourceRun {
            name: name.into(),
            kind: "panos".into(),
            status: SourceStatus::Ok,
            error: None,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            counts: Default::default(),
            payloads: Vec::new(),
            rejects: Default::default(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn cursors_round_trip_and_replace_the_sources_previous_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let run = store.begin_run("c", Utc::now(), "d", "t").unwrap();
        let first = vec![cursor("/var/log/fw.log", 1000), cursor("/var/log/fw.log.1", 5000)];
        store.record_source_with_cursors(run, &source_run("fw"), &Facts::default(), &first).unwrap();
        let mut gz = cursor("/var/log/other.log.2.gz", 70);
        gz.gzip_sha256 = Some("b".repeat(64));
        store.record_source_with_cursors(run, &source_run("fw2"), &Facts::default(), &[gz.clone()]).unwrap();
        store.finish_run(run, Utc::now(), RunStatus::Complete, true).unwrap();
        assert_eq!(store.get_cursors("fw").unwrap(), first, "device and inode survive bit for bit");
        assert_eq!(store.get_cursors("fw2").unwrap(), [gz]);
        assert!(store.get_cursors("calico").unwrap().is_empty());

        let run = store.begin_run("c", Utc::now(), "d", "t").unwrap();
        let second = vec![cursor("/var/log/fw.log", 20)];
        store.record_source_with_cursors(run, &source_run("fw"), &Facts::default(), &second).unwrap();
        assert_eq!(store.get_cursors("fw").unwrap(), second, "the old set is replaced, not merged");
        assert_eq!(store.get_cursors("fw2").unwrap().len(), 1, "other sources keep theirs");
    }

    #[test]
    fn a_source_that_is_not_recorded_leaves_its_cursors_where_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("z.db");
        let mut store = Store::open(&db).unwrap();
        let run = store.begin_run("c", Utc::now(), "d", "t").unwrap();
        let before = vec![cursor("/var/log/fw.log", 1000)];
        store.record_source_with_cursors(run, &source_run("fw"), &Facts::default(), &before).unwrap();
        store.finish_run(run, Utc::now(), RunStatus::Complete, true).unwrap();

        // The next run fails inside the transaction (a payload that was never stored): the source
        // run is not recorded, so its cursors must not advance either.
        let run = store.begin_run("c", Utc::now(), "d", "t").unwrap();
        let mut broken = source_run("fw");
        broken.payloads.push(crate::model::PayloadRef {
            name: "/var/log/fw.log bytes 1000-2000".into(),
            sha256: "c".repeat(64),
            size: 1000,
        });
        let err = store
            .record_source_with_cursors(run, &broken, &Facts::default(), &[cursor("/var/log/fw.log", 2000)])
            .unwrap_err();
        assert!(matches!(err, StoreError::MissingPayload { .. }), "{err}");
        assert_eq!(store.get_cursors("fw").unwrap(), before);

        // A run that dies before recording the source: reopening finds the old cursors.
        drop(store);
        let store = Store::open(&db).unwrap();
        assert_eq!(store.get_cursors("fw").unwrap(), before);
    }

    #[test]
    fn a_cursor_beyond_the_end_of_its_plain_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let run = store.begin_run("c", Utc::now(), "d", "t").unwrap();
        let mut bad = cursor("/var/log/fw.log", 100);
        bad.size = 50;
        let err =
            store.record_source_with_cursors(run, &source_run("fw"), &Facts::default(), &[bad]).unwrap_err();
        assert!(
            err.to_string().contains("cursor of /var/log/fw.log: read to byte 100 of a 50 byte file"),
            "{err}"
        );
        assert!(store.source_runs(run).unwrap().is_empty(), "nothing of the source is kept");
    }
}
