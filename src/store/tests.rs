use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use std::io::Write;

use super::*;
use crate::model::{BgpSession, FlowAggregate, NodeFact, Route, SessionType};

const ROUTES_TXT: &[u8] = b"10.20.1.0/26 via 172.31.20.5 on eth0 [rr_yellow 02:00:01] * (100) [AS64512i]\n";
const SESSIONS_TXT: &[u8] = b"rr_yellow BGP --- up 02:00:01 Established\n";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("test timestamp").with_timezone(&Utc)
}

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn temp_db() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("zoneaudit.db");
    Db { _dir: dir, path }
}

fn origin(payload: &str, locator: &str, excerpt: &str) -> Origin {
    Origin {
        source: "rr-yellow".into(),
        payload: payload.into(),
        locator: locator.into(),
        excerpt: excerpt.into(),
    }
}

fn sample_facts(payload: &str) -> Facts {
    let mut labels = BTreeMap::new();
    labels.insert("zone".to_string(), "yellow".to_string());
    Facts {
        nodes: vec![NodeFact {
            name: "worker-y1".into(),
            labels,
            bgp_ipv4: Some("172.31.10.21/24".parse().unwrap()),
            bgp_ipv6: None,
            addresses: vec!["172.31.10.21".parse().unwrap()],
            asn: Some(64512),
            rr_cluster_id: None,
            origin: origin(payload, "/items/0", "{\"metadata\":{\"name\":\"worker-y1\"}}"),
        }],
        sessions: vec![BgpSession {
            observer: "rr-yellow".into(),
            vrf: None,
            protocol: Some("rr_yellow".into()),
            local_addr: Some("172.31.10.5".parse().unwrap()),
            peer_addr: "172.31.20.5".parse().unwrap(),
            peer_asn: Some(64512),
            state: "Established".into(),
            since: Some("02:00:01".into()),
            session_type: SessionType::Ibgp,
            prefixes_received: Some(3),
            origin: origin(payload, "line 1", "rr_yellow BGP --- up 02:00:01 Established"),
        }],
        routes: vec![Route {
            observer: "rr-yellow".into(),
            table: "master4".into(),
            prefix: "10.20.1.0/26".parse().unwrap(),
            next_hops: vec!["172.31.20.5".parse().unwrap()],
            protocol: "bgp".into(),
            learned_from: Some("172.31.20.5".parse().unwrap()),
            as_path: vec![64512],
            best: true,
            origin: origin(payload, "line 1", "10.20.1.0/26 via 172.31.20.5 on eth0"),
        }],
        flows: vec![FlowAggregate {
            firewall: "pa-core".into(),
            from_fw_zone: "trust-yellow".into(),
            to_fw_zone: "trust-blue".into(),
            src_zone: Some("yellow".into()),
            dst_zone: Some("blue".into()),
            rule: "yellow-to-blue-https".into(),
            action: "allow".into(),
            protocol: "tcp".into(),
            dst_port: 443,
            count: 12,
            bytes: 4096,
            first_seen: "2024/07/16 10:15:01".into(),
            last_seen: "2024/07/16 10:17:44".into(),
            samples: vec![origin(payload, "line 7", "1,2024/07/16 10:15:01,TRAFFIC,end")],
        }],
        ..Facts::default()
    }
}

fn source_run(name: &str, payloads: Vec<PayloadRef>) -> SourceRun {
    let mut counts = BTreeMap::new();
    counts.insert("routes".to_string(), 1);
    counts.insert("sessions".to_string(), 1);
    let mut rejects = Rejects::default();
    rejects.add("no timestamp", 9, "garbage line");
    SourceRun {
        name: name.into(),
        kind: "bird".into(),
        status: SourceStatus::Partial,
        error: Some("2 lines rejected".into()),
        started_at: at("2024-07-16T02:00:01.123456789Z"),
        finished_at: at("2024-07-16T02:00:03Z"),
        counts,
        payloads,
        rejects,
        notes: vec!["transport: socket".into()],
    }
}

fn rule(id: &str, status: RuleStatus) -> RuleResult {
    RuleResult {
        rule_id: id.into(),
        title: format!("{id} title"),
        severity: Severity::Critical,
        status,
        checked: "4 routes in 2 tables, 1 leak".into(),
        controls: vec!["PCI-DSS-4.0 1.3.1".into(), "NIST-800-53 SC-7".into()],
    }
}

