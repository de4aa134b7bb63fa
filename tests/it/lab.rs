//! The BGP lab (`tests/lab/`): real BIRD 2 route reflectors and calico-node stand-ins in two zones,
//! and a border leaf that keeps the zones apart in BIRD tables or FRR VRFs, each device in its own
//! network namespace. `zoneaudit run` collects from it live, as it would in production: BIRD's
//! control socket for nodes, route reflectors and the BIRD leaf, `birdc` over the command transport
//! for one route reflector, `vtysh` inside the leaf's namespace for FRR.
//!
//! ```text
//!  lab-up.sh ──▶ clean audit: exit 0, no finding, every rule that can judge the lab passes
//!  lab-fault.sh pipe|import-vrf|peer|down ──▶ audit: exactly the fault's findings, with evidence
//!  lab-fault.sh clear ──▶ audit: clean again, the fault's findings resolved
//!  lab-down.sh (always: before, and in Drop)
//! ```
//!
//! The lab needs root, bird2, frr and network namespaces; CI installs them and runs as root.
//! Anywhere else these tests fail and say why: a lab test that quietly passes without a lab would
//! prove nothing. Namespace names are global, so a file lock lets only one lab run at a time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::support::{Ran, ran, zoneaudit};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Bird,
    Frr,
}

impl Leaf {
    fn arg(self) -> &'static str {
        match self {
            Leaf::Bird => "bird",
            Leaf::Frr => "frr",
        }
    }
}

/// A running lab and the zoneaudit estate (config, keys, database) that audits it.
struct Lab {
    leaf: Leaf,
    dir: tempfile::TempDir,
    /// Held for the lab's whole life; released after `Drop` has torn the lab down.
    _lock: File,
}

