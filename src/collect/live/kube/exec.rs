//! `exec` into the calico-node pod of a node: how a BIRD inside Calico is asked when its control
//! socket is only reachable from inside the pod.
//!
//! ```text
//!  GET /api/v1/namespaces/<ns>/pods?labelSelector=…&fieldSelector=spec.nodeName=<node>
//!   └─▶ pod (Running first), container (configured, else the pod's first)
//!        └─▶ exec [command…, "<cli command>"]  (WebSocket, v5/v4.channel.k8s.io)
//!             channel 1 stdout ─▶ payload (bounded), channel 2 stderr ─▶ kept tail,
//!             channel 3 Status ─▶ Success, or Failure with the exit code in details.causes
//! ```
//!
//! The CLI command is one argument, as for the command transport: `birdcl` joins its arguments,
//! and a shell-less exec must not split a command that is meant as one string.

use ::kube::api::{Api, AttachParams, ListParams};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{CallError, Cluster, Op};
use crate::collect::live::{FetchError, Limits, RawPayload};
use crate::config::{ExecSpec, SourceSpec};

/// How much of stderr an error quotes.
const STDERR_TAIL_BYTES: usize = 2048;

/// Run each CLI command in the calico-node pod of `e.node`; one payload per command, its stdout.
pub async fn exec_fetch(
    e: &ExecSpec,
    commands: &[&str],
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let cluster = Cluster::connect(&e.access, spec, limits).await?;
    let (pod, container) = find_pod(&cluster, e).await?;
    let mut payloads = Vec::with_capacity(commands.len());
    for command in commands {
        let mut argv = e.command.clone();
        argv.push((*command).to_string());
        let shown = argv.join(" ");
        let place = format!("exec in {}/{pod} ({container}) `{shown}`", e.namespace);
        let run = run(&cluster, &e.namespace, &pod, &container, argv, limits.max_response_bytes, &place);
        let stdout = match tokio::time::timeout(spec.timeout, run).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(FetchError::new(format!(
                    "{place}: no complete answer within {}",
                    humantime::format_duration(spec.timeout)
                )));
            }
        };
        payloads.push(RawPayload::new(shown, stdout));
    }
    Ok(payloads)
}

/// The pod to exec into and its container.
async fn find_pod(cluster: &Cluster, e: &ExecSpec) -> Result<(String, String), FetchError> {
    let path = format!("/api/v1/namespaces/{}/pods", e.namespace);
    let selector = format!("spec.nodeName={}", e.node);
    let params = ListParams::default().labels(&e.label_selector).fields(&selector);
    let what = format!("GET {path}?labelSelector={}&fieldSelector={selector}", e.label_selector);
    let body = cluster.call(&path, Op::List(&params)).await.map_err(|err| err.into_fetch(&what))?;
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|err| CallError::Malformed(format!("the answer is not JSON: {err}")).into_fetch(&what))?;
    let pods = doc.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let running = |p: &&Value| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    let Some(pod) = pods.iter().find(running).or(pods.first()) else {
        return Err(FetchError::permanent(format!(
            "{what}: no pod in namespace {} matches {:?} on node {}",
            e.namespace, e.label_selector, e.node
        )));
    };
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let container = match &e.container {
        Some(c) => c.clone(),
        None => pod
            .pointer("/spec/containers/0/name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| FetchError::permanent(format!("{what}: pod {name} lists no container")))?,
    };
    if name.is_empty() {
        return Err(FetchError::permanent(format!("{what}: a pod without metadata.name")));
    }
    Ok((name, container))
}

/// One exec: stdout (at most `max_bytes`) if the command exited 0.
async fn run(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    container: &str,
    argv: Vec<String>,
    max_bytes: u64,
    place: &str,
) -> Result<Vec<u8>, FetchError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let params = AttachParams::default().container(container).stdin(false).stdout(true).stderr(true);
    let mut process = cluster.timed(pods.exec(pod, argv, &params)).await.map_err(|e| e.into_fetch(place))?;
    let status = process.take_status();
    let (Some(stdout), Some(stderr)) = (process.stdout(), process.stderr()) else {
        return Err(FetchError::new(format!("{place}: the exec session has no stdout or stderr stream")));
    };
    // Both streams at once: the session stalls when either pipe is full and nobody reads it. A
    // stdout over the limit stops the stderr reader too (an aborted session never closes it).
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stdout = async move {
        let read = read_bounded(stdout, max_bytes).await;
        if read.is_err() {
            let _ = stop.send(());
        }
        read
    };
    let stderr = async move {
        tokio::select! {
            tail = read_tail(stderr, STDERR_TAIL_BYTES) => tail,
            Ok(()) = stopped => Vec::new(),
        }
    };
    let (out, err) = tokio::join!(stdout, stderr);
    let out = match out {
        Ok(out) => out,
        Err(read) => {
            process.abort();
            return Err(match read {
                ReadError::TooLarge => CallError::TooLarge(max_bytes).into_fetch(place),
                ReadError::Io(m) => FetchError::new(format!("{place}: reading stdout: {m}")),
            });
        }
    };
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    if let Err(e) = process.join().await {
        tracing::debug!(place, error = %e, "exec session ended with an error");
    }
    let stderr_tail = String::from_utf8_lossy(&err).trim().to_string();
    let with_stderr =
        |text: String| if stderr_tail.is_empty() { text } else { format!("{text}; stderr: {stderr_tail}") };
    let Some(status) = status else {
        return Err(FetchError::new(with_stderr(format!(
            "{place}: the session ended without an exit status"
        ))));
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(out);
    }
    let exit_code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| causes.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.clone());
    match exit_code {
        Some(code) => {
            let text = with_stderr(format!("{place}: exited with status {code}"));
            // 126/127: the command is not there or not executable; waiting will not fix that.
            if code == "126" || code == "127" {
                Err(FetchError::permanent(text))
            } else {
                Err(FetchError::new(text))
            }
        }
        None => {
            let reason = status.reason.as_deref().filter(|r| !r.is_empty()).unwrap_or("Failure");
            let message = status.message.as_deref().unwrap_or_default();
            Err(FetchError::new(with_stderr(format!("{place}: {reason}: {message}"))))
        }
    }
}

enum ReadError {
    TooLarge,
    Io(String),
}

/// All of a stream, failing as soon as it passes `max_bytes`.
async fn read_bounded(mut r: impl AsyncRead + Unpin, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = r.read(&mut chunk).await.map_err(|e| ReadError::Io(e.to_string()))?;
        if n == 0 {
            return Ok(out);
        }
        if (out.len() + n) as u64 > max_bytes {
            return Err(ReadError::TooLarge);
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// The last `keep` bytes of a stream (stderr: the end says why a command failed).
async fn read_tail(mut r: impl AsyncRead + Unpin, keep: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
    tail
}
