//! The built-in example estate of `zoneaudit demo`: cluster `demo-dc1`, three zones, recorded
//! inputs in the real vendor formats for any number of consecutive nights.
//!
//! ```text
//!            fw-core (PAN-OS, AS 65000)  trust-yellow / trust-blue / trust-green
//!              │ transit 172.31.255.0/24, one /31 per leaf and VRF
//!      leaf1 (AS 65101) ── leaf2 (AS 65102)       VRFs YELLOW, BLUE, GREEN
//!              │ eBGP per VRF: leaf .1 / .2  ⇄  the zone's two route reflectors .5 / .6
//!   <zone>-rr1, <zone>-rr2  (BIRD 1.6, cluster id 244.0.<z>.1)
//!              │ iBGP, RR clients
//!   <zone>-w1..w3 (.21-.23), one /26 pod block each from 10.<z>.0.0/16
//!
//!   zone    z   node subnet       pod pool       AS
//!   yellow  10  172.31.10.0/24    10.10.0.0/16   64610
//!   blue    20  172.31.20.0/24    10.20.0.0/16   64620
//!   green   30  172.31.30.0/24    10.30.0.0/16   64630
//! ```
//!
//! Everything is derived from the small tables below ([`ZONES`], [`LEAVES`]) and the night; the
//! output is deterministic (no randomness, no clock: times derive from the night's date, variation
//! from a fixed integer hash). Each night is a whole snapshot, written as the collectors would have
//! recorded it at 02:00 UTC that morning. What a night shows is its [`Scenario`]; when it happens is
//! its place in a [`Calendar`]:
//!
//! ```text
//!   Calendar { first_night }      bring-up = first_night - 22 days (every long-lived object and
//!     night n = first_night + n-1   session dates from it; the temporary rule from night 3)
//!   Scenario::of_night(n)
//!     1   Clean              compliant
//!     2   LeakAndStrayPeer   blue-w1's block 10.20.1.0/26 leaks into VRF YELLOW on leaf1, and
//!                            yellow-rr1 has an established session with blue-w1 (its routes
//!                            filtered on import, so no blue prefix reaches yellow-rr1's table)
//!     3.. UnapprovedFlow     both fixed, but rule `green-to-blue-temp` lets green reach blue on
//!                            8080/tcp; from night 4 on a steady state: the same estate a day
//!                            older (counters, uptimes, the day's firewall log)
//! ```
//!
//! `zoneaudit demo` ends its calendar at the latest 02:00 UTC that has passed, so a period report
//! written right after it (`report --since 30d`) finds its runs; the tests use a fixed calendar (night 1 on 2026-11-24).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use chrono::{Days, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLUSTER: &str = "demo-dc1";

/// What the estate looks like on a night: the acts of the demo's story, apart from any date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Every zone peers only inside itself; the firewall passes only approved flows.
    Clean,
    /// Blue's block leaks into VRF YELLOW on leaf1; yellow-rr1 peers with blue-w1.
    LeakAndStrayPeer,
    /// Both fixed, but the temporary rule green-to-blue-temp is open.
    UnapprovedFlow,
}

impl Scenario {
    /// The demo's story: a clean night, the two faults, then the unapproved flow for good.
    pub fn of_night(number: u32) -> Scenario {
        match number {
            0 | 1 => Scenario::Clean,
            2 => Scenario::LeakAndStrayPeer,
            _ => Scenario::UnapprovedFlow,
        }
    }
}

/// How long before night 1 the cluster was built.
const BRING_UP_DAYS: u64 = 22;

/// The demo's days: night 1 falls on `first_night`, night n on the (n-1)th day after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendar {
    first_night: NaiveDate,
}

impl Calendar {
    pub fn starting(first_night: NaiveDate) -> Calendar {
        Calendar { first_night }
    }

    /// `nights` consecutive nights, the last of them on the day before `today`.
    pub fn ending_before(today: NaiveDate, nights: u32) -> Calendar {
        Calendar::starting(today - Days::new(u64::from(nights.max(1))))
    }

    pub fn first_night(self) -> NaiveDate {
        self.first_night
    }

    /// Night `number` (counted from 1) with the story's scenario for it.
    pub fn night(self, number: u32) -> Night {
        let number = number.max(1);
        Night { calendar: self, number, scenario: Scenario::of_night(number) }
    }

    /// Nights 1 to `count`.
    pub fn nights(self, count: u32) -> impl Iterator<Item = Night> {
        (1..=count).map(move |n| self.night(n))
    }

    /// When the cluster was built: every long-lived object and session dates from it.
    fn bring_up(self) -> NaiveDateTime {
        (self.first_night - Days::new(BRING_UP_DAYS))
            .and_time(NaiveTime::from_hms_opt(8, 10, 0).expect("08:10"))
    }
}

/// One night of a calendar: its date, and the scenario the estate shows that night.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Night {
    calendar: Calendar,
    number: u32,
    scenario: Scenario,
}

impl Night {
    pub fn number(self) -> u32 {
        self.number
    }

    pub fn date(self) -> NaiveDate {
        self.calendar.first_night + Days::new(u64::from(self.number - 1))
    }

    pub fn scenario(self) -> Scenario {
        self.scenario
    }

    /// The same day showing another scenario (a test's compliant night after the story, say).
    pub fn with_scenario(self, scenario: Scenario) -> Night {
        Night { scenario, ..self }
    }

    /// What changed that night, in one sentence.
    pub fn story(self) -> &'static str {
        match self.scenario {
            Scenario::Clean => {
                "Baseline: every zone peers only with its own route reflectors and leaf VRFs, and the \
                 firewall passes only the approved flows."
            }
            Scenario::LeakAndStrayPeer => {
                "A route-map change on leaf1 leaks blue's pod block 10.20.1.0/26 into VRF YELLOW, and \
                 a hand-added BIRD peering connects blue-w1 to yellow-rr1."
            }
            Scenario::UnapprovedFlow if self.number > 3 => {
                "Steady state: nothing changed, so the temporary rule green-to-blue-temp still lets \
                 green reach blue on 8080/tcp."
            }
            Scenario::UnapprovedFlow => {
                "The leak and the stray peering are gone, but a temporary firewall rule \
                 green-to-blue-temp now lets green reach blue on 8080/tcp."
            }
        }
    }

    /// When the collectors recorded the night's inputs, and so when the night's run starts.
    pub fn collected_at(self) -> NaiveDateTime {
        self.date().and_time(NaiveTime::from_hms_opt(2, 0, 0).expect("02:00"))
    }

    fn bring_up(self) -> NaiveDateTime {
        self.calendar.bring_up()
    }
}

// ---------------------------------------------------------------------------------------------
// Topology table

struct ZoneSpec {
    name: &'static str,
    /// Second octet of the pod pool and third of the node subnet; also the VLAN / sub-interface.
    octet: u8,
    vrf: &'static str,
}

const ZONES: [ZoneSpec; 3] = [
    ZoneSpec { name: "yellow", octet: 10, vrf: "YELLOW" },
    ZoneSpec { name: "blue", octet: 20, vrf: "BLUE" },
    ZoneSpec { name: "green", octet: 30, vrf: "GREEN" },
];

const YELLOW: &ZoneSpec = &ZONES[0];
const BLUE: &ZoneSpec = &ZONES[1];
const GREEN: &ZoneSpec = &ZONES[2];

impl ZoneSpec {
    fn asn(&self) -> u32 {
        64600 + u32::from(self.octet)
    }

    fn node_addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(172, 31, self.octet, host)
    }

    fn node_subnet(&self) -> String {
        format!("172.31.{}.0/24", self.octet)
    }

    fn pod_pool(&self) -> String {
        format!("10.{}.0.0/16", self.octet)
    }

    fn pod(&self, block: u8, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.octet, block, host)
    }

    fn rr_cluster_id(&self) -> String {
        format!("244.0.{}.1", self.octet)
    }

    fn firewall_zone(&self) -> String {
        format!("trust-{}", self.name)
    }

    fn selector(&self) -> String {
        format!("zone == '{}'", self.name)
    }

    fn index(&self) -> usize {
        ZONES.iter().position(|z| z.octet == self.octet).unwrap_or(0)
    }

    fn workers(&self) -> Vec<Node<'_>> {
        (1..=3u8)
            .map(|i| Node { zone: self, name: format!("{}-w{i}", self.name), host: 20 + i, block: Some(i) })
            .collect()
    }

    fn route_reflectors(&self) -> Vec<Node<'_>> {
        (1..=2u8)
            .map(|i| Node { zone: self, name: format!("{}-rr{i}", self.name), host: 4 + i, block: None })
            .collect()
    }

    fn nodes(&self) -> Vec<Node<'_>> {
        let mut nodes = self.route_reflectors();
        nodes.extend(self.workers());
        nodes
    }
}

struct Node<'z> {
    zone: &'z ZoneSpec,
    name: String,
    /// Last octet in the zone's node subnet.
    host: u8,
    /// Third octet of the node's /26 pod block (workers only).
    block: Option<u8>,
}

impl Node<'_> {
    fn addr(&self) -> Ipv4Addr {
        self.zone.node_addr(self.host)
    }

    fn is_route_reflector(&self) -> bool {
        self.block.is_none()
    }

    fn block_cidr(&self) -> Option<String> {
        self.block.map(|b| format!("10.{}.{b}.0/26", self.zone.octet))
    }
}

struct Leaf {
    name: &'static str,
    asn: u32,
    /// Last octet of the leaf's address in every zone's node subnet.
    host: u8,
}

const LEAVES: [Leaf; 2] =
    [Leaf { name: "leaf1", asn: 65101, host: 1 }, Leaf { name: "leaf2", asn: 65102, host: 2 }];

impl Leaf {
    fn index(&self) -> usize {
        usize::from(self.host - 1)
    }

    fn addr_in(&self, zone: &ZoneSpec) -> Ipv4Addr {
        zone.node_addr(self.host)
    }

    /// Firewall and leaf ends of the /31 between this leaf's VRF of `zone` and the firewall.
    fn transit(&self, zone: &ZoneSpec) -> (Ipv4Addr, Ipv4Addr) {
        let n = u8::try_from(2 * (self.index() * ZONES.len() + zone.index())).unwrap_or(0);
        (Ipv4Addr::new(172, 31, 255, n), Ipv4Addr::new(172, 31, 255, n + 1))
    }

