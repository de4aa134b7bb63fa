//! `report --format oscal` checked by an OSCAL implementation that is not ours (NIST-model pydantic
//! classes of compliance-trestle, and `trestle validate` in a trestle workspace), and
//! `report --format policyreport` read back as Kubernetes YAML.
//!
//! compliance-trestle 3.x is the line that implements OSCAL 1.1 (4.x and later are OSCAL 1.2 and refuse
//! a 1.1 document by its `oscal-version`), hence the pinned install line.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::support::{Ran, demo_in, ran, run};

const INSTALL: &str = "pip install 'compliance-trestle>=3.12,<4'";

/// Reads an assessment-results file through trestle's OSCAL model (full pydantic validation).
/// Exit 0 valid, 1 invalid (the reason on stderr), 3 trestle not installed.
const VALIDATE_PY: &str = r#"
import pathlib, sys
try:
    from trestle.oscal import OSCAL_VERSION
    from trestle.oscal.assessment_results import AssessmentResults
except ImportError as e:
    print(f"compliance-trestle is not installed: {e}", file=sys.stderr)
    sys.exit(3)
try:
    ar = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))
except Exception as e:
    print(f"INVALID (trestle OSCAL {OSCAL_VERSION}): {e}", file=sys.stderr)
    sys.exit(1)
print(f"VALID (trestle OSCAL {OSCAL_VERSION}): {len(ar.results[0].findings or [])} findings")
"#;

fn python(args: &[&str]) -> Ran {
    match Command::new("python3").args(args).output() {
        Ok(out) => ran(out),
        Err(e) => {
            panic!("python3 is needed to run compliance-trestle ({e}); install python3, then {INSTALL}")
        }
    }
}

/// Trestle's model validation of `file`: `Ok` when valid, `Err(reason)` when trestle rejects it.
/// A missing trestle fails the test: a validation that cannot run proves nothing.
fn trestle_model_check(file: &Path) -> Result<String, String> {
    let out = python(&["-c", VALIDATE_PY, file.to_str().unwrap()]);
    match out.code {
        0 => Ok(out.stdout),
        1 => Err(out.stderr),
        3 => panic!("compliance-trestle is missing: {INSTALL}\n{}", out.stderr),
        _ => panic!("trestle validation crashed ({INSTALL} for a working install):\n{}", out.all()),
    }
}

/// `trestle validate -f` (model, duplicate uuids, references) in a fresh trestle workspace.
fn trestle_validate_cli(file: &Path) -> Ran {
    let workspace = tempfile::tempdir().unwrap();
    let trestle =
        |args: &[&str]| match Command::new("trestle").args(args).current_dir(workspace.path()).output() {
            Ok(out) => ran(out),
            Err(e) => panic!("the trestle command is missing ({e}): {INSTALL}"),
        };
    let init = trestle(&["init"]);
    assert_eq!(init.code, 0, "trestle init:\n{}", init.all());
    let placed = workspace.path().join("assessment-results/zoneaudit/assessment-results.json");
    std::fs::create_dir_all(placed.parent().unwrap()).unwrap();
    std::fs::copy(file, &placed).unwrap();
    trestle(&["validate", "-f", placed.to_str().unwrap()])
}

/// The demo's three nights, then `report --since 30d --format <format>` into `dir/<name>`.
fn demo_report(dir: &Path, format: &str, name: &str) -> PathBuf {
    demo_in(dir);
    let out_file = dir.join(name);
    let config = dir.join("zoneaudit.yaml");
    let db = dir.join("zoneaudit.db");
    let out = run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "report",
        "--since",
        "30d",
        "--format",
        format,
        "-o",
        out_file.to_str().unwrap(),
    ]);
    // 1 = written, but some run report does not verify: still a report.
    assert!(out.code == 0 || out.code == 1, "report --format {format} exit {}:\n{}", out.code, out.all());
    assert!(out_file.is_file(), "no {name} written:\n{}", out.all());
    out_file
}

fn has_prop(item: &Value, name: &str, value: &str) -> bool {
    item["props"]
        .as_array()
        .is_some_and(|props| props.iter().any(|p| p["name"] == name && p["value"] == value))
}

fn finding<'a>(doc: &'a Value, rule: &str, control: &str) -> &'a Value {
    doc["assessment-results"]["results"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["target"]["target-id"] == control && has_prop(f, "rule-id", rule))
        .unwrap_or_else(|| panic!("no finding for {rule} against {control}"))
}

