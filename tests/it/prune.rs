//! Retention: `runs prune` on thirty demo nights, as an operator runs it, and what an auditor can
//! still check afterwards.

use std::path::{Path, PathBuf};

use super::support::run;

/// Thirty demo nights (the last this morning, one a day) in a fresh directory.
fn thirty_nights() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["demo", "--nights", "30", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "demo --nights 30 failed:\n{}", out.all());
    let config = dir.path().join("zoneaudit.yaml");
    (dir, config)
}

fn db_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("zoneaudit.db")).unwrap()
}

fn tombstones(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("tombstone-"))
        .collect();
    v.sort();
    v
}

fn run_ids(config: &str) -> Vec<i64> {
    let out = run(&["--config", config, "runs", "list", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    runs.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[test]
fn pruning_thirty_nights_to_ten_days_leaves_a_verifiable_tombstone_and_a_smaller_database() {
    let (dir, config) = thirty_nights();
    let d = dir.path();
    let config = config.to_str().unwrap();
    let key = d.join("keys/zoneaudit.pub");
    let key = key.to_str().unwrap();
    let before = db_bytes(d);
    // For the docs: the database size after 30 demo nights.
    println!("database size after 30 demo nights: {} bytes", before.len());

    // A dry run prints the plan and does not touch a byte.
    let dry = run(&["--config", config, "runs", "prune", "--keep", "10d", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("dry run: nothing is changed"), "{}", dry.stdout);
    let planned = dry.stdout.lines().find(|l| l.starts_with("would prune runs 1–")).unwrap_or_else(|| {
        panic!("no plan line:\n{}", dry.stdout);
    });
    assert!(planned.contains("keep 10d"), "{planned}");
    assert!(db_bytes(d) == before, "--dry-run changed the database");
    assert!(tombstones(d).is_empty());

    let out = run(&["--config", config, "runs", "prune", "--keep", "10d"]);
    assert_eq!(out.code, 0, "{}", out.all());
    // Nights are at 02:00 UTC, the last one this morning: ten (or eleven, before 02:00) stay.
    let kept = run_ids(config);
    let first_kept = kept[0];
    assert!((20..=21).contains(&(first_kept - 1)), "about 20 runs pruned, kept {kept:?}\n{}", out.stdout);
    assert_eq!(kept, (first_kept..=30).collect::<Vec<_>>());
    assert!(out.stdout.contains(&format!("pruned runs 1–{} (", first_kept - 1)), "{}", out.stdout);
    assert!(out.stdout.contains("payloads: ") && out.stdout.contains(" after VACUUM ("), "{}", out.stdout);
    let after = db_bytes(d);
    println!("database size after pruning to 10 days: {} bytes", after.len());
    assert!(after.len() < before.len(), "VACUUM should shrink the file: {} -> {}", before.len(), after.len());

    // The tombstone file verifies with the public key, like a report.
    let files = tombstones(d);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("tombstone-000001-{:06}-", first_kept - 1)) && name.ends_with(".dsse.json"),
        "{name}"
    );
    assert!(out.stdout.contains(&format!("tombstone: {}", files[0].display())), "{}", out.stdout);
    let verified = run(&["verify", "--key", key, files[0].to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}", verified.all());
    assert!(
        verified.stdout.contains(&format!("tombstone of runs 1-{}", first_kept - 1)),
        "{}",
        verified.stdout
    );
    // The report files of the pruned runs stay on disk, and everything there still verifies.
    let all: Vec<String> =
        super::support::reports(d).iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let mut args = vec!["verify", "--key", key];
    args.extend(all.iter().map(String::as_str));
    let verified = run(&args);
    assert_eq!(verified.code, 0, "{}", verified.all());

    // The chain over the database accounts for the pruned runs.
    let chain = run(&["--config", config, "verify", "--chain"]);
    assert_eq!(chain.code, 0, "{}", chain.all());
    assert!(
        chain.stdout.contains(&format!("chain: follows pruned run {} (tombstone of runs 1-", first_kept - 1)),
        "{}",
        chain.stdout
    );
    assert!(chain.stdout.contains("1 tombstone: 1 verified, 0 failed"), "{}", chain.stdout);

    // Period report and findings still work; pruned nights are nights without evidence.
    let report = run(&["--config", config, "report", "--since", "30d"]);
    assert_eq!(report.code, 0, "{}", report.all());
    assert!(report.stdout.contains(" of 30 nights have no evidence"), "{}", report.stdout);
    let findings = run(&["--config", config, "findings"]);
    assert!(findings.code == 0 || findings.code == 1, "{}", findings.all());
    assert!(findings.stdout.contains("ZI-UNAPPROVED-FLOW"), "{}", findings.stdout);

    // Keeping more than the oldest run's age prunes nothing and writes no tombstone.
    let bytes = db_bytes(d);
    let none = run(&["--config", config, "runs", "prune", "--keep", "400d"]);
    assert_eq!(none.code, 0, "{}", none.all());
    assert!(none.stdout.starts_with("nothing to prune"), "{}", none.stdout);
    assert_eq!(tombstones(d).len(), 1);
    assert!(db_bytes(d) == bytes, "pruning nothing changed the database");
}

#[test]
fn keeping_longer_than_the_oldest_run_prunes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["demo", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    let config = dir.path().join("zoneaudit.yaml");
    let config = config.to_str().unwrap();
    let before = db_bytes(dir.path());
    let out = run(&["--config", config, "runs", "prune", "--keep", "30d"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("nothing to prune") && out.stdout.contains("keep 30d"), "{}", out.stdout);
    assert!(tombstones(dir.path()).is_empty());
    assert!(db_bytes(dir.path()) == before);
    assert_eq!(run_ids(config), [1, 2, 3]);

    // Everything due, but the latest complete run is never pruned.
    let out = run(&["--config", config, "runs", "prune", "--keep", "1s"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("run 3 is the latest complete run"), "{}", out.stdout);
    assert_eq!(run_ids(config), [3]);

    // Without --keep: the config's retention.keep, 400 days by default.
    let default = run(&["--config", config, "runs", "prune"]);
    assert_eq!(default.code, 0, "{}", default.all());
    assert!(
        default.stdout.contains("nothing to prune") && default.stdout.contains("keep 400d"),
        "{}",
        default.stdout
    );
}

/// The baseline's run is pruned (the demo accepts night 1); drift is still measured against it.
#[test]
fn the_baseline_outlives_its_pruned_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["demo", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    let config = dir.path().join("zoneaudit.yaml");
    let config = config.to_str().unwrap();
    let out = run(&["--config", config, "runs", "prune", "--keep", "1s"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let diff = run(&["--config", config, "diff", "--from", "3", "--to", "3"]);
    assert_eq!(diff.code, 0, "{}", diff.all());
}
