//! The simulated estate in the real replay formats, written as the demo writes them (see
//! `demo::estate`), but streamed: every file goes through a `BufWriter`, the big ones (VRF route
//! tables, the PAN-OS TRAFFIC log) object by object and line by line, never as one string.
//!
//! ```text
//!   inputs/calico/{nodes,bgpconfigurations,bgppeers,ippools,blockaffinities}.json   kubectl -o json
//!   inputs/bird/<zone>-rr<j>.txt        birdcl transcript: show protocols all, show route all
//!   inputs/eos/<leaf>-{routes,bgp}.json eAPI answers: show ip route vrf all, show ip bgp summary vrf all
//!   inputs/panos/fw-core.log            TRAFFIC syslog (BSD header, 115 CSV fields)
//!   inputs/panos/fw-core-rule-hit-count.xml   XML API show rule-hit-count
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::topology::{App, FIREWALL, FIREWALL_ASN, Flow, LEAVES, Leaf, Rng, Zone};
use super::{Estate, NightPlan};

const FIREWALL_SERIAL: &str = "024101003517";
const BIRD_BANNER: &str = "BIRD v0.3.3+birdv1.6.8 ready.";
const NODE_IFACE: &str = "ens192";

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

fn k8s_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A stable UUID-shaped identifier from a name (Kubernetes uid, PAN-OS rule uuid).
fn uuid_for(name: &str) -> String {
    let h = format!("{:016x}{:016x}", Rng::new(fnv(name), 1).next_u64(), Rng::new(fnv(name), 2).next_u64());
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

// ---------------------------------------------------------------------------------------------
// Calico / Kubernetes

/// kubectl's `List` wrapper around items written one at a time.
fn kubectl_list(path: &Path, items: impl Iterator<Item = Value>) -> io::Result<()> {
    let mut out = create(path)?;
    out.write_all(b"{\"apiVersion\":\"v1\",\"items\":[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &item)?;
    }
    out.write_all(b"],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}\n")?;
    out.flush()
}

fn calico_object(kind: &str, name: &str, created: NaiveDateTime, rv: u64, spec: Value) -> Value {
    let created = k8s_time(created);
    json!({
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": kind,
        "metadata": {
            "annotations": { "projectcalico.org/metadata": format!("{{\"creationTimestamp\":\"{created}\"}}") },
            "creationTimestamp": created,
            "generation": 1,
            "name": name,
            "resourceVersion": rv.to_string(),
            "uid": uuid_for(&format!("{kind}/{name}")),
        },
        "spec": spec,
    })
}

fn k8s_node(zone: &Zone, name: &str, addr: Ipv4Addr, rr: bool, rv: u64, built: NaiveDateTime) -> Value {
    let mut annotations = json!({
        "node.alpha.kubernetes.io/ttl": "0",
        "projectcalico.org/ASNumber": zone.asn().to_string(),
        "projectcalico.org/IPv4Address": format!("{addr}/16"),
    });
    let mut labels = json!({
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "zone": zone.name,
    });
    if rr {
        annotations["projectcalico.org/RouteReflectorClusterID"] = json!(zone.rr_cluster_id());
        labels["route-reflector"] = json!("true");
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": k8s_time(built - Duration::minutes(20)),
            "labels": labels,
            "name": name,
            "resourceVersion": rv.to_string(),
            "uid": uuid_for(&format!("node/{name}")),
        },
        "spec": {},
        "status": {
            "addresses": [
                { "address": addr.to_string(), "type": "InternalIP" },
                { "address": name, "type": "Hostname" },
            ],
            "nodeInfo": { "kubeletVersion": "v1.31.4", "osImage": "Ubuntu 24.04.1 LTS" },
        },
    })
}