fn script(lab_dir: &Path, name: &str, args: &[&str]) -> Ran {
    let out = Command::new(Path::new(SCRIPTS).join(name))
        .args(args)
        .env("ZAT_LAB_DIR", lab_dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/lab/{name}: {e}"));
    ran(out)
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

impl Lab {
    fn up(leaf: Leaf) -> Lab {
        assert!(
            is_root(),
            "the BGP lab needs root (network namespaces, BIRD and FRR daemons); CI runs it as root"
        );
        let lock = File::create(std::env::temp_dir().join("zoneaudit-bgp-lab.lock")).expect("lab lock file");
        lock.lock().expect("lock the BGP lab");
        let dir = tempfile::tempdir().unwrap();
        // FRR runs as user frr and keeps its sockets in the lab directory.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let lab = Lab { leaf, dir, _lock: lock };
        let t = Instant::now();
        let down = script(&lab.lab_dir(), "lab-down.sh", &[]);
        assert_eq!(down.code, 0, "lab-down.sh before the lab:\n{}", down.all());
        let up = script(&lab.lab_dir(), "lab-up.sh", &[leaf.arg()]);
        assert_eq!(up.code, 0, "the BGP lab cannot run here (lab-up.sh {}):\n{}", leaf.arg(), up.all());
        eprintln!("lab {} up in {:?}: {}", leaf.arg(), t.elapsed(), up.stdout.trim());
        lab.write_config();
        let keys = zoneaudit().args(["keygen", "--out"]).arg(lab.dir.path().join("keys")).output().unwrap();
        assert!(keys.status.success(), "keygen: {}", ran(keys).all());
        lab
    }

    fn lab_dir(&self) -> PathBuf {
        self.dir.path().join("lab")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("zoneaudit.yaml")
    }

    /// The zone model of the lab, and its sources over the live transports.
    fn write_config(&self) {
        let lab = self.lab_dir();
        let q = |p: PathBuf| serde_json::to_string(&p.display().to_string()).unwrap();
        let socket = |n: &str| q(lab.join(n).join("bird.ctl"));
        let mut sources = String::new();
        for n in ["y-rr", "y-node1", "y-node2", "b-node1", "b-node2"] {
            sources.push_str(&format!("  - {{ name: {n}, kind: bird, socket: {}, {LIVE} }}\n", socket(n)));
        }
        // One route reflector as a standalone RR is read in production: `ssh rr birdc ...`.
        sources.push_str(&format!(
            "  - {{ name: b-rr, kind: bird, command: [birdc, -s, {}], {LIVE} }}\n",
            socket("b-rr")
        ));
        sources.push_str(&match self.leaf {
            Leaf::Bird => format!("  - {{ name: leaf, kind: bird, socket: {}, {LIVE} }}\n", socket("leaf")),
            Leaf::Frr => format!(
                "  - {{ name: leaf, kind: frr, command: [ip, netns, exec, zat-leaf, vtysh, --vty_socket, {}, -c], {LIVE} }}\n",
                q(lab.join("leaf/frr"))
            ),
        });
        let config = format!(
            r#"# The BGP lab of tests/lab/: one L2 underlay split between the zones, pod blocks, transit links.
cluster: bgp-lab
database: zoneaudit.db
zones:
  yellow:
    prefixes: [172.31.0.8/29, 172.31.101.0/30, 10.10.0.0/16, 192.0.2.0/24]
    routeReflectors: [172.31.0.10]
    vrf: yellow                              # the BIRD leaf's table
    vrfOverrides: {{ leaf: {yellow_vrf} }}
  blue:
    prefixes: [172.31.0.16/29, 172.31.102.0/30, 10.20.0.0/16, 198.51.100.0/24]
    routeReflectors: [172.31.0.20]
    vrf: blue
    vrfOverrides: {{ leaf: {blue_vrf} }}
rulePacks: [builtin:zone-isolation]
signing: {{ keyFile: keys/zoneaudit.key, publicKeys: [keys/zoneaudit.pub] }}
sources:
{sources}"#,
            yellow_vrf = self.vrf("yellow"),
            blue_vrf = self.vrf("blue"),
        );
        std::fs::write(self.config(), config).unwrap();
    }

    /// The leaf's name for a zone's table: BIRD table name, or FRR's netns VRF name.
    fn vrf(&self, colour: &str) -> String {
        match self.leaf {
            Leaf::Bird => colour.to_string(),
            Leaf::Frr => format!("zat-vrf-{colour}"),
        }
    }

    fn fault(&self, fault: &str) {
        let t = Instant::now();
        let out = script(&self.lab_dir(), "lab-fault.sh", &[fault]);
        assert_eq!(out.code, 0, "lab-fault.sh {fault}:\n{}", out.all());
        eprintln!("fault {fault} in {:?}", t.elapsed());
    }

    /// `zoneaudit run` against the live lab, then the stored run as JSON.
    fn audit(&self, extra: &[&str]) -> Audit {
        let t = Instant::now();
        let out =
            ran(zoneaudit().arg("--config").arg(self.config()).args(extra).arg("run").output().unwrap());
        eprintln!("zoneaudit run in {:?}", t.elapsed());
        let id: i64 = out
            .stdout
            .strip_prefix("run ")
            .and_then(|s| s.split(':').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("run prints its id first:\n{}", out.all()));
        let show = ran(zoneaudit()
            .arg("--config")
            .arg(self.config())
            .args(["runs", "show", &id.to_string(), "-o", "json"])
            .output()
            .unwrap());
        assert_eq!(show.code, 0, "runs show {id}:\n{}", show.all());
        let json: Value = serde_json::from_str(&show.stdout).expect("runs show -o json is JSON");
        Audit { out, json }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let t = Instant::now();
        let down = script(&self.lab_dir(), "lab-down.sh", &[]);
        eprintln!("lab down in {:?}: {}", t.elapsed(), down.stdout.trim());
        if down.code != 0 && !std::thread::panicking() {
            panic!("lab-down.sh left something behind:\n{}", down.all());
        }
    }
}

/// Sources read live with the lab's fast answers: a hung daemon fails in seconds, not minutes.
const LIVE: &str = "timeout: 10s, retries: 1";

struct Audit {
    out: Ran,
    json: Value,
}

impl Audit {
    fn findings(&self) -> &[Value] {
        self.json["findings"].as_array().map(Vec::as_slice).unwrap_or_default()
    }

    fn subjects(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .findings()
            .iter()
            .map(|f| (f["rule_id"].as_str().unwrap_or("").into(), f["subject"].as_str().unwrap_or("").into()))
            .collect();
        v.sort();
        v
    }

    fn rule(&self, id: &str) -> &Value {
        self.json["results"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["rule_id"] == id))
            .unwrap_or_else(|| panic!("no result for {id} in {}", self.json["results"]))
    }

    fn context(&self) -> String {
        format!("{}\nfindings: {:#}", self.out.all(), self.json["findings"])
    }

    /// Every source answered live and in full.
    fn assert_sources_live(&self) {
        let sources = self.json["sources"].as_array().expect("sources");
        assert_eq!(sources.len(), 7, "{}", self.context());
        for s in sources {
            assert_eq!(s["status"], "ok", "source {} did not answer: {}", s["name"], s["error"]);
            assert!(s["counts"]["sessions"].as_u64().unwrap_or(0) > 0, "no sessions from {s}");
            let notes = s["notes"].to_string();
            assert!(notes.contains("live: "), "source {} was not read live: {notes}", s["name"]);
            let transport = match s["name"].as_str() {
                Some("b-rr") => "command birdc",
                Some("leaf") if s["kind"] == "frr" => "command ip netns exec zat-leaf vtysh",
                _ => "BIRD control socket",
            };
            assert!(notes.contains(transport), "source {} not read over {transport}: {notes}", s["name"]);
        }
    }

    /// A clean lab: exit 0, no findings, and the rules that can judge the lab judged it and passed.
    fn assert_clean(&self, when: &str, routes: usize, sessions: usize) {
        assert_eq!(self.out.code, 0, "{when}: exit code\n{}", self.context());
        assert!(self.findings().is_empty(), "{when}: findings in a clean lab\n{}", self.context());
        assert!(self.out.stdout.contains("0 findings"), "{when}:\n{}", self.out.stdout);
        self.assert_sources_live();
        for id in
            ["ZI-ROUTE-LEAK", "ZI-SUPERNET", "ZI-FOREIGN-ORIGIN", "ZI-CROSS-ZONE-SESSION", "ZI-SESSION-DOWN"]
        {
            assert_eq!(self.rule(id)["status"], "pass", "{when}: {id}: {}", self.rule(id));
        }
        // Six BIRD master tables and the leaf's two zone tables: the leaf's VRFs were read.
        assert_eq!(
            self.rule("ZI-ROUTE-LEAK")["checked"],
            format!("{routes} routes in 8 zone tables, 0 leaks"),
            "{when}"
        );
        assert_eq!(
            self.rule("ZI-SESSION-DOWN")["checked"],
            format!("{sessions} sessions on 7 observers, 0 down"),
            "{when}"
        );
        assert_eq!(
            self.rule("ZI-CROSS-ZONE-SESSION")["checked"],
            format!(
                "{sessions} sessions observed ({sessions} with both ends in a known zone), 0 cross-zone peerings"
            ),
            "{when}"
        );
        let results = self.json["results"].as_array().unwrap();
        assert!(
            results.iter().all(|r| r["status"] == "pass" || r["status"] == "skip"),
            "{when}: a rule failed or errored: {results:#?}"
        );
    }

    /// Exactly these findings, each new in this run, each with evidence from `source` that quotes
    /// `quote` (the route's prefix, the session's neighbour) at a line or JSON pointer.
    fn assert_findings(&self, code: i32, expected: &[Expect]) {
        assert_eq!(self.out.code, code, "exit code\n{}", self.context());
        let mut want: Vec<(String, String)> =
            expected.iter().map(|e| (e.rule.to_string(), e.subject.clone())).collect();
        want.sort();
        assert_eq!(self.subjects(), want, "{}", self.context());
        for e in expected {
            let f = self
                .findings()
                .iter()
                .find(|f| f["rule_id"] == e.rule && f["subject"] == e.subject.as_str())
                .unwrap();
            let severity = f["severity"].as_str().unwrap();
            let line = format!("NEW      [{severity}] {} {}: ", e.rule, e.subject);
            assert!(self.out.stdout.contains(&line), "stdout lacks {line:?}:\n{}", self.out.stdout);
            assert_eq!(f["zone"].as_str(), e.zone, "zone of {}", e.subject);
            let message = f["message"].as_str().unwrap();
            assert!(
                message.starts_with(&e.message),
                "{}: message {message:?}, want {:?}…",
                e.subject,
                e.message
            );
            let evidence = f["evidence"].as_array().filter(|v| !v.is_empty()).unwrap_or_else(|| {
                panic!("{} has no evidence: {f:#}", e.subject);
            });
            let ev = &evidence[0];
            assert_eq!(ev["source"], e.source, "{}: evidence source: {ev:#}", e.subject);
            let locator = ev["locator"].as_str().unwrap_or("");
            assert!(
                locator.starts_with("line ") || locator.starts_with('/'),
                "{}: evidence must point at a line or a JSON pointer: {ev:#}",
                e.subject
            );
            let payload = ev["payload"].as_str().unwrap_or("");
            assert!(
                payload.len() == 64 && payload.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: evidence names its payload by sha256: {ev:#}",
                e.subject
            );
            assert!(
                ev["excerpt"].as_str().unwrap_or("").contains(&e.quote),
                "{}: the evidence excerpt must quote {:?}: {ev:#}",
                e.subject,
                e.quote
            );
        }
    }

    fn assert_resolved(&self, count: usize) {
        assert_eq!(
            self.out.stdout.matches("  RESOLVED ").count(),
            count,
            "the cleared fault's findings are resolved:\n{}",
            self.out.stdout
        );
    }
}

struct Expect {
    rule: &'static str,
    subject: String,
    zone: Option<&'static str>,
    message: String,
    source: &'static str,
    quote: String,
}

/// A prefix of one zone in a table of the other: ZI-ROUTE-LEAK, quoted from the route.
fn leak(observer: &'static str, table: &str, prefix: &str, owner: &str, zone: &'static str) -> Expect {
    Expect {
        rule: "ZI-ROUTE-LEAK",
        subject: format!("{observer}/{table}/{prefix}"),
        zone: Some(zone),
        message: format!("prefix {prefix} of zone {owner} is in zone {zone}'s table {table} on {observer}"),
        source: observer,
        quote: prefix.to_string(),
    }
}

/// A session between the zones, seen from `observer`: ZI-CROSS-ZONE-SESSION, quoted from the session.
fn cross(observer: &'static str, zone: &'static str, peer: &str, peer_zone: &str) -> Expect {
    Expect {
        rule: "ZI-CROSS-ZONE-SESSION",
        subject: format!("{observer}<->{peer}"),
        zone: Some(zone),
        message: format!(
            "BGP session from {observer} (zone {zone}, VRF default) to {peer} (zone {peer_zone}) is Established"
        ),
        source: observer,
        quote: peer.to_string(),
    }
}

/// The clean-lab route count: three routes in each of six BIRD master tables (own block, the other
/// node's block, the zone's external prefix), and three in each leaf table.
const CLEAN_ROUTES: usize = 24;
/// Three per route reflector (two clients, the leaf), one per node, one per leaf table.
const CLEAN_SESSIONS: usize = 12;

/// The cross-zone peer: b-node1 (blue) peers with y-rr (yellow). Both ends report the session;
/// b-node1's block spreads through yellow (RR, nodes, the leaf's yellow table), and b-node1 learns
/// all of yellow's routes.
fn peer_fault(lab: &Lab) -> Vec<Expect> {
    let yellow = lab.vrf("yellow");
    vec![
        cross("y-rr", "yellow", "172.31.0.21", "blue"),
        cross("b-node1", "blue", "172.31.0.10", "yellow"),
        leak("y-rr", "master4", "10.20.0.0/26", "blue", "yellow"),
        leak("y-node1", "master4", "10.20.0.0/26", "blue", "yellow"),
        leak("y-node2", "master4", "10.20.0.0/26", "blue", "yellow"),
        leak("leaf", &yellow, "10.20.0.0/26", "blue", "yellow"),
        leak("b-node1", "master4", "10.10.0.0/26", "yellow", "blue"),
        leak("b-node1", "master4", "10.10.0.64/26", "yellow", "blue"),
        leak("b-node1", "master4", "192.0.2.0/24", "yellow", "blue"),
    ]
}

#[test]
fn bird_leaf_lab_audits_clean_and_finds_pipe_leak_cross_zone_peer_and_session_down() {
    let t = Instant::now();
    let lab = Lab::up(Leaf::Bird);

    lab.audit(&[]).assert_clean("clean lab", CLEAN_ROUTES, CLEAN_SESSIONS);

    // A pipe copies yellow's pod blocks into table blue on the leaf. The blue RR drops what the
    // leaf re-advertises (AS path loop), so the leak shows on the leaf only.
    lab.fault("pipe");
    let pipe = vec![
        leak("leaf", "blue", "10.10.0.0/26", "yellow", "blue"),
        leak("leaf", "blue", "10.10.0.64/26", "yellow", "blue"),
    ];
    lab.audit(&[]).assert_findings(1, &pipe);
    lab.fault("clear");
    let clean = lab.audit(&[]);
    clean.assert_clean("pipe cleared", CLEAN_ROUTES, CLEAN_SESSIONS);
    clean.assert_resolved(pipe.len());

    lab.fault("peer");
    let peer = peer_fault(&lab);
    lab.audit(&[]).assert_findings(1, &peer);
    lab.fault("clear");
    let clean = lab.audit(&[]);
    clean.assert_clean("peer cleared", CLEAN_ROUTES, CLEAN_SESSIONS);
    clean.assert_resolved(peer.len());

    // y-node2 shuts its only session. Both ends report it down; with y-node2's block withdrawn
    // nothing else changes. Session-down is medium: the job fails on it only when asked to.
    lab.fault("down");
    let down = lab.audit(&["--fail-on", "medium"]);
    down.assert_findings(
        1,
        &[
            Expect {
                rule: "ZI-SESSION-DOWN",
                subject: "y-node2/default/172.31.0.10".into(),
                // Its only session is down, so nothing places y-node2 in a zone (no Calico source).
                zone: None,
                message: "BGP session from y-node2 (VRF default) to 172.31.0.10 is Down since ".into(),
                source: "y-node2",
                quote: "Neighbor address: 172.31.0.10".into(),
            },
            Expect {
                rule: "ZI-SESSION-DOWN",
                subject: "y-rr/default/172.31.0.12".into(),
                zone: Some("yellow"),
                // Active or Connect, depending on the moment: the RR keeps trying.
                message: "BGP session from y-rr (VRF default) to 172.31.0.12 is ".into(),
                source: "y-rr",
                quote: "Neighbor address: 172.31.0.12".into(),
            },
        ],
    );
    for f in down.findings() {
        assert!(f["message"].as_str().unwrap().ends_with(", not Established"), "{f:#}");
    }
    assert_eq!(down.rule("ZI-SESSION-DOWN")["checked"], "12 sessions on 7 observers, 2 down");
    lab.fault("clear");
    let clean = lab.audit(&[]);
    clean.assert_clean("session restored", CLEAN_ROUTES, CLEAN_SESSIONS);
    clean.assert_resolved(2);
    drop(lab);
    eprintln!("bird leaf lab test in {:?}", t.elapsed());
}

#[test]
fn frr_leaf_lab_audits_clean_and_finds_import_vrf_leak_and_cross_zone_peer() {
    let t = Instant::now();
    let lab = Lab::up(Leaf::Frr);

    lab.audit(&[]).assert_clean("clean lab", CLEAN_ROUTES, CLEAN_SESSIONS);

    // `import vrf` with a route-map: VRF blue imports yellow's pod blocks. FRR cannot install the
    // cross-VRF next hop in another namespace, but the routes are in the VRF's table all the same.
    lab.fault("import-vrf");
    let import = vec![
        leak("leaf", "zat-vrf-blue", "10.10.0.0/26", "yellow", "blue"),
        leak("leaf", "zat-vrf-blue", "10.10.0.64/26", "yellow", "blue"),
    ];
    lab.audit(&[]).assert_findings(1, &import);
    lab.fault("clear");
    let clean = lab.audit(&[]);
    clean.assert_clean("import vrf removed", CLEAN_ROUTES, CLEAN_SESSIONS);
    clean.assert_resolved(import.len());

    lab.fault("peer");
    let peer = peer_fault(&lab);
    let live = lab.audit(&[]);
    live.assert_findings(1, &peer);

    // The same state, recorded by `collect --record`: with every daemon gone, the recording
    // replays to exactly the findings of the live audit.
    let rec = lab.dir.path().join("recording");
    let out = ran(zoneaudit()
        .arg("--config")
        .arg(lab.config())
        .args(["collect", "--record"])
        .arg(&rec)
        .output()
        .unwrap());
    assert_eq!(out.code, 0, "collect --record:\n{}", out.all());
    let down = script(&lab.lab_dir(), "lab-down.sh", &[]);
    assert_eq!(down.code, 0, "{}", down.all());
    let replay =
        ran(zoneaudit().arg("--config").arg(rec.join("zoneaudit.yaml")).arg("run").output().unwrap());
    assert_eq!(replay.code, 1, "replay of the recording:\n{}", replay.all());
    let subjects = live.subjects();
    assert_eq!(replay.stdout.matches("  NEW ").count(), subjects.len(), "{}", replay.stdout);
    for (rule, subject) in subjects {
        assert!(
            replay.stdout.contains(&format!("{rule} {subject}:")),
            "{rule} {subject} in\n{}",
            replay.stdout
        );
    }
    drop(lab);
    eprintln!("frr leaf lab test in {:?}", t.elapsed());
}
