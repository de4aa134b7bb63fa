//! The tombstone: what retention (`runs prune`) removed, signed like a run report, so that an
//! auditor still sees which runs existed and can check that the report chain continues across the gap.
//!
//! ```text
//!  Statement v1 {
//!    _type:         "https://in-toto.io/Statement/v1",
//!    subject:       [{ name: "zoneaudit-tombstone-<cluster>-<firstRun>-<lastRun>",
//!                      digest: { sha256: sha256(JCS(tombstone)) } }],
//!    predicateType: "https://zoneaudit.io/attestation/tombstone/v1",
//!    predicate:     Tombstone
//!  }
//!
//!  tombstone.runs[]            every pruned run: id, start, end, status, its report digest (if any)
//!  tombstone.lastPrunedReport  digest of the newest pruned report
//!                              == previousReport of the first report still stored   (the chain link)
//!  tombstone.previousTombstone digest of the tombstone before it (null for the first): tombstones chain too
//! ```
//!
//! The envelope is the same DSSE form as run and period reports (same payload type, same exact file
//! form), so the same verifier and the documented openssl steps cover it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EvidenceError;
use super::dsse::Envelope;
use super::keys::{Keyring, SigningKey};
use super::report::{SignedReport, ToolInfo};
use super::statement as attest;
use crate::store::RunRow;

pub const SCHEMA: &str = "https://zoneaudit.io/schemas/tombstone/v1";
pub const PREDICATE_TYPE: &str = "https://zoneaudit.io/attestation/tombstone/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tombstone {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub cluster: String,
    /// When the runs were deleted.
    pub pruned_at: DateTime<Utc>,
    /// The zoneaudit that deleted them.
    pub tool: ToolInfo,
    pub retention: Retention,
    /// Oldest first; never empty.
    pub runs: Vec<PrunedRun>,
    /// `sha256:<hex>` of the newest pruned run report: the first kept report's `previousReport`.
    pub last_pruned_report: Option<String>,
    /// Digest of the previous tombstone of this database, so that no tombstone can be dropped unseen.
    pub previous_tombstone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    /// As given, e.g. `400d`.
    pub keep: String,
    /// Runs that started before this were due.
    pub cutoff: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrunedRun {
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    /// `sha256:<hex>` of the run's report envelope payload, when the run had a report.
    pub report_digest: Option<String>,
}

impl Tombstone {
    pub fn first_run(&self) -> i64 {
        self.runs.first().map_or(0, |r| r.run_id)
    }

    pub fn last_run(&self) -> i64 {
        self.runs.last().map_or(0, |r| r.run_id)
    }

    /// The in-toto subject name: which cluster and which runs.
    pub fn subject_name(&self) -> String {
        format!("zoneaudit-tombstone-{}-{}-{}", self.cluster, self.first_run(), self.last_run())
    }

    /// `tombstone-<first>-<last>-<prunedAt>.dsse.json`, next to the run reports.
    pub fn file_name(&self) -> String {
        format!(
            "tombstone-{:06}-{:06}-{}.dsse.json",
            self.first_run(),
            self.last_run(),
            self.pruned_at.format("%Y%m%dT%H%M%SZ")
        )
    }
}

impl Tombstone {
    /// The tombstone for deleting `runs` (oldest first, not empty: the runs of a prune plan) at
    /// `pruned_at`, due because they started before `retention.cutoff`, following the database's
    /// last tombstone `previous_tombstone`.
    pub fn for_runs(
        runs: &[RunRow],
        retention: Retention,
        pruned_at: DateTime<Utc>,
        previous_tombstone: Option<String>,
    ) -> Tombstone {
        Tombstone {
            schema: SCHEMA.to_string(),
            cluster: runs.last().map(|r| r.cluster.clone()).unwrap_or_default(),
            pruned_at,
            tool: ToolInfo::this_build(),
            retention,
            runs: runs
                .iter()
                .map(|r| PrunedRun {
                    run_id: r.id,
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                    status: r.status.as_str().to_string(),
                    report_digest: r.report_digest.clone(),
                })
                .collect(),
            last_pruned_report: runs.iter().rev().find_map(|r| r.report_digest.clone()),
            previous_tombstone,
        }
    }
}

impl attest::Attested for Tombstone {
    const PREDICATE_TYPE: &'static str = PREDICATE_TYPE;
    const WHAT: &'static str = "tombstone";
    fn subject_name(&self) -> String {
        Tombstone::subject_name(self)
    }
    fn check(&self) -> Result<(), EvidenceError> {
        if self.schema != SCHEMA {
            return Err(attest::error("/predicate/schema", format!("unknown schema {:?}", self.schema)));
        }
        if self.runs.is_empty() {
            return Err(attest::error("/predicate/runs", "empty"));
        }
        Ok(())
    }
}

pub fn statement(tombstone: &Tombstone) -> Result<Value, EvidenceError> {
    attest::statement(tombstone)
}

pub fn sign_tombstone(tombstone: &Tombstone, key: &SigningKey) -> Result<SignedReport, EvidenceError> {
    if tombstone.runs.is_empty() {
        return Err(attest::error("/predicate/runs", "a tombstone names at least one run"));
    }
    attest::sign(tombstone, key)
}

/// Whether a statement is a tombstone (rather than a run or period report).
pub fn is_tombstone_statement(statement: &Value) -> bool {
    attest::is::<Tombstone>(statement)
}

/// Whether the envelope bytes hold a tombstone statement (signature not checked): lets a verifier
/// pick the right checks for a file.
pub fn looks_like_tombstone(envelope_bytes: &[u8]) -> bool {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(envelope_bytes) else { return false };
    let Ok(body) = envelope.payload_bytes() else { return false };
    serde_json::from_slice::<Value>(&body).is_ok_and(|s| is_tombstone_statement(&s))
}