pub fn write_calico(dir: &Path, estate: &Estate, night: &NightPlan) -> io::Result<()> {
    let built = night.bring_up;
    let rv_base = 4_200_000 + u64::from(night.number) * 96_000;
    let nodes = estate.zones.iter().flat_map(|z| {
        let rrs = (0..2).map(move |j| (z, z.rr_name(j), z.rr_addr(j), true));
        let workers = (0..z.workers).map(move |w| (z, z.worker_name(w), z.worker_addr(w), false));
        rrs.chain(workers)
    });
    kubectl_list(
        &dir.join("calico/nodes.json"),
        nodes
            .enumerate()
            .map(|(i, (z, name, addr, rr))| k8s_node(z, &name, addr, rr, rv_base + i as u64, built)),
    )?;
    let config = json!({ "asNumber": 64512, "logSeverityScreen": "Info", "nodeToNodeMeshEnabled": false });
    kubectl_list(
        &dir.join("calico/bgpconfigurations.json"),
        std::iter::once(calico_object("BGPConfiguration", "default", built, 4402, config)),
    )?;
    let mut peers = Vec::new();
    for z in &estate.zones {
        let workers = format!("{} && !has(route-reflector)", z.selector());
        let rrs = format!("{} && has(route-reflector)", z.selector());
        peers.push((
            format!("{}-nodes-to-rrs", z.name),
            json!({ "nodeSelector": workers, "peerSelector": rrs }),
        ));
        peers.push((format!("{}-rrs-to-rrs", z.name), json!({ "nodeSelector": rrs, "peerSelector": rrs })));
        for leaf in &LEAVES {
            peers.push((
                format!("{}-rrs-to-{}", z.name, leaf.name),
                json!({ "asNumber": leaf.asn, "nodeSelector": rrs, "peerIP": leaf.addr_in(z).to_string() }),
            ));
        }
    }
    kubectl_list(
        &dir.join("calico/bgppeers.json"),
        peers
            .into_iter()
            .enumerate()
            .map(|(i, (name, spec))| calico_object("BGPPeer", &name, built, 4410 + i as u64, spec)),
    )?;
    kubectl_list(
        &dir.join("calico/ippools.json"),
        estate.zones.iter().map(|z| {
            let spec = json!({
                "allowedUses": ["Workload", "Tunnel"],
                "blockSize": 26,
                "cidr": z.pod_pool(),
                "ipipMode": "Never",
                "nodeSelector": z.selector(),
                "vxlanMode": "Never",
            });
            calico_object("IPPool", &format!("{}-pool", z.name), built, 4405 + z.index as u64, spec)
        }),
    )?;
    let affinities = estate.zones.iter().flat_map(|z| (0..z.workers).map(move |w| (z, w)));
    kubectl_list(
        &dir.join("calico/blockaffinities.json"),
        affinities.enumerate().map(|(i, (z, w))| {
            let cidr = z.block_cidr(w);
            let node = z.worker_name(w);
            let name = format!("{node}-{}", cidr.replace(['.', '/'], "-"));
            json!({
                "apiVersion": "crd.projectcalico.org/v1",
                "kind": "BlockAffinity",
                "metadata": {
                    "creationTimestamp": k8s_time(built + Duration::minutes(5)),
                    "generation": 1,
                    "name": name,
                    "resourceVersion": (5100 + i).to_string(),
                    "uid": uuid_for(&format!("BlockAffinity/{name}")),
                },
                "spec": { "cidr": cidr, "deleted": "false", "node": node, "state": "confirmed", "type": "host" },
            })
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// BIRD 1.6 on the route reflectors

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Client,
    Reflector,
    Leaf,
    Foreign,
}

struct BirdSession {
    peer: Ipv4Addr,
    asn: u32,
    role: Role,
    since: NaiveDateTime,
    /// Import received / filtered / ignored, export offered / filtered, preferred.
    import: (u64, u64, u64),
    export: (u64, u64),
    preferred: u64,
}

fn bird_sessions(estate: &Estate, z: &Zone, j: usize, night: &NightPlan) -> Vec<BirdSession> {
    let up = night.bring_up;
    let mut out = Vec::new();
    let blocks = z.workers as u64;
    for leaf in &LEAVES {
        out.push(BirdSession {
            peer: leaf.addr_in(z),
            asn: leaf.asn,
            role: Role::Leaf,
            since: up + Duration::seconds(47 + 3 * i64::from(leaf.host)),
            import: (1, 0, 0),
            export: (blocks + 1, 1),
            preferred: u64::from(leaf.host == 1),
        });
    }
    out.push(BirdSession {
        peer: z.rr_addr(1 - j),
        asn: z.asn(),
        role: Role::Reflector,
        since: up + Duration::seconds(62),
        import: (blocks + 1, 0, blocks),
        export: (blocks + 1, 0),
        preferred: 0,
    });
    for w in 0..z.workers {
        out.push(BirdSession {
            peer: z.worker_addr(w),
            asn: z.asn(),
            role: Role::Client,
            since: up + Duration::seconds(240 + (w % 600) as i64),
            import: (1, 0, 0),
            export: (blocks + 1, 1),
            preferred: 1,
        });
    }
    if j == 0 {
        for p in estate.anomalies.stray_peers.iter().filter(|p| p.rr_zone == z.index) {
            let other = &estate.zones[p.node_zone];
            out.push(BirdSession {
                peer: other.worker_addr(p.worker),
                asn: other.asn(),
                role: Role::Foreign,
                since: night.collected_at - Duration::hours(4) - Duration::seconds(p.worker as i64),
                // An import filter keeps the other zone's block out; the session itself is up.
                import: (1, 1, 0),
                export: (blocks + 1, blocks + 1),
                preferred: 0,
            });
        }
    }
    out.sort_by_key(|s| session_name(s.peer));
    out
}

fn session_name(peer: Ipv4Addr) -> String {
    format!("Node_{}", peer.to_string().replace('.', "_"))
}

fn bird_since(t: NaiveDateTime, now: NaiveDateTime) -> String {
    if now - t < Duration::hours(20) {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

fn bird_row(out: &mut impl Write, name: &str, proto: &str, since: &str, info: &str) -> io::Result<()> {
    writeln!(out, "{name:<8} {proto:<8} {:<8} {:<5}  {since:<10}  {info}", "master", "up")
}

fn stats_row(label: &str, cols: [Option<u64>; 5]) -> String {
    let cells: Vec<String> =
        cols.iter().map(|c| c.map_or_else(|| format!("{:>10}", "---"), |n| format!("{n:>10}"))).collect();
    format!("    {label:<20}{}", cells.join(" "))
}

fn bird_basic(
    out: &mut impl Write,
    preference: u32,
    filters: (&str, &str),
    import: (u64, u64, u64),
    export: (u64, u64),
    preferred: u64,
) -> io::Result<()> {
    let (received, filtered, ignored) = import;
    let accepted = received - filtered - ignored;
    let (offered, ex_filtered) = export;
    writeln!(out, "  Preference:     {preference}")?;
    writeln!(out, "  Input filter:   {}", filters.0)?;
    writeln!(out, "  Output filter:  {}", filters.1)?;
    writeln!(
        out,
        "  Routes:         {accepted} imported, {} exported, {preferred} preferred",
        offered - ex_filtered
    )?;
    writeln!(out, "  Route change stats:     received   rejected   filtered    ignored   accepted")?;
    writeln!(
        out,
        "{}",
        stats_row(
            "Import updates:",
            [Some(received), Some(0), Some(filtered), Some(ignored), Some(accepted)]
        )
    )?;
    writeln!(out, "{}", stats_row("Import withdraws:", [Some(0), Some(0), None, Some(0), Some(0)]))?;
    writeln!(
        out,
        "{}",
        stats_row(
            "Export updates:",
            [Some(offered), Some(0), Some(ex_filtered), None, Some(offered - ex_filtered)]
        )
    )?;
    writeln!(out, "{}", stats_row("Export withdraws:", [Some(0), None, None, None, Some(0)]))
}

/// A BIRD protocol that is not BGP: name, kind, preference, filters, import, export, preferred.
type LocalProtocol =
    (&'static str, &'static str, u32, (&'static str, &'static str), (u64, u64, u64), (u64, u64), u64);

fn write_bird_protocols(
    out: &mut impl Write,
    z: &Zone,
    j: usize,
    sessions: &[BirdSession],
    night: &NightPlan,
) -> io::Result<()> {
    let now = night.collected_at;
    let up = bird_since(night.bring_up, now);
    writeln!(out, "name     proto    table    state  since       info")?;
    let local: [LocalProtocol; 4] = [
        ("static1", "Static", 200, ("ACCEPT", "REJECT"), (0, 0, 0), (0, 0), 0),
        ("kernel1", "Kernel", 10, ("ACCEPT", "calico_kernel_programming"), (0, 0, 0), (5, 1), 0),
        ("device1", "Device", 240, ("ACCEPT", "REJECT"), (0, 0, 0), (0, 0), 0),
        ("direct1", "Direct", 240, ("ACCEPT", "REJECT"), (1, 0, 0), (0, 0), 1),
    ];
    for (name, proto, pref, filters, import, export, preferred) in local {
        bird_row(out, name, proto, &up, "")?;
        bird_basic(out, pref, filters, import, export, preferred)?;
        writeln!(out)?;
    }
    for s in sessions {
        bird_row(
            out,
            &session_name(s.peer),
            "BGP",
            &bird_since(s.since, now),
            &format!("{:<14}", "Established"),
        )?;
        writeln!(out, "  Description:    Connection to BGP peer")?;
        bird_basic(out, 100, ("(unnamed)", "(unnamed)"), s.import, s.export, s.preferred)?;
        let (caps, session, hold) = match s.role {
            Role::Client => (
                "refresh enhanced-refresh restart-able AS4 add-path-rx add-path-tx",
                "internal multihop route-reflector AS4 add-path-rx add-path-tx",
                240,
            ),
            Role::Reflector => (
                "refresh enhanced-refresh restart-able AS4 add-path-rx add-path-tx",
                "internal multihop AS4 add-path-rx add-path-tx",
                240,
            ),
            Role::Foreign => (
                "refresh enhanced-refresh restart-able AS4 add-path-rx add-path-tx",
                "external multihop AS4 add-path-rx add-path-tx",
                240,
            ),
            Role::Leaf => ("refresh enhanced-refresh restart-aware AS4", "external multihop AS4", 180),
        };
        writeln!(out, "  BGP state:          Established")?;
        writeln!(out, "    Neighbor address: {}", s.peer)?;
        writeln!(out, "    Neighbor AS:      {}", s.asn)?;
        writeln!(out, "    Neighbor ID:      {}", s.peer)?;
        writeln!(out, "    Neighbor caps:    {caps}")?;
        writeln!(out, "    Session:          {session}")?;
        writeln!(out, "    Source address:   {}", z.rr_addr(j))?;
        writeln!(out, "    Hold timer:       {}/{hold}", hold - 7)?;
        writeln!(out, "    Keepalive timer:  {}/{}", 11, hold / 3)?;
        writeln!(out)?;
    }
    Ok(())
}

fn write_bird_routes(out: &mut impl Write, z: &Zone, j: usize, night: &NightPlan) -> io::Result<()> {
    let now = night.collected_at;
    let since = bird_since(night.bring_up, now);
    let bgp = |out: &mut dyn Write, path: &str, hop: Ipv4Addr| -> io::Result<()> {
        writeln!(out, "\tType: BGP unicast univ")?;
        writeln!(out, "\tBGP.origin: IGP")?;
        writeln!(out, "\tBGP.as_path: {path}")?;
        writeln!(out, "\tBGP.next_hop: {hop}")?;
        writeln!(out, "\tBGP.local_pref: 100")
    };
    let leaf1 = LEAVES[0].addr_in(z);
    for leaf in &LEAVES {
        let gw = leaf.addr_in(z);
        let net = if leaf.host == 1 { "0.0.0.0/0" } else { "" };
        let primary = if leaf.host == 1 { " *" } else { "" };
        writeln!(
            out,
            "{net:<18} via {gw} on {NODE_IFACE} [{} {since}]{primary} (100/0) [AS{FIREWALL_ASN}i]",
            session_name(gw)
        )?;
        bgp(out, &format!("{} {FIREWALL_ASN}", leaf.asn), gw)?;
    }
    let other = z.rr_addr(1 - j);
    writeln!(
        out,
        "{:<18} via {leaf1} on {NODE_IFACE} [{} {since} from {other}] (100/0) [AS{FIREWALL_ASN}i]",
        "",
        session_name(other)
    )?;
    bgp(out, &format!("{} {FIREWALL_ASN}", LEAVES[0].asn), leaf1)?;
    for w in 0..z.workers {
        let addr = z.worker_addr(w);
        writeln!(
            out,
            "{:<18} via {addr} on {NODE_IFACE} [{} {since}] * (100/0) [i]",
            z.block_cidr(w),
            session_name(addr)
        )?;
        bgp(out, "", addr)?;
    }
    writeln!(out, "{:<18} dev {NODE_IFACE} [direct1 {since}] * (240)", z.node_subnet())?;
    writeln!(out, "\tType: device unicast univ")
}

pub fn write_bird(dir: &Path, estate: &Estate, night: &NightPlan) -> io::Result<()> {
    for z in &estate.zones {
        for j in 0..2 {
            let mut out = create(&dir.join(format!("bird/{}.txt", z.rr_name(j))))?;
            writeln!(out, "{BIRD_BANNER}")?;
            writeln!(out, "bird> show protocols all")?;
            let sessions = bird_sessions(estate, z, j, night);
            write_bird_protocols(&mut out, z, j, &sessions, night)?;
            writeln!(out, "bird> show route all")?;
            write_bird_routes(&mut out, z, j, night)?;
            out.flush()?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Arista EOS eAPI

fn eos_route(
    out: &mut impl Write,
    prefix: &str,
    connected: bool,
    leaked: bool,
    vias: &str,
) -> io::Result<()> {
    if connected {
        write!(
            out,
            "\"{prefix}\":{{\"kernelProgrammed\":true,\"directlyConnected\":true,\"routeAction\":\"forward\",\"routeLeaked\":{leaked},\"vias\":[{vias}],\"hardwareProgrammed\":true,\"routeType\":\"connected\"}}"
        )
    } else {
        write!(
            out,
            "\"{prefix}\":{{\"kernelProgrammed\":true,\"directlyConnected\":false,\"routeAction\":\"forward\",\"routeLeaked\":{leaked},\"vias\":[{vias}],\"metric\":0,\"hardwareProgrammed\":true,\"routeType\":\"eBGP\",\"preference\":200}}"
        )
    }
}

fn via(iface: &str, hop: Option<Ipv4Addr>) -> String {
    match hop {
        Some(h) => format!("{{\"interface\":\"{iface}\",\"nexthopAddr\":\"{h}\"}}"),
        None => format!("{{\"interface\":\"{iface}\"}}"),
    }
}

/// Routes of one leaf's zone VRF: returns how many were written.
fn write_vrf_routes(
    out: &mut impl Write,
    estate: &Estate,
    leaf: &Leaf,
    z: &Zone,
    night: &NightPlan,
) -> io::Result<usize> {
    let zones = estate.zones.len();
    let (fw, _) = leaf.transit(z, zones);
    let svi = format!("Vlan{}", z.vlan());
    let mut n = 0usize;
    eos_route(out, "0.0.0.0/0", false, false, &via(&leaf.uplink(z), Some(fw)))?;
    n += 1;
    for w in 0..z.workers {
        out.write_all(b",")?;
        eos_route(out, &z.block_cidr(w), false, false, &via(&svi, Some(z.worker_addr(w))))?;
        n += 1;
    }
    let leaks: Vec<_> =
        estate.anomalies.leaks.iter().filter(|l| leaf.index() == 0 && l.into == z.index).collect();
    // A leak takes the place of one host route, so the table's size is the scale's.
    let hosts =
        super::topology::host_routes_in(&estate.spec, &estate.zones, leaf.index(), z.index) - leaks.len();
    let set = &night.host_routes[z.index];
    for (i, &k) in set.iter().take(hosts).enumerate() {
        out.write_all(b",")?;
        let hop = z.worker_addr(i % z.workers);
        eos_route(out, &z.host_route(k), false, false, &via(&svi, Some(hop)))?;
        n += 1;
    }
    for l in leaks {
        let owner = &estate.zones[l.owner];
        out.write_all(b",")?;
        let hop = owner.worker_addr(l.worker);
        eos_route(
            out,
            &owner.block_cidr(l.worker),
            false,
            true,
            &via(&format!("Vlan{}", owner.vlan()), Some(hop)),
        )?;
        n += 1;
    }
    out.write_all(b",")?;
    eos_route(out, &z.node_subnet(), true, false, &via(&svi, None))?;
    out.write_all(b",")?;
    eos_route(out, &format!("{fw}/31"), true, false, &via(&leaf.uplink(z), None))?;
    Ok(n + 2)
}

/// Writes both leaves' files; returns the number of zone VRF routes written.
pub fn write_eos(dir: &Path, estate: &Estate, night: &NightPlan) -> io::Result<usize> {
    let mut total = 0;
    let date = night.collected_at.format("%Y%m%d");
    for leaf in &LEAVES {
        let mut out = create(&dir.join(format!("eos/{}-routes.json", leaf.name)))?;
        write!(
            out,
            "{{\"jsonrpc\":\"2.0\",\"id\":\"zoneaudit-{}-routes-{date}\",\"result\":[{{\"vrfs\":{{",
            leaf.name
        )?;
        write!(
            out,
            "\"default\":{{\"routes\":{{\"10.255.0.{}/32\":{{\"kernelProgrammed\":true,\"directlyConnected\":true,\"routeAction\":\"forward\",\"routeLeaked\":false,\"vias\":[{{\"interface\":\"Loopback0\"}}],\"hardwareProgrammed\":true,\"routeType\":\"connected\"}}}},\"allRoutesProgrammedKernel\":true,\"routingDisabled\":false,\"allRoutesProgrammedHardware\":true,\"defaultRouteState\":\"notSet\"}}",
            leaf.host
        )?;
        for z in &estate.zones {
            write!(out, ",\"{}\":{{\"routes\":{{", z.vrf())?;
            total += write_vrf_routes(&mut out, estate, leaf, z, night)?;
            write!(
                out,
                "}},\"allRoutesProgrammedKernel\":true,\"routingDisabled\":false,\"allRoutesProgrammedHardware\":true,\"defaultRouteState\":\"reachable\"}}"
            )?;
        }
        writeln!(out, "}}}}]}}")?;
        out.flush()?;

        let mut vrfs = serde_json::Map::new();
        vrfs.insert(
            "default".into(),
            json!({ "vrf": "default", "routerId": format!("10.255.0.{}", leaf.host), "asn": leaf.asn.to_string(), "peers": {} }),
        );
        for z in &estate.zones {
            let mut peers = serde_json::Map::new();
            let blocks = z.workers as u64;
            for j in 0..2 {
                let since = night.bring_up + Duration::seconds(47 + 3 * i64::from(leaf.host));
                peers.insert(z.rr_addr(j).to_string(), eos_peer(z.asn(), blocks, since, night));
            }
            let (fw, _) = leaf.transit(z, estate.zones.len());
            peers.insert(
                fw.to_string(),
                eos_peer(FIREWALL_ASN, 1, night.bring_up - Duration::minutes(30), night),
            );
            vrfs.insert(
                z.vrf(),
                json!({ "vrf": z.vrf(), "routerId": leaf.addr_in(z).to_string(), "asn": leaf.asn.to_string(), "peers": peers }),
            );
        }
        let body = json!({
            "jsonrpc": "2.0",
            "id": format!("zoneaudit-{}-bgp-{date}", leaf.name),
            "result": [{ "vrfs": vrfs }],
        });
        let mut out = create(&dir.join(format!("eos/{}-bgp.json", leaf.name)))?;
        serde_json::to_writer(&mut out, &body)?;
        out.flush()?;
    }
    Ok(total)
}

fn eos_peer(asn: u32, prefixes: u64, established: NaiveDateTime, night: &NightPlan) -> Value {
    let keepalives = (night.collected_at - established).num_minutes().max(0) as u64;
    json!({
        "version": 4,
        "msgReceived": keepalives + 31,
        "msgSent": keepalives + 29,
        "inMsgQueue": 0,
        "outMsgQueue": 0,
        "asn": asn.to_string(),
        "prefixAccepted": prefixes,
        "prefixReceived": prefixes,
        "upDownTime": established.and_utc().timestamp() as f64 + 0.25,
        "underMaintenance": false,
        "peerState": "Established",
    })
}

// ---------------------------------------------------------------------------------------------
// PAN-OS TRAFFIC log and rule hit counters

fn app_traits(app: App) -> (&'static str, [&'static str; 5]) {
    match app {
        App::Ssl => (
            "ssl",
            [
                "encrypted-tunnel",
                "networking",
                "browser-based",
                "4",
                "used-by-malware able-to-transfer-file pervasive-use",
            ],
        ),
        App::Postgres => {
            ("postgres", ["database", "business-systems", "client-server", "2", "able-to-transfer-file"])
        }
        App::WebBrowsing => (
            "web-browsing",
            [
                "internet-utility",
                "general-internet",
                "browser-based",
                "4",
                "evasive able-to-transfer-file pervasive-use",
            ],
        ),
    }
}

/// Times formatted once per second, not once per line: a night has millions of lines.
struct Clock {
    second: i64,
    panos: String,
    syslog: String,
    iso: String,
}

impl Clock {
    fn at(&mut self, t: i64) -> &Clock {
        if t != self.second {
            let dt = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default().naive_utc();
            self.second = t;
            self.panos = dt.format("%Y/%m/%d %H:%M:%S").to_string();
            self.syslog = dt.format("%b %e %H:%M:%S").to_string();
            self.iso = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
        self
    }
}

struct Line<'a> {
    flow: &'a Flow,
    from: &'a Zone,
    to: &'a Zone,
    client: Ipv4Addr,
    server: Ipv4Addr,
    sport: u64,
    leaf: usize,
    id: u64,
    sent: u64,
    received: u64,
}

fn write_line(out: &mut impl Write, l: &Line, t: i64, clock: &mut Clock, uuid: &str) -> io::Result<()> {
    let (app, traits) = app_traits(l.flow.app);
    let generated = clock.at(t).panos.clone();
    let iso = clock.iso.clone();
    let syslog = clock.at(t + 1).syslog.clone();
    let rcv = clock.panos.clone();
    let (pk_s, pk_r) = (l.sent / 420 + 3, l.received / 900 + 3);
    let leaf = l.leaf + 1;
    // Fields 1-31.
    write!(
        out,
        "<14>{syslog} {FIREWALL} 1,{rcv},{FIREWALL_SERIAL},TRAFFIC,end,2561,{generated},{},{},0.0.0.0,0.0.0.0,{},,,{app},vsys1,{},{},ethernet1/{leaf}.{},ethernet1/{leaf}.{},fwd-to-siem,{generated},{},1,{},{},0,0,0x40001c,tcp,allow,",
        l.client,
        l.server,
        l.flow.rule,
        l.from.firewall_zone(),
        l.to.firewall_zone(),
        l.from.vlan(),
        l.to.vlan(),
        l.id,
        l.sport,
        l.flow.dport,
    )?;
    // Fields 32-68.
    write!(
        out,
        "{},{},{},{},{generated},0,any,,{},0x8000000000000000,10.0.0.0-10.255.255.255,10.0.0.0-10.255.255.255,,{pk_s},{pk_r},tcp-fin,0,0,0,0,,{FIREWALL},from-policy,,,0,,0,,N/A,0,0,0,0,{uuid},0,0",
        l.sent + l.received,
        l.sent,
        l.received,
        pk_s + pk_r,
        7_253_419_119_627_100_000u64 + l.id,
    )?;
    // Fields 69-102 are empty; 103 the high-resolution time; 106-115 the App-ID traits.
    out.write_all(&[b','; 35])?;
    writeln!(
        out,
        "{iso}.{:03}+00:00,,,{},{},{},{},{},,{app},no,no,0",
        l.id % 1000,
        traits[0],
        traits[1],
        traits[2],
        traits[3],
        traits[4]
    )
}

/// The night's TRAFFIC log, spread evenly over the 24 hours before collection; returns the hits of
/// each rule, for the rule hit counters.
pub fn write_panos(dir: &Path, estate: &Estate, night: &NightPlan) -> io::Result<BTreeMap<String, u64>> {
    let mut out = create(&dir.join(format!("panos/{FIREWALL}.log")))?;
    let total = estate.spec.panos_lines;
    let mut rng = Rng::new(estate.seed, 0x9A_0000 + u64::from(night.number));
    let flows = &estate.flows;
    // Each unapproved flow logs three sessions, at seeded places in the night.
    let mut odd: Vec<(u64, usize)> = Vec::new();
    for (k, _) in estate.anomalies.unapproved.iter().enumerate() {
        for _ in 0..3 {
            odd.push((rng.below(total), k));
        }
    }
    odd.sort();
    let start = (night.collected_at - Duration::hours(24)).and_utc().timestamp();
    let mut clock =
        Clock { second: i64::MIN, panos: String::new(), syslog: String::new(), iso: String::new() };
    let uuids: Vec<String> = flows.iter().map(|f| uuid_for(&format!("rule/{}", f.rule))).collect();
    let odd_uuids: Vec<String> =
        estate.anomalies.unapproved.iter().map(|f| uuid_for(&format!("rule/{}", f.rule))).collect();
    let mut hits: BTreeMap<String, u64> = BTreeMap::new();
    let mut next_odd = 0usize;
    let mut emitted = 0u64;
    let mut i = 0u64;
    while emitted < total {
        let (flow, uuid) = if next_odd < odd.len() && odd[next_odd].0 <= i {
            let k = odd[next_odd].1;
            next_odd += 1;
            (&estate.anomalies.unapproved[k], &odd_uuids[k])
        } else {
            i += 1;
            let f = rng.below(flows.len() as u64) as usize;
            (&flows[f], &uuids[f])
        };
        let (from, to) = (&estate.zones[flow.from], &estate.zones[flow.to]);
        let r = rng.next_u64();
        let line = Line {
            flow,
            from,
            to,
            client: from.pod((r % from.workers as u64) as usize, 1 + ((r >> 16) % 62) as u8),
            server: to.pod(((r >> 24) % to.workers as u64) as usize, 1 + ((r >> 40) % 62) as u8),
            sport: 32768 + (r >> 48) % 28_000,
            leaf: (r & 1) as usize,
            id: 180_000 + u64::from(night.number) * 20_000_000 + emitted,
            sent: 900 + (r >> 8) % 8000,
            received: 1500 + (r >> 20) % 46_000,
        };
        let t = start + (emitted * 86_400 / total) as i64;
        write_line(&mut out, &line, t, &mut clock, uuid)?;
        *hits.entry(flow.rule.clone()).or_default() += 1;
        emitted += 1;
    }
    out.flush()?;
    Ok(hits)
}

/// `show rule-hit-count` at collection time: every rule was hit during the night.
pub fn write_rule_hits(dir: &Path, night: &NightPlan, hits: &BTreeMap<String, u64>) -> io::Result<()> {
    let mut out = create(&dir.join(format!("panos/{FIREWALL}-rule-hit-count.xml")))?;
    let created = (night.bring_up - Duration::days(200)).and_utc().timestamp();
    let last = (night.collected_at - Duration::minutes(1)).and_utc().timestamp();
    let first = (night.collected_at - Duration::hours(24)).and_utc().timestamp();
    writeln!(
        out,
        "<response status=\"success\">\n\t<result>\n\t\t<rule-hit-count>\n\t\t\t<vsys>\n\t\t\t\t<entry name=\"vsys1\">\n\t\t\t\t\t<rule-base>\n\t\t\t\t\t\t<entry name=\"security\">\n\t\t\t\t\t\t\t<rules>"
    )?;
    for (rule, n) in hits {
        let base = 1_000 * u64::from(night.number);
        writeln!(
            out,
            "\t\t\t\t\t\t\t\t<entry name=\"{rule}\">\n\t\t\t\t\t\t\t\t\t<latest>yes</latest>\n\t\t\t\t\t\t\t\t\t<hit-count>{}</hit-count>\n\t\t\t\t\t\t\t\t\t<last-hit-timestamp>{last}</last-hit-timestamp>\n\t\t\t\t\t\t\t\t\t<last-reset-timestamp>0</last-reset-timestamp>\n\t\t\t\t\t\t\t\t\t<first-hit-timestamp>{first}</first-hit-timestamp>\n\t\t\t\t\t\t\t\t\t<rule-creation-timestamp>{created}</rule-creation-timestamp>\n\t\t\t\t\t\t\t\t\t<rule-modification-timestamp>{created}</rule-modification-timestamp>\n\t\t\t\t\t\t\t\t</entry>",
            base + n
        )?;
    }
    writeln!(
        out,
        "\t\t\t\t\t\t\t</rules>\n\t\t\t\t\t\t</entry>\n\t\t\t\t\t</rule-base>\n\t\t\t\t</entry>\n\t\t\t</vsys>\n\t\t</rule-hit-count>\n\t</result>\n</response>"
    )?;
    out.flush()
}
