//! The normalised facts every stage exchanges.
//!
//! ```text
//!  collect::<kind>::parse(raw)  ──▶  Facts (with Origin: locator + excerpt)
//!  collect::run_source          ──▶  SourceSnapshot (Origin gets source name + payload digest)
//!  store / rules / evidence     ◀──  only these types
//! ```
//!
//! Invariants: parsers fill `Origin::locator` and `Origin::excerpt` (the exact text or JSON value that
//! produced the fact) and leave `source` / `payload` empty; the collector stamps both once the raw
//! payload's SHA-256 is known. A fact therefore always points back at stored bytes.

mod zone_map;

pub use zone_map::{Attribution, ZoneMap};

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub type Labels = BTreeMap<String, String>;

/// Where a fact came from: enough to find and quote the raw bytes again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Configured source name (`calico`, `leaf1`, ...).
    #[serde(default)]
    pub source: SharedStr,
    /// SHA-256 (hex) of the raw payload the fact was parsed from.
    #[serde(default)]
    pub payload: SharedStr,
    /// `line 12`, `lines 12-20` or a JSON pointer such as `/vrfs/YELLOW/routes/10.1.0.0~126`.
    pub locator: String,
    /// The exact text (or compact JSON) the fact was read from; bounded by the parser.
    pub excerpt: String,
}

impl Origin {
    pub fn at_line(line: usize, excerpt: impl Into<String>) -> Self {
        Origin { locator: format!("line {line}"), excerpt: excerpt.into(), ..Default::default() }
    }

    pub fn at_pointer(pointer: impl Into<String>, excerpt: impl Into<String>) -> Self {
        Origin { locator: pointer.into(), excerpt: excerpt.into(), ..Default::default() }
    }
}

/// Text that many facts repeat (a source name, a payload digest): one allocation, shared by every
/// fact that names it. A border leaf's million routes would otherwise each carry their own copy.
/// Reads, compares, prints and serializes as the string it holds.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr(s.into())
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr(s.into())
    }
}

impl From<&String> for SharedStr {
    fn from(s: &String) -> Self {
        SharedStr(s.as_str().into())
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> Self {
        s.0.to_string()
    }
}

impl std::fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == *other.0
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        **self == *other.0
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        **self == *other.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?} (info|low|medium|high|critical)")),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes / Calico node as Calico sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeFact {
    pub name: String,
    pub labels: Labels,
    /// `projectcalico.org/IPv4Address` (CIDR form, as Calico stores it).
    pub bgp_ipv4: Option<IpNet>,
    pub bgp_ipv6: Option<IpNet>,
    /// Other node addresses (InternalIP, ExternalIP).
    pub addresses: Vec<IpAddr>,
    /// Per-node AS; `None` means the global AS of BGPConfiguration.
    pub asn: Option<u32>,
    /// `projectcalico.org/RouteReflectorClusterID`: presence makes the node a route reflector.
    pub rr_cluster_id: Option<String>,
    pub origin: Origin,
}

impl NodeFact {
    pub fn is_route_reflector(&self) -> bool {
        self.rr_cluster_id.is_some()
    }

    /// The address BIRD peers from (the BGP IPv4 address, else the first IPv6 / node address).
    pub fn bgp_addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        out.extend(self.bgp_ipv4.map(|n| n.addr()));
        out.extend(self.bgp_ipv6.map(|n| n.addr()));
        out
    }
}

/// A Calico `BGPPeer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpPeerConfig {
    pub name: String,
    pub node: Option<String>,
    pub node_selector: Option<String>,
    /// Address part of `peerIP` (`10.0.0.1`, `10.0.0.1:179` and `[fd00::1]:179` all normalised).
    pub peer_ip: Option<IpAddr>,
    pub peer_port: Option<u16>,
    pub peer_selector: Option<String>,
    pub asn: Option<u32>,
    pub origin: Origin,
}

impl BgpPeerConfig {
    /// Neither `node` nor `nodeSelector`: Calico gives this peering to every node.
    pub fn is_global(&self) -> bool {
        self.node.is_none() && self.node_selector.as_deref().is_none_or(|s| s.trim().is_empty())
    }
}

/// A Calico `BGPConfiguration` (`default` is the global one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpConfigurationFact {
    pub name: String,
    /// Absent in the resource means enabled.
    pub node_to_node_mesh: bool,
    pub asn: Option<u32>,
    pub origin: Origin,
}

