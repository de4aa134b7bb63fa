//! Fixture builders for check tests: a two-zone estate (yellow, blue) and one-line fact constructors,
//! each fact with its own origin so tests can assert that evidence points at it.

use std::net::IpAddr;
use std::path::Path;

use crate::config::Settings;
use crate::model::{
    BgpConfigurationFact, BgpPeerConfig, BgpSession, BlockAffinityFact, Facts, Finding, FlowAggregate,
    IpPoolFact, NodeFact, Origin, Route, RuleResult, SessionType, SourceRun, SourceStatus,
};
use crate::rules::{AuditInput, evaluate, load_pack_text};

pub const CONFIG: &str = r#"
cluster: test
zones:
  yellow:
    prefixes: [10.10.0.0/16, 172.31.10.0/24]
    nodeSelector: "zone == 'yellow'"
    routeReflectors: [172.31.10.5, 172.31.10.6]
    vrf: YELLOW
    firewallZones: [trust-yellow]
  blue:
    prefixes: [10.20.0.0/16, 172.31.20.0/24]
    nodeSelector: "zone == 'blue'"
    routeReflectors: [172.31.20.5, 172.31.20.6]
    vrf: BLUE
    firewallZones: [trust-blue]
shared: [0.0.0.0/0, 192.0.2.0/24]
allowedFlows:
  - { from: yellow, to: blue, ports: [443/tcp], rule: yellow-to-blue-https }
sources:
  - { name: calico, kind: calico, files: [calico] }
  - { name: leaf1, kind: eos, files: [leaf1.json] }
"#;

pub fn settings() -> Settings {
    Settings::from_yaml(CONFIG, "zoneaudit.yaml", Path::new("/etc/za")).expect("test config is valid")
}

