//! Drift alerts end to end, as an on-call engineer meets them: the demo's nights delivered to a real
//! SMTP server (aiosmtpd, messages kept in a Maildir) and to a local webhook receiver, and a receiver
//! that is down, then up: nothing lost, nothing sent twice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::run;

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Request {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

/// A minimal HTTP/1.1 receiver on loopback that answers 200 and records every request.
struct Receiver {
    addr: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start_on(listener: TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(request) = read_request(&stream) {
                    seen.lock().unwrap().push(request);
                    let mut s = stream;
                    let _ =
                        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                }
            }
        });
        Receiver { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/zoneaudit", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length"))?.1.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request { headers, body })
}

/// aiosmtpd with its Maildir handler: a real SMTP server that keeps every message it accepts.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = dir.join("maildir");
        let child = Command::new(python_with_aiosmtpd())
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Smtp { child, port, maildir }
    }

    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that can import aiosmtpd: the one on PATH (pip) or Debian's (python3-aiosmtpd).
fn python_with_aiosmtpd() -> &'static str {
    for python in ["python3", "/usr/bin/python3"] {
        let ok =
            Command::new(python).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
        if ok {
            return python;
        }
    }
    panic!("aiosmtpd is missing: apt-get install python3-aiosmtpd (or pip install aiosmtpd)");
}

/// Decoded text of a MIME message, good enough to search: quoted-printable soft breaks joined.
fn readable(message: &str) -> String {
    message.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

#[test]
fn demo_delivers_exactly_one_email_and_one_webhook_per_night_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    let receiver = Receiver::start_on(TcpListener::bind("127.0.0.1:0").unwrap());
    let demo = dir.path().join("demo");
    let out = run(&[
        "demo",
        "--dir",
        demo.to_str().unwrap(),
        "--nights",
        "4",
        "--smtp",
        &format!("smtp://127.0.0.1:{}", smtp.port),
        "--webhook",
        &receiver.url(),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());

    // Night 1 is the baseline and night 4 changes nothing: only nights 2 and 3 speak.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "two emails:\n{}", mails.join("\n-----\n"));
    let hooks = receiver.requests();
    assert_eq!(hooks.len(), 2, "two webhook deliveries");

    let night2 = readable(&mails[0]);
    assert!(night2.contains("Subject: [zoneaudit] demo-dc1: 2 new"), "{night2}");
    assert!(night2.contains("leaf1/YELLOW/10.20.1.0/26"), "{night2}");
    assert!(night2.contains("ZI-CROSS-ZONE-SESSION"), "{night2}");
    assert!(night2.contains("netops@demo-dc1.example") && night2.contains("compliance@demo-dc1.example"));
    assert!(night2.contains("multipart/alternative"), "text and HTML");
    let night3 = readable(&mails[1]);
    assert!(night3.contains("2 resolved"), "{night3}");
    assert!(night3.contains("green-to-blue-temp"), "{night3}");

    let bodies: Vec<serde_json::Value> = hooks.iter().map(Request::json).collect();
    let kinds = |b: &serde_json::Value, kind: &str| {
        b["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).count()
    };
    assert_eq!((bodies[0]["runId"].as_i64(), kinds(&bodies[0], "new")), (Some(2), 2));
    assert_eq!(
        (bodies[1]["runId"].as_i64(), kinds(&bodies[1], "resolved"), kinds(&bodies[1], "new")),
        (Some(3), 2, 1)
    );
    let keys: std::collections::BTreeSet<&str> =
        hooks.iter().map(|r| r.header("idempotency-key").expect("idempotency key header")).collect();
    assert_eq!(keys.len(), 2, "one key per run and channel");

    let db = demo.join("zoneaudit.db");
    let config = demo.join("zoneaudit.yaml");
    let listed = run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "alerts",
        "list",
        "-o",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let states: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["delivered"; 4], "{}", listed.stdout);
}

#[test]
fn a_receiver_that_is_down_gets_everything_once_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    // Reserve a port, then close it: nothing listens there during the demo.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hooks/zoneaudit");
    let demo = dir.path().join("demo");
    let out = run(&["demo", "--dir", demo.to_str().unwrap(), "--webhook", &url]);
    assert_eq!(out.code, 0, "a receiver that is down costs alerts, not the run:\n{}", out.all());
    assert!(out.stdout.contains("still pending"), "{}", out.stdout);

    let db = demo.join("zoneaudit.db");
    let config = demo.join("zoneaudit.yaml");
    let za = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap(), "--db", db.to_str().unwrap()];
        all.extend_from_slice(args);
        run(&all)
    };
    let listed = za(&["alerts", "list"]);
    assert_eq!(listed.stdout.matches("pending").count(), 2, "{}", listed.stdout);
    assert!(listed.stdout.contains("last error"), "{}", listed.stdout);
    assert!(
        !listed.stdout.contains("/hooks/zoneaudit"),
        "the URL is not shown in errors:\n{}",
        listed.stdout
    );

    let flushed = za(&["alerts", "flush"]);
    assert_eq!(flushed.code, 1, "still down: {}", flushed.all());

    let receiver = Receiver::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let flushed = za(&["alerts", "flush"]);
    assert_eq!(flushed.code, 0, "{}", flushed.all());
    assert!(flushed.stdout.contains("2 delivered, 0 still pending"), "{}", flushed.stdout);
    let again = za(&["alerts", "flush"]);
    assert!(again.stdout.contains("0 delivered, 0 still pending"), "{}", again.stdout);
    let runs: Vec<i64> = receiver.requests().iter().map(|r| r.json()["runId"].as_i64().unwrap()).collect();
    assert_eq!(runs, [2, 3], "each night's message exactly once, in order");
}