    fn uplink(&self, zone: &ZoneSpec) -> String {
        format!("Ethernet49/1.{}", zone.octet)
    }
}

const FIREWALL: &str = "fw-core";
const FIREWALL_ASN: u32 = 65000;
const FIREWALL_SERIAL: &str = "024101003517";
const BIRD_BANNER: &str = "BIRD v0.3.3+birdv1.6.8 ready.";
const NODE_IFACE: &str = "ens192";

/// A fixed integer hash (splitmix64): deterministic variation for counters, ports and timers.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn seed_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A value in `lo..=hi` for one `(seed, salt)`: each salt draws independently from the same seed.
fn vary(seed: u64, salt: u64, lo: u64, hi: u64) -> u64 {
    lo + mix(seed.wrapping_mul(0x100).wrapping_add(salt)) % (hi - lo + 1)
}

/// A stable UUID-shaped identifier for a named object (Kubernetes uid, PAN-OS rule uuid).
fn uuid_for(name: &str) -> String {
    let h = hex::encode(Sha256::digest(name.as_bytes()));
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/// `zoneaudit.yaml` of the demo directory; every path is relative to that directory.
pub fn config_yaml() -> String {
    let mut y = String::new();
    let _ = writeln!(y, "# zoneaudit demo estate: three zones of one Calico cluster behind a core firewall.");
    let _ = writeln!(y, "cluster: {CLUSTER}");
    let _ = writeln!(y, "database: zoneaudit.db");
    let _ = writeln!(y, "zones:");
    for z in &ZONES {
        let rrs: Vec<String> = z.route_reflectors().iter().map(|n| n.addr().to_string()).collect();
        let _ = writeln!(y, "  {}:", z.name);
        let _ = writeln!(y, "    prefixes: [{}, {}]", z.pod_pool(), z.node_subnet());
        let _ = writeln!(y, "    nodeSelector: \"{}\"", z.selector());
        let _ = writeln!(y, "    routeReflectors: [{}]", rrs.join(", "));
        let _ = writeln!(y, "    vrf: {}", z.vrf);
        let _ = writeln!(y, "    firewallZones: [{}]", z.firewall_zone());
    }
    let _ = writeln!(y, "shared: [0.0.0.0/0, 172.31.255.0/24]   # default route, firewall transit");
    let _ = writeln!(y, "allowedFlows:");
    for f in APPROVED_FLOWS {
        let _ = writeln!(
            y,
            "  - {{ from: {}, to: {}, ports: [{}/tcp], rule: {} }}",
            f.from.name, f.to.name, f.dport, f.rule
        );
    }
    let _ = writeln!(y, "sources:");
    let _ = writeln!(y, "  - {{ name: calico, kind: calico, files: [inputs/calico] }}");
    for z in &ZONES {
        for rr in z.route_reflectors() {
            let _ = writeln!(
                y,
                "  - {{ name: {0}, kind: bird, observer: {0}, files: [inputs/bird/{0}.txt] }}",
                rr.name
            );
        }
    }
    for leaf in &LEAVES {
        let _ = writeln!(
            y,
            "  - {{ name: {0}, kind: eos, files: [inputs/eos/{0}-routes.json, inputs/eos/{0}-bgp.json] }}",
            leaf.name
        );
    }
    let _ = writeln!(y, "  - {{ name: {FIREWALL}, kind: panos, files: [inputs/panos/{FIREWALL}.log] }}");
    let _ = writeln!(
        y,
        "  - {{ name: {FIREWALL}-rulehits, kind: panos-rulehits, observer: {FIREWALL}, files: [inputs/panos/{FIREWALL}-rule-hit-count.xml] }}"
    );
    let _ = writeln!(y, "rulePacks: [builtin:zone-isolation]");
    let _ = writeln!(y, "signing: {{ keyFile: keys/zoneaudit.key }}");
    y
}

/// (Re)write `DIR/inputs/**` for `night`, removing the previous night's files first.
pub fn write_inputs(dir: &Path, night: Night) -> std::io::Result<()> {
    let inputs = dir.join("inputs");
    if inputs.exists() {
        std::fs::remove_dir_all(&inputs)?;
    }
    for (rel, bytes) in inputs_for(night) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// The firewall's `show rule-hit-count` answer (XML API) at the end of a night: every rule of the
/// night's log has been hit that night, and the counters only grow; the temporary green->blue rule
/// exists while the night's scenario has it, first hit on the night it opened (night 3).
fn panos_rule_hit_count(night: Night) -> String {
    let epoch = |d: NaiveDate, h: u32| d.and_hms_opt(h, 0, 0).expect("valid time").and_utc().timestamp();
    let created = epoch(night.calendar.first_night() - Days::new(200), 9);
    let last = epoch(night.date(), 1);
    let mut rules = vec![
        ("yellow-to-blue-https", 48_211 + 300 * u64::from(night.number()), created + 3600),
        ("blue-to-green-db", 9_020 + 40 * u64::from(night.number()), created + 3600),
        ("interzone-default", 1_733 + 12 * u64::from(night.number()), created + 3600),
    ];
    if night.scenario() == Scenario::UnapprovedFlow {
        let opened = night.calendar.night(3).date().min(night.date());
        let nights_open = (night.date() - opened).num_days().unsigned_abs() + 1;
        rules.push(("green-to-blue-temp", temp_rule_sessions_per_night() * nights_open, epoch(opened, 0)));
    }
    let mut entries = String::new();
    for (name, hits, first) in rules {
        let _ = write!(
            entries,
            "\t\t\t\t\t\t\t\t<entry name=\"{name}\">\n\t\t\t\t\t\t\t\t\t<latest>yes</latest>\n\t\t\t\t\t\t\t\t\t<hit-count>{hits}</hit-count>\n\t\t\t\t\t\t\t\t\t<last-hit-timestamp>{last}</last-hit-timestamp>\n\t\t\t\t\t\t\t\t\t<last-reset-timestamp>0</last-reset-timestamp>\n\t\t\t\t\t\t\t\t\t<first-hit-timestamp>{first}</first-hit-timestamp>\n\t\t\t\t\t\t\t\t\t<rule-creation-timestamp>{created}</rule-creation-timestamp>\n\t\t\t\t\t\t\t\t\t<rule-modification-timestamp>{created}</rule-modification-timestamp>\n\t\t\t\t\t\t\t\t</entry>\n"
        );
    }
    format!(
        "<response status=\"success\">\n\t<result>\n\t\t<rule-hit-count>\n\t\t\t<vsys>\n\t\t\t\t<entry name=\"vsys1\">\n\t\t\t\t\t<rule-base>\n\t\t\t\t\t\t<entry name=\"security\">\n\t\t\t\t\t\t\t<rules>\n{entries}\t\t\t\t\t\t\t</rules>\n\t\t\t\t\t\t</entry>\n\t\t\t\t\t</rule-base>\n\t\t\t\t</entry>\n\t\t\t</vsys>\n\t\t</rule-hit-count>\n\t</result>\n</response>\n"
    )
}

/// Every input file of a night: path relative to the demo directory, and its bytes.
fn inputs_for(night: Night) -> Vec<(String, Vec<u8>)> {
    let built = night.bring_up();
    let mut files = vec![
        ("inputs/calico/nodes.json".to_string(), kubectl_list(k8s_nodes(night)).into_bytes()),
        (
            "inputs/calico/bgpconfigurations.json".to_string(),
            kubectl_list(bgp_configurations(built)).into_bytes(),
        ),
        ("inputs/calico/bgppeers.json".to_string(), kubectl_list(bgp_peers(built)).into_bytes()),
        ("inputs/calico/ippools.json".to_string(), kubectl_list(ip_pools(built)).into_bytes()),
        (
            "inputs/calico/blockaffinities.json".to_string(),
            kubectl_list(block_affinities(built)).into_bytes(),
        ),
    ];
    for z in &ZONES {
        for rr in z.route_reflectors() {
            files.push((format!("inputs/bird/{}.txt", rr.name), birdcl_transcript(&rr, night).into_bytes()));
        }
    }
    for leaf in &LEAVES {
        let id = |what: &str| format!("zoneaudit-{}-{what}-{}", leaf.name, night.date().format("%Y%m%d"));
        files.push((
            format!("inputs/eos/{}-routes.json", leaf.name),
            eapi_response(&id("routes"), eapi_routes(leaf, night)).into_bytes(),
        ));
        files.push((
            format!("inputs/eos/{}-bgp.json", leaf.name),
            eapi_response(&id("bgp"), eapi_bgp_summary(leaf, night)).into_bytes(),
        ));
    }
    files.push((format!("inputs/panos/{FIREWALL}.log"), panos_traffic_log(night).into_bytes()));
    files.push((
        format!("inputs/panos/{FIREWALL}-rule-hit-count.xml"),
        panos_rule_hit_count(night).into_bytes(),
    ));
    files
}

// ---------------------------------------------------------------------------------------------
// Calico / Kubernetes: `kubectl get <kind> -o json`

/// kubectl's list wrapper, printed as kubectl prints it: keys sorted, 4-space indent, and Go's
/// HTML-safe escaping of `&`, `<`, `>` (selectors come out as `\u0026\u0026`).
fn kubectl_list(items: Vec<Value>) -> String {
    let list = json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": { "resourceVersion": "" },
    });
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    serde::Serialize::serialize(&sorted_keys(list), &mut ser).expect("a JSON value serialises");
    let text = String::from_utf8(buf).expect("serde_json writes UTF-8");
    let mut out = text.replace('&', "\\u0026").replace('<', "\\u003c").replace('>', "\\u003e");
    out.push('\n');
    out
}

fn sorted_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

