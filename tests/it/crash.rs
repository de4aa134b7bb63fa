//! A run killed at any point leaves earlier runs and reports intact and itself marked incomplete.
//!
//! The kill is made deterministic without any test hook in the product: the last source reads a
//! FIFO, so the process is provably mid-run (earlier sources stored, report not yet written) when
//! the test's `open` of the FIFO's write end returns.

use std::process::Stdio;

use crate::support::{demo_in, reports, run, zoneaudit};

#[test]
fn kill_during_a_run_marks_it_incomplete_and_keeps_earlier_runs() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let cfg_path = dir.path().join("zoneaudit.yaml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let fifo = dir.path().join("inputs/stuck.log");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let stuck = "- name: stuck\n  kind: panos\n  files: [inputs/stuck.log]\n";
    let cfg = insert_source(&cfg, stuck);
    std::fs::write(&cfg_path, cfg).unwrap();

    let mut child = zoneaudit()
        .args(["--config", cfg_path.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Blocks until zoneaudit opens the FIFO to read it: the run is under way.
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(writer);

    let db = dir.path().join("zoneaudit.db");
    let out = run(&["--db", db.to_str().unwrap(), "runs", "list", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4, "{runs:#?}");
    for r in &runs[..3] {
        assert_eq!(r["status"], "complete");
    }
    assert_eq!(runs[3]["status"], "incomplete");
    assert!(runs[3]["reportDigest"].is_null());

    // The interrupted run left no report, and the three earlier ones still verify.
    assert_eq!(reports(dir.path()).len(), 3);
    let key = dir.path().join("keys/zoneaudit.pub");
    let mut args = vec!["verify".to_string(), "--key".into(), key.display().to_string()];
    args.extend(reports(dir.path()).iter().map(|f| f.display().to_string()));
    let verified = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(verified.code, 0, "{}", verified.all());

    // The next run chains to the last complete report, not to the interrupted run.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(&fifo, "").unwrap();
    let next = run(&["--config", cfg_path.to_str().unwrap(), "run"]);
    assert!(next.code == 1 || next.code == 3, "{}", next.all());
    let mut args = vec!["verify".to_string(), "--key".into(), key.display().to_string()];
    args.extend(reports(dir.path()).iter().map(|f| f.display().to_string()));
    let verified = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(verified.code, 0, "{}", verified.all());
    assert!(verified.stdout.contains("4 verified, 0 failed"), "{}", verified.stdout);
}

/// Append a source item to the `sources:` list of a demo config, whatever its indentation.
fn insert_source(cfg: &str, item: &str) -> String {
    let mut lines: Vec<&str> = cfg.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("sources:")).expect("config has sources");
    let mut end = start + 1;
    while end < lines.len()
        && (lines[end].starts_with(' ') || lines[end].starts_with('-') || lines[end].is_empty())
    {
        end += 1;
    }
    let indent = lines[start + 1].find('-').unwrap_or(0);
    let pad = " ".repeat(indent);
    let block: String = item.lines().map(|l| format!("{pad}{l}\n")).collect();
    let mut out: String = lines.drain(..end).map(|l| format!("{l}\n")).collect();
    out.push_str(&block);
    out.extend(lines.iter().map(|l| format!("{l}\n")));
    out
}