fn finding(subject: &str, message: &str, evidence: Vec<Origin>) -> Finding {
    Finding {
        rule_id: "ZI-ROUTE-LEAK".into(),
        fingerprint: Finding::fingerprint_for("ZI-ROUTE-LEAK", subject),
        severity: Severity::Critical,
        zone: Some("yellow".into()),
        subject: subject.into(),
        message: message.into(),
        evidence,
    }
}

fn count(store: &Store, table: &str) -> i64 {
    store.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// A complete run with one finding per subject and a report; returns its id.
fn complete_run(store: &mut Store, started: &str, subjects: &[&str], report_digest: Option<&str>) -> i64 {
    let started_at = at(started);
    let run = store.begin_run("prod-dc1", started_at, "sha256:cfg", "0.1.0").unwrap();
    let sha = store.put_payload(ROUTES_TXT).unwrap();
    let payloads = vec![PayloadRef {
        name: "show-route.txt".into(),
        sha256: sha.clone(),
        size: ROUTES_TXT.len() as u64,
    }];
    store.record_source(run, &source_run("rr-yellow", payloads), &sample_facts(&sha)).unwrap();
    let findings: Vec<Finding> = subjects
        .iter()
        .map(|s| {
            finding(s, &format!("{s} leaked at {started}"), vec![origin(&sha, "line 1", "10.20.1.0/26")])
        })
        .collect();
    store.record_evaluation(run, &[rule("ZI-ROUTE-LEAK", RuleStatus::Fail)], &findings).unwrap();
    if let Some(digest) = report_digest {
        store.record_report(run, digest, format!("envelope of {digest}").as_bytes(), "# report").unwrap();
    }
    store.finish_run(run, started_at + TimeDelta::minutes(5), RunStatus::Complete, true).unwrap();
    run
}

#[test]
fn fresh_database_is_migrated_in_wal_mode_with_foreign_keys() {
    let db = temp_db();
    let store = Store::open(&db.path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::LATEST_VERSION);
    let mode: String = store.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store.conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = store.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    let tables: Vec<String> = store
        .conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "baseline",
            "evidence",
            "fact_rows",
            "findings",
            "log_cursors",
            "notified",
            "outbox",
            "payloads",
            "reports",
            "rule_results",
            "runs",
            "source_payloads",
            "source_runs",
            "tombstones"
        ]
    );
    drop(store);
    // Reopening an up-to-date database migrates nothing and keeps the version.
    let store = Store::open(&db.path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::LATEST_VERSION);
    assert!(store.runs().unwrap().is_empty());
}

#[test]
fn open_names_the_database_when_its_directory_is_missing() {
    let db = temp_db();
    let path = db.path.parent().unwrap().join("missing").join("zoneaudit.db");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

#[test]
fn newer_schema_is_refused() {
    let db = temp_db();
    drop(Store::open(&db.path).unwrap());
    let conn = Connection::open(&db.path).unwrap();
    conn.pragma_update(None, "user_version", schema::LATEST_VERSION + 5).unwrap();
    drop(conn);
    let err = Store::open(&db.path).unwrap_err();
    assert!(matches!(err, StoreError::Migrate { .. }), "{err:?}");
    assert!(err.to_string().contains("schema migration failed"), "{err}");
}

#[test]
fn identical_payload_bytes_are_stored_once() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let first = store.put_payload(ROUTES_TXT).unwrap();
    let stored: i64 =
        store.conn.query_row("SELECT sum(length(zlib)) FROM payloads", [], |r| r.get(0)).unwrap();
    let second = store.put_payload(ROUTES_TXT).unwrap();
    assert_eq!(first, second);
    assert_eq!(first, hex::encode(Sha256::digest(ROUTES_TXT)));
    assert_eq!(count(&store, "payloads"), 1);
    let again: i64 =
        store.conn.query_row("SELECT sum(length(zlib)) FROM payloads", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, again);
    let size: i64 = store.conn.query_row("SELECT size FROM payloads", [], |r| r.get(0)).unwrap();
    assert_eq!(size, ROUTES_TXT.len() as i64);

    let other = store.put_payload(SESSIONS_TXT).unwrap();
    assert_ne!(other, first);
    assert_eq!(count(&store, "payloads"), 2);
    assert_eq!(store.payload(&first).unwrap().as_deref(), Some(ROUTES_TXT));
    assert_eq!(store.payload(&other).unwrap().as_deref(), Some(SESSIONS_TXT));
    assert_eq!(store.payload(&"0".repeat(64)).unwrap(), None);
}

