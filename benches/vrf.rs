//! Criterion bench of a border leaf's VRF route table (issue 8): parse + attribute + store, against
//! serde_json parsing the same bytes and doing nothing else (the floor; target: at most 2x it).
//!
//! The document is `leaf1-routes.json` of a simulated estate: the eAPI JSON-RPC response to `show
//! ip route vrf all` exactly as `zoneaudit simulate` writes it (M: about 20k routes, 5 MB; L: about
//! 125k routes, 31 MB). Each scale's estate is simulated in-process into a temporary directory,
//! read (document, `zoneaudit.yaml`, `expected.json`) and removed again.
//!
//! ```text
//!   vrf_<scale>/floor_value            serde_json::from_slice::<Value>        the floor
//!   vrf_<scale>/floor_ignored_any      serde_json::from_slice::<IgnoredAny>   a lower floor
//!   vrf_<scale>/parse                  eos::parse -> Facts (pointers, excerpts)
//!   vrf_<scale>/parse_attribute        + each route's table zone and prefix attribution (ZoneMap)
//!   vrf_<scale>/store_night1           + sha256, stamp, Store::open of a new DB, begin_run,
//!                                        put_payload, record_source, finish_run, close
//!   vrf_<scale>/store_night2_same      the same, into a DB that holds night 1: identical bytes
//!                                        (a live eAPI answer for an unchanged table)
//!   vrf_<scale>/store_night2_new_id    identical routes, the JSON-RPC id of the next night (what
//!                                        `simulate --nights 2 --churn 0` writes): a new payload
//! ```
//!
//! Times include freeing what was built (the `Value` tree, the facts) and, for a store iteration,
//! closing the database; they exclude creating the temporary database directory, copying night
//! 1's database into it and removing it. Throughput is in routes.
//! After criterion's output one summary line per measurement gives the median per route and the
//! ratio to `floor_value`; with `BENCH_OUT=FILE` the same as TSV (name, routes, median_s,
//! ratio_to_floor) goes to FILE.
//!
//! Run: `cargo bench --bench vrf` (M and L: about 6 minutes on 2 cores; simulating L writes a
//! 1.4 GB firewall log to `$TMPDIR` for a few seconds). `VRF_BENCH_SCALES=m` (or `s`, `m,l`, `xl`)
//! chooses the scales; `VRF_BENCH_ESTATES=DIR` keeps the simulated estates in `DIR/<scale>` and
//! reuses them on the next run.

use std::cell::RefCell;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use criterion::{Bencher, Criterion, SamplingMode, Throughput};
use serde::de::IgnoredAny;
use zoneaudit::collect::eos;
use zoneaudit::config::{Settings, SourceKind, SourceSpec};
use zoneaudit::evidence::canonical::sha256_hex;
use zoneaudit::model::{Attribution, Facts, PayloadRef, Rejects, SourceRun, SourceStatus};
use zoneaudit::simulate::{Scale, SimulateOptions, simulate};
use zoneaudit::store::{RunStatus, Store};

const SAMPLES: usize = 10;
const FLOOR: &str = "floor_value";
/// Night 1 of every simulated estate, so the documents are the same bytes on every run.
const NIGHT_1: &str = "20240716";
const NIGHT_2: &str = "20240717";

/// One border leaf's route table document and what a run needs to attribute and store it.
struct LeafTable {
    scale: &'static str,
    settings: Settings,
    source: SourceSpec,
    night1: Vec<u8>,
    /// Night 1's routes under night 2's JSON-RPC id.
    night2_new_id: Vec<u8>,
    /// Route leaks `expected.json` lists for this leaf: attribution must find exactly these.
    expected_leaks: usize,
}

fn scale_named(name: &str) -> Scale {
    Scale::parse(name).unwrap_or_else(|| panic!("VRF_BENCH_SCALES: unknown scale {name:?} (s, m, l, xl)"))
}

