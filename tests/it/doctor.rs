//! `zoneaudit doctor` on the demo estate, then with one thing broken at a time: each failure is
//! named with its fix, the other checks still pass, and no secret is printed.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::support::{Ran, demo_in, ran, zoneaudit};

fn doctor(dir: &Path, extra: &[&str]) -> Ran {
    let config = dir.join("zoneaudit.yaml");
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("doctor");
    ran(zoneaudit().args(&args).output().expect("zoneaudit runs"))
}

/// The table row of `check` (the line starting with its name).
fn row<'a>(out: &'a Ran, check: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.split("  ").next().map(str::trim_end) == Some(check))
        .unwrap_or_else(|| panic!("no row {check:?} in:\n{}", out.all()))
}

/// The `fix:` line right after `check`'s row.
fn fix<'a>(out: &'a Ran, check: &str) -> &'a str {
    let mut lines = out.stdout.lines().skip_while(|l| l.split("  ").next().map(str::trim_end) != Some(check));
    lines.next();
    lines
        .next()
        .filter(|l| l.trim_start().starts_with("fix: "))
        .unwrap_or_else(|| panic!("no fix for {check:?}:\n{}", out.all()))
}

fn status(line: &str) -> &str {
    line.split_whitespace().find(|w| ["ok", "warn", "FAILED"].contains(w)).unwrap_or("")
}

fn edit_config(dir: &Path, edit: impl FnOnce(String) -> String) {
    let path = dir.join("zoneaudit.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_demo_estate_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let key = dir.path().join("keys/zoneaudit.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "demo keys are 0600");

    let out = doctor(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.starts_with("CHECK"), "{}", out.stdout);
    assert!(!out.stdout.contains("FAILED"), "{}", out.stdout);
    for check in ["config", "signing key", "public keys", "database", "source calico", "source fw-core"] {
        assert_eq!(status(row(&out, check)), "ok", "{check}: {}", out.stdout);
    }
    assert!(row(&out, "database").contains("3 runs"), "{}", out.stdout);
    assert!(row(&out, "source leaf1").contains("files: "), "the transport is named: {}", out.stdout);
    assert!(out.stdout.contains("checks passed"), "{}", out.stdout);

    // A dry collection: nothing was recorded.
    let runs = ran(zoneaudit()
        .args(["--db", dir.path().join("zoneaudit.db").to_str().unwrap(), "runs", "list", "-o", "json"])
        .output()
        .unwrap());
    let runs: serde_json::Value = serde_json::from_str(&runs.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 3, "doctor stored no run");
}

#[test]
fn a_key_readable_by_others_is_refused_with_chmod_600() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let key = dir.path().join("keys/zoneaudit.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = doctor(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    let line = row(&out, "signing key");
    assert_eq!(status(line), "FAILED", "{line}");
    assert!(line.contains(key.to_str().unwrap()) && line.contains("0644"), "{line}");
    assert!(fix(&out, "signing key").contains(&format!("chmod 600 {}", key.display())), "{}", out.stdout);
    assert_eq!(status(row(&out, "database")), "ok", "the other checks still run");
}

#[test]
fn a_broken_source_is_named_with_its_reason_and_the_others_still_pass() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let port = closed_port();
    edit_config(dir.path(), |yaml| {
        let leaf2 = yaml.lines().find(|l| l.contains("name: leaf2,")).unwrap().to_string();
        yaml.replace("inputs/eos/leaf1-routes.json", "inputs/eos/gone.json").replace(
            &leaf2,
            &format!(
                "  - {{ name: leaf2, kind: eos, url: \"https://127.0.0.1:{port}/command-api\", timeout: 3s, retries: 0 }}"
            ),
        )
    });

    let out = doctor(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    let leaf1 = row(&out, "source leaf1");
    assert_eq!(status(leaf1), "FAILED", "one file of two missing: the evidence would be incomplete: {leaf1}");
    assert!(leaf1.contains("gone.json") && leaf1.contains("No such file"), "{leaf1}");
    assert!(fix(&out, "source leaf1").contains("check files:"), "{}", out.stdout);

    let leaf2 = row(&out, "source leaf2");
    assert_eq!(status(leaf2), "FAILED", "{leaf2}");
    assert!(leaf2.contains("url: ") && leaf2.contains(&format!("127.0.0.1:{port}")), "{leaf2}");
    assert!(fix(&out, "source leaf2").contains("check url/host and network policy"), "{}", out.stdout);

    for other in ["source calico", "source yellow-rr1", "source fw-core"] {
        assert_eq!(status(row(&out, other)), "ok", "{other}: {}", out.stdout);
    }
}

