//! The command transport: a local program that prints a CLI's answer (`ssh rr1 birdc`,
//! `vtysh -c`, `ip netns exec leaf vtysh -c`). Each CLI command is appended to the configured argv
//! as one more argument and run without a shell; its stdout is the payload, named by the command.
//!
//! Bounds: stdout is read up to the response limit and the program is killed when it prints more;
//! stderr keeps its last [`STDERR_TAIL_BYTES`] for the error; dropping the fetch (the per-attempt
//! timeout) kills the program. Errors name the program and the CLI command, never the rest of
//! argv, which may carry hosts, users or key paths.
//!
//! BIRD: `birdc` prints its `BIRD x.y ready.` banner first, so once one answer shows the version,
//! later commands are asked as that version needs (`table all` with BIRD 2, see `bird_socket`).

use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::bird_socket;
use super::{FetchError, Limits, RawPayload};
use crate::config::SourceSpec;

/// Enough of stderr to show why a program failed (ssh, vtysh and birdc say it in a line or two).
const STDERR_TAIL_BYTES: usize = 2048;

/// Run `argv + [command]` for each command; one payload per command, named by the command as run.
pub async fn fetch(
    argv: &[String],
    commands: &[&str],
    _spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(FetchError::permanent("the command transport has an empty argv"));
    };
    let mut bird_version: Option<String> = None;
    let mut payloads = Vec::with_capacity(commands.len());
    for command in commands {
        let command = match &bird_version {
            Some(v) => bird_socket::command_for(v, command),
            None => command.to_string(),
        };
        let stdout = run(program, args, &command, limits.max_response_bytes).await?;
        if bird_version.is_none() {
            bird_version = banner_version(&stdout);
        }
        payloads.push(RawPayload::new(command, stdout));
    }
    Ok(payloads)
}

/// The BIRD version of a `birdc`/`birdcl` banner on the first line, if the output has one.
fn banner_version(stdout: &[u8]) -> Option<String> {
    let first = stdout.split(|b| *b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    bird_socket::version_from_greeting(first).map(str::to_string)
}

async fn run(program: &str, args: &[String], command: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
    let mut child = Command::new(program)
        .args(args)
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => FetchError::permanent(format!("command {program}: program not found")),
            ErrorKind::PermissionDenied => {
                FetchError::permanent(format!("command {program}: permission denied (not executable?)"))
            }
            _ => FetchError::new(format!("command {program}: cannot start: {e}")),
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(FetchError::new(format!("command {program}: no pipes to read")));
    };
    // Both pipes are drained together: a program blocked on a full stderr never ends its stdout.
    let (out, err_tail) = tokio::join!(
        async {
            let out = read_bounded(stdout, limit).await;
            if !matches!(out, Ok(Some(_))) {
                let _ = child.start_kill();
            }
            out
        },
        read_tail(stderr),
    );
    let out = match out {
        Ok(Some(out)) => out,
        Ok(None) => {
            let _ = child.wait().await;
            return Err(FetchError::permanent(format!(
                "command {program} `{command}`: output exceeds the response limit of {limit} bytes"
            )));
        }
        Err(e) => {
            let _ = child.wait().await;
            return Err(FetchError::new(format!("command {program} `{command}`: reading its output: {e}")));
        }
    };
    let status = child
        .wait()
        .await
        .map_err(|e| FetchError::new(format!("command {program} `{command}`: waiting for it: {e}")))?;
    if status.success() {
        return Ok(out);
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_string(),
    };
    let stderr = String::from_utf8_lossy(&err_tail);
    let stderr = stderr.trim();
    let said = if stderr.is_empty() { "no stderr".to_string() } else { format!("stderr: {stderr}") };
    Err(FetchError::new(format!("command {program} `{command}` {how} ({said})")))
}

/// All of a stream, or `None` as soon as it passes `limit` bytes.
async fn read_bounded(mut stream: impl AsyncRead + Unpin, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Some(out));
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if out.len() as u64 > limit {
            return Ok(None);
        }
    }
}

