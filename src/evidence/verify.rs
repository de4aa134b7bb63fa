//! Verifying report files: signature, exact bytes, and the hash chain between them.
//!
//! A report file passes when
//! 1. it parses as a DSSE envelope and one signature verifies with a key of the keyring
//!    (and the statement inside is a zoneaudit run report whose subject digest matches), and
//! 2. the file is byte for byte the serialisation zoneaudit writes for the values it contains
//!    (`Envelope::to_file_bytes`, standard base64). DSSE alone authenticates only the payload type
//!    and payload; whitespace, key order or the base64 alphabet around them could change unnoticed.
//!    Requiring the exact form makes *every* modified byte fail: an edited file either differs from
//!    its own re-serialisation, or re-serialises to different values, and then the payload, type or
//!    signature changed (signature fails, strict Ed25519 admits one encoding) or the keyid did
//!    (unknown key, or another key's signature fails).
//!
//! Chain, per cluster, ordered by run id: a report's `previousReport` must be the digest of the
//! nearest earlier report given.
//! ```text
//!  previous = digest(nearest earlier file)           ok        "chain: follows run N"
//!  previous = digest(some other file)                failure   (a report between was skipped)
//!  previous ≠ any file, earlier file is run id - 1   failure   (mismatch)
//!  previous ≠ any file, otherwise                    ok        "chain: previous report not among the files given"
//!  previous = null but an earlier file is given      failure   (chain restarted)
//! ```
//!
//! Checking a report by hand: `payload` base64-decoded is BODY; PAE is
//! `DSSEv1 <len(payloadType)> <payloadType> <len(BODY)> BODY`; `sig` base64-decoded is 64 raw bytes;
//! `openssl pkeyutl -verify -pubin -inkey zoneaudit.pub -rawin -in pae.bin -sigfile sig.bin`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::EvidenceError;
use super::keys::Keyring;
use super::period;
#[cfg(test)]
use super::report::open_report;
use super::report::{RunReport, open_envelope, parse_envelope};
use super::tombstone;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileVerdict {
    pub file: PathBuf,
    pub ok: bool,
    /// Why it failed, or what was established (signature, chain) when it passed.
    pub reason: String,
    pub run_id: Option<i64>,
    pub cluster: Option<String>,
    /// `sha256:<hex>` of the envelope payload: what the next report's `previousReport` must be.
    pub digest: Option<String>,
    pub previous: Option<String>,
}

