//! What `verify --chain` asks of the database: does the evidence a signed report names still exist
//! byte for byte, and do the rows of the run still say what its report says.
//!
//! ```text
//!  report.findings[].evidence[].payload ─┐
//!  report.sources[].payloads[].sha256  ──┴─▶ payloads(sha256) ──zlib──▶ bytes ──SHA-256──▶ same digest?
//!
//!  report.findings / sources / results ◀── compare ──▶ RunRows (findings, evidence, rule_results,
//!                                                                source_runs rows of the run)
//! ```
//!
//! Unlike [`Store::payload`], a damaged payload is a verdict here, not an error: the caller counts it
//! against the runs that cite it and goes on, so one bad row does not hide the state of the others.
//! Bytes are hashed while they are inflated, so checking a large firewall log does not hold it
//! decompressed in memory.

use std::io::Read;

use flate2::read::ZlibDecoder;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use super::{Context, Result, Store};

/// The state of one stored payload against the digest it is stored (and cited) under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadCheck {
    /// Stored, and the stored bytes hash to the digest.
    Intact,
    /// No payload is stored under the digest.
    Missing,
    /// Stored, but the bytes do not inflate to the recorded size or do not hash to the digest.
    Mismatched { detail: String },
}

impl PayloadCheck {
    pub fn is_missing(&self) -> bool {
        matches!(self, PayloadCheck::Missing)
    }

    /// Why the stored bytes are not the payload, when they are not.
    pub fn mismatch(&self) -> Option<&str> {
        match self {
            PayloadCheck::Mismatched { detail } => Some(detail),
            _ => None,
        }
    }
}

/// The rows of one run that its report also states, for a cheap cross-check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRows {
    /// Finding fingerprints, sorted.
    pub fingerprints: Vec<String>,
    /// Evidence items over all findings of the run.
    pub evidence: u64,
    pub rule_results: u64,
    /// Source names, sorted.
    pub sources: Vec<String>,
}

/// Inflating is bounded by the recorded size plus one byte, so a damaged stream cannot run away.
const CHUNK: usize = 64 * 1024;

impl Store {
    /// Re-derive the digest of the stored payload `sha256` from its zlib bytes.
    pub fn payload_digest_check(&self, sha256: &str) -> Result<PayloadCheck> {
        let op = format!("check payload {sha256}");
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT size, zlib FROM payloads WHERE sha256 = ?1", [sha256], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .at(&self.path, &op)?;
        let Some((size, zlib)) = row else { return Ok(PayloadCheck::Missing) };
        let Ok(size) = u64::try_from(size) else {
            return Ok(PayloadCheck::Mismatched { detail: format!("recorded size {size} is negative") });
        };
        Ok(match inflate_and_hash(&zlib, size) {
            Err(e) => PayloadCheck::Mismatched { detail: format!("cannot decompress: {e}") },
            Ok((n, _)) if n != size => {
                PayloadCheck::Mismatched { detail: format!("{n} bytes stored, {size} recorded") }
            }
            Ok((_, actual)) if actual != sha256 => {
                PayloadCheck::Mismatched { detail: format!("content hashes to {actual}") }
            }
            Ok(_) => PayloadCheck::Intact,
        })
    }

    /// Counts and keys of the run's findings, evidence, rule results and sources.
    pub fn run_rows(&self, run_id: i64) -> Result<RunRows> {
        let op = format!("read rows of run {run_id}");
        let (path, op) = (&self.path, op.as_str());
        let strings = |sql: &str| -> Result<Vec<String>> {
            let mut stmt = self.conn.prepare(sql).at(path, op)?;
            stmt.query_map([run_id], |r| r.get(0)).at(path, op)?.collect::<rusqlite::Result<_>>().at(path, op)
        };
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = self.conn.query_row(sql, [run_id], |r| r.get(0)).at(path, op)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(RunRows {
            fingerprints: strings("SELECT fingerprint FROM findings WHERE run_id = ?1 ORDER BY fingerprint")?,
            evidence: count(
                "SELECT count(*) FROM evidence e JOIN findings f ON f.id = e.finding_id WHERE f.run_id = ?1",
            )?,
            rule_results: count("SELECT count(*) FROM rule_results WHERE run_id = ?1")?,
            sources: strings("SELECT name FROM source_runs WHERE run_id = ?1 ORDER BY name")?,
        })
    }
}