/// A Calico `IPPool`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpPoolFact {
    pub name: String,
    pub cidr: IpNet,
    /// Defaults to `all()`.
    pub node_selector: String,
    pub disabled: bool,
    pub origin: Origin,
}

/// A Calico IPAM `BlockAffinity` (rows with `deleted` are dropped by the parser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockAffinityFact {
    pub name: String,
    pub node: String,
    pub cidr: IpNet,
    pub state: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionType {
    /// Calico full mesh (`Mesh_*`).
    Mesh,
    /// Calico node-scoped peer (`Node_*`).
    Node,
    /// Calico global peer (`Global_*`).
    Global,
    /// Route reflector towards a client.
    RrClient,
    Ibgp,
    Ebgp,
    Unknown,
}

/// One BGP session as seen by one observer (a node, a route reflector, a switch VRF).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpSession {
    /// Device or node name that reported the session (from the source config, not the payload).
    pub observer: String,
    /// VRF or BIRD table; `None` for the default table.
    pub vrf: Option<String>,
    /// BIRD protocol name, when there is one.
    pub protocol: Option<String>,
    pub local_addr: Option<IpAddr>,
    pub peer_addr: IpAddr,
    pub peer_asn: Option<u32>,
    /// Vendor state text as reported: `Established`, `Active`, `Idle`, `Connect`, ...
    pub state: String,
    pub since: Option<String>,
    pub session_type: SessionType,
    pub prefixes_received: Option<u64>,
    pub origin: Origin,
}

impl BgpSession {
    pub fn is_established(&self) -> bool {
        self.state.eq_ignore_ascii_case("established")
    }
}

/// One route in one table of one observer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Shared by the observer's routes, as are `table` and `protocol`: a border leaf has a million.
    pub observer: SharedStr,
    /// VRF or BIRD table name (`master`, `master4`, `YELLOW`, ...).
    pub table: SharedStr,
    pub prefix: IpNet,
    pub next_hops: Vec<IpAddr>,
    /// `bgp`, `ibgp`, `ebgp`, `connected`, `static`, `kernel`, `direct`, ... (lower case).
    pub protocol: SharedStr,
    /// BGP neighbour the route was learned from (BIRD `from` / protocol), when known.
    pub learned_from: Option<IpAddr>,
    pub as_path: Vec<u32>,
    /// Selected / installed (BIRD `*`, EOS every route listed is active).
    pub best: bool,
    pub origin: Origin,
}

/// Firewall traffic, aggregated per firewall, zone pair, rule, action, protocol and port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowAggregate {
    pub firewall: String,
    /// Zone names as the firewall logs them.
    pub from_fw_zone: String,
    pub to_fw_zone: String,
    /// Zones attributed from the addresses (longest-prefix match on the zone model).
    pub src_zone: Option<String>,
    pub dst_zone: Option<String>,
    pub rule: String,
    /// `allow`, `deny`, `drop`, `reset-both`, ... (lower case, spaces as dashes).
    pub action: String,
    pub protocol: String,
    pub dst_port: u16,
    pub count: u64,
    pub bytes: u64,
    /// Event times on the device clock, normalised to `YYYY-MM-DD HH:MM:SS` (sortable).
    pub first_seen: String,
    pub last_seen: String,
    /// A few original log lines, bounded, each with its line number.
    pub samples: Vec<Origin>,
}

impl FlowAggregate {
    pub fn is_allowed(&self) -> bool {
        self.action == "allow"
    }
}

/// A firewall rule's hit counter at collection time (PAN-OS `show rule-hit-count`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    pub firewall: String,
    /// Virtual system / rule base context, e.g. `vsys1/security`.
    pub rulebase: String,
    pub rule: String,
    /// Cumulative since `last_reset` (or since the rule exists).
    pub hit_count: u64,
    /// RFC 3339 UTC; `None` when the rule was never hit.
    pub last_hit: Option<String>,
    pub first_hit: Option<String>,
    pub last_reset: Option<String>,
    pub created: Option<String>,
    pub origin: Origin,
}

/// Everything one source (or one parse) yielded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bgp_peers: Vec<BgpPeerConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bgp_configurations: Vec<BgpConfigurationFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_pools: Vec<IpPoolFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_affinities: Vec<BlockAffinityFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<BgpSession>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowAggregate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_hits: Vec<RuleHit>,
}