pub fn origin(what: &str) -> Origin {
    Origin {
        source: "fixture".into(),
        payload: "0".repeat(64).into(),
        locator: format!("/{what}"),
        excerpt: what.to_string(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A worker node labelled `zone=<zone>` (no label when `zone` is empty).
pub fn node(name: &str, zone: &str, bgp: &str) -> NodeFact {
    let mut labels = crate::model::Labels::new();
    labels.insert("kubernetes.io/hostname".into(), name.into());
    if !zone.is_empty() {
        labels.insert("zone".into(), zone.into());
    }
    NodeFact {
        name: name.into(),
        labels,
        bgp_ipv4: Some(format!("{bgp}/24").parse::<ipnet::IpNet>().expect("test cidr")),
        bgp_ipv6: None,
        addresses: vec![ip(bgp)],
        asn: None,
        rr_cluster_id: None,
        origin: origin(&format!("node/{name}")),
    }
}

pub fn rr_node(name: &str, zone: &str, bgp: &str) -> NodeFact {
    let mut n = node(name, zone, bgp);
    n.rr_cluster_id = Some("244.0.0.1".into());
    n.labels.insert("route-reflector".into(), "true".into());
    n
}

/// A BGP route; `from` empty means no learned-from / next hop.
pub fn route(observer: &str, table: &str, prefix: &str, from: &str) -> Route {
    Route {
        observer: observer.into(),
        table: table.into(),
        prefix: prefix.parse().expect("test prefix"),
        next_hops: if from.is_empty() { vec![] } else { vec![ip(from)] },
        protocol: "bgp".into(),
        learned_from: if from.is_empty() { None } else { Some(ip(from)) },
        as_path: vec![64512],
        best: true,
        origin: origin(&format!("route/{observer}/{table}/{prefix}")),
    }
}

pub fn session(observer: &str, vrf: Option<&str>, local: &str, peer: &str, state: &str) -> BgpSession {
    BgpSession {
        observer: observer.into(),
        vrf: vrf.map(str::to_string),
        protocol: None,
        local_addr: if local.is_empty() { None } else { Some(ip(local)) },
        peer_addr: ip(peer),
        peer_asn: Some(64512),
        state: state.into(),
        since: Some("2024-07-16".into()),
        session_type: SessionType::Ibgp,
        prefixes_received: Some(3),
        origin: origin(&format!("session/{observer}/{}/{peer}", vrf.unwrap_or("default"))),
    }
}

pub fn bgp_peer(
    name: &str,
    node: Option<&str>,
    node_selector: Option<&str>,
    peer_ip: Option<&str>,
    peer_selector: Option<&str>,
) -> BgpPeerConfig {
    BgpPeerConfig {
        name: name.into(),
        node: node.map(str::to_string),
        node_selector: node_selector.map(str::to_string),
        peer_ip: peer_ip.map(ip),
        peer_port: None,
        peer_selector: peer_selector.map(str::to_string),
        asn: Some(64512),
        origin: origin(&format!("bgppeer/{name}")),
    }
}

pub fn bgp_configuration(name: &str, mesh: bool) -> BgpConfigurationFact {
    BgpConfigurationFact {
        name: name.into(),
        node_to_node_mesh: mesh,
        asn: Some(64512),
        origin: origin(&format!("bgpconfiguration/{name}")),
    }
}

pub fn pool(name: &str, cidr: &str, selector: &str) -> IpPoolFact {
    IpPoolFact {
        name: name.into(),
        cidr: cidr.parse().expect("test cidr"),
        node_selector: selector.into(),
        disabled: false,
        origin: origin(&format!("ippool/{name}")),
    }
}

pub fn block(node: &str, cidr: &str) -> BlockAffinityFact {
    BlockAffinityFact {
        name: format!("{node}-{}", cidr.replace(['.', '/'], "-")),
        node: node.into(),
        cidr: cidr.parse().expect("test cidr"),
        state: "confirmed".into(),
        origin: origin(&format!("blockaffinity/{node}/{cidr}")),
    }
}

/// An aggregate of firewall log lines between two firewall zones; address zones left empty.
pub fn flow(
    from_fw: &str,
    to_fw: &str,
    action: &str,
    protocol: &str,
    port: u16,
    rule: &str,
) -> FlowAggregate {
    FlowAggregate {
        firewall: "fw1".into(),
        from_fw_zone: from_fw.into(),
        to_fw_zone: to_fw.into(),
        src_zone: None,
        dst_zone: None,
        rule: rule.into(),
        action: action.into(),
        protocol: protocol.into(),
        dst_port: port,
        count: 17,
        bytes: 4096,
        first_seen: "2024/07/16 10:15:01".into(),
        last_seen: "2024/07/16 11:02:44".into(),
        samples: vec![Origin::at_line(42, format!("TRAFFIC,{from_fw},{to_fw},{rule},{action}"))],
    }
}

pub fn source_run(name: &str, status: SourceStatus, error: Option<&str>) -> SourceRun {
    let t = chrono::DateTime::parse_from_rfc3339("2024-07-16T02:00:00Z").expect("time").to_utc();
    SourceRun {
        name: name.into(),
        kind: "calico".into(),
        status,
        error: error.map(str::to_string),
        started_at: t,
        finished_at: t,
        counts: Default::default(),
        payloads: vec![],
        rejects: Default::default(),
        notes: Vec::new(),
    }
}

/// Evaluate one rule (`severity: high`) of `check` with `params` (YAML flow mapping, or empty).
pub fn eval_sources(
    check: &str,
    params: &str,
    facts: &Facts,
    sources: &[SourceRun],
) -> (RuleResult, Vec<Finding>) {
    let params = if params.is_empty() { String::new() } else { format!("    params: {params}\n") };
    let pack = format!(
        "apiVersion: zoneaudit.io/v1\nkind: RulePack\nmetadata: {{ name: t, version: '1' }}\nrules:\n  - id: T-1\n    \
         title: test\n    severity: high\n    check: {check}\n{params}"
    );
    let pack = load_pack_text(&pack, "test.yaml").expect("test pack loads");
    let settings = settings();
    let mut eval =
        evaluate(&[pack], &AuditInput { settings: &settings, facts, sources, now: chrono::Utc::now() });
    assert_eq!(eval.results.len(), 1);
    (eval.results.remove(0), eval.findings)
}

pub fn eval(check: &str, params: &str, facts: &Facts) -> (RuleResult, Vec<Finding>) {
    eval_sources(check, params, facts, &[])
}
