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

use serde_json::Value;

use super::{PREDICATE_TYPE, PeriodReport, SCHEMA};
use crate::evidence::EvidenceError;
use crate::evidence::dsse;
use crate::evidence::keys::{Keyring, SigningKey};
use crate::evidence::report::SignedReport;
use crate::evidence::statement as attest;

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

impl attest::Attested for PeriodReport {
    const PREDICATE_TYPE: &'static str = PREDICATE_TYPE;
    const WHAT: &'static str = "period report";
    fn subject_name(&self) -> String {
        PeriodReport::subject_name(self)
    }
    fn check(&self) -> Result<(), EvidenceError> {
        if self.schema != SCHEMA {
            return Err(attest::error("/predicate/schema", format!("unknown schema {:?}", self.schema)));
        }
        Ok(())
    }
}

pub fn statement(report: &PeriodReport) -> Result<Value, EvidenceError> {
    attest::statement(report)
}

pub fn sign_period(report: &PeriodReport, key: &SigningKey) -> Result<SignedReport, EvidenceError> {
    attest::sign(report, key)
}

/// Whether a verified statement is a period report (rather than a run report).
pub fn is_period_statement(statement: &Value) -> bool {
    attest::is::<PeriodReport>(statement)
}

/// Verify a signed period report (signature, statement shape, subject digest) and return it with
/// its payload digest.
pub fn open_period(envelope_bytes: &[u8], keys: &Keyring) -> Result<(PeriodReport, String), EvidenceError> {
    let envelope: dsse::Envelope = serde_json::from_slice(envelope_bytes)
        .map_err(|e| EvidenceError::Envelope { place: "envelope".to_string(), reason: e.to_string() })?;
    attest::open::<PeriodReport>("envelope", &envelope, keys)
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