#[test]
fn an_unwritable_database_location_fails() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    // Permission bits do not stop root (CI): there, a path under a regular file cannot be created
    // by anyone.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let bits_bind = std::fs::write(locked.join("probe"), "x").is_err();
    let db = if bits_bind {
        locked.join("zoneaudit.db")
    } else {
        let file = dir.path().join("a-file");
        std::fs::write(&file, "not a directory").unwrap();
        file.join("zoneaudit.db")
    };

    let out = doctor(dir.path(), &["--db", db.to_str().unwrap()]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, 1, "{}", out.all());
    let line = row(&out, "database");
    assert_eq!(status(line), "FAILED", "{line}");
    assert!(line.contains(db.to_str().unwrap()), "{line}");
    assert!(fix(&out, "database").contains("writable"), "{}", out.stdout);
    assert!(!db.exists());
}

const SLACK_PATH: &str = "/services/T0DOCTOR/B0DOCTOR/s3cr3tT0ken";

fn add_webhook(dir: &Path, url: &str) {
    edit_config(dir, |yaml| {
        format!(
            "{yaml}alerts:\n  timeout: 5s\n  channels:\n    - name: ops-slack\n      type: webhook\n      format: slack\n      url: {url}\n"
        )
    });
}

#[test]
fn a_webhook_on_a_closed_port_fails_by_channel_name_without_the_url() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let url = format!("https://127.0.0.1:{}{SLACK_PATH}", closed_port());
    add_webhook(dir.path(), &url);

    let out = doctor(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    let line = row(&out, "alert ops-slack");
    assert_eq!(status(line), "FAILED", "{line}");
    assert!(fix(&out, "alert ops-slack").contains("check url/host and network policy"), "{}", out.stdout);
    let all = out.all();
    assert!(!all.contains(&url) && !all.contains("s3cr3tT0ken") && !all.contains("T0DOCTOR"), "{all}");
}

/// A receiver that answers one request with 405 and says which method it got.
fn receiver() -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(tcp.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut header = String::new();
        while reader.read_line(&mut header).unwrap() > 0 && header != "\r\n" {
            header.clear();
        }
        tcp.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        request_line
    });
    (port, handle)
}

#[test]
fn a_reachable_webhook_passes_and_nothing_is_posted() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let (port, server) = receiver();
    let url = format!("http://127.0.0.1:{port}{SLACK_PATH}");
    add_webhook(dir.path(), &url);

    let out = doctor(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let line = row(&out, "alert ops-slack");
    assert_eq!(status(line), "ok", "{line}");
    assert!(line.contains("405"), "{line}");
    let request = server.join().unwrap();
    assert!(request.starts_with("HEAD "), "only a HEAD request: {request}");
    assert!(!out.all().contains("s3cr3tT0ken"), "{}", out.all());
}

#[test]
fn a_config_error_is_the_one_row_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    edit_config(dir.path(), |yaml| yaml.replace("10.20.0.0/16", "10.20.0.1/16"));

    let out = doctor(dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    let line = row(&out, "config");
    assert_eq!(status(line), "FAILED", "{line}");
    assert!(line.contains("zoneaudit.yaml: line ") && line.contains("zones.blue.prefixes"), "{line}");
    assert_eq!(
        out.stdout.lines().filter(|l| !l.trim_start().starts_with("fix:")).count(),
        2,
        "{}",
        out.stdout
    );
}