/// One line for a terminal: `ok` or `FAILED`, the file, the run and why.
impl std::fmt::Display for FileVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<6} {}", if self.ok { "ok" } else { "FAILED" }, self.file.display())?;
        if let (Some(run), Some(cluster)) = (self.run_id, &self.cluster) {
            write!(f, " (run {run} of {cluster})")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, " {digest}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Verify each file, then the chain between the ones that verified. Verdicts come back ordered by
/// run id; files that could not be read or verified come last, in the order given.
pub fn verify_files(paths: &[PathBuf], keys: &Keyring) -> Vec<FileVerdict> {
    let mut opened: Vec<FileVerdict> = Vec::new();
    let mut failed: Vec<FileVerdict> = Vec::new();
    for path in paths {
        if let Some(verdict) = period_verdict(path, keys).or_else(|| tombstone_verdict(path, keys)) {
            if verdict.ok {
                opened.push(verdict)
            } else {
                failed.push(verdict)
            }
            continue;
        }
        let verdict = match open_file(path, keys) {
            Ok((report, digest)) => FileVerdict {
                file: path.clone(),
                ok: true,
                reason: "signature ok".to_string(),
                run_id: Some(report.run_id),
                cluster: Some(report.cluster),
                digest: Some(digest),
                previous: report.previous_report,
            },
            Err(e) => FileVerdict {
                file: path.clone(),
                ok: false,
                reason: e.to_string(),
                run_id: None,
                cluster: None,
                digest: None,
                previous: None,
            },
        };
        if verdict.ok { opened.push(verdict) } else { failed.push(verdict) }
    }
    opened.sort_by(|a, b| (a.run_id, &a.cluster).cmp(&(b.run_id, &b.cluster)));
    let mut verdicts = check_chain(opened);
    verdicts.extend(failed);
    verdicts
}

/// A signed period report is verified on its own (signature, exact form); it is not a link of the
/// run report chain, it names the run reports it covers by digest. `None`: not a period report.
fn period_verdict(path: &Path, keys: &Keyring) -> Option<FileVerdict> {
    let bytes = std::fs::read(path).ok()?;
    let envelope = parse_envelope(&bytes).ok()?;
    let statement: serde_json::Value = serde_json::from_slice(&envelope.payload_bytes().ok()?).ok()?;
    if !period::signed::is_period_statement(&statement) {
        return None;
    }
    let place = path.display().to_string();
    let opened = period::signed::open_period(&bytes, keys).and_then(|opened| {
        let exact = envelope.normalised()?.to_file_bytes();
        match exact.iter().zip(&bytes).position(|(a, b)| a != b) {
            None if exact.len() == bytes.len() => Ok(opened),
            offset => Err(EvidenceError::NotExact {
                place: place.clone(),
                offset: offset.unwrap_or(exact.len().min(bytes.len())),
            }),
        }
    });
    let mut verdict = FileVerdict {
        file: path.to_path_buf(),
        ok: false,
        reason: String::new(),
        run_id: None,
        cluster: None,
        digest: None,
        previous: None,
    };
    match opened {
        Ok((report, digest)) => {
            verdict.ok = true;
            verdict.reason = format!(
                "signature ok; period report {} to {} covering {} run report(s)",
                report.since.format("%Y-%m-%d %H:%M"),
                report.until.format("%Y-%m-%d %H:%M"),
                report.runs.iter().filter(|r| r.report_digest.is_some()).count()
            );
            verdict.cluster = Some(report.cluster);
            verdict.digest = Some(digest);
        }
        Err(e) => verdict.reason = e.to_string(),
    }
    Some(verdict)
}

/// A tombstone left by `runs prune` is verified on its own (signature, exact form) like a period
/// report: it is not a run report, it names the pruned runs' reports by digest. `None`: not a tombstone.
fn tombstone_verdict(path: &Path, keys: &Keyring) -> Option<FileVerdict> {
    let bytes = std::fs::read(path).ok()?;
    if !tombstone::looks_like_tombstone(&bytes) {
        return None;
    }
    let mut verdict = FileVerdict {
        file: path.to_path_buf(),
        ok: false,
        reason: String::new(),
        run_id: None,
        cluster: None,
        digest: None,
        previous: None,
    };
    match tombstone::open_tombstone(&path.display().to_string(), &bytes, keys) {
        Ok((t, digest)) => {
            verdict.ok = true;
            verdict.reason = format!("signature ok; {}", tombstone::describe(&t));
            verdict.cluster = Some(t.cluster);
            verdict.digest = Some(digest);
        }
        Err(e) => verdict.reason = e.to_string(),
    }
    Some(verdict)
}

fn open_file(path: &Path, keys: &Keyring) -> Result<(RunReport, String), EvidenceError> {
    let bytes =
        std::fs::read(path).map_err(|source| EvidenceError::Io { path: path.to_path_buf(), source })?;
    open_exact(&path.display().to_string(), &bytes, keys)
}

/// [`open_report`](super::report::open_report) plus the exact-form check; `place` names the file.
pub fn open_exact(place: &str, bytes: &[u8], keys: &Keyring) -> Result<(RunReport, String), EvidenceError> {
    let envelope = parse_envelope(bytes).map_err(|e| match e {
        EvidenceError::Envelope { reason, .. } => {
            EvidenceError::Envelope { place: place.to_string(), reason }
        }
        other => other,
    })?;
    let opened = open_envelope(&envelope, keys)?;
    let exact = envelope.normalised()?.to_file_bytes();
    if exact != bytes {
        let offset =
            exact.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(exact.len().min(bytes.len()));
        return Err(EvidenceError::NotExact { place: place.to_string(), offset });
    }
    Ok(opened)
}

/// `verdicts` are the verified files sorted by run id.
fn check_chain(mut verdicts: Vec<FileVerdict>) -> Vec<FileVerdict> {
    // digest -> (cluster, run id) of every verified file.
    let by_digest: BTreeMap<String, (String, i64)> =
        verdicts.iter().filter_map(|v| Some((v.digest.clone()?, (v.cluster.clone()?, v.run_id?)))).collect();
    let snapshot = verdicts.clone();
    for (i, verdict) in verdicts.iter_mut().enumerate() {
        let (Some(cluster), Some(run_id)) = (verdict.cluster.clone(), verdict.run_id) else {
            continue;
        };
        let same_cluster = |v: &&FileVerdict| v.cluster.as_deref() == Some(cluster.as_str());
        // Same run given twice: the same file is harmless, two different reports are a fork.
        let forked = snapshot.iter().enumerate().any(|(j, v)| {
            j != i && same_cluster(&v) && v.run_id == Some(run_id) && v.digest != verdict.digest
        });
        if forked {
            fail(verdict, format!("chain: run {run_id} of {cluster} given twice with different contents"));
            continue;
        }
        let earlier = snapshot.iter().filter(same_cluster).rfind(|v| v.run_id.is_some_and(|r| r < run_id));
        let earlier_id = earlier.and_then(|e| e.run_id).unwrap_or_default();
        let note = match (verdict.previous.as_deref(), earlier) {
            (None, None) => Ok("chain: first report".to_string()),
            (None, Some(_)) => {
                Err(format!("chain: no previous report recorded, but run {earlier_id} is given before it"))
            }
            (Some(p), Some(e)) if e.digest.as_deref() == Some(p) => {
                Ok(format!("chain: follows run {earlier_id}"))
            }
            (Some(p), _) => match by_digest.get(p) {
                Some((c, r)) if *c == cluster && *r < run_id => {
                    Err(format!("chain: previous report is run {r}, but run {earlier_id} lies between"))
                }
                Some((c, r)) => {
                    Err(format!("chain: previous report is run {r} of {c}, which does not precede it"))
                }
                None if earlier.is_some() && run_id.checked_sub(1) == Some(earlier_id) => Err(format!(
                    "chain: previousReport {p} does not match the digest of run {earlier_id} ({})",
                    earlier.and_then(|e| e.digest.as_deref()).unwrap_or("?")
                )),
                None => Ok("chain: previous report not among the files given".to_string()),
            },
        };
        match note {
            Ok(n) => verdict.reason = format!("{}; {n}", verdict.reason),
            Err(n) => fail(verdict, n),
        }
    }
    verdicts
}

fn fail(verdict: &mut FileVerdict, reason: String) {
    verdict.ok = false;
    verdict.reason = format!("{}; {reason}", verdict.reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::canonical::sha256_hex;
    use crate::evidence::dsse::{self, pae};
    use crate::evidence::keys::{self, KeyPair, PublicKey, SigningKey};
    use crate::evidence::report::{SignedReport, sample, sign_report};
    use std::process::Command;

    fn write(dir: &Path, name: &str, signed: &SignedReport) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &signed.json).unwrap();
        path
    }

    /// Three chained reports, signed by one key.
    fn chain(key: &SigningKey) -> Vec<SignedReport> {
        let mut out: Vec<SignedReport> = Vec::new();
        for run in 1..=3 {
            let previous = out.last().map(|s| s.digest.clone());
            out.push(sign_report(&sample::report(run, previous), key).unwrap());
        }
        out
    }

    #[test]
    fn a_complete_chain_verifies_in_run_order() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate().unwrap();
        let signed = chain(&pair.signing);
        // Given out of order on purpose.
        let paths = vec![
            write(dir.path(), "run-3.json", &signed[2]),
            write(dir.path(), "run-1.json", &signed[0]),
            write(dir.path(), "run-2.json", &signed[1]),
        ];
        let verdicts = verify_files(&paths, &Keyring::new([pair.public]));
        let runs: Vec<_> = verdicts.iter().map(|v| v.run_id).collect();
        assert_eq!(runs, [Some(1), Some(2), Some(3)]);
        assert!(verdicts.iter().all(|v| v.ok), "{verdicts:#?}");
        assert_eq!(verdicts[0].reason, "signature ok; chain: first report");
        assert_eq!(verdicts[2].reason, "signature ok; chain: follows run 2");
        assert_eq!(verdicts[2].previous.as_deref(), Some(signed[1].digest.as_str()));
        assert_eq!(verdicts[1].digest.as_deref(), Some(signed[1].digest.as_str()));
        let line = verdicts[1].to_string();
        assert!(
            line.starts_with("ok     ") && line.contains("run-2.json (run 2 of prod-eu1) sha256:"),
            "{line}"
        );
        assert!(line.ends_with(": signature ok; chain: follows run 1"), "{line}");
    }

    /// A tombstone of `runs prune` given with the reports that stayed: verified on its own.
    #[test]
    fn a_tombstone_file_verifies_beside_the_reports() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate().unwrap();
        let signed = chain(&pair.signing);
        let tomb = crate::evidence::tombstone::sign_tombstone(
            &crate::evidence::tombstone::sample::tombstone(),
            &pair.signing,
        )
        .unwrap();
        let paths =
            vec![write(dir.path(), "run-3.json", &signed[2]), write(dir.path(), "tombstone.json", &tomb)];
        let verdicts = verify_files(&paths, &Keyring::new([pair.public.clone()]));
        assert!(verdicts.iter().all(|v| v.ok), "{verdicts:#?}");
        let t = verdicts.iter().find(|v| v.file.ends_with("tombstone.json")).unwrap();
        assert!(t.reason.starts_with("signature ok; tombstone of runs 1-3 (3 runs"), "{}", t.reason);
        assert_eq!(t.digest.as_deref(), Some(tomb.digest.as_str()));

        let mut edited = tomb.json.clone();
        edited.push(b'\n');
        std::fs::write(&paths[1], edited).unwrap();
        let verdicts = verify_files(&paths[1..], &Keyring::new([pair.public]));
        assert!(!verdicts[0].ok && verdicts[0].reason.contains("file differs"), "{verdicts:#?}");
    }

    #[test]
    fn a_gap_is_reported_but_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate().unwrap();
        let signed = chain(&pair.signing);
        let paths =
            vec![write(dir.path(), "run-1.json", &signed[0]), write(dir.path(), "run-3.json", &signed[2])];
        let verdicts = verify_files(&paths, &Keyring::new([pair.public.clone()]));
        assert!(verdicts.iter().all(|v| v.ok), "{verdicts:#?}");
        assert_eq!(verdicts[1].reason, "signature ok; chain: previous report not among the files given");

        // Only the last report: its predecessor simply is not there.
        let verdicts = verify_files(&paths[1..], &Keyring::new([pair.public]));
        assert!(verdicts[0].ok && verdicts[0].reason.contains("not among the files given"), "{verdicts:#?}");
    }

    /// Run 2 replaced by a different (validly signed) run 2: run 3 no longer links to it.
    #[test]
    fn a_mismatching_link_fails() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate().unwrap();
        let signed = chain(&pair.signing);
        let mut other = sample::report(2, Some(signed[0].digest.clone()));
        other.findings.clear();
        let replaced = sign_report(&other, &pair.signing).unwrap();
        let paths = vec![
            write(dir.path(), "run-1.json", &signed[0]),
            write(dir.path(), "run-2.json", &replaced),
            write(dir.path(), "run-3.json", &signed[2]),
        ];
        let verdicts = verify_files(&paths, &Keyring::new([pair.public.clone()]));
        assert!(verdicts[0].ok && verdicts[1].ok, "{verdicts:#?}");
        assert!(!verdicts[2].ok);
        assert!(
            verdicts[2].reason.contains("does not match the digest of run 2")
                && verdicts[2].reason.contains(&replaced.digest),
            "{}",
            verdicts[2].reason
        );

        // Run 3 pointing past an existing run 2 straight at run 1 skips it.
        let skipping =
            sign_report(&sample::report(3, Some(signed[0].digest.clone())), &pair.signing).unwrap();
        let paths = vec![
            write(dir.path(), "run-1.json", &signed[0]),
            write(dir.path(), "run-2.json", &signed[1]),
            write(dir.path(), "run-3b.json", &skipping),
        ];
        let verdicts = verify_files(&paths, &Keyring::new([pair.public]));
        assert!(!verdicts[2].ok);
        assert!(
            verdicts[2].reason.ends_with("chain: previous report is run 1, but run 2 lies between"),
            "{verdicts:#?}"
        );
    }

    /// Change every byte of a signed report file outside the payload in three ways, and a spread
    /// of payload bytes (including its end, where base64 padding lives): each change must be caught,
    /// by the signature, the key lookup, the JSON parser or the exact-form check. (Every payload
    /// byte behaves alike, a different body; sampling keeps the unoptimised Ed25519 test fast.)
    #[test]
    fn every_modified_byte_is_detected() {
        let pair = KeyPair::generate().unwrap();
        let ring = Keyring::new([pair.public]);
        let mut report = sample::report(1, None);
        report.sources.truncate(1);
        report.results.truncate(1);
        report.findings.clear();
        let original = sign_report(&report, &pair.signing).unwrap().json;
        assert!(open_exact("run.json", &original, &ring).is_ok());

        let text = String::from_utf8(original.clone()).unwrap();
        let payload_start = text.find("\"payload\": \"").unwrap() + "\"payload\": \"".len();
        let payload_end = payload_start + text[payload_start..].find('"').unwrap();
        let mut checked = 0;
        let mut undetected = Vec::new();
        for pos in 0..original.len() {
            let in_payload = (payload_start..payload_end - 4).contains(&pos);
            if in_payload && pos % 16 != 0 {
                continue;
            }
            // Low bit (a neighbouring character: '+' <-> '*', 'A' <-> '@', '"' <-> '#'), case bit
            // (base64 letters, key names), and whitespace (a space for a newline, or the reverse).
            let b = original[pos];
            let space_swap = if b == b' ' { b'\n' } else { b' ' };
            for changed in [b ^ 0x01, b ^ 0x20, space_swap] {
                let mut bytes = original.clone();
                bytes[pos] = changed;
                checked += 1;
                if open_exact("run.json", &bytes, &ring).is_ok() {
                    undetected.push((pos, changed as char));
                }
            }
        }
        assert!(undetected.is_empty(), "undetected changes at {undetected:?}");
        assert!(checked > 600, "{checked} changes checked");
    }

    #[test]
    fn whitespace_or_alphabet_changes_outside_the_payload_fail_the_exact_check() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate().unwrap();
        let ring = Keyring::new([pair.public]);
        let signed = sign_report(&sample::report(1, None), &pair.signing).unwrap();
        // Compact JSON of the very same envelope: DSSE-valid, but not the file zoneaudit wrote.
        let compact = serde_json::to_vec(&signed.envelope).unwrap();
        let path = dir.path().join("compact.json");
        std::fs::write(&path, &compact).unwrap();
        assert!(open_report(&compact, &ring).is_ok(), "the envelope itself is valid");
        let verdict = &verify_files(std::slice::from_ref(&path), &ring)[0];
        assert!(
            !verdict.ok
                && verdict.reason.contains("compact.json: file differs")
                && verdict.reason.contains("byte 1"),
            "{verdict:#?}"
        );
    }

    #[test]
    fn unknown_key_and_unreadable_files_fail_with_a_clear_reason() {
        let dir = tempfile::tempdir().unwrap();
        let signer = KeyPair::generate().unwrap();
        let stranger = KeyPair::generate().unwrap();
        let signed = sign_report(&sample::report(1, None), &signer.signing).unwrap();
        let paths = vec![write(dir.path(), "run-1.json", &signed), dir.path().join("missing.json")];
        let verdicts = verify_files(&paths, &Keyring::new([stranger.public]));
        assert!(verdicts.iter().all(|v| !v.ok));
        assert!(
            verdicts[0].reason.contains("unknown keyid")
                && verdicts[0].reason.contains(signer.signing.keyid()),
            "{}",
            verdicts[0].reason
        );
        assert!(verdicts[1].reason.contains("missing.json"), "{}", verdicts[1].reason);
        assert!(verdicts[1].to_string().starts_with("FAILED "), "{}", verdicts[1]);
    }

    /// After a key rotation the verifier holds both public keys; reports of either key verify and
    /// the chain runs across the rotation.
    #[test]
    fn reports_signed_before_and_after_rotation_both_verify() {
        let dir = tempfile::tempdir().unwrap();
        let old = KeyPair::generate().unwrap();
        let new = KeyPair::generate().unwrap();
        let first = sign_report(&sample::report(1, None), &old.signing).unwrap();
        let second = sign_report(&sample::report(2, Some(first.digest.clone())), &new.signing).unwrap();
        let paths = vec![write(dir.path(), "1.json", &first), write(dir.path(), "2.json", &second)];
        let verdicts = verify_files(&paths, &Keyring::new([old.public.clone(), new.public.clone()]));
        assert!(verdicts.iter().all(|v| v.ok), "{verdicts:#?}");
        assert_eq!(verdicts[1].reason, "signature ok; chain: follows run 1");
        // Without the old key, run 1 fails (listed last) and run 2 only misses its predecessor.
        let only_new = verify_files(&paths, &Keyring::new([new.public]));
        assert_eq!(only_new[0].run_id, Some(2));
        assert!(only_new[0].ok && only_new[0].reason.contains("not among the files given"), "{only_new:#?}");
        assert!(!only_new[1].ok && only_new[1].reason.contains("unknown keyid"), "{only_new:#?}");
    }

    /// The auditor's path: no zoneaudit code, only openssl. The key files `generate` writes are
    /// read by openssl, openssl verifies our signature over the PAE bytes, and openssl's own
    /// signature with our private key is the same bytes (Ed25519 is deterministic).
    #[test]
    fn openssl_verifies_the_signature_and_reads_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, pub_path) = keys::generate(dir.path()).unwrap();
        let key = SigningKey::load(&key_path).unwrap();
        let signed = sign_report(&sample::report(9, None), &key).unwrap();

        // What an auditor extracts from the envelope file with a JSON tool and base64 -d.
        let env: serde_json::Value = serde_json::from_slice(&signed.json).unwrap();
        let body = dsse::decode(env["payload"].as_str().unwrap(), "payload").unwrap();
        let sig = dsse::decode(env["signatures"][0]["sig"].as_str().unwrap(), "sig").unwrap();
        let pae_path = dir.path().join("pae.bin");
        let sig_path = dir.path().join("sig.bin");
        std::fs::write(&pae_path, pae(env["payloadType"].as_str().unwrap(), &body)).unwrap();
        std::fs::write(&sig_path, &sig).unwrap();

        let openssl = |args: &[&std::ffi::OsStr]| {
            Command::new("openssl")
                .args(args)
                .output()
                .expect("the openssl binary must be installed for this test")
        };
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        // Exactly the auditor's command: openssl pkeyutl -verify over the PAE bytes.
        let verify_pae = || {
            openssl(&[
                os("pkeyutl"),
                os("-verify"),
                os("-pubin"),
                os("-inkey"),
                pub_path.as_os_str(),
                os("-rawin"),
                os("-in"),
                pae_path.as_os_str(),
                os("-sigfile"),
                sig_path.as_os_str(),
            ])
        };
        let out = verify_pae();
        assert!(
            out.status.success(),
            "openssl: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));

        // A changed PAE must not verify (the test really exercises openssl).
        let mut tampered = std::fs::read(&pae_path).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        std::fs::write(&pae_path, &tampered).unwrap();
        let out = verify_pae();
        assert!(!out.status.success());

        // openssl reads the private key and derives the same public key file.
        let out = openssl(&[os("pkey"), os("-in"), key_path.as_os_str(), os("-pubout")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, std::fs::read(&pub_path).unwrap());

        // The keyid is reproducible: sha256 of `openssl pkey -pubin -outform DER`.
        let out =
            openssl(&[os("pkey"), os("-pubin"), os("-in"), pub_path.as_os_str(), os("-outform"), os("DER")]);
        assert!(out.status.success());
        assert_eq!(key.keyid(), format!("sha256:{}", sha256_hex(&out.stdout)));
        assert_eq!(PublicKey::load(&pub_path).unwrap().keyid(), key.keyid());

        // openssl signing the PAE with our private key gives our signature, byte for byte.
        std::fs::write(&pae_path, pae(env["payloadType"].as_str().unwrap(), &body)).unwrap();
        let out = openssl(&[
            os("pkeyutl"),
            os("-sign"),
            os("-inkey"),
            key_path.as_os_str(),
            os("-rawin"),
            os("-in"),
            pae_path.as_os_str(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, sig);
    }
}