#[test]
fn the_oscal_report_of_the_demo_is_valid_assessment_results_for_trestle() {
    let dir = tempfile::tempdir().unwrap();
    let file = demo_report(dir.path(), "oscal", "ar.json");

    let verdict = trestle_model_check(&file).unwrap_or_else(|e| {
        panic!("trestle rejects the document (zoneaudit writes OSCAL 1.1: {INSTALL}):\n{e}")
    });
    assert!(verdict.contains("VALID"), "{verdict}");
    let cli = trestle_validate_cli(&file);
    assert_eq!(cli.code, 0, "trestle validate:\n{}", cli.all());
    assert!(cli.all().contains("VALID: Model"), "{}", cli.all());

    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let result = &doc["assessment-results"]["results"][0];
    let reviewed: Vec<&str> = result["reviewed-controls"]["control-selections"][0]["include-controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["control-id"].as_str().unwrap())
        .collect();
    for id in ["sc-7", "sc-7.5", "ca-7", "au-6", "ac-4"] {
        assert!(reviewed.contains(&id), "{id} not reviewed: {reviewed:?}");
    }
    // Night 2's route leak: SC-7 not satisfied, and the finding names what leaked.
    let leak = finding(&doc, "ZI-ROUTE-LEAK", "sc-7");
    assert_eq!(leak["target"]["status"]["state"], "not-satisfied");
    assert_eq!(leak["target"]["status"]["reason"], "fail");
    assert!(leak["description"].as_str().unwrap().contains("leaf1/YELLOW/10.20.1.0/26"), "{leak:#}");
    assert!(has_prop(leak, "control", "PCI-DSS-4.0 1.3.1"), "PCI stays a prop: {leak:#}");
    // Night 3's unapproved flow, against SC-7(5).
    let flow = finding(&doc, "ZI-UNAPPROVED-FLOW", "sc-7.5");
    assert_eq!(flow["target"]["status"]["state"], "not-satisfied");
    assert!(flow["description"].as_str().unwrap().contains("green-to-blue-temp"), "{flow:#}");
    // The leak's evidence travels with it, as an observation the finding relates to.
    let related: Vec<&str> = leak["related-observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["observation-uuid"].as_str().unwrap())
        .collect();
    let observation = result["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| related.contains(&o["uuid"].as_str().unwrap()) && o["types"][0] == "finding")
        .expect("the leak's observation");
    assert!(!observation["relevant-evidence"].as_array().unwrap().is_empty(), "{observation:#}");
}

#[test]
fn trestle_rejects_a_broken_assessment_results_document() {
    let dir = tempfile::tempdir().unwrap();
    let file = demo_report(dir.path(), "oscal", "ar.json");
    let good: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();

    let mut bad_uuid = good.clone();
    bad_uuid["assessment-results"]["results"][0]["findings"][0]["uuid"] = "not-a-uuid".into();
    let mut no_metadata = good.clone();
    no_metadata["assessment-results"].as_object_mut().unwrap().remove("metadata");
    let mut bad_state = good;
    bad_state["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        "mostly".into();

    for (name, doc, expect) in [
        ("bad-uuid", bad_uuid, "uuid"),
        ("no-metadata", no_metadata, "metadata"),
        ("bad-state", bad_state, "state"),
    ] {
        let broken = dir.path().join(format!("{name}.json"));
        std::fs::write(&broken, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let reason = trestle_model_check(&broken).expect_err(name);
        assert!(reason.contains(expect), "{name}: {reason}");
    }
    let broken = dir.path().join("bad-uuid.json");
    let cli = trestle_validate_cli(&broken);
    assert_ne!(cli.code, 0, "trestle validate accepts a bad uuid:\n{}", cli.all());
}

#[test]
fn the_policyreport_of_the_demo_is_a_cluster_policy_report_with_the_leak_failed() {
    let dir = tempfile::tempdir().unwrap();
    let file = demo_report(dir.path(), "policyreport", "report.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"));
    assert_eq!(doc["apiVersion"], "wgpolicyk8s.io/v1alpha2");
    assert_eq!(doc["kind"], "ClusterPolicyReport");
    assert_eq!(doc["metadata"]["labels"]["app.kubernetes.io/managed-by"], "zoneaudit");
    let results = doc["results"].as_array().expect("results");
    let leak: Vec<&Value> = results.iter().filter(|r| r["policy"] == "ZI-ROUTE-LEAK").collect();
    assert!(leak.iter().any(|r| r["result"] == "fail" && r["category"] == "zone isolation window"), "{text}");
    assert!(
        leak.iter()
            .any(|r| r["result"] == "fail" && r["properties"]["subject"] == "leaf1/YELLOW/10.20.1.0/26"),
        "{text}"
    );
    let fails = results.iter().filter(|r| r["result"] == "fail").count() as u64;
    assert_eq!(doc["summary"]["fail"].as_u64(), Some(fails), "summary agrees with the results");
}
