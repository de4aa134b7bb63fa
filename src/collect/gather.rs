//! Collect every configured source of a run: replay sources from their files, live sources over
//! their transports, at most `collection.concurrency` at a time. Each source's outcome is its own:
//! a failure becomes a `failed` source run with the reason, never an error of the whole run.
//!
//! Firewall logs read from files are not payloads to load but streams to aggregate: they go
//! through [`logfile::read_incremental_chunked`] (rotated sets, gzip, only the lines new since the
//! last recorded run; a long plain range split over the cores) into a
//! [`FlowAggregator`](crate::collect::firewall::FlowAggregator) per segment, never held whole.
//! Their new cursors are handed back beside the collection and must be stored with the source
//! run, in one transaction (`Store::record_source_with_cursors`), so that a run that dies first
//! re-reads those lines.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::collect::firewall::{FlowParser, LogFormat};
use crate::collect::live::{self, FetchContext, Limits};
use crate::collect::logfile::{self, Incremental, MAX_RETAINED_SEGMENT, Segment};
use crate::collect::replay::{Collected, Payload, assemble, read_files};
use crate::config::{Settings, SourceSpec, Transport};
use crate::model::{Facts, FlowAggregate, PayloadRef, Rejects, SourceRun, SourceStatus, ZoneMap};
use crate::store::FileCursor;

/// Log cursors per source name.
pub type CursorBook = BTreeMap<String, Vec<FileCursor>>;

/// A collection and, for the sources read incrementally, where their files were read up to.
#[derive(Debug)]
pub struct Gathered {
    pub collected: Vec<Collected>,
    /// Store each with its source run (`Store::record_source_with_cursors`), never apart from it.
    pub cursors: CursorBook,
}

/// Firewall log sources read from files: streamed and read incrementally.
pub fn reads_incrementally(spec: &SourceSpec) -> bool {
    spec.kind.is_firewall_log() && matches!(spec.transport, Transport::Files(_))
}

/// Collect the sources named in `only` (all when empty), in configuration order. Firewall logs
/// are streamed but read whole: no cursor is consulted or produced.
pub async fn gather(settings: &Settings, only: &[String]) -> Vec<Collected> {
    gather_from(settings, only, None).await.collected
}

/// As [`gather`], reading firewall log files only beyond `prior` (the cursors the last recorded
/// run left; a source absent from it is read whole) and returning their new cursors.
pub async fn gather_incremental(settings: &Settings, only: &[String], prior: &CursorBook) -> Gathered {
    gather_from(settings, only, Some(prior)).await
}

/// One collected source, with its new log cursors when it was read incrementally.
pub type SourceOutcome = (Collected, Option<Vec<FileCursor>>);

/// As [`gather_incremental`], but each source is handed over through the channel as soon as it
/// and every source before it (configuration order) are collected, by a task of its own. The
/// receiver can store one source and drop its payloads while later ones are still being read:
/// a run then holds a few sources' raw bytes at a time, not all of them. Live sources keep being
/// driven meanwhile, so their timeouts never run while the receiver is busy. The task stops when
/// the receiver is dropped; its handle carries a panic.
pub fn spawn_gather(
    settings: Arc<Settings>,
    only: Vec<String>,
    prior: CursorBook,
) -> (mpsc::Receiver<SourceOutcome>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(async move {
        let mut each = std::pin::pin!(outcomes(&settings, &only, Some(&prior)));
        while let Some(outcome) = each.next().await {
            if tx.send(outcome).await.is_err() {
                break;
            }
        }
    });
    (rx, task)
}

/// The selected sources, collected at most `collection.concurrency` at a time, in configuration order.
fn outcomes<'a>(
    settings: &'a Settings,
    only: &'a [String],
    prior: Option<&'a CursorBook>,
) -> impl futures::Stream<Item = SourceOutcome> + 'a {
    let selected = settings.sources.iter().filter(move |s| only.is_empty() || only.contains(&s.name));
    futures::stream::iter(selected)
        .map(move |spec| async move {
            let ctx = FetchContext {
                settings,
                limits: Limits { max_response_bytes: settings.collection.max_response_bytes },
            };
            collect_one(spec, &ctx, prior).await
        })
        .buffered(settings.collection.concurrency.max(1))
}