fn k8s_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A core/v1 Node as Calico's KDD mode keeps it: BGP settings in `projectcalico.org/*` annotations.
fn k8s_node(node: &Node, resource_version: u64, bring_up: NaiveDateTime) -> Value {
    let zone = node.zone;
    let mut annotations = json!({
        "node.alpha.kubernetes.io/ttl": "0",
        "projectcalico.org/ASNumber": zone.asn().to_string(),
        "projectcalico.org/IPv4Address": format!("{}/24", node.addr()),
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
    });
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "zone": zone.name,
    });
    if node.is_route_reflector() {
        annotations["projectcalico.org/RouteReflectorClusterID"] = json!(zone.rr_cluster_id());
        labels["route-reflector"] = json!("true");
    }
    let created = bring_up - Duration::minutes(20)
        + Duration::seconds(i64::from(zone.octet) * 6 + i64::from(node.host));
    let machine = hex::encode(&Sha256::digest(format!("machine-id {}", node.name).as_bytes())[..16]);
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": k8s_time(created),
            "labels": labels,
            "name": node.name,
            "resourceVersion": resource_version.to_string(),
            "uid": uuid_for(&format!("node/{}", node.name)),
        },
        "spec": {},
        "status": {
            "addresses": [
                { "address": node.addr().to_string(), "type": "InternalIP" },
                { "address": node.name, "type": "Hostname" },
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": uuid_for(&format!("boot/{}", node.name)),
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.8.0-51-generic",
                "kubeProxyVersion": "v1.31.4",
                "kubeletVersion": "v1.31.4",
                "machineID": machine,
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.1 LTS",
                "systemUUID": uuid_for(&format!("system/{}", node.name)),
            },
        },
    })
}

fn k8s_nodes(night: Night) -> Vec<Value> {
    // Node heartbeats bump resourceVersion all day: it differs from night to night.
    let base = 4_200_000 + u64::from(night.number()) * 96_000;
    let mut nodes: Vec<Node> = ZONES.iter().flat_map(|z| z.nodes()).collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let rv = base + vary(seed_of(&n.name), u64::from(night.number()), 0, 900) + i as u64;
            k8s_node(n, rv, night.bring_up())
        })
        .collect()
}

/// A Calico CRD object written through calicoctl: the v3 metadata rides in an annotation.
fn calico_object(
    kind: &str,
    name: &str,
    created: NaiveDateTime,
    resource_version: u64,
    spec: Value,
) -> Value {
    let created = k8s_time(created);
    json!({
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": kind,
        "metadata": {
            "annotations": {
                "projectcalico.org/metadata": format!("{{\"creationTimestamp\":\"{created}\"}}"),
            },
            "creationTimestamp": created,
            "generation": 1,
            "name": name,
            "resourceVersion": resource_version.to_string(),
            "uid": uuid_for(&format!("{kind}/{name}")),
        },
        "spec": spec,
    })
}

fn bgp_configurations(bring_up: NaiveDateTime) -> Vec<Value> {
    let spec = json!({ "asNumber": 64512, "logSeverityScreen": "Info", "nodeToNodeMeshEnabled": false });
    let mut c = calico_object("BGPConfiguration", "default", bring_up - Duration::minutes(12), 4402, spec);
    c["metadata"]["generation"] = json!(2);
    vec![c]
}

fn bgp_peers(bring_up: NaiveDateTime) -> Vec<Value> {
    let mut peers = Vec::new();
    let mut rv = 4410;
    for z in &ZONES {
        let workers = format!("{} && !has(route-reflector)", z.selector());
        let rrs = format!("{} && has(route-reflector)", z.selector());
        let created = bring_up - Duration::minutes(9) + Duration::seconds(i64::from(z.octet));
        let mut specs = vec![
            (format!("{}-nodes-to-rrs", z.name), json!({ "nodeSelector": workers, "peerSelector": rrs })),
            (format!("{}-rrs-to-rrs", z.name), json!({ "nodeSelector": rrs, "peerSelector": rrs })),
        ];
        for leaf in &LEAVES {
            specs.push((
                format!("{}-rrs-to-{}", z.name, leaf.name),
                json!({ "asNumber": leaf.asn, "nodeSelector": rrs, "peerIP": leaf.addr_in(z).to_string() }),
            ));
        }
        for (name, spec) in specs {
            rv += 1;
            peers.push(calico_object("BGPPeer", &name, created, rv, spec));
        }
    }
    peers
}

fn ip_pools(bring_up: NaiveDateTime) -> Vec<Value> {
    ZONES
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let spec = json!({
                "allowedUses": ["Workload", "Tunnel"],
                "assignmentMode": "Automatic",
                "blockSize": 26,
                "cidr": z.pod_pool(),
                "ipipMode": "Never",
                "nodeSelector": z.selector(),
                "vxlanMode": "Never",
            });
            calico_object(
                "IPPool",
                &format!("{}-pool", z.name),
                bring_up - Duration::minutes(10),
                4405 + i as u64,
                spec,
            )
        })
        .collect()
}

