//! Rule packs: Kubernetes-style YAML that binds built-in checks to rule ids, severities, controls and
//! remediation text.
//!
//! ```text
//!  YAML bytes ──serde-saphyr──▶ RawPack (every value Spanned: line known, unknown keys rejected)
//!             ──validate──────▶ RulePack { rules: [RuleDef { check, params: CheckParams, .. }] }
//!  LoadedPack = RulePack + sha256(YAML bytes) + origin ("rules/x.yaml" or "builtin:zone-isolation")
//! ```
//!
//! `check` is a closed set ([`CheckKind`]); each check's `params` are parsed into that check's typed
//! struct at load time, so a typo in a pack fails `rules lint` with a line number instead of silently
//! evaluating with defaults at night.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checks::{CheckKind, CheckParams};
use crate::config::RulePackRef;
use crate::model::Severity;

pub const API_VERSION: &str = "zoneaudit.io/v1";
pub const KIND: &str = "RulePack";

/// The pack shipped inside the binary (`builtin:zone-isolation`).
pub const BUILTIN_ZONE_ISOLATION: &str = include_str!("../../rules/zone-isolation.yaml");

/// Packs compiled into the binary, by the name `builtin:<name>` refers to.
pub const BUILTIN_PACKS: [(&str, &str); 1] = [("zone-isolation", BUILTIN_ZONE_ISOLATION)];

#[derive(Debug, thiserror::Error)]
pub enum RulePackError {
    #[error("{origin}: {source}")]
    Read { origin: String, source: std::io::Error },
    #[error("builtin:{name}: no such built-in rule pack (built-in: {known})")]
    UnknownBuiltin { name: String, known: String },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: line {line}: {field}: {message}")]
    Invalid { origin: String, line: u64, field: String, message: String },
    #[error("{origin}: line {line}: rule id {id:?} is already defined by {first}")]
    DuplicateAcrossPacks { origin: String, line: u64, id: String, first: String },
}

/// A validated rule pack.
#[derive(Debug, Clone, PartialEq)]
pub struct RulePack {
    pub name: String,
    pub version: String,
    pub rules: Vec<RuleDef>,
}

/// One rule: a built-in check with its parameters and the compliance context of its findings.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub check: CheckKind,
    /// Always the variant that belongs to `check`.
    pub params: CheckParams,
    pub controls: Vec<String>,
    pub remediation: String,
    /// Line of the rule in its pack, for `rules lint` and messages.
    pub line: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadedPack {
    pub pack: RulePack,
    /// SHA-256 (hex) of the YAML bytes, recorded in every report.
    pub digest: String,
    /// File path or `builtin:<name>`.
    pub origin: String,
}

type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPack {
    api_version: Text,
    kind: Text,
    metadata: Spanned<RawMetadata>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    name: Text,
    version: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Text,
    title: Text,
    severity: Text,
    check: Text,
    #[serde(default)]
    params: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    controls: Vec<Text>,
    #[serde(default)]
    remediation: Option<Text>,
}

/// Load every configured pack; a rule id defined twice (in one pack or across packs) is an error.
pub fn load_packs(refs: &[RulePackRef]) -> Result<Vec<LoadedPack>, RulePackError> {
    let mut packs: Vec<LoadedPack> = Vec::new();
    for r in refs {
        let loaded = match r {
            RulePackRef::Builtin(name) => {
                let text = builtin(name)?;
                load_pack_text(text, &format!("builtin:{name}"))?
            }
            RulePackRef::File(path) => load_pack_file(path)?,
        };
        for rule in &loaded.pack.rules {
            if let Some(first) = packs.iter().find(|p| p.pack.rules.iter().any(|r| r.id == rule.id)) {
                return Err(RulePackError::DuplicateAcrossPacks {
                    origin: loaded.origin.clone(),
                    line: rule.line,
                    id: rule.id.clone(),
                    first: first.origin.clone(),
                });
            }
        }
        packs.push(loaded);
    }
    Ok(packs)
}

pub fn load_pack_file(path: &Path) -> Result<LoadedPack, RulePackError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|source| RulePackError::Read { origin: origin.clone(), source })?;
    load_pack_text(&text, &origin)
}

fn builtin(name: &str) -> Result<&'static str, RulePackError> {
    BUILTIN_PACKS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text).ok_or_else(|| {
        RulePackError::UnknownBuiltin {
            name: name.to_string(),
            known: BUILTIN_PACKS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        }
    })
}