async fn gather_from(settings: &Settings, only: &[String], prior: Option<&CursorBook>) -> Gathered {
    let outcomes: Vec<SourceOutcome> = outcomes(settings, only, prior).collect().await;
    let mut gathered = Gathered { collected: Vec::new(), cursors: CursorBook::new() };
    for (collected, cursors) in outcomes {
        if let Some(cursors) = cursors {
            gathered.cursors.insert(collected.run.name.clone(), cursors);
        }
        gathered.collected.push(collected);
    }
    gathered
}

async fn collect_one(
    spec: &SourceSpec,
    ctx: &FetchContext<'_>,
    prior: Option<&CursorBook>,
) -> (Collected, Option<Vec<FileCursor>>) {
    let started_at = Utc::now();
    tracing::info!(source = %spec.name, kind = spec.kind.as_str(), transport = spec.transport.name(), "collecting");
    if reads_incrementally(spec) {
        let cursors = prior.map(|book| book.get(&spec.name).cloned().unwrap_or_default());
        // Gigabytes of blocking reads: off the async workers, so live sources keep moving.
        let (spec_owned, zones) = (spec.clone(), ctx.settings.zone_map.clone());
        let incremental = cursors.is_some();
        let task = tokio::task::spawn_blocking(move || {
            collect_log_files(
                &spec_owned,
                &zones,
                cursors.as_deref().unwrap_or_default(),
                incremental,
                started_at,
            )
        });
        return match task.await {
            Ok((collected, cursors)) => (collected, incremental.then_some(cursors)),
            Err(e) => {
                let error = vec![format!("{}: reading log files: {e}", spec.name)];
                // Nothing was recorded, so the cursors stay where they were.
                (assemble(spec, ctx.settings, started_at, Vec::new(), error), None)
            }
        };
    }
    let (payloads, errors) = match &spec.transport {
        Transport::Files(files) => read_files(files),
        _ => match live::fetch(spec, ctx).await {
            Ok(payloads) => (payloads, Vec::new()),
            Err(e) => {
                (Vec::new(), vec![format!("{} ({}): {}", spec.name, spec.transport.name(), e.message())])
            }
        },
    };
    (assemble(spec, ctx.settings, started_at, payloads, errors), None)
}

/// What one segment's aggregator made of it.
#[derive(Debug)]
struct SegmentFlows {
    flows: Vec<FlowAggregate>,
    rejects: Rejects,
    events: u64,
    lines: u64,
}

/// Read a firewall log source's files from `prior` (all of them when empty) into a source run.
/// Each ingested range is a payload `<file> bytes <from>-<to>`; its bytes are kept as evidence
/// only within [`MAX_RETAINED_SEGMENT`] (for the whole source), otherwise a note keeps its digest.
pub fn collect_log_files(
    spec: &SourceSpec,
    zones: &ZoneMap,
    prior: &[FileCursor],
    incremental: bool,
    started_at: DateTime<Utc>,
) -> (Collected, Vec<FileCursor>) {
    collect_log_files_within(spec, zones, prior, incremental, started_at, MAX_RETAINED_SEGMENT)
}

