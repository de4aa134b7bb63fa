//! `zoneaudit report`: the period report a compliance officer receives, in every format, built only
//! from verified run reports.

use std::path::Path;

use crate::support::{demo_in, run};

fn report(dir: &Path, extra: &[&str]) -> crate::support::Ran {
    let config = dir.join("zoneaudit.yaml");
    let db = dir.join("zoneaudit.db");
    let mut args =
        vec!["--config", config.to_str().unwrap(), "--db", db.to_str().unwrap(), "report", "--since", "30d"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn signed_json_period_report_links_every_run_report_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let out_file = dir.path().join("period.dsse.json");
    let out = report(dir.path(), &["--format", "json", "-o", out_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("signed JSON report of demo-dc1"), "{}", out.all());

    // The envelope verifies like a run report, with the public key alone.
    let key = dir.path().join("keys/zoneaudit.pub");
    let verified = run(&["verify", "--key", key.to_str().unwrap(), out_file.to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}", verified.all());
    assert!(verified.stdout.contains("period report"), "{}", verified.stdout);
    assert!(verified.stdout.contains("covering 3 run report(s)"), "{}", verified.stdout);

    // Its payload names the digest of every run report the demo wrote.
    let envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    use base64::Engine;
    let payload =
        base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let period = &statement["predicate"];
    let linked: Vec<&str> =
        period["runs"].as_array().unwrap().iter().map(|r| r["reportDigest"].as_str().unwrap()).collect();
    assert_eq!(linked.len(), 3);
    for file in crate::support::reports(dir.path()) {
        let run_envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let body = base64::engine::general_purpose::STANDARD
            .decode(run_envelope["payload"].as_str().unwrap())
            .unwrap();
        let digest = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)));
        assert!(linked.contains(&digest.as_str()), "{} not linked", file.display());
    }
    // What happened in the window: the leak opened and resolved, the unapproved flow open at the end.
    let findings = period["findings"].as_array().unwrap();
    let leak = findings.iter().find(|f| f["subject"] == "leaf1/YELLOW/10.20.1.0/26").expect("the leak");
    assert!(leak["resolved"].is_object(), "{leak}");
    assert_eq!(leak["openAtEnd"], false);
    let flow = findings.iter().find(|f| f["ruleId"] == "ZI-UNAPPROVED-FLOW").expect("the flow");
    assert_eq!(flow["openAtEnd"], true);
    assert_eq!(period["summary"]["runsVerified"], 3);
    let rule = period["rules"].as_array().unwrap().iter().find(|r| r["ruleId"] == "ZI-ROUTE-LEAK").unwrap();
    assert_eq!(rule["status"], "fail", "failed at some point of the window");
}

#[test]
fn an_edited_run_report_in_the_database_is_no_evidence() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    // Someone "fixes" night 2 in the database: the leak disappears from its stored report.
    let db = rusqlite::Connection::open(dir.path().join("zoneaudit.db")).unwrap();
    let envelope: Vec<u8> =
        db.query_row("SELECT envelope FROM reports WHERE run_id = 2", [], |r| r.get(0)).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let body = String::from_utf8(engine.decode(value["payload"].as_str().unwrap()).unwrap()).unwrap();
    let edited = body.replace("10.20.1.0/26", "10.10.1.0/26");
    assert_ne!(edited, body);
    value["payload"] = engine.encode(edited).into();
    let mut bytes = serde_json::to_vec_pretty(&value).unwrap();
    bytes.push(b'\n');
    db.execute("UPDATE reports SET envelope = ?1 WHERE run_id = 2", [&bytes]).unwrap();
    drop(db);

    let out = report(dir.path(), &["--format", "md"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("run(s) 2 do not verify"), "{}", out.stderr);
    assert!(out.stdout.contains("does not verify"), "the report itself says why:\n{}", out.stdout);
}

#[test]
fn zone_filter_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let out = report(dir.path(), &["--zone", "blue", "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("green-to-blue-temp"), "{}", out.stdout);
    assert!(!out.stdout.contains("leaf1/YELLOW"), "yellow's leak is not blue's:\n{}", out.stdout);

    let out = report(dir.path(), &["--zone", "purple"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--zone purple: not a zone of the configuration"), "{}", out.stderr);

    let config = dir.path().join("zoneaudit.yaml");
    let out = run(&["--config", config.to_str().unwrap(), "report", "--since", "last month"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--since \"last month\": not a duration"), "{}", out.stderr);

    let out =
        run(&["--config", config.to_str().unwrap(), "report", "--since", "30d", "--until", "2001-01-01"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("no evidence"), "a window before monitoring began says so:\n{}", out.stdout);
}