/// Parse and validate a pack; `origin` names it in errors and reports.
pub fn load_pack_text(text: &str, origin: &str) -> Result<LoadedPack, RulePackError> {
    let raw: RawPack = serde_saphyr::from_str(text)
        .map_err(|e| RulePackError::Syntax { origin: origin.to_string(), message: e.to_string() })?;
    let invalid = |at: u64, field: &str, message: String| RulePackError::Invalid {
        origin: origin.to_string(),
        line: at,
        field: field.to_string(),
        message,
    };
    if raw.api_version.value != API_VERSION {
        return Err(invalid(
            raw.api_version.referenced.line(),
            "apiVersion",
            format!("unsupported apiVersion {:?} (expected {API_VERSION})", raw.api_version.value),
        ));
    }
    if raw.kind.value != KIND {
        return Err(invalid(
            raw.kind.referenced.line(),
            "kind",
            format!("unsupported kind {:?} (expected {KIND})", raw.kind.value),
        ));
    }
    let meta = &raw.metadata.value;
    if meta.name.value.trim().is_empty() {
        return Err(invalid(meta.name.referenced.line(), "metadata.name", "must not be empty".into()));
    }
    if meta.version.value.trim().is_empty() {
        return Err(invalid(meta.version.referenced.line(), "metadata.version", "must not be empty".into()));
    }
    let mut rules = Vec::with_capacity(raw.rules.len());
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let rule = rule(i, &r.value, r.referenced.line()).map_err(|(line, field, message)| {
            RulePackError::Invalid { origin: origin.to_string(), line, field, message }
        })?;
        if let Some(first) = seen.insert(rule.id.clone(), rule.line) {
            return Err(invalid(
                r.value.id.referenced.line(),
                &format!("rules[{i}].id"),
                format!("duplicate rule id {:?} (first defined on line {first})", rule.id),
            ));
        }
        rules.push(rule);
    }
    Ok(LoadedPack {
        pack: RulePack {
            name: meta.name.value.trim().to_string(),
            version: meta.version.value.trim().to_string(),
            rules,
        },
        digest: crate::evidence::canonical::sha256_hex(text.as_bytes()),
        origin: origin.to_string(),
    })
}

type FieldError = (u64, String, String);