/// IPAM block affinities (v1: `deleted` is a string), named `<host>-<cidr with . and / as ->`.
fn block_affinities(bring_up: NaiveDateTime) -> Vec<Value> {
    let mut out = Vec::new();
    for z in &ZONES {
        for w in z.workers() {
            let Some(cidr) = w.block_cidr() else { continue };
            let name = format!("{}-{}", w.name, cidr.replace(['.', '/'], "-"));
            let created = bring_up + Duration::minutes(5) + Duration::seconds(i64::from(w.host));
            out.push(json!({
                "apiVersion": "crd.projectcalico.org/v1",
                "kind": "BlockAffinity",
                "metadata": {
                    "creationTimestamp": k8s_time(created),
                    "generation": 1,
                    "name": name,
                    "resourceVersion": (5100 + out.len()).to_string(),
                    "uid": uuid_for(&format!("BlockAffinity/{name}")),
                },
                "spec": { "cidr": cidr, "deleted": "false", "node": w.name, "state": "confirmed", "type": "host" },
            }));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// BIRD 1.6 (calico-node): `birdcl show protocols all` and `birdcl show route all`

#[derive(Clone, Copy, PartialEq)]
enum PeerRole {
    /// A worker of the RR's own zone (`rr client`).
    Client,
    /// The zone's other route reflector (same cluster id: plain iBGP).
    Reflector,
    /// A leaf VRF (eBGP).
    Leaf,
    /// A node of another zone: the night-2 misconfiguration.
    Foreign,
}

/// One BGP protocol of an RR's BIRD, with what it imported and exported.
struct BirdSession {
    peer: Ipv4Addr,
    asn: u32,
    role: PeerRole,
    neighbor_id: Ipv4Addr,
    since: NaiveDateTime,
    counts: RouteCounts,
}

/// What a BIRD protocol's `Routes:` line and route change stats show (withdraws are all zero).
struct RouteCounts {
    /// Import updates: received, filtered, ignored.
    import: (u64, u64, u64),
    /// Export updates: offered, filtered.
    export: (u64, u64),
    preferred: u64,
}

impl RouteCounts {
    const fn new(import: (u64, u64, u64), export: (u64, u64), preferred: u64) -> Self {
        RouteCounts { import, export, preferred }
    }
}

impl BirdSession {
    fn name(&self) -> String {
        format!("Node_{}", self.peer.to_string().replace('.', "_"))
    }
}

fn bird_sessions(rr: &Node, night: Night) -> Vec<BirdSession> {
    let zone = rr.zone;
    let established = |offset_s: i64| night.bring_up() + Duration::seconds(offset_s);
    let mut out = Vec::new();
    for leaf in &LEAVES {
        let addr = leaf.addr_in(zone);
        out.push(BirdSession {
            peer: addr,
            asn: leaf.asn,
            role: PeerRole::Leaf,
            neighbor_id: addr,
            since: established(47 + 3 * i64::from(leaf.host)),
            counts: RouteCounts::new((1, 0, 0), (4, 1), u64::from(leaf.host == 1)),
        });
    }
    for other in zone.route_reflectors().iter().filter(|o| o.name != rr.name) {
        out.push(BirdSession {
            peer: other.addr(),
            asn: zone.asn(),
            role: PeerRole::Reflector,
            neighbor_id: other.addr(),
            since: established(62),
            // The peer's reflected client routes carry our own cluster id: dropped as loops.
            counts: RouteCounts::new((4, 0, 3), (4, 0), 0),
        });
    }
    for w in zone.workers() {
        out.push(BirdSession {
            peer: w.addr(),
            asn: zone.asn(),
            role: PeerRole::Client,
            neighbor_id: w.addr(),
            since: established(240 + i64::from(w.host)),
            counts: RouteCounts::new((1, 0, 0), (4, 1), 1),
        });
    }
    if night.scenario() == Scenario::LeakAndStrayPeer && rr.zone.octet == YELLOW.octet && rr.host == 5 {
        let stray = &BLUE.workers()[0];
        out.push(BirdSession {
            peer: stray.addr(),
            asn: BLUE.asn(),
            role: PeerRole::Foreign,
            neighbor_id: stray.addr(),
            since: night
                .date()
                .pred_opt()
                .expect("a previous day")
                .and_time(NaiveTime::from_hms_opt(21, 47, 13).expect("time")),
            // An import filter keeps blue's blocks out of the table; the session itself is up.
            counts: RouteCounts::new((3, 3, 0), (4, 4), 0),
        });
    }
    out.sort_by_key(BirdSession::name);
    out
}

/// BIRD's `tf_proto` / `tf_route` format: time of day when younger than 20 hours, else the date.
fn bird_since(t: NaiveDateTime, now: NaiveDateTime) -> String {
    if now - t < Duration::hours(20) {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

/// `%-8s %-8s %-8s %-5s  %-10s  %s` (`nest/proto.c`); long names push the columns right.
fn bird_protocol_row(name: &str, proto: &str, state: &str, since: &str, info: &str) -> String {
    format!("{name:<8} {proto:<8} {:<8} {state:<5}  {since:<10}  {info}", "master")
}

fn bird_stats_row(label: &str, cols: [Option<u64>; 5]) -> String {
    let cells: Vec<String> =
        cols.iter().map(|c| c.map_or_else(|| format!("{:>10}", "---"), |n| format!("{n:>10}"))).collect();
    format!("    {label:<20}{}", cells.join(" "))
}

/// `Preference` to the route change stats: the part every protocol prints (`proto_show_basic_info`).
fn bird_basic_info(out: &mut String, preference: u32, filters: (&str, &str), counts: &RouteCounts) {
    let (received, filtered, ignored) = counts.import;
    let accepted = received - filtered - ignored;
    let (offered, export_filtered) = counts.export;
    let preferred = counts.preferred;
    let _ = writeln!(out, "  Preference:     {preference}");
    let _ = writeln!(out, "  Input filter:   {}", filters.0);
    let _ = writeln!(out, "  Output filter:  {}", filters.1);
    let _ = writeln!(
        out,
        "  Routes:         {accepted} imported, {} exported, {preferred} preferred",
        offered - export_filtered
    );
    let _ = writeln!(out, "  Route change stats:     received   rejected   filtered    ignored   accepted");
    let _ = writeln!(
        out,
        "{}",
        bird_stats_row(
            "Import updates:",
            [Some(received), Some(0), Some(filtered), Some(ignored), Some(accepted)]
        )
    );
    let _ =
        writeln!(out, "{}", bird_stats_row("Import withdraws:", [Some(0), Some(0), None, Some(0), Some(0)]));
    let _ = writeln!(
        out,
        "{}",
        bird_stats_row(
            "Export updates:",
            [Some(offered), Some(0), Some(export_filtered), None, Some(offered - export_filtered)]
        )
    );
    let _ = writeln!(out, "{}", bird_stats_row("Export withdraws:", [Some(0), None, None, None, Some(0)]));
}

/// `show protocols all`: the header once, then each protocol's row and detail block.
fn birdcl_protocols_all(rr: &Node, night: Night) -> String {
    let now = night.collected_at();
    let up = bird_since(night.bring_up(), now);
    let mut out = String::new();
    let _ = writeln!(out, "name     proto    table    state  since       info");
    // static1 holds the node's block blackholes: none on a route reflector without workloads.
    let local = [
        ("static1", "Static", 200, ("ACCEPT", "REJECT"), RouteCounts::new((0, 0, 0), (0, 0), 0)),
        (
            "kernel1",
            "Kernel",
            10,
            ("ACCEPT", "calico_kernel_programming"),
            RouteCounts::new((0, 0, 0), (5, 1), 0),
        ),
        ("device1", "Device", 240, ("ACCEPT", "REJECT"), RouteCounts::new((0, 0, 0), (0, 0), 0)),
        ("direct1", "Direct", 240, ("ACCEPT", "REJECT"), RouteCounts::new((1, 0, 0), (0, 0), 1)),
    ];
    for (name, proto, preference, filters, counts) in local {
        let _ = writeln!(out, "{}", bird_protocol_row(name, proto, "up", &up, ""));
        bird_basic_info(&mut out, preference, filters, &counts);
        let _ = writeln!(out);
    }
    for s in bird_sessions(rr, night) {
        let seed = seed_of(&format!("{} {} {}", rr.name, s.name(), night.number()));
        let _ = writeln!(
            out,
            "{}",
            bird_protocol_row(
                &s.name(),
                "BGP",
                "up",
                &bird_since(s.since, now),
                &format!("{:<14}", "Established")
            )
        );
        let _ = writeln!(out, "  Description:    Connection to BGP peer");
        bird_basic_info(&mut out, 100, ("(unnamed)", "(unnamed)"), &s.counts);
        let (caps, session, hold) = match s.role {
            PeerRole::Client => (
                "refresh enhanced-refresh restart-able AS4 add-path-rx add-path-tx",
                "internal multihop route-reflector AS4 add-path-rx add-path-tx",
                240,
            ),
            PeerRole::Reflector => (
                "refresh enhanced-refresh restart-able AS4 add-path-rx add-path-tx",
                "internal multihop AS4 add-path-rx add-path-tx",
                240,
            ),
            PeerRole::Foreign => (
                "refresh enhanced-refresh restart-able AS4 add-path-rx add-path-tx",
                "external multihop AS4 add-path-rx add-path-tx",
                240,
            ),
            PeerRole::Leaf => ("refresh enhanced-refresh restart-aware AS4", "external multihop AS4", 180),
        };
        let keepalive = hold / 3;
        let _ = writeln!(out, "  BGP state:          Established");
        let _ = writeln!(out, "    Neighbor address: {}", s.peer);
        let _ = writeln!(out, "    Neighbor AS:      {}", s.asn);
        let _ = writeln!(out, "    Neighbor ID:      {}", s.neighbor_id);
        let _ = writeln!(out, "    Neighbor caps:    {caps}");
        let _ = writeln!(out, "    Session:          {session}");
        let _ = writeln!(out, "    Source address:   {}", rr.addr());
        let _ = writeln!(out, "    Hold timer:       {}/{hold}", vary(seed, 1, hold - keepalive, hold));
        let _ = writeln!(out, "    Keepalive timer:  {}/{keepalive}", vary(seed, 2, 1, keepalive));
        let _ = writeln!(out);
    }
    out
}

/// One route as `rt_show_rte` prints it (`%-18s %s [%s %s%s]%s%s`), with its `all` attributes.
struct BirdRoute {
    net: String,
    via: String,
    protocol: String,
    since: String,
    from: Option<Ipv4Addr>,
    primary: bool,
    info: String,
    attributes: Vec<String>,
}

fn bgp_attributes(as_path: &str, next_hop: Ipv4Addr) -> Vec<String> {
    vec![
        "Type: BGP unicast univ".to_string(),
        "BGP.origin: IGP".to_string(),
        format!("BGP.as_path: {as_path}"),
        format!("BGP.next_hop: {next_hop}"),
        "BGP.local_pref: 100".to_string(),
    ]
}

fn bird_routes(rr: &Node, night: Night) -> Vec<BirdRoute> {
    let zone = rr.zone;
    let now = night.collected_at();
    let sessions = bird_sessions(rr, night);
    let since_of = |peer: Ipv4Addr| {
        let t = sessions
            .iter()
            .find(|s| s.peer == peer)
            .map_or(night.bring_up(), |s| s.since + Duration::seconds(2));
        bird_since(t, now)
    };
    let via = |gw: Ipv4Addr| format!("via {gw} on {NODE_IFACE}");
    let proto = |peer: Ipv4Addr| format!("Node_{}", peer.to_string().replace('.', "_"));
    let mut routes = Vec::new();
    // The default route: from each leaf VRF, and the other RR's best (leaf1) as a third path.
    let leaf1 = LEAVES[0].addr_in(zone);
    for leaf in &LEAVES {
        let gw = leaf.addr_in(zone);
        let path = format!("{} {FIREWALL_ASN}", leaf.asn);
        routes.push(BirdRoute {
            net: "0.0.0.0/0".into(),
            via: via(gw),
            protocol: proto(gw),
            since: since_of(gw),
            from: None,
            primary: leaf.host == 1,
            info: format!(" (100/0) [AS{FIREWALL_ASN}i]"),
            attributes: bgp_attributes(&path, gw),
        });
    }
    for other in zone.route_reflectors().iter().filter(|o| o.name != rr.name) {
        routes.push(BirdRoute {
            net: "0.0.0.0/0".into(),
            via: via(leaf1),
            protocol: proto(other.addr()),
            since: since_of(other.addr()),
            from: Some(other.addr()),
            primary: false,
            info: format!(" (100/0) [AS{FIREWALL_ASN}i]"),
            attributes: bgp_attributes(&format!("{} {FIREWALL_ASN}", LEAVES[0].asn), leaf1),
        });
    }
    for w in zone.workers() {
        let Some(block) = w.block_cidr() else { continue };
        routes.push(BirdRoute {
            net: block,
            via: via(w.addr()),
            protocol: proto(w.addr()),
            since: since_of(w.addr()),
            from: None,
            primary: true,
            info: " (100/0) [i]".into(),
            attributes: bgp_attributes("", w.addr()),
        });
    }
    routes.push(BirdRoute {
        net: zone.node_subnet(),
        via: format!("dev {NODE_IFACE}"),
        protocol: "direct1".into(),
        since: bird_since(night.bring_up(), now),
        from: None,
        primary: true,
        info: " (240)".into(),
        attributes: vec!["Type: device unicast univ".into()],
    });
    routes
}

/// `show route all`: further routes of the same net leave the net column blank.
fn birdcl_routes_all(rr: &Node, night: Night) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    for r in bird_routes(rr, night) {
        let net = if r.net == previous { String::new() } else { r.net.clone() };
        let from = r.from.map(|f| format!(" from {f}")).unwrap_or_default();
        let primary = if r.primary { " *" } else { "" };
        let _ = writeln!(out, "{net:<18} {} [{} {}{from}]{primary}{}", r.via, r.protocol, r.since, r.info);
        for a in &r.attributes {
            let _ = writeln!(out, "\t{a}");
        }
        previous = r.net;
    }
    out
}

/// What an operator records with `kubectl exec … birdcl`: the banner, then each command echoed.
fn birdcl_transcript(rr: &Node, night: Night) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{BIRD_BANNER}");
    let _ = writeln!(out, "bird> show protocols all");
    out.push_str(&birdcl_protocols_all(rr, night));
    let _ = writeln!(out, "bird> show route all");
    out.push_str(&birdcl_routes_all(rr, night));
    out
}

// ---------------------------------------------------------------------------------------------
// Arista EOS eAPI: `show ip route vrf all`, `show ip bgp summary vrf all`

/// The JSON-RPC body eAPI answers one `runCmds` call with (one command per file here).
fn eapi_response(id: &str, result: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "result": [result] }).to_string()
}

fn eos_route(route_type: &str, vias: Value, leaked: bool) -> Value {
    if route_type == "connected" {
        json!({
            "kernelProgrammed": true,
            "directlyConnected": true,
            "routeAction": "forward",
            "routeLeaked": leaked,
            "vias": vias,
            "hardwareProgrammed": true,
            "routeType": route_type,
        })
    } else {
        json!({
            "kernelProgrammed": true,
            "directlyConnected": false,
            "routeAction": "forward",
            "routeLeaked": leaked,
            "vias": vias,
            "metric": 0,
            "hardwareProgrammed": true,
            "routeType": route_type,
            "preference": 200,
        })
    }
}

/// Routes a leaf's VRF imports from another VRF on a given night (the night-2 route-map leak).
fn leaked_routes(leaf: &Leaf, zone: &ZoneSpec, night: Night) -> Vec<(String, Value)> {
    if night.scenario() != Scenario::LeakAndStrayPeer || leaf.host != 1 || zone.octet != YELLOW.octet {
        return Vec::new();
    }
    let w = &BLUE.workers()[0];
    let vias = json!([{ "interface": format!("Vlan{}", BLUE.octet), "nexthopAddr": w.addr().to_string() }]);
    w.block_cidr().map(|b| (b, eos_route("eBGP", vias, true))).into_iter().collect()
}

fn eapi_routes(leaf: &Leaf, night: Night) -> Value {
    let mut vrfs = serde_json::Map::new();
    vrfs.insert(
        "default".into(),
        json!({
            "routes": {
                format!("10.255.0.{}/32", leaf.host): eos_route("connected", json!([{ "interface": "Loopback0" }]), false),
            },
            "allRoutesProgrammedKernel": true,
            "routingDisabled": false,
            "allRoutesProgrammedHardware": true,
            "defaultRouteState": "notSet",
        }),
    );
    for z in &ZONES {
        let (fw, _) = leaf.transit(z);
        let svi = format!("Vlan{}", z.octet);
        let mut routes = serde_json::Map::new();
        routes.insert(
            "0.0.0.0/0".into(),
            eos_route("eBGP", json!([{ "interface": leaf.uplink(z), "nexthopAddr": fw.to_string() }]), false),
        );
        for w in z.workers() {
            if let Some(block) = w.block_cidr() {
                let vias = json!([{ "interface": svi, "nexthopAddr": w.addr().to_string() }]);
                routes.insert(block, eos_route("eBGP", vias, false));
            }
        }
        routes.extend(leaked_routes(leaf, z, night));
        routes.insert(z.node_subnet(), eos_route("connected", json!([{ "interface": svi }]), false));
        routes.insert(
            format!("{}/31", fw),
            eos_route("connected", json!([{ "interface": leaf.uplink(z) }]), false),
        );
        vrfs.insert(
            z.vrf.into(),
            json!({
                "routes": routes,
                "allRoutesProgrammedKernel": true,
                "routingDisabled": false,
                "allRoutesProgrammedHardware": true,
                "defaultRouteState": "reachable",
            }),
        );
    }
    json!({ "vrfs": vrfs })
}

fn eos_peer(asn: u32, prefixes: u64, established: NaiveDateTime, night: Night, seed: u64) -> Value {
    // Keepalives every 60 s both ways: the counters grow by 1440 a day.
    let keepalives = (night.collected_at() - established).num_minutes().max(0) as u64;
    let up_down = established.and_utc().timestamp() as f64 + (vary(seed, 1, 0, 999_999) as f64) / 1e6;
    json!({
        "version": 4,
        "msgReceived": keepalives + vary(seed, 2, 20, 60),
        "msgSent": keepalives + vary(seed, 3, 18, 58),
        "inMsgQueue": 0,
        "outMsgQueue": 0,
        "asn": asn.to_string(),
        "prefixAccepted": prefixes,
        "prefixReceived": prefixes,
        "upDownTime": up_down,
        "underMaintenance": false,
        "peerState": "Established",
    })
}

fn eapi_bgp_summary(leaf: &Leaf, night: Night) -> Value {
    let mut vrfs = serde_json::Map::new();
    vrfs.insert(
        "default".into(),
        json!({ "vrf": "default", "routerId": format!("10.255.0.{}", leaf.host), "asn": leaf.asn.to_string(), "peers": {} }),
    );
    for z in &ZONES {
        let mut peers = serde_json::Map::new();
        for rr in z.route_reflectors() {
            let seed = seed_of(&format!("{}{}", leaf.name, rr.name));
            let since = night.bring_up() + Duration::seconds(47 + 3 * i64::from(leaf.host));
            peers.insert(rr.addr().to_string(), eos_peer(z.asn(), 3, since, night, seed));
        }
        let (fw, _) = leaf.transit(z);
        let since = night.bring_up() - Duration::minutes(30);
        peers.insert(
            fw.to_string(),
            eos_peer(FIREWALL_ASN, 1, since, night, seed_of(&format!("{}{fw}", leaf.name))),
        );
        vrfs.insert(
            z.vrf.into(),
            json!({ "vrf": z.vrf, "routerId": leaf.addr_in(z).to_string(), "asn": leaf.asn.to_string(), "peers": peers }),
        );
    }
    json!({ "vrfs": vrfs })
}

// ---------------------------------------------------------------------------------------------
// PAN-OS TRAFFIC log (default CSV format, 115 fields, BSD syslog envelope)

struct Application {
    name: &'static str,
    /// Fields 106-110: subcategory, category, technology, risk, characteristics.
    traits: [&'static str; 5],
}

const SSL: Application = Application {
    name: "ssl",
    traits: [
        "encrypted-tunnel",
        "networking",
        "browser-based",
        "4",
        "used-by-malware able-to-transfer-file has-known-vulnerability tunnel-other-application pervasive-use",
    ],
};
const POSTGRES: Application = Application {
    name: "postgres",
    traits: [
        "database",
        "business-systems",
        "client-server",
        "2",
        "able-to-transfer-file has-known-vulnerability",
    ],
};
const WEB_BROWSING: Application = Application {
    name: "web-browsing",
    traits: [
        "internet-utility",
        "general-internet",
        "browser-based",
        "4",
        "evasive used-by-malware able-to-transfer-file has-known-vulnerability tunnel-other-application pervasive-use",
    ],
};
/// Denied at the first packet: App-ID never ran.
const NOT_APPLICABLE: Application = Application { name: "not-applicable", traits: [""; 5] };

/// A kind of conversation across the firewall.
struct Conversation {
    from: &'static ZoneSpec,
    to: &'static ZoneSpec,
    clients: [Ipv4Addr; 3],
    server: Ipv4Addr,
    dport: u16,
    rule: &'static str,
    allowed: bool,
    app: &'static Application,
}

/// The approved matrix (`allowedFlows`) and the rules that implement it.
struct ApprovedFlow {
    from: &'static ZoneSpec,
    to: &'static ZoneSpec,
    dport: u16,
    rule: &'static str,
}

const APPROVED_FLOWS: [ApprovedFlow; 2] = [
    ApprovedFlow { from: YELLOW, to: BLUE, dport: 443, rule: "yellow-to-blue-https" },
    ApprovedFlow { from: BLUE, to: GREEN, dport: 5432, rule: "blue-to-green-db" },
];

fn conversations() -> [Conversation; 6] {
    let approved = |f: &ApprovedFlow, clients: [Ipv4Addr; 3], server: Ipv4Addr, app: &'static Application| {
        Conversation {
            from: f.from,
            to: f.to,
            clients,
            server,
            dport: f.dport,
            rule: f.rule,
            allowed: true,
            app,
        }
    };
    let denied =
        |from: &'static ZoneSpec, to: &'static ZoneSpec, client: Ipv4Addr, server: Ipv4Addr, dport: u16| {
            Conversation {
                from,
                to,
                clients: [client; 3],
                server,
                dport,
                rule: "interzone-default",
                allowed: false,
                app: &NOT_APPLICABLE,
            }
        };
    [
        approved(
            &APPROVED_FLOWS[0],
            [YELLOW.pod(1, 17), YELLOW.pod(2, 33), YELLOW.pod(3, 9)],
            BLUE.pod(2, 14),
            &SSL,
        ),
        approved(
            &APPROVED_FLOWS[1],
            [BLUE.pod(1, 21), BLUE.pod(3, 40), BLUE.pod(2, 14)],
            GREEN.pod(3, 7),
            &POSTGRES,
        ),
        denied(GREEN, YELLOW, GREEN.pod(1, 12), YELLOW.pod(1, 17), 22),
        denied(YELLOW, GREEN, YELLOW.pod(2, 33), GREEN.pod(3, 7), 5432),
        denied(BLUE, YELLOW, BLUE.pod(3, 40), YELLOW.pod(3, 9), 9100),
        Conversation {
            from: GREEN,
            to: BLUE,
            clients: [GREEN.pod(1, 12), GREEN.pod(2, 25), GREEN.pod(1, 12)],
            server: BLUE.pod(2, 14),
            dport: 8080,
            rule: "green-to-blue-temp",
            allowed: true,
            app: &WEB_BROWSING,
        },
    ]
}

/// One logged session.
struct Session<'c> {
    conversation: &'c Conversation,
    client: Ipv4Addr,
    sport: u16,
    start: NaiveDateTime,
    elapsed: i64,
    /// Which leaf the session entered and left through (firewall sub-interface ethernet1/<n>).
    via_leaf: usize,
    id: u64,
    seqno: u64,
    bytes: (u64, u64),
    packets: (u64, u64),
}

