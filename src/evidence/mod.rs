//! Signed evidence: one report per run, chained to the previous one.
//!
//! ```text
//!  RunReport ──canonical JSON (RFC 8785)──▶ predicate
//!  in-toto Statement v1 { subject: [{ name, digest.sha256 = sha256(canonical report) }],
//!                         predicateType, predicate: report }
//!      ──canonical JSON──▶ payload bytes ──Ed25519 over DSSE PAE──▶ DSSE envelope (file on disk)
//!
//!  digest(report N) = "sha256:" + hex(sha256(payload bytes of N))
//!  report N+1 .previousReport = digest(report N)          (hash chain)
//! ```
//!
//! Everything on the wire is a published format (RFC 8785, in-toto Statement v1, DSSE v1, Ed25519 with
//! PKCS#8 / SPKI PEM keys), so an auditor can check a report with standard tools and without zoneaudit:
//! base64-decode `payload`, build the PAE bytes, and run `openssl pkeyutl -verify -rawin`.
//!
//! Invariants: the envelope payload is always the canonical statement; the subject digest always
//! equals the SHA-256 of the canonical predicate; the file on disk is exactly the pretty JSON of the
//! envelope plus a newline (see [`verify`] for why that is checked).

pub mod canonical;
pub mod chain;
pub mod csv;
pub mod dsse;
pub mod html;
pub mod keys;
pub mod markdown;
pub mod markdown_period;
pub mod oscal;
pub mod period;
pub mod policyreport;
pub mod report;
mod statement;
pub mod tombstone;
pub mod verify;

use std::path::PathBuf;

pub use dsse::Envelope;
pub use keys::{KeyPair, Keyring, PublicKey, SigningKey};
pub use report::{RunReport, SignedReport, open_report, sign_report};
pub use verify::{FileVerdict, verify_files};

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{what}: cannot write canonical json: {source}")]
    Canonical { what: String, source: serde_json::Error },

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{}: key file exists, refusing to overwrite it", path.display())]
    KeyExists { path: PathBuf },

    /// `place` is the key file, or `public key PEM` for keys given as text.
    #[error("{place}: {reason}")]
    Key { place: String, reason: String },

    #[error("no randomness from the operating system: {0}")]
    Random(String),

    /// The envelope JSON itself does not parse; `reason` carries line and column.
    #[error("{place}: not a DSSE envelope: {reason}")]
    Envelope { place: String, reason: String },

    /// `field` is `payload` or `signatures[i].sig`.
    #[error("{field}: invalid base64: {source}")]
    Base64 { field: String, source: base64::DecodeError },

    #[error("envelope has no signatures")]
    NoSignature,

    #[error("signatures[{index}]: unknown keyid {keyid:?} (keyring has: {known})")]
    UnknownKey { index: usize, keyid: String, known: String },

    #[error("signatures[{index}]: signature by {keyid} does not verify")]
    BadSignature { index: usize, keyid: String },

    #[error("payloadType {found:?} is not {expected:?}")]
    PayloadType { found: String, expected: String },

    /// The signed payload is not the statement zoneaudit writes; `place` is a JSON pointer or
    /// `line L column C`.
    #[error("statement {place}: {reason}")]
    Statement { place: String, reason: String },

    #[error("statement subject digest {found} does not match the report (sha256 {computed})")]
    SubjectDigest { found: String, computed: String },

    /// The file parses and may even verify, but is not byte for byte what zoneaudit writes.
    #[error("{place}: file differs from the envelope it contains at byte {offset}: edited after signing")]
    NotExact { place: String, offset: usize },
}
