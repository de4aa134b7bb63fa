//! `zoneaudit simulate` then `zoneaudit run`: at scale S the run finds exactly the injected
//! anomalies that `expected.json` lists, nothing else, with complete evidence.

use std::collections::BTreeSet;

use crate::support::run;

#[test]
fn a_run_on_the_simulated_estate_finds_exactly_the_injected_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    let made = run(&["simulate", "--scale", "S", "--out", dir.path().to_str().unwrap(), "--seed", "42"]);
    assert_eq!(made.code, 0, "{}", made.all());
    assert!(made.stdout.contains("sim-s: 3 zones, 60 nodes"), "{}", made.stdout);
    assert!(made.stdout.contains("3 findings a run must produce"), "{}", made.stdout);
    let config = dir.path().join("zoneaudit.yaml");

    let ran = run(&["--config", config.to_str().unwrap(), "run"]);
    // Exit 1: the run completed and found something (the injected anomalies).
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert!(ran.stdout.contains("evidence complete"), "{}", ran.all());

    let db = dir.path().join("zoneaudit.db");
    let shown = run(&["--db", db.to_str().unwrap(), "runs", "show", "1", "-o", "json"]);
    assert_eq!(shown.code, 0, "{}", shown.all());
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let found: BTreeSet<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule_id"].as_str().unwrap().to_string(), f["subject"].as_str().unwrap().to_string()))
        .collect();

    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("expected.json")).unwrap()).unwrap();
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|e| (e["ruleId"].as_str().unwrap().to_string(), e["subject"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn an_unknown_scale_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["simulate", "--scale", "XXL", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("unknown scale \"XXL\" (S|M|L|XL)"), "{}", out.stderr);
}