/// Sessions the firewall logs per night.
const SESSIONS_PER_NIGHT: u64 = 36;

/// On an unapproved-flow night every fifth session goes through green-to-blue-temp.
fn through_temp_rule(session: u64) -> bool {
    session % 5 == 2
}

fn temp_rule_sessions_per_night() -> u64 {
    (0..SESSIONS_PER_NIGHT).filter(|&i| through_temp_rule(i)).count() as u64
}

/// The night's sessions: one every ~3 minutes between midnight and 02:00, in a fixed rotation.
fn traffic_sessions(night: Night, conversations: &[Conversation; 6]) -> Vec<Session<'_>> {
    const ROTATION: [usize; 12] = [0, 1, 0, 2, 0, 1, 0, 1, 3, 0, 1, 4];
    let midnight = night.date().and_time(NaiveTime::MIN);
    let n = u64::from(night.number());
    (0..SESSIONS_PER_NIGHT)
        .map(|i| {
            let mut kind = ROTATION[(i as usize) % ROTATION.len()];
            if night.scenario() == Scenario::UnapprovedFlow && through_temp_rule(i) {
                kind = 5;
            }
            let c = &conversations[kind];
            let seed = n * 1000 + i;
            let start = midnight + Duration::seconds((i * 195 + vary(seed, 1, 0, 120)) as i64);
            let (elapsed, bytes, packets) = if c.allowed {
                let sent = vary(seed, 2, 900, 9000);
                let received = vary(seed, 3, 1500, 48_000);
                (vary(seed, 4, 1, 45) as i64, (sent, received), (sent / 420 + 3, received / 900 + 3))
            } else {
                (0, (74, 0), (1, 0))
            };
            Session {
                conversation: c,
                client: c.clients[vary(seed, 5, 0, 2) as usize],
                sport: vary(seed, 6, 32768, 60999) as u16,
                start,
                elapsed,
                via_leaf: vary(seed, 7, 0, 1) as usize,
                id: 180_000 + n * 20_000 + i * 37 + vary(seed, 8, 0, 30),
                seqno: 7_253_419_119_627_100_000 + n * 100_000 + i * 41,
                bytes,
                packets,
            }
        })
        .collect()
}

fn panos_time(t: NaiveDateTime) -> String {
    t.format("%Y/%m/%d %H:%M:%S").to_string()
}