fn rule(i: usize, r: &RawRule, line: u64) -> Result<RuleDef, FieldError> {
    let field = |f: &str| format!("rules[{i}].{f}");
    let id = r.id.value.trim();
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err((r.id.referenced.line(), field("id"), format!("invalid rule id {:?}", r.id.value)));
    }
    if r.title.value.trim().is_empty() {
        return Err((r.title.referenced.line(), field("title"), "must not be empty".into()));
    }
    let severity: Severity = r
        .severity
        .value
        .trim()
        .parse()
        .map_err(|e: String| (r.severity.referenced.line(), field("severity"), e))?;
    let check = CheckKind::from_name(r.check.value.trim()).ok_or_else(|| {
        let known: Vec<&str> = CheckKind::ALL.iter().map(|c| c.name()).collect();
        (
            r.check.referenced.line(),
            field("check"),
            format!("unknown check {:?} (built-in checks: {})", r.check.value, known.join(", ")),
        )
    })?;
    let params = match &r.params {
        Some(p) => {
            CheckParams::parse(check, &p.value).map_err(|e| (p.referenced.line(), field("params"), e))?
        }
        None => {
            CheckParams::parse(check, &serde_json::Value::Null).map_err(|e| (line, field("params"), e))?
        }
    };
    let mut controls = Vec::new();
    let mut seen = BTreeSet::new();
    for (j, c) in r.controls.iter().enumerate() {
        let v = c.value.trim();
        if v.is_empty() {
            return Err((
                c.referenced.line(),
                format!("rules[{i}].controls[{j}]"),
                "must not be empty".into(),
            ));
        }
        if seen.insert(v.to_string()) {
            controls.push(v.to_string());
        }
    }
    Ok(RuleDef {
        id: id.to_string(),
        title: r.title.value.trim().to_string(),
        severity,
        check,
        params,
        controls,
        remediation: r.remediation.as_ref().map(|t| t.value.trim().to_string()).unwrap_or_default(),
        line: r.id.referenced.line(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACK: &str = "\
apiVersion: zoneaudit.io/v1
kind: RulePack
metadata: { name: test, version: 0.1.0 }
rules:
  - id: T-LEAK
    title: leak
    severity: critical
    check: route-leak
    params: { tables: [vrf, rr] }
    controls: [\"NIST-800-53 SC-7\"]
    remediation: fix the route-map
  - id: T-RR
    title: rr
    severity: medium
    check: rr-redundancy
    params:
      min: 3
";

    fn err(text: &str) -> String {
        load_pack_text(text, "rules/test.yaml").expect_err("pack must be rejected").to_string()
    }

    #[test]
    fn shipped_pack_loads_with_every_check_once() {
        let loaded = load_packs(&[RulePackRef::Builtin("zone-isolation".into())]).unwrap();
        assert_eq!(loaded.len(), 1);
        let p = &loaded[0];
        assert_eq!(p.origin, "builtin:zone-isolation");
        assert_eq!(p.pack.name, "zone-isolation");
        assert_eq!(p.pack.version, "1.0.0");
        assert_eq!(p.digest, crate::evidence::canonical::sha256_hex(BUILTIN_ZONE_ISOLATION.as_bytes()));
        let checks: BTreeSet<CheckKind> = p.pack.rules.iter().map(|r| r.check).collect();
        assert_eq!(checks.len(), 18);
        assert_eq!(checks, CheckKind::ALL.into_iter().collect());
        for r in &p.pack.rules {
            assert!(r.id.starts_with("ZI-"), "{}", r.id);
            assert!(!r.controls.is_empty(), "{} has no controls", r.id);
            assert!(r.remediation.len() > 80, "{} needs a real remediation", r.id);
        }
        let leak = p.pack.rules.iter().find(|r| r.id == "ZI-ROUTE-LEAK").unwrap();
        assert_eq!(leak.severity, Severity::Critical);
        assert!(leak.controls.iter().any(|c| c == "PCI-DSS-4.0 1.3.1"));
    }

    #[test]
    fn params_are_typed_with_defaults() {
        let p = load_pack_text(PACK, "rules/test.yaml").unwrap();
        assert_eq!(p.pack.rules.len(), 2);
        assert_eq!(p.pack.rules[0].line, 5);
        match &p.pack.rules[1].params {
            CheckParams::RrRedundancy(rr) => assert_eq!(rr.min, 3),
            other => panic!("wrong params {other:?}"),
        }
        let without = PACK.replace("    params:\n      min: 3\n", "");
        match &load_pack_text(&without, "x").unwrap().pack.rules[1].params {
            CheckParams::RrRedundancy(rr) => assert_eq!(rr.min, 2),
            other => panic!("wrong params {other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_origin_line_and_key() {
        let e = err(&PACK.replace("    remediation:", "    remedy:"));
        assert!(e.starts_with("rules/test.yaml: "), "{e}");
        assert!(e.contains("line 11"), "{e}");
        assert!(e.contains("remedy"), "{e}");
    }

    #[test]
    fn unknown_check_names_the_line() {
        let e = err(&PACK.replace("check: route-leak", "check: route-leaks"));
        assert!(
            e.starts_with("rules/test.yaml: line 8: rules[0].check: unknown check \"route-leaks\""),
            "{e}"
        );
        assert!(e.contains("route-leak,"), "lists the known checks: {e}");
    }

    #[test]
    fn bad_severity_names_the_line() {
        let e = err(&PACK.replace("severity: medium", "severity: severe"));
        assert_eq!(
            e,
            "rules/test.yaml: line 14: rules[1].severity: unknown severity \"severe\" (info|low|medium|high|critical)"
        );
    }

    #[test]
    fn duplicate_rule_id_names_both_lines() {
        let e = err(&PACK.replace("id: T-RR", "id: T-LEAK"));
        assert_eq!(
            e,
            "rules/test.yaml: line 12: rules[1].id: duplicate rule id \"T-LEAK\" (first defined on line 5)"
        );
    }

    #[test]
    fn bad_params_name_the_line() {
        let e = err(&PACK.replace("min: 3", "minimum: 3"));
        // A block mapping is located at its first key.
        assert!(e.starts_with("rules/test.yaml: line 17: rules[1].params: "), "{e}");
        assert!(e.contains("unknown field `minimum`"), "{e}");
        let e = err(&PACK.replace("[vrf, rr]", "[vrf, leaf]"));
        assert!(e.starts_with("rules/test.yaml: line 9: rules[0].params: "), "{e}");
        assert!(e.contains("leaf"), "{e}");
    }

    #[test]
    fn wrong_api_version_and_kind_are_named() {
        assert_eq!(
            err(&PACK.replace("zoneaudit.io/v1", "zoneaudit.io/v2")),
            "rules/test.yaml: line 1: apiVersion: unsupported apiVersion \"zoneaudit.io/v2\" (expected zoneaudit.io/v1)"
        );
        assert!(err(&PACK.replace("kind: RulePack", "kind: Pack")).contains("line 2: kind:"));
    }

    #[test]
    fn duplicate_ids_across_packs_and_unknown_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.yaml");
        std::fs::write(&path, PACK.replace("T-RR", "ZI-ROUTE-LEAK")).unwrap();
        let e = load_packs(&[RulePackRef::Builtin("zone-isolation".into()), RulePackRef::File(path.clone())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 12: rule id \"ZI-ROUTE-LEAK\" is already defined by builtin:zone-isolation"),
            "{e}"
        );
        let e = load_packs(&[RulePackRef::Builtin("nope".into())]).unwrap_err().to_string();
        assert_eq!(e, "builtin:nope: no such built-in rule pack (built-in: zone-isolation)");
        let e = load_packs(&[RulePackRef::File(dir.path().join("missing.yaml"))]).unwrap_err().to_string();
        assert!(e.contains("missing.yaml: "), "{e}");
    }
}