/// As [`collect_log_files`], keeping at most `retain_budget` segment bytes in memory as evidence.
fn collect_log_files_within(
    spec: &SourceSpec,
    zones: &ZoneMap,
    prior: &[FileCursor],
    incremental: bool,
    started_at: DateTime<Utc>,
    retain_budget: u64,
) -> (Collected, Vec<FileCursor>) {
    let attribute = |a: IpAddr| zones.zone_of_addr(a).map(str::to_string);
    let files: &[PathBuf] = spec.files();
    let Some(format) = LogFormat::of(spec.kind) else {
        let run = log_source_run(spec, started_at, vec![format!("{} is not a log kind", spec.kind.as_str())]);
        return (Collected { run, facts: Facts::default(), payloads: Vec::new() }, prior.to_vec());
    };
    // BSD syslog headers carry no year: the collection's year is the best guess there is.
    let year = u16::try_from(started_at.year()).unwrap_or(0);
    // A long plain log is parsed on every core, with the result of one pass.
    let parser = FlowParser::new(format, &attribute).name_unnamed(spec.observer.as_str()).assume_year(year);
    let read: Incremental<SegmentFlows> =
        logfile::read_incremental_chunked(&spec.name, files, prior, retain_budget, &parser).map_parsed(
            |agg| {
                let (events, lines) = (agg.events(), agg.lines_read());
                let (flows, rejects) = agg.finish();
                SegmentFlows { flows, rejects, events, lines }
            },
        );
    let Incremental { segments, cursors, notes: file_notes, mut errors, files_ok } = read;

    let mut merged = FlowMerge::default();
    let mut rejects = Rejects::default();
    let mut payloads = Vec::new();
    let mut refs = Vec::new();
    let mut notes = vec![if incremental {
        "log files read incrementally: only lines added since the last recorded run".to_string()
    } else {
        "log files read whole".to_string()
    }];
    notes.extend(file_notes);
    let (mut lines, mut bytes, mut readable) = (0u64, 0u64, 0usize);
    for segment in segments {
        let (name, len) = (segment.name(), segment.len());
        let Segment { file, sha256, bytes: kept, parsed, .. } = segment;
        lines += parsed.lines;
        bytes += len;
        if parsed.events == 0 && parsed.rejects.total() > 0 {
            let first = parsed.rejects.samples.first().map(|o| o.locator.as_str()).unwrap_or_default();
            errors.push(format!(
                "{file}: {first}: no readable {} traffic line ({} rejected)",
                spec.kind.as_str(),
                parsed.rejects.total()
            ));
        } else {
            readable += 1;
        }
        // Evidence may only name stored payloads: a digest-only segment is quoted without one.
        let payload = match kept {
            Some(_) => sha256.clone(),
            None => {
                notes.push(format!("payload not retained: {name}, sha256 {sha256}, {len} bytes"));
                String::new()
            }
        };
        let SegmentFlows { flows, rejects: r, .. } = parsed;
        for mut flow in flows {
            for o in &mut flow.samples {
                o.source = spec.name.as_str().into();
                o.payload = payload.as_str().into();
                o.locator = format!("{file}: {}", o.locator);
            }
            merged.add(flow);
        }
        for (reason, n) in r.counts {
            *rejects.counts.entry(reason).or_insert(0) += n;
        }
        rejects.samples.extend(r.samples.into_iter().map(|mut o| {
            o.source = spec.name.as_str().into();
            o.payload = payload.as_str().into();
            o.locator = format!("{file}: {}", o.locator);
            o
        }));
        if let Some(kept) = kept {
            refs.push(PayloadRef { name: name.clone(), sha256: sha256.clone(), size: kept.len() as u64 });
            payloads.push(Payload { name, sha256, bytes: kept });
        }
    }
    if files_ok > 0 && bytes == 0 && errors.is_empty() {
        notes.push("no new lines since the last recorded run".to_string());
    }
    let facts = Facts { flows: merged.flows, ..Facts::default() };
    let status = if files_ok == 0 || (readable == 0 && lines > 0 && !errors.is_empty()) {
        SourceStatus::Failed
    } else if !errors.is_empty() || !rejects.is_empty() {
        SourceStatus::Partial
    } else {
        SourceStatus::Ok
    };
    if !rejects.is_empty() && errors.is_empty() {
        errors.push(format!("{} unreadable lines", rejects.total()));
    }
    let mut run = log_source_run(spec, started_at, errors);
    run.status = status;
    run.counts = facts.counts().into_iter().map(|(k, v)| (k.to_string(), v as u64)).collect();
    run.counts.insert("payloads".into(), refs.len() as u64);
    run.counts.insert("lines".into(), lines);
    run.counts.insert("bytes read".into(), bytes);
    run.payloads = refs;
    run.rejects = rejects;
    run.notes = notes;
    (Collected { run, facts, payloads }, cursors)
}