#[test]
fn empty_payload_round_trips() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let sha = store.put_payload(b"").unwrap();
    assert_eq!(store.payload(&sha).unwrap(), Some(Vec::new()));
}

#[test]
fn altered_payload_is_refused_on_read() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let sha = store.put_payload(ROUTES_TXT).unwrap();

    // Same length, different content, valid zlib: only the digest check can notice.
    let mut forged = ROUTES_TXT.to_vec();
    forged[0] = b'9';
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    enc.write_all(&forged).unwrap();
    let forged_zlib = enc.finish().unwrap();
    store.conn.execute("UPDATE payloads SET zlib = ?1 WHERE sha256 = ?2", params![forged_zlib, sha]).unwrap();
    let err = store.payload(&sha).unwrap_err();
    assert!(matches!(err, StoreError::CorruptPayload { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&sha), "{text}");
    assert!(text.contains(&hex::encode(Sha256::digest(&forged))), "{text}");
    assert!(text.contains(&db.path.display().to_string()), "{text}");

    // Bytes that are not a zlib stream at all.
    store.conn.execute("UPDATE payloads SET zlib = x'DEADBEEF' WHERE sha256 = ?1", [&sha]).unwrap();
    let err = store.payload(&sha).unwrap_err();
    assert!(err.to_string().contains("cannot decompress"), "{err}");
}

#[test]
fn a_run_reads_back_exactly_as_written() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let started = at("2024-07-16T02:00:00.000000123Z");
    let run = store.begin_run("prod-dc1", started, "sha256:cfg", "0.1.0").unwrap();
    assert_eq!(store.run(run).unwrap().unwrap().status, RunStatus::Running);

    let routes = store.put_payload(ROUTES_TXT).unwrap();
    let sessions = store.put_payload(SESSIONS_TXT).unwrap();
    let bird = source_run(
        "rr-yellow",
        vec![
            PayloadRef {
                name: "show-route.txt".into(),
                sha256: routes.clone(),
                size: ROUTES_TXT.len() as u64,
            },
            PayloadRef {
                name: "show-protocols.txt".into(),
                sha256: sessions.clone(),
                size: SESSIONS_TXT.len() as u64,
            },
        ],
    );
    let mut failed = source_run("leaf1", vec![]);
    failed.kind = "eos".into();
    failed.status = SourceStatus::Failed;
    failed.error = Some("connect 10.0.0.1:443: connection refused".into());
    failed.counts.clear();
    failed.rejects = Rejects::default();
    let facts = sample_facts(&routes);
    store.record_source(run, &bird, &facts).unwrap();
    store.record_source(run, &failed, &Facts::default()).unwrap();

    let results = vec![rule("ZI-ROUTE-LEAK", RuleStatus::Fail), rule("ZI-MESH", RuleStatus::Pass)];
    let findings = vec![
        finding(
            "rr-yellow/master4/10.20.1.0/26",
            "blue prefix 10.20.1.0/26 in yellow RR table",
            vec![
                origin(&routes, "line 1", "10.20.1.0/26 via 172.31.20.5"),
                Origin {
                    source: "zone model".into(),
                    ..origin("", "zones.blue.prefixes[0]", "10.20.0.0/16")
                },
            ],
        ),
        finding("rr-yellow/master4/10.20.2.0/26", "second leak", vec![]),
    ];
    store.record_evaluation(run, &results, &findings).unwrap();
    store.record_report(run, "sha256:r1", b"{\"payloadType\":\"x\"}", "# Run 1").unwrap();
    let finished = started + TimeDelta::seconds(42);
    store.finish_run(run, finished, RunStatus::Complete, false).unwrap();

    // A fresh connection sees exactly what was written.
    drop(store);
    let store = Store::open(&db.path).unwrap();
    assert_eq!(store.source_runs(run).unwrap(), vec![bird, failed]);
    assert_eq!(store.facts(run).unwrap(), facts);
    assert_eq!(store.rule_results(run).unwrap(), results);
    assert_eq!(store.findings(run).unwrap(), findings);
    assert_eq!(
        store.report(run).unwrap(),
        Some(("sha256:r1".to_string(), b"{\"payloadType\":\"x\"}".to_vec()))
    );
    assert_eq!(store.report_markdown(run).unwrap().as_deref(), Some("# Run 1"));
    let row = store.run(run).unwrap().unwrap();
    assert_eq!(
        row,
        RunRow {
            id: run,
            cluster: "prod-dc1".into(),
            started_at: started,
            finished_at: Some(finished),
            status: RunStatus::Complete,
            config_digest: "sha256:cfg".into(),
            tool_version: "0.1.0".into(),
            report_digest: Some("sha256:r1".into()),
            evidence_complete: Some(false),
            findings: 2,
        }
    );
    assert_eq!(store.runs().unwrap(), vec![row.clone()]);
    assert_eq!(store.latest_complete_run().unwrap(), Some(row));
    assert_eq!(store.run(run + 1).unwrap(), None);
}

