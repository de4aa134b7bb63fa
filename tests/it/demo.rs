//! `zoneaudit demo` is the product's front door: three nights, the night-2 leak and cross-zone peer,
//! the night-3 unapproved flow, signed reports that verify and break on any changed byte.

use crate::support::{demo_in, reports, run};

fn night(stdout: &str, n: u32) -> &str {
    let start =
        stdout.find(&format!("── night {n}")).unwrap_or_else(|| panic!("night {n} missing:\n{stdout}"));
    let rest = &stdout[start..];
    let end = rest[3..].find("── night").map(|i| i + 3).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn demo_runs_three_nights_with_the_expected_findings() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo_in(dir.path());
    let n1 = night(&out.stdout, 1);
    assert!(n1.contains("0 findings"), "night 1 must be compliant:\n{n1}");
    assert!(n1.contains("evidence complete"), "{n1}");

    let n2 = night(&out.stdout, 2);
    assert!(
        n2.contains("NEW") && n2.contains("ZI-ROUTE-LEAK") && n2.contains("leaf1/YELLOW/10.20.1.0/26"),
        "{n2}"
    );
    assert!(n2.contains("ZI-CROSS-ZONE-SESSION") && n2.contains("172.31.20.21"), "{n2}");
    assert!(n2.contains("evidence: leaf1"), "a finding shows one line of evidence:\n{n2}");
    assert!(n2.contains("2 findings (2 new, 0 resolved)"), "exactly the two injected faults:\n{n2}");

    let n3 = night(&out.stdout, 3);
    assert!(n3.contains("1 finding (1 new, 2 resolved)"), "{n3}");
    assert!(n3.contains("ZI-UNAPPROVED-FLOW") && n3.contains("green-to-blue-temp"), "{n3}");
    assert_eq!(n3.matches("RESOLVED").count(), 2, "{n3}");

    assert!(out.stdout.contains(&format!("{}/reports/", dir.path().display())), "says where reports are");
    let files = reports(dir.path());
    assert_eq!(files.len(), 3);
    let md: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "md"))
        .collect();
    assert_eq!(md.len(), 3);
    assert!(dir.path().join("keys/zoneaudit.pub").exists());
}

#[test]
fn demo_reports_verify_and_any_changed_byte_fails() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let key = dir.path().join("keys/zoneaudit.pub");
    let files = reports(dir.path());
    let mut args = vec!["verify".to_string(), "--key".into(), key.display().to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    let ok = run(&args_ref);
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(ok.stdout.contains("3 verified, 0 failed"), "{}", ok.stdout);

    let original = std::fs::read(&files[1]).unwrap();
    let tampered = dir.path().join("tampered.dsse.json");
    for pos in [0, 10, original.len() / 3, original.len() / 2, original.len() - 40, original.len() - 1] {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        std::fs::write(&tampered, &bytes).unwrap();
        let out = run(&["verify", "--key", key.to_str().unwrap(), tampered.to_str().unwrap()]);
        assert_eq!(out.code, 1, "a change at byte {pos} must fail verification:\n{}", out.all());
        assert!(out.stdout.contains("0 verified, 1 failed"), "{}", out.stdout);
    }

    // The chain: a report whose predecessor is given but altered is a failure of the chain too.
    let other_key_dir = tempfile::tempdir().unwrap();
    let kg = run(&["keygen", "--out", other_key_dir.path().to_str().unwrap()]);
    assert_eq!(kg.code, 0, "{}", kg.all());
    let wrong = other_key_dir.path().join("zoneaudit.pub");
    let out = run(&["verify", "--key", wrong.to_str().unwrap(), files[0].to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.all().contains("unknown") || out.all().contains("key"),
        "names the key problem:\n{}",
        out.all()
    );
}

#[test]
fn findings_and_runs_list_the_demo_history() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let db = dir.path().join("zoneaudit.db");
    let out = run(&["--db", db.to_str().unwrap(), "findings", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let status = |rule: &str| {
        rows.iter().find(|r| r["ruleId"] == rule).map(|r| r["status"].as_str().unwrap().to_string()).unwrap()
    };
    assert_eq!(status("ZI-ROUTE-LEAK"), "resolved");
    assert_eq!(status("ZI-CROSS-ZONE-SESSION"), "resolved");
    assert_eq!(status("ZI-UNAPPROVED-FLOW"), "open");

    let table = run(&["--db", db.to_str().unwrap(), "findings", "--status", "open"]);
    assert!(
        table.stdout.contains("ZI-UNAPPROVED-FLOW") && !table.stdout.contains("ZI-ROUTE-LEAK"),
        "{}",
        table.stdout
    );

    let runs = run(&["--db", db.to_str().unwrap(), "runs", "list"]);
    assert_eq!(runs.code, 0);
    let rows: Vec<&str> = runs.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{}", runs.stdout);
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[3], "complete", "run status: {row}");
        assert!(cols[6].starts_with("sha256:"), "report digest: {row}");
    }

    let show = run(&["--db", db.to_str().unwrap(), "runs", "show", "2"]);
    assert!(
        show.stdout.contains("ZI-ROUTE-LEAK") && show.stdout.contains("evidence: leaf1"),
        "{}",
        show.stdout
    );
}

#[test]
fn demo_nights_end_at_the_last_two_am_and_repeat_the_unapproved_flow_from_night_three_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["demo", "--nights", "5", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "demo --nights 5 failed:\n{}", out.all());
    for n in [4, 5] {
        let text = night(&out.stdout, n);
        assert!(text.contains("Steady state:") && text.contains("green-to-blue-temp"), "{text}");
        assert!(text.contains("1 finding (0 new, 0 resolved)"), "{text}");
    }

    let db = dir.path().join("zoneaudit.db");
    let listed = run(&["--db", db.to_str().unwrap(), "runs", "list", "-o", "json"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    let runs: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let started: Vec<String> =
        runs.as_array().unwrap().iter().map(|r| r["startedAt"].as_str().unwrap().to_string()).collect();
    // Relative to the day the demo ran: so a `report --since 30d` right after covers every night.
    // The last night is the latest 02:00 UTC that has passed.
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let last = if now.time() >= chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap() {
        today
    } else {
        today - chrono::Days::new(1)
    };
    let expected: Vec<String> =
        (0..5u64).rev().map(|back| format!("{}T02:00:00Z", last - chrono::Days::new(back))).collect();
    assert_eq!(started, expected);

    for id in ["4", "5"] {
        let shown = run(&["--db", db.to_str().unwrap(), "runs", "show", id, "-o", "json"]);
        assert_eq!(shown.code, 0, "{}", shown.all());
        let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
        let findings: Vec<String> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["rule_id"].as_str().unwrap(), f["subject"].as_str().unwrap()))
            .collect();
        assert_eq!(
            findings,
            ["ZI-UNAPPROVED-FLOW fw-core/green->blue/tcp/8080/green-to-blue-temp"],
            "run {id}"
        );
    }

    let files = reports(dir.path());
    assert_eq!(files.len(), 5);
    let key = dir.path().join("keys/zoneaudit.pub").display().to_string();
    let mut args = vec!["verify".to_string(), "--key".into(), key];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let verified = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(verified.code, 0, "{}", verified.all());
    assert!(verified.stdout.contains("5 verified, 0 failed"), "{}", verified.stdout);
}