fn log_source_run(spec: &SourceSpec, started_at: DateTime<Utc>, errors: Vec<String>) -> SourceRun {
    SourceRun {
        name: spec.name.clone(),
        kind: spec.kind.as_str().to_string(),
        status: if errors.is_empty() { SourceStatus::Ok } else { SourceStatus::Failed },
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        started_at,
        finished_at: Utc::now(),
        counts: BTreeMap::new(),
        payloads: Vec::new(),
        rejects: Rejects::default(),
        notes: Vec::new(),
    }
}

/// Aggregates of several segments folded into one per key, in first-seen order.
#[derive(Debug, Default)]
struct FlowMerge {
    flows: Vec<FlowAggregate>,
    index: std::collections::HashMap<FlowKey, usize>,
}

type FlowKey = (String, String, String, Option<String>, Option<String>, String, String, String, u16);

impl FlowMerge {
    fn add(&mut self, flow: FlowAggregate) {
        let key = (
            flow.firewall.clone(),
            flow.from_fw_zone.clone(),
            flow.to_fw_zone.clone(),
            flow.src_zone.clone(),
            flow.dst_zone.clone(),
            flow.rule.clone(),
            flow.action.clone(),
            flow.protocol.clone(),
            flow.dst_port,
        );
        let Some(&i) = self.index.get(&key) else {
            self.index.insert(key, self.flows.len());
            self.flows.push(flow);
            return;
        };
        let Some(into) = self.flows.get_mut(i) else { return };
        into.count = into.count.saturating_add(flow.count);
        into.bytes = into.bytes.saturating_add(flow.bytes);
        // Times are `YYYY-MM-DD HH:MM:SS` in the device's clock: string order is time order.
        if !flow.first_seen.is_empty() && (into.first_seen.is_empty() || flow.first_seen < into.first_seen) {
            into.first_seen = flow.first_seen;
        }
        if flow.last_seen > into.last_seen {
            into.last_seen = flow.last_seen;
        }
        let room = crate::collect::firewall::MAX_SAMPLES.saturating_sub(into.samples.len());
        into.samples.extend(flow.samples.into_iter().take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::demo::estate::{self, Calendar, Night};
    use crate::store::{RunStatus, Store};

    /// Night `number` of the demo on a fixed calendar.
    fn night(number: u32) -> Night {
        Calendar::starting(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).night(number)
    }

    /// The demo estate's settings and its firewall source, with night `night`'s inputs on disk.
    fn demo_estate(dir: &Path, night: Night) -> (Settings, SourceSpec) {
        std::fs::write(dir.join("zoneaudit.yaml"), estate::config_yaml()).unwrap();
        estate::write_inputs(dir, night).unwrap();
        let settings = Settings::load(&dir.join("zoneaudit.yaml")).unwrap();
        let spec = settings.sources.iter().find(|s| reads_incrementally(s)).unwrap().clone();
        (settings, spec)
    }

    fn collect(settings: &Settings, spec: &SourceSpec, prior: &[FileCursor]) -> (Collected, Vec<FileCursor>) {
        collect_log_files(spec, &settings.zone_map, prior, true, Utc::now())
    }

    /// Flow counts per key: what the checks judge.
    fn counts(flows: &[FlowAggregate]) -> BTreeMap<String, (u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for f in flows {
            let key = format!(
                "{} {}>{} {} {} {}/{}",
                f.firewall, f.from_fw_zone, f.to_fw_zone, f.rule, f.action, f.protocol, f.dst_port
            );
            let e = out.entry(key).or_default();
            e.0 += f.count;
            e.1 += f.bytes;
        }
        out
    }

    fn add(a: &mut BTreeMap<String, (u64, u64)>, b: BTreeMap<String, (u64, u64)>) {
        for (k, (c, bytes)) in b {
            let e = a.entry(k).or_default();
            e.0 += c;
            e.1 += bytes;
        }
    }

    #[test]
    fn two_incremental_runs_add_up_to_reading_the_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, spec) = demo_estate(dir.path(), night(3));
        let log = spec.files()[0].clone();
        let whole = std::fs::read(&log).unwrap();
        let attribute = |a: IpAddr| settings.zone_map.zone_of_addr(a).map(str::to_string);
        let (expected, _) = crate::collect::firewall::parse(LogFormat::Panos, &whole, &attribute);
        // The first run sees the first half of the night; the rest is written after it.
        let text = String::from_utf8(whole.clone()).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let half = lines.len() / 2;
        let head: String = lines[..half].concat();
        std::fs::write(&log, &head).unwrap();

        let (first, cursors) = collect(&settings, &spec, &[]);
        assert_eq!(first.run.status, SourceStatus::Ok, "{:?}", first.run.error);
        std::fs::write(&log, &whole).unwrap();
        let (second, cursors2) = collect(&settings, &spec, &cursors);
        assert_eq!(second.run.status, SourceStatus::Ok, "{:?}", second.run.error);

        let mut sum = counts(&first.facts.flows);
        add(&mut sum, counts(&second.facts.flows));
        assert_eq!(sum, counts(&expected.flows), "every event counted once over the two runs");
        assert_eq!(second.run.counts["lines"], (lines.len() - half) as u64);

        // Evidence names the byte range, its digest, and the line in the whole file.
        let file = log.display().to_string();
        let range = format!("{file} bytes {}-{}", head.len(), whole.len());
        assert_eq!(second.run.payloads.len(), 1);
        assert_eq!(second.run.payloads[0].name, range);
        assert_eq!(second.payloads[0].bytes, whole[head.len()..]);
        assert_eq!(
            second.run.payloads[0].sha256,
            crate::evidence::canonical::sha256_hex(&whole[head.len()..])
        );
        let sample = &second.facts.flows[0].samples[0];
        let line: usize = sample.locator.strip_prefix(&format!("{file}: line ")).unwrap().parse().unwrap();
        assert!(line > half, "line {line} is numbered in the whole file, after the {half} read before");
        assert_eq!(lines[line - 1].trim_end(), sample.excerpt);
        assert_eq!(
            (sample.source.as_str(), sample.payload.as_str()),
            ("fw-core", second.run.payloads[0].sha256.as_str())
        );

        let (third, _) = collect(&settings, &spec, &cursors2);
        assert!(third.facts.flows.is_empty());
        assert!(
            third.run.notes.contains(&"no new lines since the last recorded run".to_string()),
            "{:?}",
            third.run.notes
        );
    }