fn private_range(ip: Ipv4Addr) -> &'static str {
    match ip.octets() {
        [10, ..] => "10.0.0.0-10.255.255.255",
        [172, b, ..] if (16..32).contains(&b) => "172.16.0.0-172.31.255.255",
        [192, 168, ..] => "192.168.0.0-192.168.255.255",
        _ => "United States",
    }
}

/// One TRAFFIC line: RFC 3164 header, then the 115 CSV fields of the PAN-OS 10.x/11.x default
/// format (positions as in the PAN-OS syslog field list; unused fields empty or zero, as logged).
fn panos_traffic_line(s: &Session) -> String {
    let c = s.conversation;
    let generated = s.start + Duration::seconds(s.elapsed);
    let received = generated + Duration::seconds(1);
    let mut f = vec![String::new(); 115];
    let mut set = |pos: usize, v: String| f[pos - 1] = v;
    let iface = |z: &ZoneSpec| format!("ethernet1/{}.{}", s.via_leaf + 1, z.octet);
    set(1, "1".into());
    set(2, panos_time(received));
    set(3, FIREWALL_SERIAL.into());
    set(4, "TRAFFIC".into());
    set(5, if c.allowed { "end" } else { "deny" }.into());
    set(6, "2561".into());
    set(7, panos_time(generated));
    set(8, s.client.to_string());
    set(9, c.server.to_string());
    set(10, "0.0.0.0".into());
    set(11, "0.0.0.0".into());
    set(12, c.rule.into());
    set(15, c.app.name.into());
    set(16, "vsys1".into());
    set(17, c.from.firewall_zone());
    set(18, c.to.firewall_zone());
    set(19, iface(c.from));
    set(20, iface(c.to));
    set(21, "fwd-to-siem".into());
    set(22, panos_time(generated));
    set(23, s.id.to_string());
    set(24, "1".into());
    set(25, s.sport.to_string());
    set(26, c.dport.to_string());
    set(27, "0".into());
    set(28, "0".into());
    set(29, if c.allowed { "0x40001c" } else { "0x0" }.into());
    set(30, "tcp".into());
    set(31, if c.allowed { "allow" } else { "deny" }.into());
    set(32, (s.bytes.0 + s.bytes.1).to_string());
    set(33, s.bytes.0.to_string());
    set(34, s.bytes.1.to_string());
    set(35, (s.packets.0 + s.packets.1).to_string());
    set(36, panos_time(s.start));
    set(37, s.elapsed.to_string());
    set(38, "any".into());
    set(40, s.seqno.to_string());
    set(41, "0x8000000000000000".into());
    set(42, private_range(s.client).into());
    set(43, private_range(c.server).into());
    set(45, s.packets.0.to_string());
    set(46, s.packets.1.to_string());
    set(47, if c.allowed { "tcp-fin" } else { "policy-deny" }.into());
    for pos in 48..=51 {
        set(pos, "0".into());
    }
    set(53, FIREWALL.into());
    set(54, "from-policy".into());
    set(57, "0".into());
    set(59, "0".into());
    set(61, "N/A".into());
    for pos in 62..=65 {
        set(pos, "0".into());
    }
    set(66, uuid_for(&format!("rule/{}", c.rule)));
    set(67, "0".into());
    set(68, "0".into());
    set(103, format!("{}.{:03}+00:00", generated.format("%Y-%m-%dT%H:%M:%S"), s.id % 1000));
    if c.app.traits[0].is_empty() {
        set(115, "0".into());
    } else {
        for (i, t) in c.app.traits.iter().enumerate() {
            set(106 + i, (*t).into());
        }
        set(112, c.app.name.into());
        set(113, "no".into());
        set(114, "no".into());
        set(115, "0".into());
    }
    // RFC 3164: `Mmm dd` with the day space-padded, then host, then the message.
    format!("<14>{} {FIREWALL} {}", received.format("%b %e %H:%M:%S"), f.join(","))
}