#[test]
fn source_with_an_unstored_payload_leaves_nothing() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let run = store.begin_run("prod-dc1", at("2024-07-16T02:00:00Z"), "c", "v").unwrap();
    let routes = store.put_payload(ROUTES_TXT).unwrap();
    let missing = hex::encode(Sha256::digest(b"never stored"));
    let source = source_run(
        "rr-yellow",
        vec![
            PayloadRef {
                name: "show-route.txt".into(),
                sha256: routes.clone(),
                size: ROUTES_TXT.len() as u64,
            },
            PayloadRef { name: "show-protocols.txt".into(), sha256: missing.clone(), size: 1 },
        ],
    );
    let err = store.record_source(run, &source, &sample_facts(&routes)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("source rr-yellow") && text.contains(&missing) && text.contains("show-protocols.txt"),
        "{text}"
    );
    // The source run row and first link were written before the failure: all rolled back.
    assert_eq!(count(&store, "source_runs"), 0);
    assert_eq!(count(&store, "source_payloads"), 0);
    assert_eq!(count(&store, "fact_rows"), 0);
    assert!(store.source_runs(run).unwrap().is_empty());

    // A source run that misstates a payload's size is refused too.
    let wrong =
        source_run("rr-yellow", vec![PayloadRef { name: "show-route.txt".into(), sha256: routes, size: 3 }]);
    let err = store.record_source(run, &wrong, &Facts::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("stored payload is {} bytes, the source run says 3", ROUTES_TXT.len())),
        "{text}"
    );
    assert_eq!(count(&store, "source_runs"), 0);
}

#[test]
fn a_transaction_dropped_before_commit_leaves_nothing() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let run = store.begin_run("prod-dc1", at("2024-07-16T02:00:00Z"), "c", "v").unwrap();
    let routes = store.put_payload(ROUTES_TXT).unwrap();
    let source = source_run(
        "rr-yellow",
        vec![PayloadRef { name: "r".into(), sha256: routes.clone(), size: ROUTES_TXT.len() as u64 }],
    );
    {
        let tx = write_tx(&mut store.conn, &db.path, "test").unwrap();
        write_source(&tx, &db.path, run, &source, &sample_facts(&routes)).unwrap();
        let visible: i64 = tx.query_row("SELECT count(*) FROM fact_rows", [], |r| r.get(0)).unwrap();
        assert_eq!(visible, 4, "the transaction itself wrote the facts");
        // Dropped here: what a crash between the writes and the commit amounts to.
    }
    drop(store);
    let store = Store::open(&db.path).unwrap();
    assert!(store.source_runs(run).unwrap().is_empty());
    assert_eq!(store.facts(run).unwrap(), Facts::default());
    assert_eq!(count(&store, "source_payloads"), 0);
    // The run row itself was committed first, and is now an interrupted run.
    assert_eq!(store.run(run).unwrap().unwrap().status, RunStatus::Incomplete);
}

#[test]
fn re_audit_replaces_results_and_a_failed_re_audit_keeps_the_old_ones() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let run = complete_run(&mut store, "2024-07-16T02:00:00Z", &["a", "b"], None);
    assert_eq!(store.findings(run).unwrap().len(), 2);
    assert_eq!(count(&store, "evidence"), 2);

    let results = vec![rule("ZI-ROUTE-LEAK", RuleStatus::Pass), rule("ZI-MESH", RuleStatus::Skip)];
    store.record_evaluation(run, &results, &[]).unwrap();
    assert_eq!(store.rule_results(run).unwrap(), results);
    assert!(store.findings(run).unwrap().is_empty());
    assert_eq!(count(&store, "evidence"), 0, "evidence goes with its findings");
    assert_eq!(store.run(run).unwrap().unwrap().findings, 0);

    // Evidence naming a payload that was never stored: the whole re-audit is refused.
    let bad = finding("c", "c", vec![origin(&"ab".repeat(32), "line 1", "x")]);
    let err = store.record_evaluation(run, &[rule("ZI-ROUTE-LEAK", RuleStatus::Fail)], &[bad]).unwrap_err();
    assert!(matches!(err, StoreError::MissingPayload { .. }), "{err:?}");
    assert_eq!(store.rule_results(run).unwrap(), results);
    assert!(store.findings(run).unwrap().is_empty());

    let err = store.record_evaluation(run + 7, &results, &[]).unwrap_err();
    assert!(err.to_string().contains(&format!("run {} does not exist", run + 7)), "{err}");
}