#[test]
fn diff_and_baseline_show_what_changed_between_nights() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::demo_in(dir.path());
    let db = dir.path().join("zoneaudit.db");
    let config = dir.path().join("zoneaudit.yaml");
    let za = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap(), "--db", db.to_str().unwrap()];
        all.extend_from_slice(args);
        run(&all)
    };
    let night2 = za(&["diff", "--from", "1", "--to", "2"]);
    assert_eq!(night2.code, 1, "something changed: {}", night2.all());
    assert!(night2.stdout.contains("findings: 2 new, 0 resolved, 0 persisting"), "{}", night2.stdout);
    assert!(
        night2.stdout.contains("+ critical ZI-ROUTE-LEAK leaf1/YELLOW/10.20.1.0/26"),
        "{}",
        night2.stdout
    );
    assert!(night2.stdout.contains("+ VRF YELLOW on leaf1: 10.20.1.0/26"), "{}", night2.stdout);
    assert!(night2.stdout.contains("+ session yellow-rr1 <-> 172.31.20.21"), "{}", night2.stdout);

    // Default: the latest run against the one before it, and against the demo's baseline (night 1).
    let latest = za(&["diff"]);
    assert!(latest.stdout.starts_with("run 2 → run 3"), "{}", latest.stdout);
    assert!(latest.stdout.contains("- VRF YELLOW on leaf1: 10.20.1.0/26"), "{}", latest.stdout);
    assert!(latest.stdout.contains("against the baseline (run 1)"), "{}", latest.stdout);
    assert!(
        latest.stdout.contains("green>blue") || latest.stdout.contains("green > blue"),
        "{}",
        latest.stdout
    );

    // Accepting night 3 makes its topology the approved state: nothing drifts against it.
    let accepted = za(&["baseline", "accept"]);
    assert_eq!(accepted.code, 0, "{}", accepted.all());
    assert!(accepted.stdout.starts_with("baseline: run 3"), "{}", accepted.stdout);
    let latest = za(&["diff"]);
    let against = latest.stdout.split("against the baseline (run 3):").nth(1).expect("baseline section");
    assert!(against.contains("no topology drift"), "{}", latest.stdout);

    let missing = za(&["baseline", "accept", "--run", "99"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("run 99: no such run"), "{}", missing.stderr);
}
