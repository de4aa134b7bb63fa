//! The run report: what one run collected, checked and found, as a signed in-toto statement.
//!
//! ```text
//!  Statement v1 {
//!    _type:         "https://in-toto.io/Statement/v1",
//!    subject:       [{ name: "zoneaudit-run-<cluster>-<runId>", digest: { sha256: sha256(JCS(report)) } }],
//!    predicateType: "https://zoneaudit.io/attestation/run-report/v1",
//!    predicate:     RunReport
//!  }
//! ```
//!
//! The report is built from `model` types only; its own fields are camelCase while the embedded
//! model types keep their snake_case serialisation. `reports/run-report.schema.json` describes the
//! predicate exactly as serialised (a test checks a sample against it).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::EvidenceError;
use super::canonical::{sha256_hex, to_canonical_vec};
use super::dsse::{self, Envelope};
use super::keys::{Keyring, SigningKey};
use crate::model::{Finding, RuleResult, RuleStatus, SourceRun, SourceStatus};

pub const SCHEMA: &str = "https://zoneaudit.io/schemas/run-report/v1";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://zoneaudit.io/attestation/run-report/v1";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunReport {
    /// Always [`SCHEMA`]; a verifier rejects reports of a schema it does not know.
    pub schema: String,
    pub run_id: i64,
    pub cluster: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub tool: ToolInfo,
    /// SHA-256 (hex) of the configuration file bytes the run used.
    pub config_digest: String,
    pub rule_packs: Vec<RulePackRef>,
    pub sources: Vec<SourceRun>,
    pub results: Vec<RuleResult>,
    pub findings: Vec<Finding>,
    pub drift: Drift,
    pub summary: Summary,
    /// `sha256:<hex>` of the previous run report's envelope payload; `None` starts a chain.
    pub previous_report: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    pub fn this_build() -> Self {
        ToolInfo { name: env!("CARGO_PKG_NAME").to_string(), version: env!("CARGO_PKG_VERSION").to_string() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePackRef {
    pub name: String,
    pub version: String,
    /// SHA-256 (hex) of the rule pack bytes.
    pub digest: String,
}

/// Findings compared with the previous run, by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    pub new: Vec<String>,
    pub resolved: Vec<String>,
    pub persisting: Vec<String>,
}

impl Drift {
    /// Sorted, de-duplicated fingerprint sets so the report is deterministic.
    pub fn between<'a>(
        previous: impl IntoIterator<Item = &'a str>,
        current: impl IntoIterator<Item = &'a str>,
    ) -> Drift {
        let previous: BTreeSet<&str> = previous.into_iter().collect();
        let current: BTreeSet<&str> = current.into_iter().collect();
        let owned = |set: BTreeSet<&&str>| set.into_iter().map(|s| s.to_string()).collect();
        Drift {
            new: owned(current.difference(&previous).collect()),
            resolved: owned(previous.difference(&current).collect()),
            persisting: owned(current.intersection(&previous).collect()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Summary {
    pub rules_passed: u64,
    pub rules_failed: u64,
    pub rules_error: u64,
    pub rules_skipped: u64,
    /// severity name -> number of findings.
    pub findings_by_severity: BTreeMap<String, u64>,
    /// Every source delivered in full: a passing rule only proves something when this holds.
    pub evidence_complete: bool,
}

impl Summary {
    pub fn of(sources: &[SourceRun], results: &[RuleResult], findings: &[Finding]) -> Summary {
        let count = |status: RuleStatus| results.iter().filter(|r| r.status == status).count() as u64;
        let mut findings_by_severity = BTreeMap::new();
        for f in findings {
            *findings_by_severity.entry(f.severity.as_str().to_string()).or_insert(0) += 1;
        }
        Summary {
            rules_passed: count(RuleStatus::Pass),
            rules_failed: count(RuleStatus::Fail),
            rules_error: count(RuleStatus::Error),
            rules_skipped: count(RuleStatus::Skip),
            findings_by_severity,
            evidence_complete: sources.iter().all(|s| s.status == SourceStatus::Ok),
        }
    }
}

impl RunReport {
    /// The in-toto subject name: stable, and says which run of which cluster is attested.
    pub fn subject_name(&self) -> String {
        format!("zoneaudit-run-{}-{}", self.cluster, self.run_id)
    }
}

/// The in-toto Statement v1 whose predicate is `report`.
pub fn statement(report: &RunReport) -> Result<Value, EvidenceError> {
    let digest = sha256_hex(&to_canonical_vec(report)?);
    let predicate = serde_json::to_value(report)
        .map_err(|source| EvidenceError::Canonical { what: "run report".to_string(), source })?;
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": report.subject_name(), "digest": { "sha256": digest } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }))
}

/// A signed report ready to be written.
#[derive(Debug, Clone)]
pub struct SignedReport {
    pub envelope: Envelope,
    /// `sha256:` + hex SHA-256 of the envelope payload (the canonical statement): the chain link
    /// the next report carries as `previousReport`.
    pub digest: String,
    /// The envelope file bytes (pretty JSON and a newline).
    pub json: Vec<u8>,
}

pub fn sign_report(report: &RunReport, key: &SigningKey) -> Result<SignedReport, EvidenceError> {
    let body = to_canonical_vec(&statement(report)?)?;
    let envelope = dsse::sign(PAYLOAD_TYPE, &body, key);
    let json = envelope.to_file_bytes();
    Ok(SignedReport { envelope, digest: payload_digest(&body), json })
}

pub(crate) fn payload_digest(body: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(body))
}

/// Verify an envelope file and return the report and its chain digest.
pub fn open_report(envelope_bytes: &[u8], keys: &Keyring) -> Result<(RunReport, String), EvidenceError> {
    let envelope = parse_envelope(envelope_bytes)?;
    open_envelope(&envelope, keys)
}

pub(crate) fn parse_envelope(bytes: &[u8]) -> Result<Envelope, EvidenceError> {
    serde_json::from_slice(bytes)
        .map_err(|e| EvidenceError::Envelope { place: "envelope".to_string(), reason: e.to_string() })
}

pub(crate) fn open_envelope(
    envelope: &Envelope,
    keys: &Keyring,
) -> Result<(RunReport, String), EvidenceError> {
    let body = dsse::verify(envelope, keys)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(EvidenceError::PayloadType {
            found: envelope.payload_type.clone(),
            expected: PAYLOAD_TYPE.to_string(),
        });
    }
    let statement: Value =
        serde_json::from_slice(&body).map_err(|e| statement_error("payload", format!("not JSON: {e}")))?;
    expect_str(&statement, "/_type", STATEMENT_TYPE)?;
    expect_str(&statement, "/predicateType", PREDICATE_TYPE)?;
    let predicate = statement.get("predicate").ok_or_else(|| statement_error("/predicate", "missing"))?;
    let computed = sha256_hex(&to_canonical_vec(predicate)?);
    let found = statement
        .pointer("/subject/0/digest/sha256")
        .and_then(Value::as_str)
        .ok_or_else(|| statement_error("/subject/0/digest/sha256", "missing"))?;
    if found != computed {
        return Err(EvidenceError::SubjectDigest { found: found.to_string(), computed });
    }
    let report: RunReport = serde_json::from_value(predicate.clone())
        .map_err(|e| statement_error("/predicate", format!("not a run report: {e}")))?;
    if report.schema != SCHEMA {
        return Err(statement_error("/predicate/schema", format!("unknown schema {:?}", report.schema)));
    }
    expect_str(&statement, "/subject/0/name", &report.subject_name())?;
    Ok((report, payload_digest(&body)))
}

fn expect_str(statement: &Value, pointer: &str, expected: &str) -> Result<(), EvidenceError> {
    match statement.pointer(pointer).and_then(Value::as_str) {
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(statement_error(pointer, format!("{found:?}, expected {expected:?}"))),
        None => Err(statement_error(pointer, "missing")),
    }
}

fn statement_error(place: &str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Statement { place: place.to_string(), reason: reason.into() }
}

#[cfg(test)]
pub(crate) mod sample {
    //! A small but complete report, shared by the evidence tests.

    use super::*;
    use crate::model::{Origin, PayloadRef, Rejects, Severity};

    pub(crate) fn report(run_id: i64, previous: Option<String>) -> RunReport {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let sources = vec![
            SourceRun {
                name: "calico".into(),
                kind: "calico".into(),
                status: SourceStatus::Ok,
                error: None,
                started_at: t("2024-07-16T02:00:00Z"),
                finished_at: t("2024-07-16T02:00:03Z"),
                counts: [("nodes".to_string(), 6), ("bgpPeers".to_string(), 2)].into(),
                payloads: vec![PayloadRef {
                    name: "nodes.json".into(),
                    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                    size: 5123,
                }],
                rejects: Rejects::default(),
                notes: Vec::new(),
            },
            SourceRun {
                name: "leaf2".into(),
                kind: "eos".into(),
                status: SourceStatus::Failed,
                error: Some("connect 10.0.0.2:443: timed out".into()),
                started_at: t("2024-07-16T02:00:00Z"),
                finished_at: t("2024-07-16T02:00:30Z"),
                counts: BTreeMap::new(),
                payloads: vec![],
                rejects: Rejects::default(),
                notes: Vec::new(),
            },
        ];
        let results = vec![
            RuleResult {
                rule_id: "vrf-leak".into(),
                title: "No route of one zone in another zone's VRF".into(),
                severity: Severity::High,
                status: RuleStatus::Fail,
                checked: "412 routes in 6 VRFs, 1 leak".into(),
                controls: vec!["PCI-DSS 1.3.1".into()],
            },
            RuleResult {
                rule_id: "rr-clients".into(),
                title: "Route reflector clients stay in their zone".into(),
                severity: Severity::Medium,
                status: RuleStatus::Pass,
                checked: "6 sessions".into(),
                controls: vec![],
            },
        ];
        let subject = "leaf1/YELLOW/10.20.1.0/26 | via GREEN";
        let findings = vec![Finding {
            rule_id: "vrf-leak".into(),
            fingerprint: Finding::fingerprint_for("vrf-leak", subject),
            severity: Severity::High,
            zone: Some("yellow".into()),
            subject: subject.into(),
            message: "GREEN prefix 10.20.1.0/26 present in VRF YELLOW".into(),
            evidence: vec![Origin {
                source: "leaf1".into(),
                payload: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
                locator: "/vrfs/YELLOW/routes/10.20.1.0~126".into(),
                excerpt: "{\"routeType\":\"eBGP\",\"note\":\"```danger```\"}".into(),
            }],
        }];
        let summary = Summary::of(&sources, &results, &findings);
        let drift = Drift::between([], findings.iter().map(|f| f.fingerprint.as_str()));
        RunReport {
            schema: SCHEMA.into(),
            run_id,
            cluster: "prod-eu1".into(),
            started_at: t("2024-07-16T02:00:00Z"),
            finished_at: t("2024-07-16T02:01:10.250Z"),
            tool: ToolInfo { name: "zoneaudit".into(), version: "0.1.0".into() },
            config_digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            rule_packs: vec![RulePackRef {
                name: "builtin".into(),
                version: "1".into(),
                digest: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb".into(),
            }],
            sources,
            results,
            findings,
            drift,
            summary,
            previous_report: previous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::keys::KeyPair;

    fn ring(pair: &KeyPair) -> Keyring {
        Keyring::new([pair.public.clone()])
    }

    #[test]
    fn statement_has_in_toto_shape_and_subject_digest_of_canonical_report() {
        let report = sample::report(42, None);
        let st = statement(&report).unwrap();
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(st["predicateType"], "https://zoneaudit.io/attestation/run-report/v1");
        assert_eq!(st["subject"][0]["name"], "zoneaudit-run-prod-eu1-42");
        assert_eq!(st["subject"][0]["digest"]["sha256"], sha256_hex(&to_canonical_vec(&report).unwrap()));
        assert_eq!(st["predicate"]["runId"], 42);
        assert_eq!(st["predicate"]["previousReport"], Value::Null);
        assert_eq!(st["predicate"]["summary"]["evidenceComplete"], false);
        assert_eq!(st["predicate"]["summary"]["findingsBySeverity"]["high"], 1);
    }

    #[test]
    fn sign_and_open_round_trip() {
        let pair = KeyPair::generate().unwrap();
        let report = sample::report(7, Some(format!("sha256:{}", "ab".repeat(32))));
        let signed = sign_report(&report, &pair.signing).unwrap();
        assert!(signed.json.ends_with(b"}\n"));
        let body = signed.envelope.payload_bytes().unwrap();
        assert_eq!(signed.digest, format!("sha256:{}", sha256_hex(&body)));
        // The payload is the canonical statement.
        assert_eq!(body, to_canonical_vec(&statement(&report).unwrap()).unwrap());

        let (opened, digest) = open_report(&signed.json, &ring(&pair)).unwrap();
        assert_eq!(opened, report);
        assert_eq!(digest, signed.digest);
    }

    /// A statement whose predicate was changed after the subject digest was computed is rejected
    /// even when (re)signed: the subject must attest exactly this report.
    #[test]
    fn subject_digest_must_match_the_predicate() {
        let pair = KeyPair::generate().unwrap();
        let report = sample::report(7, None);
        let mut st = statement(&report).unwrap();
        st["predicate"]["cluster"] = json!("prod-eu2");
        let env = dsse::sign(PAYLOAD_TYPE, &to_canonical_vec(&st).unwrap(), &pair.signing);
        let err = open_report(&env.to_file_bytes(), &ring(&pair)).unwrap_err().to_string();
        assert!(err.contains("subject digest"), "{err}");
    }

    #[test]
    fn other_payload_types_and_statements_are_rejected() {
        let pair = KeyPair::generate().unwrap();
        let body = to_canonical_vec(&statement(&sample::report(1, None)).unwrap()).unwrap();
        let env = dsse::sign("application/json", &body, &pair.signing);
        let err = open_report(&env.to_file_bytes(), &ring(&pair)).unwrap_err().to_string();
        assert!(err.contains("payloadType \"application/json\""), "{err}");

        let env =
            dsse::sign(PAYLOAD_TYPE, br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#, &pair.signing);
        let err = open_report(&env.to_file_bytes(), &ring(&pair)).unwrap_err().to_string();
        assert!(err.starts_with("statement /_type:"), "{err}");

        let err = open_report(b"{\"payload\": 1}", &ring(&pair)).unwrap_err().to_string();
        assert!(err.contains("not a DSSE envelope") && err.contains("line 1 column"), "{err}");
    }

    #[test]
    fn drift_and_summary_are_computed_from_the_runs() {
        let drift = Drift::between(["a", "b"], ["c", "b", "c"]);
        assert_eq!(drift.new, ["c"]);
        assert_eq!(drift.resolved, ["a"]);
        assert_eq!(drift.persisting, ["b"]);
        let report = sample::report(1, None);
        assert_eq!((report.summary.rules_failed, report.summary.rules_passed), (1, 1));
        assert!(!report.summary.evidence_complete, "leaf2 failed");
    }

    /// The published JSON Schema describes the report exactly as serialised: every property the
    /// report writes is declared (no additional properties) and every required one is written.
    #[test]
    fn schema_describes_the_serialised_report() {
        let schema: Value =
            serde_json::from_str(include_str!("../../reports/run-report.schema.json")).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let mut report =
            serde_json::to_value(sample::report(3, Some(format!("sha256:{}", "0".repeat(64))))).unwrap();
        let errors = mini_schema::check(&schema, &schema, &report, "");
        assert!(errors.is_empty(), "{errors:#?}");
        let first = serde_json::to_value(sample::report(1, None)).unwrap();
        assert!(mini_schema::check(&schema, &schema, &first, "").is_empty());

        report["sources"][0]["status"] = json!("unknown");
        report["summary"]["extra"] = json!(1);
        let errors = mini_schema::check(&schema, &schema, &report, "");
        assert!(errors.iter().any(|e| e.starts_with("/sources/0/status")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("/summary/extra")), "{errors:#?}");
    }

    /// Just enough JSON Schema (type, enum, const, properties, required,
    /// additionalProperties, items, $ref, anyOf; not pattern or format) to hold the published
    /// schema to the serialiser.
    mod mini_schema {
        use serde_json::Value;

        pub fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
            let mut errors = Vec::new();
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                let target = r.strip_prefix('#').and_then(|p| root.pointer(p));
                return match target {
                    Some(s) => check(root, s, value, at),
                    None => vec![format!("{at}: unresolved $ref {r}")],
                };
            }
            if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
                && !any.iter().any(|s| check(root, s, value, at).is_empty())
            {
                errors.push(format!("{at}: matches no anyOf branch"));
            }
            if let Some(types) = schema.get("type") {
                let names: Vec<&str> = match types {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !names.iter().any(|t| type_matches(t, value)) {
                    errors.push(format!("{at}: {value} is not {names:?}"));
                    return errors;
                }
            }
            if let Some(options) = schema.get("enum").and_then(Value::as_array)
                && !options.contains(value)
            {
                errors.push(format!("{at}: {value} not in enum"));
            }
            if let Some(c) = schema.get("const")
                && c != value
            {
                errors.push(format!("{at}: {value} is not {c}"));
            }
            if let Value::Object(map) = value {
                let props = schema.get("properties").and_then(Value::as_object);
                for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(k) = req.as_str()
                        && !map.contains_key(k)
                    {
                        errors.push(format!("{at}/{k}: required"));
                    }
                }
                for (k, v) in map {
                    let here = format!("{at}/{k}");
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => errors.extend(check(root, s, v, &here)),
                        None => match schema.get("additionalProperties") {
                            Some(Value::Bool(false)) => errors.push(format!("{here}: not allowed")),
                            Some(s @ Value::Object(_)) => errors.extend(check(root, s, v, &here)),
                            _ => {}
                        },
                    }
                }
            }
            if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
                for (i, v) in items.iter().enumerate() {
                    errors.extend(check(root, s, v, &format!("{at}/{i}")));
                }
            }
            errors
        }

        fn type_matches(t: &str, v: &Value) -> bool {
            match t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                _ => false,
            }
        }
    }
}