/// Verify a tombstone file's bytes: signature, statement shape, subject digest, and the exact form
/// zoneaudit writes (every edited byte fails, as for run reports). `place` names the file in errors.
/// Returns the tombstone and its payload digest.
pub fn open_tombstone(
    place: &str,
    bytes: &[u8],
    keys: &Keyring,
) -> Result<(Tombstone, String), EvidenceError> {
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| EvidenceError::Envelope { place: place.to_string(), reason: e.to_string() })?;
    let opened = attest::open::<Tombstone>(place, &envelope, keys)?;
    attest::check_exact(place, &envelope, bytes)?;
    Ok(opened)
}

/// `runs 1-20 (20 runs), last pruned report sha256:…`: one phrase for verdict lines.
pub fn describe(tombstone: &Tombstone) -> String {
    let n = tombstone.runs.len();
    let last = match &tombstone.last_pruned_report {
        Some(d) => format!("last pruned report {d}"),
        None => "no pruned run had a report".to_string(),
    };
    format!(
        "tombstone of runs {}-{} ({n} run{}, pruned {} keeping {}), {last}",
        tombstone.first_run(),
        tombstone.last_run(),
        if n == 1 { "" } else { "s" },
        tombstone.pruned_at.format("%Y-%m-%dT%H:%M:%SZ"),
        tombstone.retention.keep
    )
}

#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    /// Runs 1-3 pruned; runs 1 and 2 had reports.
    pub(crate) fn tombstone() -> Tombstone {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let run = |id: i64, report: Option<&str>| PrunedRun {
            run_id: id,
            started_at: t("2024-07-16T02:00:00Z") + chrono::TimeDelta::days(id),
            finished_at: Some(t("2024-07-16T02:01:00Z") + chrono::TimeDelta::days(id)),
            status: if report.is_some() { "complete" } else { "incomplete" }.into(),
            report_digest: report.map(str::to_string),
        };
        let d1 = format!("sha256:{}", "1".repeat(64));
        let d2 = format!("sha256:{}", "2".repeat(64));
        Tombstone {
            schema: SCHEMA.into(),
            cluster: "prod-eu1".into(),
            pruned_at: t("2025-09-01T03:00:00Z"),
            tool: ToolInfo { name: "zoneaudit".into(), version: "0.1.0".into() },
            retention: Retention { keep: "400d".into(), cutoff: t("2024-07-28T03:00:00Z") },
            runs: vec![run(1, Some(&d1)), run(2, Some(&d2)), run(3, None)],
            last_pruned_report: Some(d2),
            previous_tombstone: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::keys::KeyPair;

    #[test]
    fn a_signed_tombstone_round_trips_with_its_digest() {
        let pair = KeyPair::generate().unwrap();
        let tombstone = sample::tombstone();
        let signed = sign_tombstone(&tombstone, &pair.signing).unwrap();
        let keys = Keyring::new([pair.public.clone()]);
        assert!(looks_like_tombstone(&signed.json));
        let (back, digest) = open_tombstone("t.json", &signed.json, &keys).unwrap();
        assert_eq!(back, tombstone);
        assert_eq!(digest, signed.digest);
        assert_eq!(back.file_name(), "tombstone-000001-000003-20250901T030000Z.dsse.json");
        let text = String::from_utf8(signed.envelope.payload_bytes().unwrap()).unwrap();
        assert!(
            text.contains("\"predicateType\":\"https://zoneaudit.io/attestation/tombstone/v1\"")
                && text.contains("\"lastPrunedReport\":\"sha256:2222")
                && text.contains("\"prunedAt\":\"2025-09-01T03:00:00Z\""),
            "{text}"
        );
        assert_eq!(
            describe(&back),
            format!(
                "tombstone of runs 1-3 (3 runs, pruned 2025-09-01T03:00:00Z keeping 400d), last pruned report sha256:{}",
                "2".repeat(64)
            )
        );
    }

    #[test]
    fn an_edited_or_foreign_tombstone_fails() {
        let pair = KeyPair::generate().unwrap();
        let keys = Keyring::new([pair.public.clone()]);
        let signed = sign_tombstone(&sample::tombstone(), &pair.signing).unwrap();

        // A run quietly dropped from the list: the signature no longer covers the payload.
        let mut envelope = signed.envelope.clone();
        let body = String::from_utf8(envelope.payload_bytes().unwrap()).unwrap();
        envelope.payload = crate::evidence::dsse::encode(
            body.replace("\"status\":\"incomplete\"", "\"status\":\"complete\"").as_bytes(),
        );
        let err = open_tombstone("t.json", &envelope.to_file_bytes(), &keys).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");

        // Whitespace added after signing.
        let mut spaced = signed.json.clone();
        spaced.insert(1, b' ');
        let err = open_tombstone("t.json", &spaced, &keys).unwrap_err();
        assert!(err.to_string().contains("t.json: file differs"), "{err}");

        // Another key.
        let other = KeyPair::generate().unwrap();
        let err = open_tombstone("t.json", &signed.json, &Keyring::new([other.public])).unwrap_err();
        assert!(err.to_string().contains("unknown keyid"), "{err}");

        // A run report is not a tombstone.
        let run = crate::evidence::report::sample::report(1, None);
        let report = crate::evidence::report::sign_report(&run, &pair.signing).unwrap();
        assert!(!looks_like_tombstone(&report.json));
        let err = open_tombstone("r.json", &report.json, &keys).unwrap_err();
        assert!(err.to_string().contains("/predicateType"), "{err}");

        let mut empty = sample::tombstone();
        empty.runs.clear();
        assert!(sign_tombstone(&empty, &pair.signing).is_err());
    }
}