/// The estate's directory: kept under `VRF_BENCH_ESTATES` (and reused), else temporary.
fn simulated_estate(scale: Scale) -> (PathBuf, Option<tempfile::TempDir>) {
    let (dir, temp) = match std::env::var_os("VRF_BENCH_ESTATES") {
        Some(root) => (Path::new(&root).join(scale.name()), None),
        None => {
            let temp = tempfile::tempdir().expect("temporary directory for the simulated estate");
            (temp.path().join("estate"), Some(temp))
        }
    };
    if !dir.join("zoneaudit.yaml").exists() {
        let mut opts = SimulateOptions::new(scale, &dir);
        opts.first_night = NaiveDate::parse_from_str(NIGHT_1, "%Y%m%d").ok();
        let started = Instant::now();
        let summary = simulate(&opts).unwrap_or_else(|e| panic!("simulate {}: {e}", scale.name()));
        eprintln!(
            "simulated estate {} ({} VRF routes of both leaves) in {:.1?}",
            scale.name(),
            summary.routes,
            started.elapsed()
        );
    }
    (dir, temp)
}

fn leaf_table(scale: Scale) -> LeafTable {
    let (dir, _temp) = simulated_estate(scale);
    let settings = Settings::load(&dir.join("zoneaudit.yaml")).expect("simulated zoneaudit.yaml loads");
    let source = settings
        .sources
        .iter()
        .find(|s| s.kind == SourceKind::Eos)
        .expect("the simulated estate has border leaves")
        .clone();
    let routes_file = source.files().iter().find(|f| f.to_string_lossy().ends_with("-routes.json"));
    let night1 = std::fs::read(routes_file.expect("a route table file")).expect("route table readable");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
            .expect("expected.json is JSON");
    let leak_prefix = format!("{}/", source.name);
    let expected_leaks = expected
        .as_array()
        .expect("expected.json is a list")
        .iter()
        .filter(|f| f["ruleId"] == "ZI-ROUTE-LEAK")
        .filter(|f| f["subject"].as_str().is_some_and(|s| s.starts_with(&leak_prefix)))
        .count();
    let night2_new_id = next_night(&night1);
    LeafTable { scale: scale.name(), settings, source, night1, night2_new_id, expected_leaks }
}

/// The same document under the next night's JSON-RPC id (`zoneaudit-leaf1-routes-<date>`).
fn next_night(night1: &[u8]) -> Vec<u8> {
    let id = format!("-routes-{NIGHT_1}\"");
    let at =
        night1.windows(id.len()).position(|w| w == id.as_bytes()).expect("the response id names night 1");
    let mut night2 = night1.to_vec();
    night2[at..at + id.len()].copy_from_slice(format!("-routes-{NIGHT_2}\"").as_bytes());
    night2
}

fn parse(leaf: &LeafTable, bytes: &[u8]) -> Facts {
    eos::parse(&leaf.source.observer, bytes).expect("simulated route table parses")
}

/// What the route rules ask of every route: its table's zone and its prefix's owner. Returns the
/// leaks (a table of zone Z carrying a prefix of zone Y).
fn attribute(settings: &Settings, facts: &Facts) -> usize {
    facts
        .routes
        .iter()
        .filter(|r| {
            let table_zone = settings.zone_of_vrf(&r.observer, &r.table);
            match settings.zone_map.attribute(&r.prefix) {
                Attribution::Zone(owner) => table_zone.is_some_and(|t| t != owner),
                _ => false,
            }
        })
        .count()
}