/// The number of inflated bytes (at most `size + 1`) and their SHA-256 (hex).
fn inflate_and_hash(zlib: &[u8], size: u64) -> std::io::Result<(u64, String)> {
    let mut reader = ZlibDecoder::new(zlib).take(size.saturating_add(1));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use rusqlite::params;

    use super::*;
    use crate::model::{Finding, Origin, RuleResult, RuleStatus, Severity};
    use crate::store::RunStatus;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_stored_payload_is_intact_until_its_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let body = b"10.20.1.0/26 via 172.31.20.5 on eth0\n".repeat(5000);
        let sha = store.put_payload(&body).unwrap();
        assert_eq!(store.payload_digest_check(&sha).unwrap(), PayloadCheck::Intact);
        assert_eq!(store.payload_digest_check(&"0".repeat(64)).unwrap(), PayloadCheck::Missing);

        // Same length, one byte different, valid zlib: only re-hashing notices.
        let mut forged = body.clone();
        forged[3] = b'9';
        store
            .conn
            .execute("UPDATE payloads SET zlib = ?1 WHERE sha256 = ?2", params![zlib(&forged), sha])
            .unwrap();
        let PayloadCheck::Mismatched { detail } = store.payload_digest_check(&sha).unwrap() else {
            panic!("an altered payload must not pass")
        };
        assert_eq!(detail, format!("content hashes to {}", hex::encode(Sha256::digest(&forged))));

        store
            .conn
            .execute("UPDATE payloads SET zlib = ?1 WHERE sha256 = ?2", params![zlib(b"short"), sha])
            .unwrap();
        assert_eq!(
            store.payload_digest_check(&sha).unwrap(),
            PayloadCheck::Mismatched { detail: format!("5 bytes stored, {} recorded", body.len()) }
        );

        store.conn.execute("UPDATE payloads SET zlib = x'DEADBEEF' WHERE sha256 = ?1", [&sha]).unwrap();
        let check = store.payload_digest_check(&sha).unwrap();
        assert!(
            matches!(&check, PayloadCheck::Mismatched { detail } if detail.starts_with("cannot decompress")),
            "{check:?}"
        );
    }

    #[test]
    fn an_unreadable_database_names_its_path_and_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.db");
        let store = Store::open(&path).unwrap();
        store.conn.execute("DROP TABLE evidence", []).unwrap();
        store.conn.execute("DROP TABLE source_payloads", []).unwrap();
        store.conn.execute("DROP TABLE payloads", []).unwrap();
        let err = store.payload_digest_check(&"a".repeat(64)).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string())
                && err.contains(&format!("check payload {}", "a".repeat(64))),
            "{err}"
        );
    }

    #[test]
    fn run_rows_count_what_the_run_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let t = "2024-07-16T02:00:00Z".parse().unwrap();
        let run = store.begin_run("c", t, "cfg", "0.1.0").unwrap();
        let sha = store.put_payload(b"routes").unwrap();
        let origin = |locator: &str| Origin {
            source: "leaf1".into(),
            payload: sha.as_str().into(),
            locator: locator.into(),
            excerpt: "x".into(),
        };
        let finding = |subject: &str, evidence: Vec<Origin>| Finding {
            rule_id: "ZI-ROUTE-LEAK".into(),
            fingerprint: Finding::fingerprint_for("ZI-ROUTE-LEAK", subject),
            severity: Severity::High,
            zone: None,
            subject: subject.into(),
            message: "m".into(),
            evidence,
        };
        let findings = vec![finding("b", vec![origin("1"), origin("2")]), finding("a", vec![origin("3")])];
        let result = RuleResult {
            rule_id: "ZI-ROUTE-LEAK".into(),
            title: "t".into(),
            severity: Severity::High,
            status: RuleStatus::Fail,
            checked: "c".into(),
            controls: vec![],
        };
        store.record_evaluation(run, &[result], &findings).unwrap();
        store.finish_run(run, t, RunStatus::Complete, true).unwrap();
        let mut fingerprints: Vec<String> = findings.iter().map(|f| f.fingerprint.clone()).collect();
        fingerprints.sort();
        assert_eq!(
            store.run_rows(run).unwrap(),
            RunRows { fingerprints, evidence: 3, rule_results: 1, sources: vec![] }
        );
        assert_eq!(store.run_rows(run + 1).unwrap(), RunRows::default());
    }
}
