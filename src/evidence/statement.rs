//! Signing and opening an in-toto Statement v1 in a DSSE envelope, for every predicate zoneaudit
//! attests besides run reports (period reports, tombstones): one implementation of the checks.
//!
//! ```text
//!  { _type: Statement/v1, subject: [{ name, digest.sha256 = sha256(JCS(predicate)) }], predicateType, predicate }
//!      ──JCS──▶ payload ──Ed25519 over DSSE PAE──▶ envelope
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::EvidenceError;
use super::canonical::{sha256_hex, to_canonical_vec};
use super::dsse::{self, Envelope};
use super::keys::{Keyring, SigningKey};
use super::report::{PAYLOAD_TYPE, STATEMENT_TYPE, SignedReport, payload_digest};

/// What a predicate type needs to be signed and opened.
pub(crate) trait Attested: Serialize + DeserializeOwned {
    const PREDICATE_TYPE: &'static str;
    /// `period report`, `tombstone`: for messages.
    const WHAT: &'static str;
    fn subject_name(&self) -> String;
    /// Checks of the predicate's own fields after it parsed (its schema URI, non-empty lists).
    fn check(&self) -> Result<(), EvidenceError>;
}

pub(crate) fn statement<T: Attested>(predicate: &T) -> Result<Value, EvidenceError> {
    let digest = sha256_hex(&to_canonical_vec(predicate)?);
    let value = serde_json::to_value(predicate)
        .map_err(|source| EvidenceError::Canonical { what: T::WHAT.to_string(), source })?;
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": predicate.subject_name(), "digest": { "sha256": digest } }],
        "predicateType": T::PREDICATE_TYPE,
        "predicate": value,
    }))
}

pub(crate) fn sign<T: Attested>(predicate: &T, key: &SigningKey) -> Result<SignedReport, EvidenceError> {
    let body = to_canonical_vec(&statement(predicate)?)?;
    let envelope = dsse::sign(PAYLOAD_TYPE, &body, key);
    let json = envelope.to_file_bytes();
    Ok(SignedReport { envelope, digest: payload_digest(&body), json })
}

/// Whether a statement's predicate type is `T`'s.
pub(crate) fn is<T: Attested>(statement: &Value) -> bool {
    statement.get("predicateType").and_then(Value::as_str) == Some(T::PREDICATE_TYPE)
}

/// Verify the signature, the statement's shape and subject digest, and return the predicate with
/// the payload digest (the chain link). `place` names the file in errors.
pub(crate) fn open<T: Attested>(
    place: &str,
    envelope: &Envelope,
    keys: &Keyring,
) -> Result<(T, String), EvidenceError> {
    let body = dsse::verify(envelope, keys)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(EvidenceError::PayloadType {
            found: envelope.payload_type.clone(),
            expected: PAYLOAD_TYPE.to_string(),
        });
    }
    let statement: Value =
        serde_json::from_slice(&body).map_err(|e| error("payload", format!("{place}: not JSON: {e}")))?;
    let field = |pointer: &str| statement.pointer(pointer).and_then(Value::as_str);
    if field("/_type") != Some(STATEMENT_TYPE) {
        return Err(error("/_type", format!("expected {STATEMENT_TYPE:?}")));
    }
    if !is::<T>(&statement) {
        return Err(error("/predicateType", format!("expected {:?}", T::PREDICATE_TYPE)));
    }
    let predicate = statement.get("predicate").ok_or_else(|| error("/predicate", "missing"))?;
    let computed = sha256_hex(&to_canonical_vec(predicate)?);
    let found =
        field("/subject/0/digest/sha256").ok_or_else(|| error("/subject/0/digest/sha256", "missing"))?;
    if found != computed {
        return Err(EvidenceError::SubjectDigest { found: found.to_string(), computed });
    }
    let value: T = serde_json::from_value(predicate.clone())
        .map_err(|e| error("/predicate", format!("not a {}: {e}", T::WHAT)))?;
    value.check()?;
    if field("/subject/0/name") != Some(value.subject_name().as_str()) {
        return Err(error("/subject/0/name", format!("expected {:?}", value.subject_name())));
    }
    Ok((value, payload_digest(&body)))
}

/// The envelope must be byte for byte what zoneaudit writes for its values (see `verify`).
pub(crate) fn check_exact(place: &str, envelope: &Envelope, bytes: &[u8]) -> Result<(), EvidenceError> {
    let exact = envelope.normalised()?.to_file_bytes();
    if exact == bytes {
        return Ok(());
    }
    let offset = exact.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(exact.len().min(bytes.len()));
    Err(EvidenceError::NotExact { place: place.to_string(), offset })
}

pub(crate) fn error(place: &str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Statement { place: place.to_string(), reason: reason.into() }
}
