//! `zoneaudit simulate`: a large, consistent estate in the real replay formats, with a ready
//! `zoneaudit.yaml` and the findings a run must produce (`expected.json`), so that detection is
//! checked at scale: every injected anomaly found, nothing else flagged.
//!
//! ```text
//!   OUT/zoneaudit.yaml      cluster sim-<scale>; sources read night 1 (OUT/inputs, or
//!                           OUT/nights/1/inputs when --nights > 1); database OUT/zoneaudit.db
//!   OUT/inputs/**           one night (--nights 1), same layout as the demo's inputs/
//!   OUT/nights/<k>/zoneaudit.yaml + inputs/**   (--nights N > 1) night k; its config shares
//!                           OUT/zoneaudit.db and OUT/keys, so `zoneaudit --config
//!                           OUT/nights/<k>/zoneaudit.yaml run` for k = 1..N is the nightly job
//!   OUT/keys/               a fresh signing key pair (random: not part of the deterministic bytes)
//!   OUT/expected.json       [{ "ruleId": …, "subject": … }] the findings every night must show
//! ```
//!
//! Everything but the keys is a pure function of the scale, seed, churn and first night's date:
//! the same options give the same bytes. Night k (k >= 2) replaces `churn` of each zone's VRF host
//! routes with others of the same zone and writes a new firewall log; the anomalies stay the same.

mod formats;
pub mod topology;

use std::io;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::json;

use topology::{Anomalies, Flow, LEAVES, Zone};
pub use topology::{Scale, ScaleSpec};

/// `zoneaudit simulate --scale S|M|L|XL --out DIR [--seed N] [--nights N] [--churn RATE]`.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    pub scale: Scale,
    pub out: PathBuf,
    pub seed: u64,
    /// Consecutive nights to write (1 by default).
    pub nights: u32,
    /// Fraction of each zone's VRF routes replaced per night (0.001 by default).
    pub churn: f64,
    /// Date of night 1; `None`: the nights end with the latest 02:00 UTC that has passed, so the
    /// firewall's hit counters are recent when `run` judges them.
    pub first_night: Option<NaiveDate>,
    /// Write only this night of the series (`--night K`): a long series can then be generated,
    /// run and deleted night by night instead of holding every night's logs on disk at once. The
    /// keys, `expected.json` and `OUT/zoneaudit.yaml` are written by the first such call only.
    pub only_night: Option<u32>,
}

