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
