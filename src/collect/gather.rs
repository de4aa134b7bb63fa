//! Collect every configured source of a run: replay sources from their files, live sources over
//! their transports, at most `collection.concurrency` at a time. Each source's outcome is its own:
//! a failure becomes a `failed` source run with the reason, never an error of the whole run.

use chrono::Utc;
use futures::StreamExt;

use crate::collect::live::{self, FetchContext, Limits};
use crate::collect::replay::{Collected, assemble, read_files};
use crate::config::{Settings, SourceSpec, Transport};

/// Collect the sources named in `only` (all when empty), in configuration order.
pub async fn gather(settings: &Settings, only: &[String]) -> Vec<Collected> {
    let ctx = FetchContext {
        settings,
        limits: Limits { max_response_bytes: settings.collection.max_response_bytes },
    };
    let selected: Vec<&SourceSpec> =
        settings.sources.iter().filter(|s| only.is_empty() || only.contains(&s.name)).collect();
    futures::stream::iter(selected)
        .map(|spec| collect_one(spec, &ctx))
        .buffered(settings.collection.concurrency.max(1))
        .collect()
        .await
}

async fn collect_one(spec: &SourceSpec, ctx: &FetchContext<'_>) -> Collected {
    let started_at = Utc::now();
    tracing::info!(source = %spec.name, kind = spec.kind.as_str(), transport = spec.transport.name(), "collecting");
    let (payloads, errors) = match &spec.transport {
        Transport::Files(files) => read_files(files),
        _ => match live::fetch(spec, ctx).await {
            Ok(payloads) => (payloads, Vec::new()),
            Err(e) => {
                (Vec::new(), vec![format!("{} ({}): {}", spec.name, spec.transport.name(), e.message())])
            }
        },
    };
    assemble(spec, ctx.settings, started_at, payloads, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Sources really run side by side, and never more than `collection.concurrency` at a time.
    #[tokio::test]
    async fn live_sources_run_in_parallel_within_the_concurrency_limit() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let bird = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bird/birdcl-show-protocols-all-rr.txt");
        // `sh -c SCRIPT COMMAND`: each call marks its start and end, then answers like birdcl.
        let script = format!(
            "echo + >> {log}; sleep 0.2; echo - >> {log}; cat {bird}",
            log = log.display(),
            bird = bird.display()
        );
        let sources: String = (1..=5)
            .map(|i| format!("  - {{ name: rr{i}, kind: bird, command: [sh, -c, {script:?}] }}\n"))
            .collect();
        let yaml = format!(
            "cluster: c\nzones:\n  y: {{ prefixes: [10.10.0.0/16] }}\nsources:\n{sources}collection: {{ concurrency: 2 }}\n"
        );
        let settings = Settings::from_yaml(&yaml, "zoneaudit.yaml", dir.path()).unwrap();
        let collected = gather(&settings, &[]).await;
        assert_eq!(collected.len(), 5);
        assert!(
            collected.iter().all(|c| c.run.status == crate::model::SourceStatus::Ok),
            "{:?}",
            collected[0].run
        );
        let names: Vec<&str> = collected.iter().map(|c| c.run.name.as_str()).collect();
        assert_eq!(names, ["rr1", "rr2", "rr3", "rr4", "rr5"], "configuration order is kept");
        let (mut now, mut most) = (0i32, 0i32);
        for mark in std::fs::read_to_string(&log).unwrap().lines() {
            now += if mark == "+" { 1 } else { -1 };
            most = most.max(now);
        }
        assert_eq!(most, 2, "two sources at a time, not fewer and not more");
    }
}