#[test]
fn sources_are_only_added_to_the_run_being_recorded() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let run = complete_run(&mut store, "2024-07-16T02:00:00Z", &[], None);
    let err = store.record_source(run, &source_run("late", vec![]), &Facts::default()).unwrap_err();
    assert!(matches!(err, StoreError::RunNotActive { .. }), "{err:?}");
    assert!(err.to_string().contains("record source late"), "{err}");
    let err = store.finish_run(run, Utc::now(), RunStatus::Failed, false).unwrap_err();
    assert!(matches!(err, StoreError::RunNotActive { .. }), "{err:?}");
    assert_eq!(store.run(run).unwrap().unwrap().status, RunStatus::Complete);
}

#[test]
fn an_abandoned_run_is_marked_incomplete_on_reopen_and_earlier_runs_are_untouched() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let first = complete_run(&mut store, "2024-07-15T02:00:00Z", &["a"], Some("sha256:r1"));
    let before = store.run(first).unwrap().unwrap();
    let report_before = store.report(first).unwrap();

    let second = store.begin_run("prod-dc1", at("2024-07-16T02:00:00Z"), "c", "v").unwrap();
    let sha = store.put_payload(SESSIONS_TXT).unwrap();
    let source = source_run(
        "rr-yellow",
        vec![PayloadRef { name: "p".into(), sha256: sha, size: SESSIONS_TXT.len() as u64 }],
    );
    store.record_source(second, &source, &Facts::default()).unwrap();
    drop(store); // never finished: the process "died" and its run lock went with it

    let store = Store::open(&db.path).unwrap();
    let row = store.run(second).unwrap().unwrap();
    assert_eq!(row.status, RunStatus::Incomplete);
    assert_eq!(row.evidence_complete, Some(false));
    assert_eq!(row.finished_at, None);
    assert_eq!(store.source_runs(second).unwrap(), vec![source], "committed steps are kept");
    assert_eq!(store.run(first).unwrap().unwrap(), before);
    assert_eq!(store.report(first).unwrap(), report_before);
    assert_eq!(store.latest_complete_run().unwrap().map(|r| r.id), Some(first));
}

#[test]
fn a_run_still_being_recorded_is_left_alone_by_other_processes() {
    let db = temp_db();
    let mut recorder = Store::open(&db.path).unwrap();
    let run = recorder.begin_run("prod-dc1", at("2024-07-16T02:00:00Z"), "c", "v").unwrap();

    // Another open (say `zoneaudit findings` during the nightly run) must not end the live run.
    let mut reader = Store::open(&db.path).unwrap();
    assert_eq!(reader.run(run).unwrap().unwrap().status, RunStatus::Running);
    reader.run_lock_wait = Duration::ZERO;
    let err = reader.begin_run("prod-dc1", Utc::now(), "c", "v").unwrap_err();
    assert!(
        matches!(err, StoreError::RunInProgress { holder: Some(pid), .. } if pid == std::process::id()),
        "{err:?}"
    );
    assert!(err.to_string().contains("zoneaudit.db.lock is held by another zoneaudit run"), "{err}");

    let err = recorder.begin_run("prod-dc1", Utc::now(), "c", "v").unwrap_err();
    assert!(err.to_string().contains(&format!("still recording run {run}")), "{err}");

    recorder.finish_run(run, Utc::now(), RunStatus::Complete, true).unwrap();
    let next = reader.begin_run("prod-dc1", Utc::now(), "c", "v").unwrap();
    assert!(next > run);
    assert_eq!(reader.run(run).unwrap().unwrap().status, RunStatus::Complete);
}

