//! Bad input gets a clear error naming the place, costs only its source, and changes nothing stored.

use std::path::Path;

use zoneaudit::demo::estate::Scenario;

use crate::support::{demo_in, fixture, night_again, reports, run};

fn config(dir: &Path) -> String {
    dir.join("zoneaudit.yaml").display().to_string()
}

fn verify_all(dir: &Path) -> crate::support::Ran {
    let key = dir.join("keys/zoneaudit.pub").display().to_string();
    let mut args = vec!["verify".to_string(), "--key".into(), key];
    args.extend(reports(dir).iter().map(|f| f.display().to_string()));
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn run_exit_codes_follow_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let cfg = config(dir.path());
    // Another night with the unapproved flow (a new day, so a new firewall log to read).
    night_again(dir.path(), Scenario::UnapprovedFlow);
    let out = run(&["--config", &cfg, "run"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("ZI-UNAPPROVED-FLOW"), "{}", out.stdout);
    // Only findings at or above --fail-on count (re-judging the stored snapshot of that run).
    let flow_is_critical = out.stdout.contains("[critical] ZI-UNAPPROVED-FLOW");
    let out = run(&["--config", &cfg, "--fail-on", "critical", "audit"]);
    assert_eq!(out.code, if flow_is_critical { 1 } else { 0 }, "{}", out.all());
    assert!(out.stdout.contains("ZI-UNAPPROVED-FLOW"), "{}", out.stdout);

    night_again(dir.path(), Scenario::Clean);
    let out = run(&["--config", &cfg, "run"]);
    assert_eq!(out.code, 0, "a compliant night exits 0:\n{}", out.all());
    assert!(out.stdout.contains("RESOLVED") && out.stdout.contains("ZI-UNAPPROVED-FLOW"), "{}", out.stdout);
}

#[test]
fn a_broken_source_costs_that_source_and_nothing_stored_changes() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let cfg = config(dir.path());
    let db = dir.path().join("zoneaudit.db");
    let before = run(&["--db", db.to_str().unwrap(), "runs", "list", "-o", "json"]).stdout;

    night_again(dir.path(), Scenario::Clean);
    let calico_dir = dir.path().join("inputs/calico");
    let victim = std::fs::read_dir(&calico_dir).unwrap().next().unwrap().unwrap().path();
    let mut text = std::fs::read_to_string(&victim).unwrap();
    text.truncate(text.len() / 2);
    std::fs::write(&victim, &text).unwrap();

    let out = run(&["--config", &cfg, "run"]);
    assert_eq!(out.code, 3, "evidence incomplete is exit 3:\n{}", out.all());
    let name = victim.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        out.stdout.contains("source calico failed") || out.stdout.contains("source calico partial"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&name) && out.stdout.contains("line"),
        "the error names the file and line:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("ZI-EVIDENCE-GAP"), "{}", out.stdout);

    // Earlier runs are exactly as they were and their reports still verify.
    let after: serde_json::Value =
        serde_json::from_str(&run(&["--db", db.to_str().unwrap(), "runs", "list", "-o", "json"]).stdout)
            .unwrap();
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(after.as_array().unwrap()[..3], before.as_array().unwrap()[..], "earlier runs unchanged");
    let verified = verify_all(dir.path());
    assert_eq!(verified.code, 0, "{}", verified.all());
    assert!(verified.stdout.contains("4 verified, 0 failed"), "{}", verified.stdout);
}

#[test]
fn config_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let path = dir.path().join("zoneaudit.yaml");
    let good = std::fs::read_to_string(&path).unwrap();

    let typo = good.replacen("firewallZones:", "firewalZones:", 1);
    std::fs::write(&path, &typo).unwrap();
    let out = run(&["--config", path.to_str().unwrap(), "run"]);
    assert_eq!(out.code, 2, "{}", out.all());
    let line = typo.lines().position(|l| l.contains("firewalZones")).unwrap() + 1;
    assert!(
        out.stderr.contains("zoneaudit.yaml") && out.stderr.contains(&format!("line {line}")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("unknown field `firewalZones`"), "{}", out.stderr);

    let bad_cidr = good.replacen("10.20.0.0/16", "10.20.0.0/33", 1);
    std::fs::write(&path, &bad_cidr).unwrap();
    let out = run(&["--config", path.to_str().unwrap(), "run"]);
    assert_eq!(out.code, 2, "{}", out.all());
    let line = bad_cidr.lines().position(|l| l.contains("10.20.0.0/33")).unwrap() + 1;
    assert!(out.stderr.contains(&format!("line {line}: zones.blue.prefixes")), "{}", out.stderr);
    assert!(out.stderr.contains("invalid CIDR \"10.20.0.0/33\""), "{}", out.stderr);

    // Nothing was written by the refused runs.
    let runs =
        run(&["--db", dir.path().join("zoneaudit.db").to_str().unwrap(), "runs", "list", "-o", "json"]);
    let runs: serde_json::Value = serde_json::from_str(&runs.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 3);
}

#[test]
fn parse_shows_facts_and_exits_2_on_unreadable_input() {
    let eos = fixture("eos/eos-show-ip-route-vrf-all.json");
    let out = run(&["parse", "--kind", "eos", "--observer", "leaf1", eos.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("route") && out.stdout.contains("leaf1"), "{}", out.stdout);

    let json = run(&["parse", "--kind", "eos", "-o", "json", eos.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(doc[0]["counts"]["routes"].as_u64().unwrap() > 0, "{doc:#}");

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("routes.json");
    std::fs::write(&broken, "{\n  \"vrfs\": {\n    \"YELLOW\": {\"routes\": {\n").unwrap();
    let out = run(&["parse", "--kind", "eos", broken.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("routes.json") && out.stderr.contains("line"), "{}", out.stderr);

    let bird = dir.path().join("rr.txt");
    let full = std::fs::read_to_string(fixture("bird/birdcl-show-protocols-all-rr.txt")).unwrap();
    let cut: String = full.lines().take(14).map(|l| format!("{l}\n")).collect();
    std::fs::write(&bird, cut).unwrap();
    let out = run(&["parse", "--kind", "bird", bird.to_str().unwrap()]);
    assert_eq!(out.code, 2, "truncated BIRD output:\n{}", out.all());
    assert!(out.stderr.contains("rr.txt: line"), "{}", out.stderr);

    let log = dir.path().join("fw.log");
    let good = std::fs::read_to_string(fixture("panos/panos-traffic.log")).unwrap();
    let first = good.lines().next().unwrap();
    let short = first.rsplitn(3, ',').nth(2).unwrap();
    std::fs::write(&log, format!("{first}\n{short}\n")).unwrap();
    let out = run(&["parse", "--kind", "panos", log.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stdout.contains("1 flows"), "the good line still counts:\n{}", out.stdout);
    assert!(out.stdout.contains("line 2") && out.stdout.contains("field count"), "{}", out.stdout);
}

#[test]
fn unknown_kind_and_missing_database_are_usage_errors() {
    let out = run(&["parse", "--kind", "vyos", "x.json"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown source kind \"vyos\""), "{}", out.stderr);
    let out = run(&["--db", "/nonexistent/za.db", "runs", "list"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/nonexistent/za.db"), "{}", out.stderr);
}

#[test]
fn the_shipped_example_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zoneaudit.example.yaml");
    let settings = zoneaudit::config::Settings::load(&path).unwrap();
    assert_eq!(settings.cluster, "prod-dc1");
    assert_eq!(settings.zones["yellow"].vrf_on("leaf3"), Some("ZONE_YELLOW"));
    assert_eq!(settings.sources.len(), 7);
}
