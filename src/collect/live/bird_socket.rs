//! BIRD's control socket, spoken natively: what `birdc`/`birdcl` do, without needing them.
//!
//! ```text
//!  connect ──▶ 0001 BIRD 2.0.12 ready.            greeting: tells BIRD 2 from 1.6 (and the Calico fork)
//!  "show route all table all\n" ──▶ 1007-Table master4:
//!                                    10.10.0.0/26  blackhole [static1 …] * (200)   (continuation: one space)
//!                                   1008-\tType: static univ
//!                                   0000                                             (code + space: the end)
//! ```
//!
//! Every reply line starts with a 4-digit code followed by `-` (more follows) or a space (last
//! line); a line continuing the previous code starts with a single space. Codes 8xxx are run-time
//! errors and 9xxx parse errors; both end the reply. The payload of a command is its reply exactly
//! as received (the greeting excluded), which `collect::bird` reads in that numbered form.
//!
//! BIRD 2 keeps VRF tables (`ipv4 table blue;`) apart from `master4`/`master6`, and a plain
//! `show route` reads only the master tables, so a leak into `blue` would go unseen: with BIRD 2
//! every `show route` is asked with `table all`. BIRD 1.6 and the calico-node fork
//! (`v0.3.3+birdv1.6.8`) have no `table all` (a syntax error there), and Calico uses one table.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::{FetchError, Limits, RawPayload};
use crate::config::SourceSpec;

/// What zoneaudit asks BIRD, in the form every BIRD version accepts; see [`command_for`].
pub const COMMANDS: &[&str] = &["show protocols all", "show route all"];

/// Bounds for [`query`], which has no source spec.
const QUERY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const QUERY_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Ask `commands` over the control socket at `path`; one payload per command, named by the
/// command as sent (so a recording says which tables were read).
pub async fn fetch(
    path: &Path,
    commands: &[&str],
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let mut session = Session::connect(path, spec.connect_timeout).await?;
    let mut payloads = Vec::with_capacity(commands.len());
    for command in commands {
        let command = command_for(&session.version, command);
        let reply = session.ask(&command, limits.max_response_bytes).await?;
        payloads.push(RawPayload::new(command, reply));
    }
    Ok(payloads)
}

/// One command, its reply as text (numbered lines as received). For tools and tests.
pub async fn query(path: &Path, command: &str) -> Result<String, FetchError> {
    let mut session = Session::connect(path, QUERY_CONNECT_TIMEOUT).await?;
    let reply = session.ask(command, QUERY_MAX_RESPONSE_BYTES).await?;
    String::from_utf8(reply)
        .map_err(|_| FetchError::permanent(format!("bird socket {}: reply is not UTF-8", path.display())))
}

/// The version a BIRD greeting or `birdc` banner announces: `BIRD 2.0.12 ready.` -> `2.0.12`.
pub fn version_from_greeting(line: &str) -> Option<&str> {
    let line = line.trim();
    let line = line.strip_prefix("0001 ").unwrap_or(line);
    line.strip_prefix("BIRD ")?.strip_suffix(" ready.").map(str::trim)
}

/// Whether this BIRD understands `show route … table all` (BIRD 2 and later).
pub fn has_table_all(version: &str) -> bool {
    let major = version.trim_start_matches('v').split(['.', '+', '-']).next().unwrap_or("");
    major.parse::<u32>().is_ok_and(|m| m >= 2)
}

/// `command` as this BIRD version must be asked to cover every table: BIRD 2 gets `table all`
/// on a `show route` that names no table; everything else is sent unchanged.
pub fn command_for(version: &str, command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    let show_route = matches!(words.as_slice(), ["show", "route", ..]);
    if show_route && has_table_all(version) && !words.contains(&"table") {
        format!("{command} table all")
    } else {
        command.to_string()
    }
}