/// Env var that turns `child_begins_a_run_and_aborts` into the victim of the crash test.
// A real kill of a real run (SIGKILL mid-collection) is tested end to end in tests/it/crash.rs.

#[test]
fn previous_report_digest_links_to_the_newest_earlier_report() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let r1 = complete_run(&mut store, "2024-07-14T02:00:00Z", &[], Some("sha256:r1"));
    let r2 = complete_run(&mut store, "2024-07-15T02:00:00Z", &[], None);
    let r3 = complete_run(&mut store, "2024-07-16T02:00:00Z", &[], Some("sha256:r3"));
    assert_eq!(store.previous_report_digest(r1).unwrap(), None);
    assert_eq!(store.previous_report_digest(r2).unwrap().as_deref(), Some("sha256:r1"));
    assert_eq!(
        store.previous_report_digest(r3).unwrap().as_deref(),
        Some("sha256:r1"),
        "run 2 has no report"
    );
    assert_eq!(store.previous_report_digest(r3 + 1).unwrap().as_deref(), Some("sha256:r3"));

    // Re-signing the newest report is fine; re-signing one that a later report links to is not.
    store.record_report(r3, "sha256:r3b", b"e", "m").unwrap();
    assert_eq!(store.report(r3).unwrap().unwrap().0, "sha256:r3b");
    store.record_report(r1, "sha256:r1", b"envelope of sha256:r1", "# report").unwrap();
    let err = store.record_report(r1, "sha256:r1b", b"e", "m").unwrap_err();
    assert!(matches!(err, StoreError::ReportChained { later_run, .. } if later_run == r3), "{err:?}");
    assert!(err.to_string().contains("would break the report chain"), "{err}");
    assert_eq!(store.report(r1).unwrap().unwrap().0, "sha256:r1");
}

#[test]
fn finding_history_tracks_new_persisting_and_resolved_findings() {
    let db = temp_db();
    let mut store = Store::open(&db.path).unwrap();
    let r1 = complete_run(&mut store, "2024-07-14T02:00:00Z", &["persists", "fixed-early"], None);
    let r2 = complete_run(&mut store, "2024-07-15T02:00:00Z", &["persists", "fixed-late"], None);
    let r3 = complete_run(&mut store, "2024-07-16T02:00:00Z", &["persists"], None);
    // An interrupted run sees a new finding and misses the old ones: neither counts.
    let r4 = store.begin_run("prod-dc1", at("2024-07-17T02:00:00Z"), "c", "v").unwrap();
    store.record_evaluation(r4, &[], &[finding("half-seen", "m", vec![])]).unwrap();
    drop(store);
    let store = Store::open(&db.path).unwrap();
    assert_eq!(store.run(r4).unwrap().unwrap().status, RunStatus::Incomplete);

    let history = store.finding_history().unwrap();
    let subjects: Vec<&str> = history.iter().map(|h| h.subject.as_str()).collect();
    assert_eq!(subjects, ["persists", "fixed-early", "fixed-late"]);

    let persists = &history[0];
    assert_eq!(persists.fingerprint, Finding::fingerprint_for("ZI-ROUTE-LEAK", "persists"));
    assert_eq!((persists.first_seen_run, persists.last_seen_run), (r1, r3));
    assert_eq!(persists.first_seen_at, at("2024-07-14T02:00:00Z"));
    assert_eq!(persists.last_seen_at, at("2024-07-16T02:00:00Z"));
    assert_eq!(persists.message, "persists leaked at 2024-07-16T02:00:00Z", "latest message");
    assert!(persists.open);
    assert_eq!(persists.resolved_in_run, None);

    let early = &history[1];
    assert_eq!((early.first_seen_run, early.last_seen_run), (r1, r1));
    assert!(!early.open);
    assert_eq!(early.resolved_in_run, Some(r2));

    let late = &history[2];
    assert_eq!((late.first_seen_run, late.last_seen_run), (r2, r2));
    assert_eq!(late.severity, Severity::Critical);
    assert_eq!(late.zone.as_deref(), Some("yellow"));
    assert!(!late.open);
    assert_eq!(late.resolved_in_run, Some(r3));
}

#[test]
fn run_status_text_round_trips() {
    for status in [RunStatus::Running, RunStatus::Complete, RunStatus::Incomplete, RunStatus::Failed] {
        assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
    }
    assert!("done".parse::<RunStatus>().unwrap_err().contains("running|complete|incomplete|failed"));
}