    #[test]
    fn each_demo_night_is_read_whole_and_its_rewrite_is_a_note_not_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let mut cursors = Vec::new();
        for night in (1..=3).map(night) {
            let (settings, spec) = demo_estate(dir.path(), night);
            let whole = std::fs::read(&spec.files()[0]).unwrap();
            let attribute = |a: IpAddr| settings.zone_map.zone_of_addr(a).map(str::to_string);
            let (expected, _) = crate::collect::firewall::parse(LogFormat::Panos, &whole, &attribute);
            let (c, next) = collect(&settings, &spec, &cursors);
            assert_eq!(counts(&c.facts.flows), counts(&expected.flows), "night {}", night.number());
            let said: Vec<&String> = c.run.notes.iter().filter(|n| n.contains("fw-core.log:")).collect();
            if night.number() == 1 {
                assert!(said.is_empty(), "{said:?}");
            } else {
                assert_eq!(said.len(), 1, "{:?}", c.run.notes);
                assert!(said[0].contains("replaced since the last run"), "{said:?}");
            }
            assert_eq!(c.run.status, SourceStatus::Ok);
            cursors = next;
        }
    }

    #[test]
    fn a_segment_over_the_retention_limit_keeps_its_digest_in_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, spec) = demo_estate(dir.path(), night(1));
        let whole = std::fs::read(&spec.files()[0]).unwrap();
        let (c, _) = collect_log_files_within(&spec, &settings.zone_map, &[], true, Utc::now(), 0);
        assert!(c.payloads.is_empty() && c.run.payloads.is_empty(), "nothing listed that is not stored");
        let digest = crate::evidence::canonical::sha256_hex(&whole);
        let note = format!(
            "payload not retained: {} bytes 0-{}, sha256 {digest}, {} bytes",
            spec.files()[0].display(),
            whole.len(),
            whole.len()
        );
        assert!(c.run.notes.contains(&note), "{:?}", c.run.notes);
        assert!(
            c.facts
                .flows
                .iter()
                .flat_map(|f| &f.samples)
                .all(|s| s.payload.is_empty() && s.source == "fw-core")
        );
        assert_eq!(c.run.status, SourceStatus::Ok);
    }

    /// The cursors move only with the recorded source run: a run that dies in between leaves them,
    /// and the next run reads the same lines again (none lost, none counted in two recorded runs).
    #[test]
    fn lines_of_a_run_that_died_before_recording_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, spec) = demo_estate(dir.path(), night(1));
        let db = dir.path().join("zoneaudit.db");
        let log = spec.files()[0].clone();
        let night1 = std::fs::read_to_string(&log).unwrap();

        let mut store = Store::open(&db).unwrap();
        let run = store.begin_run("demo", Utc::now(), "d", "t").unwrap();
        let (c, cursors) = collect(&settings, &spec, &store.get_cursors("fw-core").unwrap());
        for p in &c.payloads {
            store.put_payload(&p.bytes).unwrap();
        }
        store.record_source_with_cursors(run, &c.run, &c.facts, &cursors).unwrap();
        store.finish_run(run, Utc::now(), RunStatus::Complete, true).unwrap();
        drop(store);

        // More traffic; a run collects it and dies before recording the source.
        let more: String = night1.lines().take(5).map(|l| format!("{l}\n")).collect();
        std::fs::write(&log, format!("{night1}{more}")).unwrap();
        let store = Store::open(&db).unwrap();
        let (lost, _) = collect(&settings, &spec, &store.get_cursors("fw-core").unwrap());
        assert_eq!(lost.run.counts["lines"], 5);
        drop(store);

        let store = Store::open(&db).unwrap();
        let (again, _) = collect(&settings, &spec, &store.get_cursors("fw-core").unwrap());
        assert_eq!(counts(&again.facts.flows), counts(&lost.facts.flows), "the same five lines, read again");
        assert_eq!(again.run.payloads[0].name, lost.run.payloads[0].name);
    }

    /// Handed over one by one, the collection is the one gathered whole: every source, in
    /// configuration order, with its facts, payloads and new cursors.
    #[tokio::test]
    async fn sources_handed_over_one_by_one_are_the_whole_collection() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, spec) = demo_estate(dir.path(), night(2));
        let mut prior = CursorBook::new();
        prior.insert(spec.name.clone(), Vec::new());
        let whole = gather_incremental(&settings, &[], &prior).await;

        let (mut each, task) = spawn_gather(Arc::new(settings.clone()), Vec::new(), prior);
        let mut handed = Vec::new();
        while let Some(outcome) = each.recv().await {
            handed.push(outcome);
        }
        task.await.unwrap();

        let names = |c: &[&Collected]| c.iter().map(|c| c.run.name.clone()).collect::<Vec<_>>();
        let configured: Vec<String> = settings.sources.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names(&handed.iter().map(|(c, _)| c).collect::<Vec<_>>()), configured);
        assert_eq!(names(&whole.collected.iter().collect::<Vec<_>>()), configured);
        for ((c, cursors), w) in handed.iter().zip(&whole.collected) {
            assert_eq!(c.facts, w.facts, "{}", w.run.name);
            assert_eq!((&c.run.status, &c.run.payloads), (&w.run.status, &w.run.payloads));
            let bytes = |c: &Collected| c.payloads.iter().map(|p| p.bytes.clone()).collect::<Vec<_>>();
            assert_eq!(bytes(c), bytes(w));
            assert_eq!(cursors.as_ref(), whole.cursors.get(&w.run.name), "{}", w.run.name);
        }
    }

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