/// One night of this leaf as the nightly job records it: hash, parse, stamp, attribute, then the
/// run with this one source in the database at `db`, closed at the end.
fn store_night(leaf: &LeafTable, db: &Path, bytes: &[u8]) -> usize {
    let started_at = Utc::now();
    let mut store = Store::open(db).expect("open the database");
    let s = &leaf.settings;
    let run_id = store.begin_run(&s.cluster, started_at, &s.digest, "bench").expect("begin run");
    let sha256 = sha256_hex(bytes);
    let mut facts = parse(leaf, bytes);
    facts.stamp(&leaf.source.name, &sha256);
    let leaks = attribute(s, &facts);
    store.put_payload(bytes).expect("store the payload");
    let run = SourceRun {
        name: leaf.source.name.clone(),
        kind: leaf.source.kind.as_str().to_string(),
        status: SourceStatus::Ok,
        error: None,
        started_at,
        finished_at: Utc::now(),
        counts: facts.counts().into_iter().map(|(k, v)| (k.to_string(), v as u64)).collect(),
        payloads: vec![PayloadRef { name: "leaf-routes.json".into(), sha256, size: bytes.len() as u64 }],
        rejects: Rejects::default(),
        notes: vec!["replay: recorded files".into()],
    };
    store.record_source(run_id, &run, &facts).expect("record the source");
    store.finish_run(run_id, Utc::now(), RunStatus::Complete, true).expect("finish the run");
    drop(store);
    leaks
}

/// Per-iteration times of each measurement; criterion's samples are the last `SAMPLES` of them.
#[derive(Default)]
struct Medians {
    samples: RefCell<Vec<(String, usize, Vec<Duration>)>>,
}

impl Medians {
    fn record(&self, name: &str, routes: usize, per_iter: Duration) {
        let mut all = self.samples.borrow_mut();
        match all.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, _, times)) => times.push(per_iter),
            None => all.push((name.to_string(), routes, vec![per_iter])),
        }
    }

    /// (name, routes, median seconds) per measurement, in bench order.
    fn medians(&self) -> Vec<(String, usize, f64)> {
        self.samples
            .borrow()
            .iter()
            .map(|(name, routes, times)| {
                let mut last: Vec<Duration> = times.iter().rev().take(SAMPLES).copied().collect();
                last.sort();
                (name.clone(), *routes, last[last.len() / 2].as_secs_f64())
            })
            .collect()
    }
}

/// Times `routine` and the freeing of its result; `setup` and freeing its value are not counted.
fn timed<S, O>(
    b: &mut Bencher,
    medians: &Medians,
    name: &str,
    routes: usize,
    mut setup: impl FnMut() -> S,
    mut routine: impl FnMut(&S) -> O,
) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let input = setup();
            let start = Instant::now();
            drop(black_box(routine(&input)));
            total += start.elapsed();
            drop(input);
        }
        medians.record(name, routes, total / iters.max(1) as u32);
        total
    });
}

/// A fresh directory for one iteration's database (removed when dropped, outside the timing).
fn fresh_db_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory for the database")
}

