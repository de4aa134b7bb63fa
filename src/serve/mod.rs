//! `zoneaudit serve`: the nightly job on a cron schedule in a long-running process, with metrics,
//! health and the reports over HTTP — for hosts without a CronJob or cron.
//!
//! ```text
//!  scheduler (tokio) ──due──▶ RunSlot ──▶ run thread: Store::open ─▶ pipeline::run (as `zoneaudit run`)
//!  listener (tokio)  ──conn─▶ http::App ──▶ blocking task: Store::open (read) ─▶ response
//!  SIGTERM / SIGINT  ──▶ stop accepting and scheduling ─▶ wait for the run (≤ grace) ─▶ exit 0
//! ```
//!
//! A run is exactly `zoneaudit run`: the same pipeline, signing key and report directory. It runs on
//! a thread of its own with its own runtime, because the store is blocking SQLite work. The store's run
//! lock keeps runs exclusive across processes too (a CronJob beside `serve` waits, then fails).
//! If the grace period ends before the run does, the process exits anyway: the kernel drops the run
//! lock and the next `open` marks the run `incomplete`, as after a crash.

pub mod exposition;
pub mod http;
pub mod metrics;
pub mod reports;
pub mod schedule;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Settings;
use crate::evidence::keys::{Keyring, SigningKey};
use crate::pipeline::{self, ReportSink, RunOptions};
use crate::store::Store;
pub use schedule::{RunSlot, Schedule};

/// How long a run in progress may take to finish after SIGTERM / SIGINT.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);
/// How long open HTTP connections get to finish their response at shutdown.
const CONNECTION_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--listen {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
    #[error(
        "shutdown: the run in progress did not finish within {grace:?}; exiting (the next start marks it incomplete)"
    )]
    GraceExceeded { grace: Duration },
}

/// What every run needs, built once at start.
pub struct Job {
    pub settings: Settings,
    pub key: SigningKey,
    /// The keys that verify run reports (period reports count only verified ones).
    pub keyring: Keyring,
    pub db: PathBuf,
    pub sink: ReportSink,
}

pub struct ServeOptions {
    pub listen: SocketAddr,
    pub schedule: Schedule,
    pub grace: Duration,
}

/// Serves until SIGTERM or SIGINT; `Ok` on a clean shutdown. `on_listening` is told the bound address
/// (useful with port 0).
pub async fn serve(
    job: Job,
    opts: ServeOptions,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
    let job = Arc::new(job);
    let slot = Arc::new(RunSlot::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    // Handlers first: a SIGTERM right after the address is announced must not kill the process.
    let signals = Signals::install()?;
    on_listening(local);
    tracing::info!(listen = %local, schedule = opts.schedule.as_str(), "serving");

    let scheduler =
        tokio::spawn(schedule_runs(opts.schedule, Arc::clone(&job), Arc::clone(&slot), stop_rx.clone()));
    let app = Arc::new(http::App { job, slot: Arc::clone(&slot) });
    let server = tokio::spawn(accept(listener, app, stop_rx));

    signals.wait().await;
    tracing::info!("shutdown requested: no new connections or runs");
    let _ = stop_tx.send(true);
    let _ = scheduler.await;
    let _ = tokio::time::timeout(CONNECTION_GRACE + Duration::from_secs(1), server).await;
    if slot.busy() {
        tracing::info!(grace = ?opts.grace, "waiting for the run in progress to finish");
        if tokio::time::timeout(opts.grace, slot.wait_idle()).await.is_err() {
            return Err(ServeError::GraceExceeded { grace: opts.grace });
        }
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// SIGTERM (Kubernetes, systemd) and SIGINT (a terminal) both mean: shut down cleanly.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, ServeError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(ServeError::Signal)?,
            int: signal(SignalKind::interrupt()).map_err(ServeError::Signal)?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!(signal = "SIGTERM", "signal received"),
            _ = self.int.recv() => tracing::info!(signal = "SIGINT", "signal received"),
        }
    }
}

/// Fires at every occurrence of the schedule until told to stop.
async fn schedule_runs(
    schedule: Schedule,
    job: Arc<Job>,
    slot: Arc<RunSlot>,
    mut stop: watch::Receiver<bool>,
) {
    let mut after = Utc::now();
    loop {
        let Some(due) = schedule.next_after(after) else {
            tracing::error!(schedule = schedule.as_str(), "the schedule fires no more");
            return;
        };
        tracing::debug!(due = %due.to_rfc3339(), "next scheduled run");
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        // Sleeping may end a hair early or late; either way the next occurrence is after this one.
        after = due.max(Utc::now());
        if let Some(guard) = slot.try_take(due) {
            let job = Arc::clone(&job);
            let spawned = std::thread::Builder::new().name("zoneaudit-run".into()).spawn(move || {
                run_once(&job, due);
                drop(guard);
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a run thread");
            }
        }
    }
}

/// One run, as `zoneaudit run` does it; logs its start and outcome.
fn run_once(job: &Job, due: DateTime<Utc>) {
    let started_at = Utc::now();
    tracing::info!(due = %due.to_rfc3339(), "scheduled run starting");
    let result = Store::open(&job.db).map_err(|e| e.to_string()).and_then(|mut store| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        runtime
            .block_on(pipeline::run(
                &job.settings,
                &mut store,
                RunOptions {
                    started_at,
                    only_sources: &[],
                    record: None,
                    evaluate: Some((&job.key, &job.sink)),
                },
            ))
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(o) => tracing::info!(
            run = o.run_id,
            findings = o.findings.len(),
            new = o.new.len(),
            resolved = o.resolved.len(),
            evidence_complete = o.evidence_complete,
            report = %o.report_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
            seconds = (Utc::now() - started_at).num_milliseconds() as f64 / 1000.0,
            "scheduled run finished"
        ),
        Err(e) => {
            tracing::error!(error = %e, "scheduled run failed");
            // The store was dropped with the run lock, so opening it now marks the run incomplete
            // and /metrics says so at once.
            if let Err(e) = Store::open(&job.db) {
                tracing::warn!(error = %e, "could not reopen the database after the failed run");
            }
        }
    }
}

/// Accepts connections until told to stop; then lets open ones finish (bounded).
async fn accept(listener: TcpListener, app: Arc<http::App>, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&app), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => break,
        }
        // Reap finished connections so the set does not grow with every scrape.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(CONNECTION_GRACE, drained).await.is_err() {
        tracing::warn!("HTTP connections still open at shutdown were closed");
    }
}

async fn connection(stream: tokio::net::TcpStream, app: Arc<http::App>, mut stop: watch::Receiver<bool>) {
    let service = service_fn(move |req| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(app.handle(req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that never finishes its request headers must not hold a connection forever.
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        }
        _ = stop.changed() => {
            // Finish the response in flight, then close (idle keep-alive connections close at once).
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