/// The last [`STDERR_TAIL_BYTES`] of a stream (errors print last), read to its end.
async fn read_tail(mut stream: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8 * 1024];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if tail.len() > STDERR_TAIL_BYTES {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        }
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::live::bird_socket::COMMANDS;
    use crate::collect::live::bird_socket::tests::{LIMITS, TestBird, parse_payloads, spec, tables};
    use crate::config::Transport;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[tokio::test]
    async fn birdc_against_a_real_bird_reads_every_table() {
        let bird = TestBird::start();
        let argv = argv(&["birdc", "-s", bird.socket.to_str().unwrap()]);
        let spec = spec(Transport::Command(argv.clone()));
        let payloads = fetch(&argv, COMMANDS, &spec, LIMITS)
            .await
            .unwrap_or_else(|e| panic!("{e} (these tests need BIRD 2's birdc: apt-get install bird2)"));
        let names: Vec<&str> = payloads.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["show protocols all", "show route all table all"], "the banner chose `table all`");
        assert!(payloads[0].bytes.starts_with(b"BIRD 2."), "birdc's own form, banner first");
        let facts = parse_payloads(&payloads);
        assert_eq!(
            tables(&facts),
            vec![
                ("blue".to_string(), "10.20.0.0/26".to_string(), true),
                ("master4".to_string(), "10.10.0.0/26".to_string(), true),
            ]
        );
    }

    #[tokio::test]
    async fn output_over_the_limit_is_cut_and_fails() {
        let bird = TestBird::start();
        let birdc = argv(&["birdc", "-s", bird.socket.to_str().unwrap()]);
        let spec = spec(Transport::Command(birdc.clone()));
        let e = fetch(&birdc, COMMANDS, &spec, Limits { max_response_bytes: 50 }).await.unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(
            e.message(),
            "command birdc `show protocols all`: output exceeds the response limit of 50 bytes"
        );
        // A program that never stops printing is killed, not waited for.
        let endless = argv(&["sh", "-c", "yes zoneaudit; true"]);
        let started = std::time::Instant::now();
        let e = fetch(&endless, &["x"], &spec, Limits { max_response_bytes: 1_000_000 }).await.unwrap_err();
        assert!(e.message().contains("exceeds the response limit of 1000000 bytes"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_failing_program_names_itself_the_command_and_stderr() {
        let spec = spec(Transport::Command(Vec::new()));
        let e = fetch(&argv(&["false"]), &["show route"], &spec, LIMITS).await.unwrap_err();
        assert_eq!(e.message(), "command false `show route` exited with status 1 (no stderr)");
        assert!(e.is_retryable(), "ssh and daemons fail transiently");
        let argv = argv(&["sh", "-c", "echo oops >&2; exit 3", "sh"]);
        let e = fetch(&argv, &["show bgp vrf all summary json"], &spec, LIMITS).await.unwrap_err();
        assert_eq!(
            e.message(),
            "command sh `show bgp vrf all summary json` exited with status 3 (stderr: oops)"
        );
    }

    #[tokio::test]
    async fn stderr_keeps_its_tail() {
        let spec = spec(Transport::Command(Vec::new()));
        let argv = argv(&[
            "sh",
            "-c",
            "i=0; while [ $i -lt 500 ]; do echo noise$i >&2; i=$((i+1)); done; echo last-words >&2; exit 2",
            "sh",
        ]);
        let e = fetch(&argv, &["x"], &spec, LIMITS).await.unwrap_err();
        let m = e.message();
        assert!(m.ends_with("last-words)"), "{m}");
        assert!(!m.contains("noise0\n"), "the head is dropped");
        assert!(m.len() < STDERR_TAIL_BYTES + 200, "{}", m.len());
    }

    #[tokio::test]
    async fn a_missing_program_is_permanent_and_named() {
        let spec = spec(Transport::Command(Vec::new()));
        let e = fetch(&argv(&["zoneaudit-no-such-program", "--secret-host"]), &["show route"], &spec, LIMITS)
            .await
            .unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.message(), "command zoneaudit-no-such-program: program not found");
        let e = fetch(&[], &["show route"], &spec, LIMITS).await.unwrap_err();
        assert!(!e.is_retryable());
    }

    #[tokio::test]
    async fn each_command_is_one_argument_and_its_output_the_payload() {
        let spec = spec(Transport::Command(Vec::new()));
        // `$1` is the appended command: no shell splits or expands it.
        let argv = argv(&["sh", "-c", "printf '%s' \"$1\"", "sh"]);
        let payloads =
            fetch(&argv, &["show ip route vrf za-vrf-blue json", "a; rm -rf $HOME"], &spec, LIMITS)
                .await
                .unwrap();
        assert_eq!(
            payloads,
            vec![
                RawPayload::new("show ip route vrf za-vrf-blue json", "show ip route vrf za-vrf-blue json"),
                RawPayload::new("a; rm -rf $HOME", "a; rm -rf $HOME"),
            ]
        );
    }

    #[test]
    fn only_a_bird_banner_sets_the_version() {
        assert_eq!(banner_version(b"BIRD 2.0.12 ready.\nName Proto\n").as_deref(), Some("2.0.12"));
        assert_eq!(banner_version(b"BIRD v0.3.3+birdv1.6.8 ready.\n").as_deref(), Some("v0.3.3+birdv1.6.8"));
        assert_eq!(banner_version(b"{\"default\":{}}\n"), None);
    }
}
