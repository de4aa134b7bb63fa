//! `collect --record DIR` writes what every source yielded in replay form, with a config that
//! replays it: the replayed audit finds exactly what the original finds.

use zoneaudit::demo::estate::Scenario;

use crate::support::{demo_in, night_again, run};

#[test]
fn a_recorded_collection_replays_to_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let cfg = dir.path().join("zoneaudit.yaml");
    let rec = dir.path().join("recording");
    // Firewall logs are read incrementally: a new night's log, so there is something new to read.
    night_again(dir.path(), Scenario::UnapprovedFlow);
    let out = run(&["--config", cfg.to_str().unwrap(), "collect", "--record", rec.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("recorded for replay"), "{}", out.stdout);
    let replay_cfg = rec.join("zoneaudit.yaml");
    let text = std::fs::read_to_string(&replay_cfg).unwrap();
    assert!(text.contains("yellow-rr1/01-"), "{text}");
    assert!(rec.join("calico").is_dir() && rec.join("fw-core").is_dir());

    night_again(dir.path(), Scenario::UnapprovedFlow);
    let original = run(&["--config", cfg.to_str().unwrap(), "run"]);
    let replayed = run(&["--config", replay_cfg.to_str().unwrap(), "run"]);
    assert_eq!(replayed.code, original.code, "{}\n---\n{}", original.all(), replayed.all());
    let finding_lines = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.trim_start().starts_with("NEW") || l.trim_start().starts_with("OPEN"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert!(!finding_lines(&replayed.stdout).is_empty(), "{}", replayed.stdout);
    // The replay writes its own database, so every finding is new there; compare rule and subject
    // (the messages name each night's own times: the original ran on the next day's log).
    let subjects = |s: &str| -> Vec<String> {
        let subject = |l: &String| {
            let after_severity = l.split_once(']').unwrap().1;
            after_severity.split_once(": ").unwrap().0.trim().to_string()
        };
        let mut v: Vec<String> = finding_lines(s).iter().map(subject).collect();
        v.sort();
        v
    };
    assert_eq!(subjects(&replayed.stdout), subjects(&original.stdout));
    assert!(rec.join("zoneaudit.db").exists(), "the replay keeps its own database");
}