fn panos_traffic_log(night: Night) -> String {
    let conversations = conversations();
    let mut sessions = traffic_sessions(night, &conversations);
    // Syslog order is the order the sessions ended.
    sessions.sort_by_key(|s| (s.start + Duration::seconds(s.elapsed), s.id));
    let mut out = String::new();
    for s in &sessions {
        let _ = writeln!(out, "{}", panos_traffic_line(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use chrono::TimeZone;

    use super::*;
    use crate::collect::{bird, calico, eos, panos};
    use crate::config::Settings;
    use crate::model::Facts;

    /// A fixed calendar keeps the expected bytes stable: night 1 on 2026-11-24.
    fn calendar() -> Calendar {
        Calendar::starting(NaiveDate::from_ymd_opt(2026, 11, 24).expect("a date"))
    }

    fn night(number: u32) -> Night {
        calendar().night(number)
    }

    fn story_nights() -> Vec<Night> {
        calendar().nights(3).collect()
    }

    fn file(night: Night, rel: &str) -> Vec<u8> {
        inputs_for(night)
            .into_iter()
            .find(|(path, _)| path == rel)
            .map(|(_, bytes)| bytes)
            .unwrap_or_else(|| panic!("{rel} is not generated"))
    }

    fn text(night: Night, rel: &str) -> String {
        String::from_utf8(file(night, rel)).expect("generated inputs are UTF-8")
    }

    fn settings() -> Settings {
        Settings::from_yaml(&config_yaml(), "zoneaudit.yaml", Path::new("/demo"))
            .expect("demo config is valid")
    }

    fn calico_facts(night: Night) -> Facts {
        let mut facts = Facts::default();
        for (path, bytes) in inputs_for(night).into_iter().filter(|(p, _)| p.starts_with("inputs/calico/")) {
            facts.extend(calico::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}")));
        }
        facts
    }

    fn bird_facts(night: Night, rr: &str) -> Facts {
        bird::parse(rr, &text(night, &format!("inputs/bird/{rr}.txt")))
            .unwrap_or_else(|e| panic!("{rr}: {e}"))
    }

    fn eos_facts(night: Night, leaf: &str) -> Facts {
        let mut facts = Facts::default();
        for what in ["routes", "bgp"] {
            let rel = format!("inputs/eos/{leaf}-{what}.json");
            facts.extend(eos::parse(leaf, &file(night, &rel)).unwrap_or_else(|e| panic!("{rel}: {e}")));
        }
        facts
    }

    fn rr_names() -> Vec<String> {
        ZONES.iter().flat_map(|z| z.route_reflectors()).map(|n| n.name).collect()
    }

    #[test]
    fn nights_are_consecutive_days_with_a_story_each() {
        let nights: Vec<Night> = calendar().nights(5).collect();
        let dates: Vec<String> = nights.iter().map(|n| n.date().to_string()).collect();
        assert_eq!(dates, ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"]);
        assert_eq!(nights.iter().map(|n| n.number()).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        let scenarios: Vec<Scenario> = nights.iter().map(|n| n.scenario()).collect();
        let (clean, faults, flow) = (Scenario::Clean, Scenario::LeakAndStrayPeer, Scenario::UnapprovedFlow);
        assert_eq!(scenarios, [clean, faults, flow, flow, flow]);
        assert!(night(1).story().starts_with("Baseline"));
        assert!(night(2).story().contains("10.20.1.0/26"));
        assert!(night(3).story().contains("green-to-blue-temp"));
        assert!(
            night(4).story().starts_with("Steady state:") && night(4).story().contains("green-to-blue-temp")
        );
        assert_eq!(night(30).story(), night(4).story());
    }

    #[test]
    fn a_calendar_ending_before_today_ends_yesterday_and_keeps_the_bring_up_distance() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 3).unwrap();
        let cal = Calendar::ending_before(today, 30);
        let nights: Vec<Night> = cal.nights(30).collect();
        assert_eq!(nights[29].date().to_string(), "2027-01-02");
        assert_eq!(nights[0].date().to_string(), "2026-12-04");
        assert_eq!(cal.bring_up().to_string(), "2026-11-12 08:10:00");
        assert_eq!(Calendar::ending_before(today, 3).first_night().to_string(), "2026-12-31");
        // The fixed calendar brings the cluster up on 2026-11-02, as BIRD's `since` column shows.
        assert_eq!(night(1).bring_up().to_string(), "2026-11-02 08:10:00");
    }

    #[test]
    fn config_declares_three_zones_their_sources_and_approved_flows() {
        let s = settings();
        assert_eq!(s.cluster, "demo-dc1");
        assert_eq!(s.zones.keys().collect::<Vec<_>>(), ["blue", "green", "yellow"]);
        let yellow = &s.zones["yellow"];
        assert_eq!(
            yellow.prefixes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["10.10.0.0/16", "172.31.10.0/24"]
        );
        assert_eq!(
            yellow.route_reflectors,
            ["172.31.10.5".parse::<IpAddr>().unwrap(), "172.31.10.6".parse().unwrap()]
        );
        assert_eq!(yellow.vrf.as_deref(), Some("YELLOW"));
        assert_eq!(s.zone_of_firewall_zone("trust-green"), Some("green"));
        assert_eq!(
            s.shared.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["0.0.0.0/0", "172.31.255.0/24"]
        );
        assert!(s.approved_flow("yellow", "blue", "tcp", 443).is_some());
        assert!(s.approved_flow("blue", "green", "tcp", 5432).is_some());
        assert!(s.approved_flow("green", "blue", "tcp", 8080).is_none());
        let names: Vec<&str> = s.sources.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names.len(), 11, "{names:?}");
        let hits = s.sources.iter().find(|x| x.name == "fw-core-rulehits").expect("rule hit counters");
        assert_eq!(
            (hits.kind, hits.observer.as_str()),
            (crate::config::SourceKind::PanosRuleHits, "fw-core")
        );
        let rr = s.sources.iter().find(|x| x.name == "blue-rr2").expect("bird source per RR");
        assert_eq!(rr.observer, "blue-rr2");
        assert_eq!(rr.files(), [Path::new("/demo/inputs/bird/blue-rr2.txt")]);
        let leaf = s.sources.iter().find(|x| x.name == "leaf1").expect("eos source");
        assert_eq!(leaf.files().len(), 2);
        assert_eq!(s.sources[0].files(), [Path::new("/demo/inputs/calico")]);
        assert_eq!(s.database.as_deref(), Some(Path::new("/demo/zoneaudit.db")));
        assert_eq!(s.signing.as_ref().map(|k| k.key_file.clone()), Some("/demo/keys/zoneaudit.key".into()));
    }

    #[test]
    fn every_configured_file_is_generated_every_night() {
        let s = settings();
        for night in story_nights() {
            let generated: Vec<String> =
                inputs_for(night).into_iter().map(|(p, _)| format!("/demo/{p}")).collect();
            for src in &s.sources {
                for f in src.files() {
                    let f = f.display().to_string();
                    assert!(
                        generated.iter().any(|g| g == &f || g.starts_with(&format!("{f}/"))),
                        "{f} missing"
                    );
                }
            }
        }
    }

    #[test]
    fn kubectl_lists_are_sorted_four_space_indented_and_go_escaped() {
        let peers = text(night(1), "inputs/calico/bgppeers.json");
        assert!(peers.starts_with("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n        {\n"));
        assert!(peers.ends_with(
            "    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        ));
        assert!(peers.contains(r#""nodeSelector": "zone == 'yellow' \u0026\u0026 !has(route-reflector)""#));
        assert!(!peers.contains('&'));
    }

    #[test]
    fn calico_lists_hold_fifteen_nodes_and_zone_scoped_peerings() {
        let f = calico_facts(night(1));
        assert_eq!(f.nodes.len(), 15);
        assert_eq!(f.nodes.iter().filter(|n| n.is_route_reflector()).count(), 6);
        let rr = f.nodes.iter().find(|n| n.name == "green-rr2").expect("green-rr2");
        assert_eq!(rr.rr_cluster_id.as_deref(), Some("244.0.30.1"));
        assert_eq!(rr.asn, Some(64630));
        assert_eq!(rr.labels.get("zone").map(String::as_str), Some("green"));
        assert_eq!(rr.labels.get("route-reflector").map(String::as_str), Some("true"));
        assert_eq!(rr.bgp_ipv4.map(|n| n.to_string()).as_deref(), Some("172.31.30.6/24"));
        assert_eq!(f.bgp_configurations.len(), 1);
        assert!(!f.bgp_configurations[0].node_to_node_mesh);
        assert_eq!(f.bgp_peers.len(), 12);
        assert!(f.bgp_peers.iter().all(|p| !p.is_global()));
        let to_leaf = f.bgp_peers.iter().find(|p| p.name == "blue-rrs-to-leaf2").expect("blue-rrs-to-leaf2");
        assert_eq!(to_leaf.peer_ip, Some("172.31.20.2".parse().unwrap()));
        assert_eq!(to_leaf.asn, Some(65102));
        assert_eq!(to_leaf.node_selector.as_deref(), Some("zone == 'blue' && has(route-reflector)"));
        let pools: Vec<(String, String)> =
            f.ip_pools.iter().map(|p| (p.cidr.to_string(), p.node_selector.clone())).collect();
        assert_eq!(pools[0], ("10.10.0.0/16".to_string(), "zone == 'yellow'".to_string()));
        assert_eq!(f.block_affinities.len(), 9);
        let ba = f.block_affinities.iter().find(|b| b.node == "yellow-w1").expect("yellow-w1 block");
        assert_eq!(ba.cidr.to_string(), "10.10.1.0/26");
        // Calico is not where night 2 goes wrong: the stray peering is hand-made in BIRD.
        assert_eq!(calico_facts(night(2)).bgp_peers, f.bgp_peers);
    }

    #[test]
    fn every_route_reflector_sees_its_six_sessions_and_seven_routes() {
        for rr in rr_names() {
            let f = bird_facts(night(1), &rr);
            assert_eq!(f.sessions.len(), 6, "{rr}");
            assert!(f.sessions.iter().all(|s| s.is_established()), "{rr}");
            assert_eq!(
                f.sessions.iter().filter(|s| s.session_type == crate::model::SessionType::Node).count(),
                6
            );
            assert_eq!(f.routes.len(), 7, "{rr}");
            assert!(f.routes.iter().all(|r| r.observer == rr));
        }
        let f = bird_facts(night(1), "blue-rr1");
        let w1 =
            f.sessions.iter().find(|s| s.protocol.as_deref() == Some("Node_172_31_20_21")).expect("blue-w1");
        assert_eq!(w1.peer_addr, "172.31.20.21".parse::<IpAddr>().unwrap());
        assert_eq!(w1.peer_asn, Some(64620));
        let block = f.routes.iter().find(|r| r.prefix.to_string() == "10.20.1.0/26").expect("blue-w1 block");
        assert_eq!(block.next_hops, ["172.31.20.21".parse::<IpAddr>().unwrap()]);
        assert!(block.best);
        let defaults = f.routes.iter().filter(|r| r.prefix.to_string() == "0.0.0.0/0").count();
        assert_eq!(defaults, 3);
    }

    #[test]
    fn night_two_peers_blue_w1_with_yellow_rr1_but_imports_nothing() {
        let f = bird_facts(night(2), "yellow-rr1");
        assert_eq!(f.sessions.len(), 7);
        let stray =
            f.sessions.iter().find(|s| s.protocol.as_deref() == Some("Node_172_31_20_21")).expect("stray");
        assert!(stray.is_established());
        assert_eq!(stray.peer_asn, Some(64620));
        assert_eq!(stray.since.as_deref(), Some("21:47:13"));
        assert!(f.routes.iter().all(|r| !r.prefix.to_string().starts_with("10.20.")));
        assert_eq!(f.routes.len(), 7);
        for night in [night(1), night(3)] {
            assert_eq!(bird_facts(night, "yellow-rr1").sessions.len(), 6, "{night:?}");
        }
        // Nothing else moves that night: the other RRs peer and route as on night 1 (only timers
        // and counters tick).
        let seen = |night: Night, rr: &str| {
            let f = bird_facts(night, rr);
            let sessions: Vec<String> =
                f.sessions.iter().map(|s| format!("{:?} {} {}", s.protocol, s.peer_addr, s.state)).collect();
            let routes: Vec<String> =
                f.routes.iter().map(|r| format!("{} {:?}", r.prefix, r.next_hops)).collect();
            (sessions, routes)
        };
        for rr in rr_names().iter().filter(|r| *r != "yellow-rr1") {
            assert_eq!(seen(night(2), rr), seen(night(1), rr), "{rr}");
        }
    }

    #[test]
    fn bird_output_keeps_the_calico_fork_banner_echo_and_columns() {
        let t = text(night(1), "inputs/bird/yellow-rr1.txt");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "BIRD v0.3.3+birdv1.6.8 ready.",
                "bird> show protocols all",
                "name     proto    table    state  since       info"
            ]
        );
        assert!(lines.contains(&"Node_172_31_10_21 BGP      master   up     2026-11-02  Established   "));
        assert!(lines.contains(&"static1  Static   master   up     2026-11-02  "));
        assert!(
            lines.contains(&"    Import withdraws:            0          0        ---          0          0")
        );
        assert!(lines.contains(&"bird> show route all"));
        assert!(lines.contains(
            &"10.10.1.0/26       via 172.31.10.21 on ens192 [Node_172_31_10_21 2026-11-02] * (100/0) [i]"
        ));
        assert!(lines.contains(&"                   via 172.31.10.1 on ens192 [Node_172_31_10_6 2026-11-02 from 172.31.10.6] (100/0) [AS65000i]"));
        assert!(lines.contains(&"\tBGP.as_path: "));
    }

    #[test]
    fn leaf_vrfs_carry_their_zone_blocks_subnet_and_default() {
        let f = eos_facts(night(1), "leaf1");
        let yellow: Vec<String> =
            f.routes.iter().filter(|r| r.table == "YELLOW").map(|r| r.prefix.to_string()).collect();
        assert_eq!(
            yellow,
            [
                "0.0.0.0/0",
                "10.10.1.0/26",
                "10.10.2.0/26",
                "10.10.3.0/26",
                "172.31.10.0/24",
                "172.31.255.0/31"
            ]
        );
        assert_eq!(f.routes.len(), 1 + 3 * 6);
        let default =
            f.routes.iter().find(|r| r.table == "BLUE" && r.prefix.to_string() == "0.0.0.0/0").unwrap();
        assert_eq!(default.next_hops, ["172.31.255.2".parse::<IpAddr>().unwrap()]);
        let block = f.routes.iter().find(|r| r.prefix.to_string() == "10.30.2.0/26").unwrap();
        assert_eq!(
            (block.table.as_str(), block.next_hops[0].to_string()),
            ("GREEN", "172.31.30.22".to_string())
        );
        assert_eq!(f.sessions.len(), 9);
        let fw = f
            .sessions
            .iter()
            .find(|s| s.vrf.as_deref() == Some("YELLOW") && s.peer_asn == Some(65000))
            .unwrap();
        assert_eq!(fw.peer_addr, "172.31.255.0".parse::<IpAddr>().unwrap());
        assert!(f.sessions.iter().all(|s| s.is_established()));
        let leaf2 = eos_facts(night(1), "leaf2");
        let fw2 = leaf2
            .sessions
            .iter()
            .find(|s| s.vrf.as_deref() == Some("GREEN") && s.peer_asn == Some(65000))
            .unwrap();
        assert_eq!(fw2.peer_addr, "172.31.255.10".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn blue_block_is_in_vrf_yellow_on_leaf1_only_on_night_two() {
        let leaked = |night: Night, leaf: &str| {
            eos_facts(night, leaf)
                .routes
                .into_iter()
                .filter(|r| r.table == "YELLOW" && r.prefix.to_string() == "10.20.1.0/26")
                .collect::<Vec<_>>()
        };
        let two = leaked(night(2), "leaf1");
        assert_eq!(two.len(), 1);
        assert_eq!(two[0].next_hops, ["172.31.20.21".parse::<IpAddr>().unwrap()]);
        assert!(leaked(night(1), "leaf1").is_empty());
        assert!(leaked(night(3), "leaf1").is_empty());
        assert!(leaked(night(2), "leaf2").is_empty());
        assert!(text(night(2), "inputs/eos/leaf1-routes.json").contains(r#""routeLeaked":true"#));
        assert!(!text(night(1), "inputs/eos/leaf1-routes.json").contains(r#""routeLeaked":true"#));
    }

    #[test]
    fn eapi_files_are_json_rpc_responses() {
        let body: Value = serde_json::from_slice(&file(night(1), "inputs/eos/leaf2-bgp.json")).unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["id"], "zoneaudit-leaf2-bgp-20261124");
        assert_eq!(body["result"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["result"][0]["vrfs"]["BLUE"]["peers"]["172.31.20.5"]["asn"], "64620");
    }

    #[test]
    fn every_panos_line_has_115_fields_in_a_bsd_envelope() {
        for night in story_nights() {
            let log = text(night, "inputs/panos/fw-core.log");
            assert_eq!(log.lines().count(), 36);
            for (i, line) in log.lines().enumerate() {
                let (header, csv) =
                    line.split_once(" fw-core 1,").unwrap_or_else(|| panic!("line {}", i + 1));
                assert!(header.starts_with(&format!("<14>Nov {} ", night.date().format("%d"))), "{header}");
                assert_eq!(csv.split(',').count() + 1, 115, "line {}: {line}", i + 1);
            }
        }
    }

    fn flows(night: Night) -> (Facts, crate::model::Rejects) {
        let s = settings();
        let attribute = |ip: IpAddr| s.zone_map.zone_of_addr(ip).map(str::to_string);
        panos::parse(&file(night, "inputs/panos/fw-core.log"), &attribute)
    }

    #[test]
    fn firewall_logs_show_approved_flows_denials_and_on_night_three_the_temp_rule() {
        for night in story_nights() {
            let (f, rejects) = flows(night);
            assert!(rejects.is_empty(), "{night:?}: {rejects:?}");
            assert_eq!(f.flows.iter().map(|x| x.count).sum::<u64>(), 36);
            let s = settings();
            let unapproved: Vec<String> = f
                .flows
                .iter()
                .filter(|x| x.is_allowed())
                .filter(|x| {
                    let (from, to) =
                        (x.src_zone.as_deref().unwrap_or("?"), x.dst_zone.as_deref().unwrap_or("?"));
                    s.approved_flow(from, to, &x.protocol, x.dst_port).is_none()
                })
                .map(|x| format!("{} {}/{}", x.rule, x.dst_port, x.protocol))
                .collect();
            if night.scenario() == Scenario::UnapprovedFlow {
                assert_eq!(unapproved, ["green-to-blue-temp 8080/tcp"]);
            } else {
                assert!(unapproved.is_empty(), "{night:?}: {unapproved:?}");
            }
            let https = f.flows.iter().find(|x| x.rule == "yellow-to-blue-https").expect("approved https");
            assert_eq!(
                (https.from_fw_zone.as_str(), https.to_fw_zone.as_str()),
                ("trust-yellow", "trust-blue")
            );
            assert_eq!(
                (https.src_zone.as_deref(), https.dst_zone.as_deref()),
                (Some("yellow"), Some("blue"))
            );
            assert!(https.first_seen.starts_with(&night.date().format("%Y-%m-%d").to_string()));
            assert!(f.flows.iter().any(|x| x.rule == "blue-to-green-db" && x.dst_port == 5432));
            assert!(f.flows.iter().any(|x| x.rule == "interzone-default" && x.action == "deny"));
            // The firewall zone always matches the address: no attribution mismatch to report.
            for x in &f.flows {
                assert_eq!(x.src_zone.as_deref().map(|z| format!("trust-{z}")), Some(x.from_fw_zone.clone()));
                assert_eq!(x.dst_zone.as_deref().map(|z| format!("trust-{z}")), Some(x.to_fw_zone.clone()));
            }
        }
    }

    /// Every night through the real parsers and the built-in pack, as `zoneaudit demo` runs it.
    fn findings(night: Night) -> Vec<String> {
        let s = settings();
        let mut facts = Facts::default();
        for (path, bytes) in inputs_for(night) {
            let name = path.rsplit('/').next().unwrap_or_default();
            facts.extend(if path.starts_with("inputs/calico/") {
                calico::parse(&bytes).unwrap()
            } else if path.starts_with("inputs/bird/") {
                bird_facts(night, name.trim_end_matches(".txt"))
            } else if path.starts_with("inputs/eos/") {
                eos::parse(name.split('-').next().unwrap_or_default(), &bytes).unwrap()
            } else if path.ends_with("rule-hit-count.xml") {
                rule_hits(night)
            } else {
                flows(night).0
            });
        }
        let at = chrono::Utc.from_utc_datetime(&night.collected_at());
        let runs: Vec<crate::model::SourceRun> = s
            .sources
            .iter()
            .map(|src| crate::model::SourceRun {
                name: src.name.clone(),
                kind: src.kind.as_str().to_string(),
                status: crate::model::SourceStatus::Ok,
                error: None,
                started_at: at,
                finished_at: at,
                counts: Default::default(),
                payloads: Vec::new(),
                rejects: Default::default(),
                notes: Vec::new(),
            })
            .collect();
        let packs = crate::rules::load_packs(&s.rule_packs).expect("built-in pack loads");
        let input = crate::rules::AuditInput { settings: &s, facts: &facts, sources: &runs, now: at };
        crate::rules::evaluate(&packs, &input)
            .findings
            .into_iter()
            .map(|f| format!("{} {}", f.rule_id, f.subject))
            .collect()
    }

    #[test]
    fn the_built_in_pack_finds_exactly_each_nights_story() {
        assert_eq!(findings(night(1)), Vec::<String>::new());
        assert_eq!(
            findings(night(2)),
            ["ZI-CROSS-ZONE-SESSION yellow-rr1<->172.31.20.21", "ZI-ROUTE-LEAK leaf1/YELLOW/10.20.1.0/26"]
        );
        let flow = ["ZI-UNAPPROVED-FLOW fw-core/green->blue/tcp/8080/green-to-blue-temp"];
        assert_eq!(findings(night(3)), flow);
        // The steady state: the flow stays open, nothing else appears, however long the demo runs.
        for n in [4, 5, 30, 400] {
            assert_eq!(findings(night(n)), flow, "night {n}");
        }
        // A test's compliant night after the story (the temporary rule removed) finds nothing.
        assert_eq!(findings(night(5).with_scenario(Scenario::Clean)), Vec::<String>::new());
    }

    fn rule_hits(night: Night) -> Facts {
        let rel = "inputs/panos/fw-core-rule-hit-count.xml";
        crate::collect::panos_rulehits::parse("fw-core", &file(night, rel)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_nights_firewall_log_is_new_content_dated_that_night() {
        let nights: Vec<Night> = calendar().nights(6).collect();
        let logs: Vec<String> = nights.iter().map(|&n| text(n, "inputs/panos/fw-core.log")).collect();
        for (night, log) in nights.iter().zip(&logs) {
            let day = night.date().format("%b %e").to_string();
            let year_day = night.date().format("%Y/%m/%d").to_string();
            for line in log.lines() {
                assert!(line.starts_with(&format!("<14>{day} ")), "{}: {line}", night.date());
                assert!(line.contains(&format!(",{year_day} ")), "{}: {line}", night.date());
            }
        }
        // The incremental reader tells files apart by their content: no night repeats another's bytes,
        // not even the same scenario on another day.
        for (i, a) in logs.iter().enumerate() {
            for b in &logs[i + 1..] {
                assert_ne!(a.lines().next(), b.lines().next());
            }
        }
        let same_day_again = text(night(5).with_scenario(Scenario::Clean), "inputs/panos/fw-core.log");
        assert!(same_day_again.lines().all(|l| l.starts_with("<14>Nov 28 ")), "{same_day_again}");
    }

    #[test]
    fn counters_grow_and_uptimes_advance_from_night_to_night() {
        let hits = |n: Night| -> Vec<(String, u64, Option<String>)> {
            rule_hits(n).rule_hits.into_iter().map(|h| (h.rule, h.hit_count, h.first_hit)).collect()
        };
        let (three, four, thirty) = (hits(night(3)), hits(night(4)), hits(night(30)));
        assert_eq!(three.len(), 4);
        for ((a, b), c) in three.iter().zip(&four).zip(&thirty) {
            assert_eq!((&a.0, &a.2), (&b.0, &b.2), "same rule, same first hit");
            assert!(a.1 < b.1 && b.1 < c.1, "{a:?} {b:?} {c:?}");
        }
        let temp = |h: &[(String, u64, Option<String>)]| {
            h.iter().find(|x| x.0 == "green-to-blue-temp").map(|x| (x.1, x.2.clone())).unwrap()
        };
        // Seven sessions a night through the temporary rule, counted since it opened on night 3.
        assert_eq!(temp(&three).0, 7);
        assert_eq!(temp(&thirty).0, 7 * 28);
        assert!(temp(&thirty).1.as_deref().unwrap_or_default().starts_with("2026-11-26"), "{thirty:?}");
        assert!(hits(night(2)).iter().all(|x| x.0 != "green-to-blue-temp"));

        // Switch: keepalives to the route reflectors count a day's minutes more each night.
        let received = |n: Night| -> u64 {
            let body: Value = serde_json::from_slice(&file(n, "inputs/eos/leaf1-bgp.json")).unwrap();
            body["result"][0]["vrfs"]["BLUE"]["peers"]["172.31.20.5"]["msgReceived"].as_u64().unwrap()
        };
        let day = received(night(4)) as i64 - received(night(3)) as i64;
        assert!((1400..1480).contains(&day), "{day}");
        assert!(received(night(30)) > received(night(29)));
        // BIRD: sessions up since bring-up on every night; the stray one only on night 2.
        for n in [night(3), night(4), night(30)] {
            let f = bird_facts(n, "yellow-rr1");
            assert_eq!(f.sessions.len(), 6, "{n:?}");
            assert!(f.sessions.iter().all(|s| s.since.as_deref() == Some("2026-11-02")), "{n:?}");
        }
    }

    #[test]
    fn output_is_deterministic_and_rewrites_replace_the_previous_night() {
        assert_eq!(inputs_for(night(2)), inputs_for(night(2)));
        let dir = tempfile::tempdir().unwrap();
        write_inputs(dir.path(), night(2)).unwrap();
        std::fs::write(dir.path().join("inputs/eos/stale.json"), b"{}").unwrap();
        write_inputs(dir.path(), night(3)).unwrap();
        assert!(!dir.path().join("inputs/eos/stale.json").exists());
        let on_disk = std::fs::read(dir.path().join("inputs/panos/fw-core.log")).unwrap();
        assert_eq!(on_disk, file(night(3), "inputs/panos/fw-core.log"));
        let rel = "inputs/eos/leaf1-routes.json";
        assert_eq!(std::fs::read(dir.path().join(rel)).unwrap(), file(night(3), rel));
    }
}
