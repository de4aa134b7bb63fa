//! Live collection: fetch the raw payloads of a source over its transport. Parsing is the same
//! pure code as replay, so a live run and its recording give the same facts.
//!
//! ```text
//!  socket ──┐  (BIRD control socket, native protocol)
//!  command ─┤  (`ssh rr1 birdc …`, `vtysh -c …`)
//!  exec ────┼──▶ Vec<RawPayload> ──▶ replay::assemble (parse, stamp, account) ──▶ Collected
//!  url ─────┤  (eAPI, NX-API, Junos REST over HTTPS)
//!  kube ────┘  (Calico resources, CalicoNodeStatus)
//! ```
//!
//! Every fetch is bounded: a total timeout per attempt, a bounded number of retries with
//! exponential backoff, and a response-size limit. Errors name the source's endpoint and what it
//! answered, never a credential.

pub mod bird_socket;
pub mod command;
pub mod eos;
pub mod http;
pub mod junos;
pub mod kube;
pub mod nxos;
pub mod panos_rulehits;

use std::future::Future;
use std::time::Duration;

use crate::config::{Settings, SourceKind, SourceSpec, Transport};

/// One raw payload as fetched: its name says what produced it (a command, an API path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl RawPayload {
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        RawPayload { name: name.into(), bytes: bytes.into() }
    }
}

/// A fetch that failed: what was asked of whom, and what came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

impl FetchError {
    pub fn new(message: impl Into<String>) -> Self {
        FetchError(message.into())
    }

    /// Whether trying again can help (timeouts, refused connections, 5xx) or not (401, bad data).
    pub fn is_retryable(&self) -> bool {
        !self.0.contains("[permanent]")
    }

    /// Mark an error that a retry cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        FetchError(format!("{} [permanent]", message.into()))
    }

    /// The message without the retry marker, for people.
    pub fn message(&self) -> &str {
        self.0.trim_end_matches(" [permanent]")
    }
}

/// Limits shared by every live fetch of a run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_response_bytes: u64,
}

/// Everything a transport needs besides its own spec.
pub struct FetchContext<'a> {
    pub settings: &'a Settings,
    pub limits: Limits,
}

/// Fetch a live source's payloads (the replay form of the same source would hold these bytes).
pub async fn fetch(spec: &SourceSpec, ctx: &FetchContext<'_>) -> Result<Vec<RawPayload>, FetchError> {
    let attempt = || async {
        match tokio::time::timeout(spec.timeout, fetch_once(spec, ctx)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::new(format!(
                "no complete answer within {}",
                humantime::format_duration(spec.timeout)
            ))),
        }
    };
    retry(spec.retries, Duration::from_millis(250), attempt).await.map_err(|e| FetchError::new(e.message()))
}

async fn fetch_once(spec: &SourceSpec, ctx: &FetchContext<'_>) -> Result<Vec<RawPayload>, FetchError> {
    let bird = bird_socket::COMMANDS;
    match (&spec.transport, spec.kind) {
        (Transport::BirdSocket(path), SourceKind::Bird) => {
            bird_socket::fetch(path, bird, spec, ctx.limits).await
        }
        (Transport::Command(argv), SourceKind::Bird) => command::fetch(argv, bird, spec, ctx.limits).await,
        (Transport::Command(argv), SourceKind::Frr) => {
            let commands = frr_commands(spec, ctx.settings);
            let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
            command::fetch(argv, &commands, spec, ctx.limits).await
        }
        (Transport::Exec(exec), SourceKind::Bird) => kube::exec_fetch(exec, bird, spec, ctx.limits).await,
        (Transport::Http(http), SourceKind::Eos) => eos::fetch(http, spec, ctx.limits).await,
        (Transport::Http(http), SourceKind::Nxos) => nxos::fetch(http, spec, ctx.limits).await,
        (Transport::Http(http), SourceKind::Junos) => junos::fetch(http, spec, ctx.limits).await,
        (Transport::Http(http), SourceKind::PanosRuleHits) => {
            panos_rulehits::fetch(http, spec, ctx.limits).await
        }
        (Transport::Kubernetes(k), SourceKind::Calico) => kube::fetch_calico(k, spec, ctx.limits).await,
        (t, kind) => Err(FetchError::permanent(format!(
            "a {} source cannot be fetched over {}",
            kind.as_str(),
            t.name()
        ))),
    }
}

/// FRR: the BGP summary of every VRF, and the routes of each VRF the zone model names on this
/// device (per VRF, because `show ip route vrf all json` is large and FRR 8.4 mangles it).
pub fn frr_commands(spec: &SourceSpec, settings: &Settings) -> Vec<String> {
    let mut vrfs: Vec<String> = if spec.vrfs.is_empty() {
        settings.zones.values().filter_map(|z| z.vrf_on(&spec.observer).map(str::to_string)).collect()
    } else {
        spec.vrfs.clone()
    };
    vrfs.sort();
    vrfs.dedup();
    let mut commands = vec!["show bgp vrf all summary json".to_string()];
    commands.extend(vrfs.iter().map(|v| format!("show ip route vrf {v} json")));
    commands
}

/// Run `attempt` up to `1 + retries` times, doubling the pause after each retryable failure.
pub async fn retry<T, F, Fut>(retries: u32, first_pause: Duration, mut attempt: F) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, FetchError>>,
{
    let mut pause = first_pause;
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if tries < retries && e.is_retryable() => {
                tracing::debug!(error = %e.message(), tries, "retrying after {pause:?}");
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2).min(Duration::from_secs(30));
                tries += 1;
            }
            Err(e) if tries > 0 => {
                return Err(FetchError::new(format!("{} (after {} attempts)", e.message(), tries + 1)));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retry_stops_at_success_and_at_permanent_errors() {
        let calls = AtomicU32::new(0);
        let r = retry(3, Duration::from_millis(1), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 { Err(FetchError::new("refused")) } else { Ok(7) }
        })
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(3, Duration::from_millis(1), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(FetchError::permanent("401 unauthorized"))
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a permanent error is not retried");
        assert_eq!(r.unwrap_err().message(), "401 unauthorized");

        let r: Result<(), _> =
            retry(2, Duration::from_millis(1), || async { Err(FetchError::new("timed out")) }).await;
        assert_eq!(r.unwrap_err().message(), "timed out (after 3 attempts)");
    }
}