struct Session {
    path: PathBuf,
    version: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Session {
    async fn connect(path: &Path, timeout: Duration) -> Result<Session, FetchError> {
        let shown = path.display();
        let stream = match tokio::time::timeout(timeout, UnixStream::connect(path)).await {
            Err(_) => {
                return Err(FetchError::new(format!(
                    "bird socket {shown}: no connection within {}",
                    humantime::format_duration(timeout)
                )));
            }
            Ok(Err(e)) => return Err(connect_error(path, &e)),
            Ok(Ok(s)) => s,
        };
        let (read, writer) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut greeting = Vec::new();
        let n = tokio::time::timeout(timeout, (&mut reader).take(1024).read_until(b'\n', &mut greeting))
            .await
            .map_err(|_| {
                FetchError::new(format!(
                    "bird socket {shown}: no greeting within {}",
                    humantime::format_duration(timeout)
                ))
            })?
            .map_err(|e| FetchError::new(format!("bird socket {shown}: reading the greeting: {e}")))?;
        let text = String::from_utf8_lossy(&greeting);
        let version = match version_from_greeting(&text) {
            Some(v) if n > 0 && text.starts_with("0001 ") => v.to_string(),
            _ => {
                return Err(FetchError::permanent(format!(
                    "bird socket {shown}: expected a `0001 BIRD … ready.` greeting, got {:?}",
                    text.trim_end()
                )));
            }
        };
        Ok(Session { path: path.to_path_buf(), version, reader, writer })
    }

    /// Send one command and read its whole reply, at most `limit` bytes.
    async fn ask(&mut self, command: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        let shown = self.path.display();
        if command.contains(['\n', '\r']) {
            return Err(FetchError::permanent(format!(
                "bird socket {shown}: a command is one line: {command:?}"
            )));
        }
        let line = format!("{command}\n");
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| FetchError::new(format!("bird socket {shown}: sending `{command}`: {e}")))?;
        let mut reply = Vec::new();
        loop {
            let start = reply.len();
            // One byte over the limit is enough to know it was exceeded.
            let room = (limit + 1).saturating_sub(start as u64);
            let n = (&mut self.reader).take(room).read_until(b'\n', &mut reply).await.map_err(|e| {
                FetchError::new(format!("bird socket {shown}: reading the reply to `{command}`: {e}"))
            })?;
            if reply.len() as u64 > limit {
                return Err(FetchError::permanent(format!(
                    "bird socket {shown}: the reply to `{command}` exceeds the response limit of {limit} bytes"
                )));
            }
            if n == 0 || !reply.ends_with(b"\n") {
                return Err(FetchError::new(format!(
                    "bird socket {shown}: connection closed in the middle of the reply to `{command}` \
                     (after {} bytes)",
                    reply.len()
                )));
            }
            let line = reply.get(start..).unwrap_or_default();
            match reply_code(line) {
                Some((code, true)) => {
                    let text = String::from_utf8_lossy(line.get(5..).unwrap_or_default()).trim().to_string();
                    return match code.first() {
                        Some(b'9') => Err(FetchError::permanent(format!(
                            "bird socket {shown}: `{command}` was refused: {} {text}",
                            String::from_utf8_lossy(code)
                        ))),
                        Some(b'8') => Err(FetchError::new(format!(
                            "bird socket {shown}: `{command}` failed: {} {text}",
                            String::from_utf8_lossy(code)
                        ))),
                        _ => Ok(reply),
                    };
                }
                Some((_, false)) => {}
                None if line.starts_with(b" ") => {}
                None => {
                    return Err(FetchError::permanent(format!(
                        "bird socket {shown}: reply to `{command}` has a line that is neither numbered nor \
                         a continuation: {:?}",
                        String::from_utf8_lossy(line).chars().take(120).collect::<String>()
                    )));
                }
            }
        }
    }
}

/// `1007-…` -> (code, false); `0000 …` or a bare `0000` -> (code, true: the last line).
fn reply_code(line: &[u8]) -> Option<(&[u8], bool)> {
    let code = line.get(..4)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match line.get(4) {
        Some(b'-') => Some((code, false)),
        Some(b' ' | b'\n' | b'\r') | None => Some((code, true)),
        Some(_) => None,
    }
}