impl Facts {
    pub fn extend(&mut self, other: Facts) {
        append(&mut self.nodes, other.nodes);
        append(&mut self.bgp_peers, other.bgp_peers);
        append(&mut self.bgp_configurations, other.bgp_configurations);
        append(&mut self.ip_pools, other.ip_pools);
        append(&mut self.block_affinities, other.block_affinities);
        append(&mut self.sessions, other.sessions);
        append(&mut self.routes, other.routes);
        append(&mut self.flows, other.flows);
        append(&mut self.rule_hits, other.rule_hits);
    }

    /// Item counts per fact kind, for source runs and `parse` output.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut c = BTreeMap::new();
        for (k, n) in [
            ("nodes", self.nodes.len()),
            ("bgpPeers", self.bgp_peers.len()),
            ("bgpConfigurations", self.bgp_configurations.len()),
            ("ipPools", self.ip_pools.len()),
            ("blockAffinities", self.block_affinities.len()),
            ("sessions", self.sessions.len()),
            ("routes", self.routes.len()),
            ("flows", self.flows.len()),
            ("ruleHits", self.rule_hits.len()),
        ] {
            if n > 0 {
                c.insert(k, n);
            }
        }
        c
    }

    /// Stamp every origin with the source name and payload digest once they are known.
    pub fn stamp(&mut self, source: &str, payload: &str) {
        // One copy of each, shared by every origin.
        let (source, payload) = (SharedStr::from(source), SharedStr::from(payload));
        let stamp = |o: &mut Origin| {
            o.source = source.clone();
            o.payload = payload.clone();
        };
        self.nodes.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.bgp_peers.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.bgp_configurations.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.ip_pools.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.block_affinities.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.sessions.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.routes.iter_mut().for_each(|f| stamp(&mut f.origin));
        self.flows.iter_mut().flat_map(|f| f.samples.iter_mut()).for_each(stamp);
        self.rule_hits.iter_mut().for_each(|f| stamp(&mut f.origin));
    }
}

/// `into` then `from`. A border leaf's routes are most of a run's facts: into an empty list they
/// move, rather than being copied while both copies are alive.
fn append<T>(into: &mut Vec<T>, mut from: Vec<T>) {
    if into.is_empty() {
        std::mem::swap(into, &mut from);
    } else {
        into.append(&mut from);
    }
}

/// Lines of a log that could not be read, per reason (never fatal for logs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejects {
    /// reason -> count
    pub counts: BTreeMap<String, u64>,
    /// A few examples per reason, with line numbers.
    pub samples: Vec<Origin>,
}

impl Rejects {
    pub const MAX_SAMPLES_PER_REASON: usize = 3;

    pub fn add(&mut self, reason: &str, line: usize, text: &str) {
        let n = self.counts.entry(reason.to_string()).or_insert(0);
        *n += 1;
        if *n as usize <= Self::MAX_SAMPLES_PER_REASON {
            let mut excerpt: String = text.chars().take(240).collect();
            if excerpt.len() < text.len() {
                excerpt.push('…');
            }
            self.samples.push(Origin {
                locator: format!("line {line}: {reason}"),
                excerpt,
                ..Default::default()
            });
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    Ok,
    Partial,
    Failed,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::Partial => "partial",
            SourceStatus::Failed => "failed",
        }
    }
}

/// A raw payload as fetched (or read from a file): what evidence digests point at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadRef {
    /// File name or command the bytes came from.
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// What one source produced in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRun {
    pub name: String,
    pub kind: String,
    pub status: SourceStatus,
    pub error: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub counts: BTreeMap<String, u64>,
    pub payloads: Vec<PayloadRef>,
    #[serde(default)]
    pub rejects: Rejects,
    /// How the source was read, where that matters to a reader of the evidence: the transport,
    /// and any weakening such as TLS verification turned off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Pass,
    Fail,
    Error,
    Skip,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Error => "error",
            RuleStatus::Skip => "skip",
        }
    }
}

/// The result of one rule in one run: there is one for every rule, every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: RuleStatus,
    /// What was checked, in words: "412 routes in 6 VRFs, 0 leaks".
    pub checked: String,
    pub controls: Vec<String>,
}

/// A failed check on one subject, with the evidence that shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    /// Stable across runs: sha256(rule id + subject), hex, first 16 bytes.
    pub fingerprint: String,
    pub severity: Severity,
    pub zone: Option<String>,
    /// What is wrong, machine-stable: `leaf1/YELLOW/10.20.1.0/26`.
    pub subject: String,
    pub message: String,
    pub evidence: Vec<Origin>,
}

impl Finding {
    pub fn fingerprint_for(rule_id: &str, subject: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(rule_id.as_bytes());
        h.update([0u8]);
        h.update(subject.as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}
