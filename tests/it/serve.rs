//! `zoneaudit serve` as an operator meets it: the schedule fires, /metrics agrees with `runs show`,
//! the served report verifies, SIGTERM ends it cleanly. And `run --metrics-file` for CronJob mode.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{demo_in, run, zoneaudit};

/// A plain HTTP/1.1 GET: (status, headers in lower case, body).
fn get(addr: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("serve accepts connections");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("a whole response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    (status, head, raw[split + 4..].to_vec())
}

fn get_text(addr: &str, path: &str) -> (u16, String, String) {
    let (status, head, body) = get(addr, path);
    (status, head, String::from_utf8(body).expect("UTF-8 body"))
}

/// The value of one series (`name` or `name{labels}`) in an exposition.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// A `serve` process that is killed if the test fails before it ends it.
struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(dir: &Path, schedule: &str) -> Served {
    let config = dir.join("zoneaudit.yaml");
    let mut child = zoneaudit()
        .args([
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--schedule",
            schedule,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zoneaudit serve starts");
    // The first line names the bound address (port 0: the kernel picked a free one).
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("serve prints where it listens");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Served { child, addr }
}

fn runs_json(dir: &Path) -> Vec<serde_json::Value> {
    let config = dir.join("zoneaudit.yaml");
    let out = run(&["--config", config.to_str().unwrap(), "runs", "list", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn serve_runs_on_schedule_exposes_metrics_and_reports_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let demo_runs = runs_json(dir.path()).len() as f64;
    let mut served = start_serve(dir.path(), "*/2 * * * * *");
    let addr = served.addr.clone();

    let (status, _, body) = get_text(&addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // The schedule fires every 2 s: a run after the demo's appears within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (metrics, head) = loop {
        let (status, head, text) = get_text(&addr, "/metrics");
        assert_eq!(status, 200, "{text}");
        if series(&text, "zoneaudit_last_run_id").is_some_and(|id| id > demo_runs) {
            break (text, head);
        }
        assert!(Instant::now() < deadline, "no scheduled run within 30 s:\n{text}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
    assert_eq!(series(&metrics, "zoneaudit_last_run_success"), Some(1.0), "{metrics}");
    let run_id = series(&metrics, "zoneaudit_last_run_id").unwrap() as i64;
    assert!(runs_json(dir.path()).iter().any(|r| r["id"] == run_id), "run {run_id} not in runs list");

    // Findings by severity and every source, as `runs show` tells them.
    let config = dir.path().join("zoneaudit.yaml");
    let shown =
        run(&["--config", config.to_str().unwrap(), "runs", "show", &run_id.to_string(), "-o", "json"]);
    assert_eq!(shown.code, 0, "{}", shown.all());
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    for severity in ["critical", "high", "medium", "low", "info"] {
        let expected =
            shown["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == severity).count();
        assert_eq!(
            series(&metrics, &format!("zoneaudit_findings{{severity=\"{severity}\"}}")),
            Some(expected as f64),
            "{severity}:\n{metrics}"
        );
    }
    let sources = shown["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    for s in sources {
        let (name, kind) = (s["name"].as_str().unwrap(), s["kind"].as_str().unwrap());
        let up = if s["status"] == "ok" { 1.0 } else { 0.0 };
        assert_eq!(
            series(&metrics, &format!("zoneaudit_source_up{{source=\"{name}\",kind=\"{kind}\"}}")),
            Some(up),
            "{name}:\n{metrics}"
        );
    }

    // The latest report, as served, verifies with the public key alone.
    let (status, head, envelope) = get(&addr, "/reports/latest");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/json"), "{head}");
    let file = dir.path().join("latest.dsse.json");
    std::fs::write(&file, &envelope).unwrap();
    let key = dir.path().join("keys/zoneaudit.pub");
    let verified = run(&["verify", "--key", key.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}", verified.all());

    let (status, _, markdown) = get_text(&addr, "/reports/latest.md");
    assert_eq!(status, 200);
    assert!(markdown.contains("demo-dc1"), "{markdown}");
    let (status, _, period) = get_text(&addr, "/reports/period?since=30d&format=md");
    assert_eq!(status, 200, "{period}");
    assert!(period.contains("**Verdict:**"), "{period}");
    let (status, _, why) = get_text(&addr, "/reports/period?since=soon");
    assert_eq!(status, 400);
    assert!(why.contains("since=soon"), "{why}");
    assert_eq!(get(&addr, "/nothing-here").0, 404);

    // SIGTERM: a clean exit within a few seconds, and no run left `running`.
    let pid = served.child.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    let left: Vec<_> = runs_json(dir.path()).into_iter().filter(|r| r["status"] == "running").collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn only_get_and_head_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    // A schedule that does not fire during the test.
    let served = start_serve(dir.path(), "0 0 1 1 *");
    let mut stream = TcpStream::connect(&served.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 405"), "{raw}");
    assert!(raw.to_lowercase().contains("allow: get, head"), "{raw}");

    // HEAD: the headers of the GET, no body.
    let mut stream = TcpStream::connect(&served.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "HEAD /reports/latest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.ends_with("\r\n\r\n"), "a HEAD response has no body: {raw}");
    // The demo's three runs are there before any scheduled run.
    let (_, _, metrics) = get_text(&served.addr, "/metrics");
    assert_eq!(series(&metrics, "zoneaudit_last_run_id"), Some(3.0), "{metrics}");
    assert_eq!(series(&metrics, "zoneaudit_scheduled_runs_skipped_total"), Some(0.0), "{metrics}");
}

#[test]
fn a_bad_schedule_or_address_is_a_usage_error_naming_the_flag() {
    let out = run(&["serve", "--schedule", "61 * * * *"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--schedule \"61 * * * *\""), "{}", out.all());
    let out = run(&["serve", "--schedule", "0 2 * *"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("4 fields; give 5"), "{}", out.all());
    let out = run(&["serve", "--listen", "localhost"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--listen \"localhost\""), "{}", out.all());
}

#[test]
fn run_writes_the_metrics_textfile_for_cronjob_mode() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let config = dir.path().join("zoneaudit.yaml");
    let file = dir.path().join("zoneaudit.prom");
    let out = run(&["--config", config.to_str().unwrap(), "run", "--metrics-file", file.to_str().unwrap()]);
    assert!(out.code == 0 || out.code == 1, "{}", out.all());
    let text = std::fs::read_to_string(&file).expect("the textfile is written");
    assert!(text.ends_with('\n'));
    // Every line is a comment or `name{labels} value`, as node-exporter's textfile collector reads it.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "{line}");
        assert!(series.starts_with("zoneaudit_"), "{line}");
        assert!(!series.contains('{') || series.ends_with('}'), "{line}");
    }
    let run_id: f64 = out.stdout.split_whitespace().nth(1).unwrap().trim_end_matches(':').parse().unwrap();
    assert_eq!(series(&text, "zoneaudit_last_run_id"), Some(run_id), "{text}");
    assert_eq!(series(&text, "zoneaudit_last_run_success"), Some(1.0), "{text}");
    assert!(!text.contains("skipped"), "serve-only metrics stay out of the textfile:\n{text}");
}