fn bench_scale(c: &mut Criterion, medians: &Medians, leaf: &LeafTable) {
    // One pilot pass: checks what the bench measures and sizes criterion's measurement times.
    let pilot = Instant::now();
    let facts = parse(leaf, &leaf.night1);
    let parse_time = pilot.elapsed();
    let routes = facts.routes.len();
    assert_eq!(
        attribute(&leaf.settings, &facts),
        leaf.expected_leaks,
        "attribution finds the injected leaks"
    );
    drop(facts);
    let night1_db = fresh_db_dir();
    let night1_path = night1_db.path().join("zoneaudit.db");
    let pilot = Instant::now();
    store_night(leaf, &night1_path, &leaf.night1);
    let night1_time = pilot.elapsed();
    assert!(!night1_path.with_extension("db-wal").exists(), "closing the store checkpoints its log");
    let night2_db = fresh_db_dir();
    std::fs::copy(&night1_path, night2_db.path().join("zoneaudit.db")).expect("copy night 1's database");
    let pilot = Instant::now();
    store_night(leaf, &night2_db.path().join("zoneaudit.db"), &leaf.night1);
    let night2_time = pilot.elapsed();
    drop(night2_db);
    let copy_night1 = || {
        let dir = fresh_db_dir();
        std::fs::copy(&night1_path, dir.path().join("zoneaudit.db")).expect("copy night 1's database");
        dir
    };
    let at = |dir: &tempfile::TempDir| dir.path().join("zoneaudit.db");
    let scale = leaf.scale;
    let name = |what: &str| format!("{scale}/{what}");

    let mut group = c.benchmark_group(format!("vrf_{scale}"));
    group.sample_size(SAMPLES).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(routes as u64));
    // Flat sampling runs ceil(measurement time / (samples x iteration time)) iterations per sample:
    // one for the slow measurements, a few for the fast ones.
    let budget = |pilot: Duration| (pilot * SAMPLES as u32).mul_f64(0.8).max(Duration::from_secs(1));
    group.measurement_time(budget(parse_time));
    let bytes = leaf.night1.as_slice();
    group.bench_function(FLOOR, |b| {
        timed(
            b,
            medians,
            &name(FLOOR),
            routes,
            || (),
            |_| serde_json::from_slice::<serde_json::Value>(black_box(bytes)).expect("JSON"),
        )
    });
    group.bench_function("floor_ignored_any", |b| {
        timed(
            b,
            medians,
            &name("floor_ignored_any"),
            routes,
            || (),
            |_| serde_json::from_slice::<IgnoredAny>(black_box(bytes)).expect("JSON"),
        )
    });
    group.bench_function("parse", |b| {
        timed(b, medians, &name("parse"), routes, || (), |_| parse(leaf, black_box(bytes)))
    });
    group.bench_function("parse_attribute", |b| {
        timed(
            b,
            medians,
            &name("parse_attribute"),
            routes,
            || (),
            |_| {
                let facts = parse(leaf, black_box(bytes));
                let leaks = attribute(&leaf.settings, &facts);
                (facts, leaks)
            },
        )
    });
    group.measurement_time(budget(night1_time));
    group.bench_function("store_night1", |b| {
        timed(b, medians, &name("store_night1"), routes, fresh_db_dir, |dir| {
            store_night(leaf, &at(dir), bytes)
        })
    });
    group.measurement_time(budget(night2_time));
    group.bench_function("store_night2_same", |b| {
        timed(b, medians, &name("store_night2_same"), routes, copy_night1, |dir| {
            store_night(leaf, &at(dir), bytes)
        })
    });
    group.bench_function("store_night2_new_id", |b| {
        timed(b, medians, &name("store_night2_new_id"), routes, copy_night1, |dir| {
            store_night(leaf, &at(dir), &leaf.night2_new_id)
        })
    });
    group.finish();
}

/// One line per measurement; ratios are to the same scale's `floor_value`.
fn report(medians: &[(String, usize, f64)]) {
    let floor_of = |name: &str| {
        let scale = name.split('/').next().unwrap_or_default();
        medians.iter().find(|(n, _, _)| *n == format!("{scale}/{FLOOR}")).map(|(_, _, s)| *s)
    };
    let rows: Vec<(String, usize, f64, Option<f64>)> = medians
        .iter()
        .map(|(name, routes, median)| (name.clone(), *routes, *median, floor_of(name).map(|f| median / f)))
        .collect();
    println!("\nvrf summary (medians of {SAMPLES} samples; ratio to floor_value; target <= 2x):");
    for (name, routes, median, ratio) in &rows {
        let ratio = ratio.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"));
        let per_route = median * 1e9 / (*routes).max(1) as f64;
        println!(
            "  {name:<24} {routes:>8} routes {:>10.1} ms {per_route:>8.0} ns/route {ratio:>8}",
            median * 1e3
        );
    }
    if let Some(path) = std::env::var_os("BENCH_OUT") {
        let mut tsv = String::new();
        for (name, routes, median, ratio) in &rows {
            let ratio = ratio.map_or_else(String::new, |r| format!("{r:.3}"));
            tsv.push_str(&format!("vrf/{name}\t{routes}\t{median:.6}\t{ratio}\n"));
        }
        let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(tsv.as_bytes()));
        if let Err(e) = written {
            eprintln!("BENCH_OUT {}: {e}", Path::new(&path).display());
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let medians = Medians::default();
    let scales = std::env::var("VRF_BENCH_SCALES").unwrap_or_else(|_| "m,l".to_string());
    for name in scales.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let leaf = leaf_table(scale_named(name));
        bench_scale(&mut c, &medians, &leaf);
    }
    c.final_summary();
    report(&medians.medians());
}
