//! The period report as signed JSON: the same DSSE / in-toto form as run reports, with its own
//! predicate type, so one verifier (and the documented openssl steps) covers both.
//!
//! ```text
//!  Statement v1 {
//!    subject:       [{ name: "zoneaudit-period-<cluster>-<since>-<until>", digest: { sha256: sha256(JCS(period)) } }],
//!    predicateType: "https://zoneaudit.io/attestation/period-report/v1",
//!    predicate:     PeriodReport      (runs[].reportDigest link every run report it covers)
//!  }
//! ```

use serde_json::{Value, json};

use super::{PREDICATE_TYPE, PeriodReport, SCHEMA};
use crate::evidence::EvidenceError;
use crate::evidence::canonical::{sha256_hex, to_canonical_vec};
use crate::evidence::dsse;
use crate::evidence::keys::{Keyring, SigningKey};
use crate::evidence::report::{PAYLOAD_TYPE, STATEMENT_TYPE, SignedReport, payload_digest};

impl PeriodReport {
    /// The in-toto subject name: which cluster and which window are attested.
    pub fn subject_name(&self) -> String {
        format!(
            "zoneaudit-period-{}-{}-{}",
            self.cluster,
            self.since.format("%Y%m%dT%H%M%SZ"),
            self.until.format("%Y%m%dT%H%M%SZ")
        )
    }
}

pub fn statement(report: &PeriodReport) -> Result<Value, EvidenceError> {
    let digest = sha256_hex(&to_canonical_vec(report)?);
    let predicate = serde_json::to_value(report)
        .map_err(|source| EvidenceError::Canonical { what: "period report".to_string(), source })?;
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": report.subject_name(), "digest": { "sha256": digest } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }))
}

pub fn sign_period(report: &PeriodReport, key: &SigningKey) -> Result<SignedReport, EvidenceError> {
    let body = to_canonical_vec(&statement(report)?)?;
    let envelope = dsse::sign(PAYLOAD_TYPE, &body, key);
    let json = envelope.to_file_bytes();
    Ok(SignedReport { envelope, digest: payload_digest(&body), json })
}

/// Whether a verified statement is a period report (rather than a run report).
pub fn is_period_statement(statement: &Value) -> bool {
    statement.get("predicateType").and_then(Value::as_str) == Some(PREDICATE_TYPE)
}

/// Verify a signed period report (signature, statement shape, subject digest) and return it with
/// its payload digest.
pub fn open_period(envelope_bytes: &[u8], keys: &Keyring) -> Result<(PeriodReport, String), EvidenceError> {
    let envelope: dsse::Envelope = serde_json::from_slice(envelope_bytes)
        .map_err(|e| EvidenceError::Envelope { place: "envelope".to_string(), reason: e.to_string() })?;
    let body = dsse::verify(&envelope, keys)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(EvidenceError::PayloadType {
            found: envelope.payload_type.clone(),
            expected: PAYLOAD_TYPE.to_string(),
        });
    }
    let statement: Value =
        serde_json::from_slice(&body).map_err(|e| error("payload", format!("not JSON: {e}")))?;
    let field = |pointer: &str| statement.pointer(pointer).and_then(Value::as_str);
    if field("/_type") != Some(STATEMENT_TYPE) {
        return Err(error("/_type", format!("expected {STATEMENT_TYPE:?}")));
    }
    if !is_period_statement(&statement) {
        return Err(error("/predicateType", format!("expected {PREDICATE_TYPE:?}")));
    }
    let predicate = statement.get("predicate").ok_or_else(|| error("/predicate", "missing"))?;
    let computed = sha256_hex(&to_canonical_vec(predicate)?);
    let found =
        field("/subject/0/digest/sha256").ok_or_else(|| error("/subject/0/digest/sha256", "missing"))?;
    if found != computed {
        return Err(EvidenceError::SubjectDigest { found: found.to_string(), computed });
    }
    let report: PeriodReport = serde_json::from_value(predicate.clone())
        .map_err(|e| error("/predicate", format!("not a period report: {e}")))?;
    if report.schema != SCHEMA {
        return Err(error("/predicate/schema", format!("unknown schema {:?}", report.schema)));
    }
    if field("/subject/0/name") != Some(report.subject_name().as_str()) {
        return Err(error("/subject/0/name", format!("expected {:?}", report.subject_name())));
    }
    Ok((report, payload_digest(&body)))
}

fn error(place: &str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Statement { place: place.to_string(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::keys::KeyPair;
    use crate::evidence::period::sample;

    #[test]
    fn signed_period_round_trips_and_links_run_reports() {
        let pair = KeyPair::generate().unwrap();
        let period = sample::period();
        let signed = sign_period(&period, &pair.signing).unwrap();
        let keys = Keyring::new([pair.public.clone()]);
        let (back, digest) = open_period(&signed.json, &keys).unwrap();
        assert_eq!(back, period);
        assert_eq!(digest, signed.digest);
        let text = String::from_utf8(signed.envelope.payload_bytes().unwrap()).unwrap();
        for run in &period.runs {
            assert!(text.contains(run.report_digest.as_deref().unwrap()), "run {} not linked", run.run_id);
        }
    }

    #[test]
    fn an_edited_period_report_fails() {
        let pair = KeyPair::generate().unwrap();
        let signed = sign_period(&sample::period(), &pair.signing).unwrap();
        let keys = Keyring::new([pair.public.clone()]);
        let mut envelope = signed.envelope.clone();
        let body = String::from_utf8(envelope.payload_bytes().unwrap()).unwrap();
        envelope.payload =
            dsse::encode(body.replace("\"findingsOpenAtEnd\":1", "\"findingsOpenAtEnd\":0").as_bytes());
        let err = open_period(&envelope.to_file_bytes(), &keys).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
    }

    #[test]
    fn a_run_report_is_not_a_period_report() {
        let pair = KeyPair::generate().unwrap();
        let run = crate::evidence::report::sample::report(1, None);
        let signed = crate::evidence::report::sign_report(&run, &pair.signing).unwrap();
        let err = open_period(&signed.json, &Keyring::new([pair.public.clone()])).unwrap_err();
        assert!(err.to_string().contains("/predicateType"), "{err}");
    }
}