impl SimulateOptions {
    pub fn new(scale: Scale, out: impl Into<PathBuf>) -> SimulateOptions {
        SimulateOptions {
            scale,
            out: out.into(),
            seed: 1,
            nights: 1,
            churn: 0.001,
            first_night: None,
            only_night: None,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub cluster: String,
    pub config: PathBuf,
    pub expected: PathBuf,
    pub zones: usize,
    pub nodes: usize,
    pub route_reflectors: usize,
    /// Zone VRF routes of both leaves, per night.
    pub routes: usize,
    pub panos_lines: u64,
    pub nights: u32,
    /// Expected findings (anomalies of every kind).
    pub expected_findings: usize,
    /// Bytes of all inputs written.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("--nights must be at least 1")]
    NoNights,
    #[error("--churn must be between 0 and 1, not {0}")]
    Churn(f64),
    #[error("--night {night} is not one of the {nights} night(s) of the series")]
    NightOutOfRange { night: u32, nights: u32 },
    #[error("{0}: already holds a simulated estate's database or keys; choose a new directory")]
    NotEmpty(PathBuf),
    #[error("signing key: {0}")]
    Key(String),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SimulateError + '_ {
    move |source| SimulateError::Io { path: path.to_path_buf(), source }
}

/// The estate all nights share.
pub(crate) struct Estate {
    pub spec: ScaleSpec,
    pub seed: u64,
    pub zones: Vec<Zone>,
    pub flows: Vec<Flow>,
    pub anomalies: Anomalies,
}

/// One night: its dates and its VRF host route sets.
pub(crate) struct NightPlan {
    pub number: u32,
    pub collected_at: NaiveDateTime,
    pub bring_up: NaiveDateTime,
    pub host_routes: Vec<Vec<u32>>,
}

impl Estate {
    fn new(scale: Scale, seed: u64) -> Estate {
        let spec = scale.spec();
        let zones = topology::zones(&spec);
        let flows = topology::approved_flows(&zones);
        let anomalies = Anomalies::place(&zones, spec.anomalies, seed);
        Estate { spec, seed, zones, flows, anomalies }
    }

    fn night(&self, first: NaiveDate, number: u32, churn: f64) -> NightPlan {
        let date = first + Days::new(u64::from(number - 1));
        let sizes: Vec<usize> = (0..self.zones.len())
            .map(|z| topology::host_route_set_size(&self.spec, &self.zones, z))
            .collect();
        NightPlan {
            number,
            collected_at: date.and_time(NaiveTime::from_hms_opt(2, 0, 0).expect("02:00")),
            bring_up: (first - Days::new(22)).and_time(NaiveTime::from_hms_opt(8, 10, 0).expect("08:10")),
            host_routes: topology::host_route_sets(&sizes, self.seed, number, churn),
        }
    }

    /// The findings a run must produce, sorted by rule and subject.
    fn expected(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for l in &self.anomalies.leaks {
            let (owner, into) = (&self.zones[l.owner], &self.zones[l.into]);
            out.push((
                "ZI-ROUTE-LEAK".to_string(),
                format!("{}/{}/{}", LEAVES[0].name, into.vrf(), owner.block_cidr(l.worker)),
            ));
        }
        for p in &self.anomalies.stray_peers {
            let rr = self.zones[p.rr_zone].rr_name(0);
            let peer = self.zones[p.node_zone].worker_addr(p.worker);
            out.push(("ZI-CROSS-ZONE-SESSION".to_string(), format!("{rr}<->{peer}")));
        }
        for f in &self.anomalies.unapproved {
            let (from, to) = (self.zones[f.from].name, self.zones[f.to].name);
            out.push((
                "ZI-UNAPPROVED-FLOW".to_string(),
                format!("{}/{from}->{to}/tcp/{}/{}", topology::FIREWALL, f.dport, f.rule),
            ));
        }
        out.sort();
        out
    }

    /// `zoneaudit.yaml`: `inputs` and `root` are relative to the config file's directory.
    fn config_yaml(&self, scale: Scale, inputs: &str, root: &str) -> String {
        let mut y = String::new();
        let mut line = |s: String| {
            y.push_str(&s);
            y.push('\n');
        };
        line(format!(
            "# zoneaudit simulate --scale {}: {} zones, {} nodes, {} VRF routes, {} firewall lines a night.",
            scale.name().to_ascii_uppercase(),
            self.spec.zones,
            self.spec.nodes,
            self.spec.routes,
            self.spec.panos_lines
        ));
        line(format!("cluster: sim-{}", scale.name()));
        line(format!("database: {root}zoneaudit.db"));
        line("zones:".into());
        for z in &self.zones {
            line(format!("  {}:", z.name));
            line(format!("    prefixes: [{}, {}]", z.pod_pool(), z.node_subnet()));
            line(format!("    nodeSelector: \"{}\"", z.selector()));
            line(format!("    routeReflectors: [{}, {}]", z.rr_addr(0), z.rr_addr(1)));
            line(format!("    vrf: {}", z.vrf()));
            line(format!("    firewallZones: [{}]", z.firewall_zone()));
        }
        line("shared: [0.0.0.0/0, 172.31.255.0/24]   # default route, firewall transit".into());
        line("allowedFlows:".into());
        for f in &self.flows {
            line(format!(
                "  - {{ from: {}, to: {}, ports: [{}/tcp], rule: {} }}",
                self.zones[f.from].name, self.zones[f.to].name, f.dport, f.rule
            ));
        }
        line("sources:".into());
        line(format!("  - {{ name: calico, kind: calico, files: [{inputs}/calico] }}"));
        for z in &self.zones {
            for j in 0..2 {
                line(format!(
                    "  - {{ name: {0}, kind: bird, observer: {0}, files: [{inputs}/bird/{0}.txt] }}",
                    z.rr_name(j)
                ));
            }
        }
        for leaf in &LEAVES {
            line(format!(
                "  - {{ name: {0}, kind: eos, files: [{inputs}/eos/{0}-routes.json, {inputs}/eos/{0}-bgp.json] }}",
                leaf.name
            ));
        }
        let fw = topology::FIREWALL;
        line(format!("  - {{ name: {fw}, kind: panos, files: [{inputs}/panos/{fw}.log] }}"));
        line(format!(
            "  - {{ name: {fw}-rulehits, kind: panos-rulehits, observer: {fw}, files: [{inputs}/panos/{fw}-rule-hit-count.xml] }}"
        ));
        line("rulePacks: [builtin:zone-isolation]".into());
        line(format!("signing: {{ keyFile: {root}keys/zoneaudit.key }}"));
        y
    }
}

/// The latest 02:00 UTC that has passed is the last night; night 1 is `nights - 1` days before.
fn default_first_night(nights: u32) -> NaiveDate {
    let now = Utc::now();
    let today = now.date_naive();
    let two_am = today.and_hms_opt(2, 0, 0).expect("02:00").and_utc();
    let last = if now >= two_am { today } else { today - Days::new(1) };
    last - Days::new(u64::from(nights - 1))
}

/// Write the estate, its config(s), `expected.json` and a signing key pair under `opts.out`.
pub fn simulate(opts: &SimulateOptions) -> Result<Summary, SimulateError> {
    if opts.nights == 0 {
        return Err(SimulateError::NoNights);
    }
    if !(0.0..=1.0).contains(&opts.churn) {
        return Err(SimulateError::Churn(opts.churn));
    }
    if let Some(night) = opts.only_night
        && !(1..=opts.nights).contains(&night)
    {
        return Err(SimulateError::NightOutOfRange { night, nights: opts.nights });
    }
    let out = &opts.out;
    // A later `--night K` adds to the series an earlier call started; anything else starts afresh.
    let continuing = opts.only_night.is_some() && out.join("keys").exists();
    if !continuing && (out.join("zoneaudit.db").exists() || out.join("keys").exists()) {
        return Err(SimulateError::NotEmpty(out.clone()));
    }
    std::fs::create_dir_all(out).map_err(io_at(out))?;
    let estate = Estate::new(opts.scale, opts.seed);
    let first = opts.first_night.unwrap_or_else(|| default_first_night(opts.nights));
    let mut routes = 0;
    let mut bytes = 0;
    let nights = match opts.only_night {
        Some(k) => k..=k,
        None => 1..=opts.nights,
    };
    for n in nights {
        let night_dir = if opts.nights == 1 { out.clone() } else { out.join("nights").join(n.to_string()) };
        let (written, size) = write_night(&estate, &estate.night(first, n, opts.churn), &night_dir)?;
        routes = routes.max(written);
        bytes += size;
        if opts.nights > 1 {
            let path = night_dir.join("zoneaudit.yaml");
            std::fs::write(&path, estate.config_yaml(opts.scale, "inputs", "../../"))
                .map_err(io_at(&path))?;
        }
    }
    let config = out.join("zoneaudit.yaml");
    let expected_path = out.join("expected.json");
    let expected = estate.expected();
    if !continuing {
        let inputs = if opts.nights == 1 { "inputs" } else { "nights/1/inputs" };
        std::fs::write(&config, estate.config_yaml(opts.scale, inputs, "")).map_err(io_at(&config))?;
        let doc: Vec<_> =
            expected.iter().map(|(rule, subject)| json!({ "ruleId": rule, "subject": subject })).collect();
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        std::fs::write(&expected_path, text).map_err(io_at(&expected_path))?;
        crate::evidence::keys::generate(&out.join("keys")).map_err(|e| SimulateError::Key(e.to_string()))?;
    }
    Ok(Summary {
        cluster: format!("sim-{}", opts.scale.name()),
        config,
        expected: expected_path,
        zones: estate.spec.zones,
        nodes: estate.spec.nodes,
        route_reflectors: estate.spec.route_reflectors,
        routes,
        panos_lines: estate.spec.panos_lines,
        nights: opts.nights,
        expected_findings: expected.len(),
        bytes,
    })
}

/// One night's `inputs/` under `dir`; returns (zone VRF routes written, bytes of the inputs).
fn write_night(estate: &Estate, night: &NightPlan, dir: &Path) -> Result<(usize, u64), SimulateError> {
    let inputs = dir.join("inputs");
    if inputs.exists() {
        std::fs::remove_dir_all(&inputs).map_err(io_at(&inputs))?;
    }
    let at = io_at(&inputs);
    let result = (|| {
        formats::write_calico(&inputs, estate, night)?;
        formats::write_bird(&inputs, estate, night)?;
        let routes = formats::write_eos(&inputs, estate, night)?;
        let hits = formats::write_panos(&inputs, estate, night)?;
        formats::write_rule_hits(&inputs, night, &hits)?;
        Ok::<_, io::Error>(routes)
    })();
    let routes = result.map_err(at)?;
    Ok((routes, dir_size(&inputs)))
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests;