fn connect_error(path: &Path, e: &std::io::Error) -> FetchError {
    let shown = path.display();
    match e.kind() {
        ErrorKind::NotFound => FetchError::new(format!(
            "bird socket {shown}: no such socket (is bird running, is the path right?)"
        )),
        ErrorKind::PermissionDenied => FetchError::permanent(format!(
            "bird socket {shown}: permission denied (the socket needs read and write access)"
        )),
        ErrorKind::ConnectionRefused => {
            FetchError::new(format!("bird socket {shown}: connection refused (nothing listens on it)"))
        }
        _ => FetchError::new(format!("bird socket {shown}: {e}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{SourceKind, Transport};
    use crate::model::Facts;
    use std::process::{Child, Command, Stdio};

    /// A real BIRD daemon on a temporary config and socket, killed (by its own pid) when dropped,
    /// failed tests included.
    pub(crate) struct TestBird {
        child: Child,
        pub(crate) socket: PathBuf,
        _dir: tempfile::TempDir,
    }

    pub(crate) const CONFIG: &str = "router id 192.0.2.1;
ipv4 table blue;
protocol device {}
protocol static { ipv4; route 10.10.0.0/26 blackhole; }
protocol static static_blue { ipv4 { table blue; }; route 10.20.0.0/26 blackhole; }
";

    impl TestBird {
        pub(crate) fn start() -> TestBird {
            Self::start_with(CONFIG)
        }

        pub(crate) fn start_with(config: &str) -> TestBird {
            let dir = tempfile::tempdir().expect("tempdir");
            let conf = dir.path().join("bird.conf");
            std::fs::write(&conf, config).expect("write bird.conf");
            let socket = dir.path().join("bird.ctl");
            // `-f` keeps bird in the foreground, so the pid we kill is the daemon's own.
            let child = Command::new("bird")
                .arg("-f")
                .arg("-c")
                .arg(&conf)
                .arg("-s")
                .arg(&socket)
                .arg("-P")
                .arg(dir.path().join("bird.pid"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start bird ({e}): these tests need BIRD 2: apt-get install bird2")
                });
            let mut bird = TestBird { child, socket, _dir: dir };
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::os::unix::net::UnixStream::connect(&bird.socket).is_err() {
                if let Ok(Some(status)) = bird.child.try_wait() {
                    panic!("bird exited with {status} before opening its socket (bad test config?)");
                }
                assert!(std::time::Instant::now() < deadline, "bird did not open its socket within 10 s");
                std::thread::sleep(Duration::from_millis(20));
            }
            bird
        }
    }

    impl Drop for TestBird {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    pub(crate) fn spec(transport: Transport) -> SourceSpec {
        SourceSpec {
            name: "leaf".into(),
            kind: SourceKind::Bird,
            observer: "leaf".into(),
            transport,
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            retries: 0,
            vrfs: Vec::new(),
        }
    }

    pub(crate) const LIMITS: Limits = Limits { max_response_bytes: 1024 * 1024 };

    pub(crate) fn parse_payloads(payloads: &[RawPayload]) -> Facts {
        let mut facts = Facts::default();
        for p in payloads {
            let text = std::str::from_utf8(&p.bytes).expect("utf-8");
            let f = crate::collect::bird::parse("leaf", text).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            facts.extend(f);
        }
        facts
    }

    pub(crate) fn tables(facts: &Facts) -> Vec<(String, String, bool)> {
        let mut out: Vec<(String, String, bool)> =
            facts.routes.iter().map(|r| (r.table.to_string(), r.prefix.to_string(), r.best)).collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn fetch_reads_every_table_of_a_real_bird() {
        let bird = TestBird::start();
        let spec = spec(Transport::BirdSocket(bird.socket.clone()));
        let payloads = fetch(&bird.socket, COMMANDS, &spec, LIMITS).await.unwrap();
        let names: Vec<&str> = payloads.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["show protocols all", "show route all table all"]);
        let routes = String::from_utf8(payloads[1].bytes.clone()).unwrap();
        assert!(routes.starts_with("1007-Table master4:\n"), "{routes}");
        assert!(routes.ends_with("0000 \n"), "raw reply kept, end line included: {routes:?}");
        let facts = parse_payloads(&payloads);
        assert_eq!(
            tables(&facts),
            vec![
                ("blue".to_string(), "10.20.0.0/26".to_string(), true),
                ("master4".to_string(), "10.10.0.0/26".to_string(), true),
            ]
        );
        let blue = facts.routes.iter().find(|r| r.table == "blue").unwrap();
        assert_eq!(blue.protocol, "static");
        assert!(blue.origin.excerpt.contains("static_blue"), "{}", blue.origin.excerpt);
    }

    #[tokio::test]
    async fn plain_show_route_misses_the_vrf_table() {
        // Why `table all`: the same BIRD asked the 1.6 way shows master4 only.
        let bird = TestBird::start();
        let reply = query(&bird.socket, "show route all").await.unwrap();
        let facts = crate::collect::bird::parse("leaf", &reply).unwrap();
        assert_eq!(tables(&facts), vec![("master4".to_string(), "10.10.0.0/26".to_string(), true)]);
    }

    #[tokio::test]
    async fn bird_errors_carry_their_text() {
        let bird = TestBird::start();
        let e = query(&bird.socket, "show route table nosuch").await.unwrap_err();
        assert!(!e.is_retryable(), "a syntax error is not fixed by asking again");
        assert!(e.message().contains(&bird.socket.display().to_string()), "{e}");
        assert!(e.message().contains("9001 syntax error"), "{e}");
        assert!(e.message().contains("`show route table nosuch`"), "{e}");
    }

    #[tokio::test]
    async fn a_reply_over_the_limit_fails_naming_socket_and_limit() {
        let bird = TestBird::start();
        let spec = spec(Transport::BirdSocket(bird.socket.clone()));
        let e = fetch(&bird.socket, COMMANDS, &spec, Limits { max_response_bytes: 100 }).await.unwrap_err();
        assert!(!e.is_retryable());
        let m = e.message();
        assert!(m.contains(&bird.socket.display().to_string()), "{m}");
        assert!(m.contains("response limit of 100 bytes"), "{m}");
        assert!(m.contains("`show protocols all`"), "{m}");
    }

    #[tokio::test]
    async fn a_missing_socket_is_named_and_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bird.ctl");
        let spec = spec(Transport::BirdSocket(path.clone()));
        let e = fetch(&path, COMMANDS, &spec, LIMITS).await.unwrap_err();
        assert!(e.message().contains(&path.display().to_string()), "{e}");
        assert!(e.message().contains("no such socket"), "{e}");
        assert!(e.is_retryable(), "bird may be restarting");
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bird.ctl");
        // Nothing listening at the path: Linux refuses as it does for a dead daemon's socket. (A
        // closed listener would race with processes other tests fork, which hold it until exec.)
        std::fs::write(&path, b"").unwrap();
        let e = query(&path, "show status").await.unwrap_err();
        assert!(e.message().contains(&path.display().to_string()), "{e}");
        assert!(e.message().contains("connection refused"), "{e}");
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn something_else_on_the_socket_is_not_bird() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await.unwrap();
        });
        let e = query(&path, "show status").await.unwrap_err();
        assert!(!e.is_retryable());
        assert!(e.message().contains("expected a `0001 BIRD … ready.` greeting"), "{e}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_reply_cut_short_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"0001 BIRD 2.0.12 ready.\n").await.unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"1007-Table master4:\n 10.0.0.0/8  unicast").await.unwrap();
        });
        let e = query(&path, "show route all").await.unwrap_err();
        assert!(e.message().contains("connection closed in the middle of the reply"), "{e}");
        server.await.unwrap();
    }

    #[test]
    fn versions_choose_the_route_command() {
        assert_eq!(version_from_greeting("0001 BIRD 2.0.12 ready.\n"), Some("2.0.12"));
        assert_eq!(version_from_greeting("BIRD v0.3.3+birdv1.6.8 ready."), Some("v0.3.3+birdv1.6.8"));
        assert_eq!(command_for("2.0.12", "show route all"), "show route all table all");
        assert_eq!(command_for("3.0.1", "show route"), "show route table all");
        assert_eq!(command_for("2.15", "show route all table blue"), "show route all table blue");
        assert_eq!(command_for("2.0.12", "show protocols all"), "show protocols all");
        assert_eq!(command_for("v0.3.3+birdv1.6.8", "show route all"), "show route all");
        assert_eq!(command_for("1.6.8", "show route all"), "show route all");
    }
}
