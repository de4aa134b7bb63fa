//! Live collection and its recording are the same evidence: for every live source kind, collect
//! from a real daemon or an API double, write the recording as `collect --record` does, load the
//! recorded config the way `zoneaudit` loads any config, and collect again from the files.
//!
//! ```text
//!  config.yaml ──gather──▶ live Collected ──record──▶ DIR/zoneaudit.yaml + DIR/<source>/*
//!                                 │                          │
//!                                 └──── facts, digests ══════┴──gather──▶ replayed Collected
//! ```
//!
//! Equal facts include every `Origin` (source name, payload SHA-256, locator, excerpt), so a
//! finding from the replay points at the same bytes as the finding from the live run.

use std::path::{Path, PathBuf};

use crate::collect::gather::gather;
use crate::collect::live::bird_socket::tests::TestBird;
use crate::collect::live::http::double::{Pki, Reply, Server};
use crate::collect::live::kube::double::{FakeApi, from_kubectl};
use crate::collect::record::record;
use crate::collect::replay::Collected;
use crate::config::{Settings, Transport};
use crate::model::{Facts, Origin, SourceStatus};

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A config as an operator writes it, loaded from its file (recording rewrites that file).
fn load(dir: &Path, zones: &str, sources: &[String]) -> Settings {
    let sources: String = sources.iter().map(|s| format!("  - {s}\n")).collect();
    let text = format!("cluster: lab\nzones:\n{zones}sources:\n{sources}");
    let path = dir.join("zoneaudit.yaml");
    std::fs::write(&path, &text).expect("write config");
    Settings::load(&path).unwrap_or_else(|e| panic!("test config is valid: {e}\n{text}"))
}

const ZONES: &str = "  prod:\n    prefixes: [10.110.0.0/16]\n    vrf: ZONE-PROD\n";

/// Every fact's origin, whatever its kind.
fn origins(f: &Facts) -> Vec<&Origin> {
    let mut out: Vec<&Origin> = Vec::new();
    out.extend(f.nodes.iter().map(|x| &x.origin));
    out.extend(f.bgp_peers.iter().map(|x| &x.origin));
    out.extend(f.bgp_configurations.iter().map(|x| &x.origin));
    out.extend(f.ip_pools.iter().map(|x| &x.origin));
    out.extend(f.block_affinities.iter().map(|x| &x.origin));
    out.extend(f.sessions.iter().map(|x| &x.origin));
    out.extend(f.routes.iter().map(|x| &x.origin));
    out
}

/// Collect `settings` live, record it under `dir`, replay the recording; returns the live
/// collection after checking that the replay gives the same facts from the same bytes.
async fn live_then_replay(settings: &Settings, dir: &Path) -> Vec<Collected> {
    let live = gather(settings, &[]).await;
    assert_eq!(live.len(), settings.sources.len());
    for c in &live {
        assert_eq!(c.run.status, SourceStatus::Ok, "{} live: {:?}", c.run.name, c.run.error);
        assert!(c.run.notes.iter().any(|n| n.starts_with("live: ")), "{:?}", c.run.notes);
        assert!(!c.payloads.is_empty() && !origins(&c.facts).is_empty(), "{} fetched nothing", c.run.name);
        // Stamped origins make the comparison below about evidence, not only about values.
        let digests: Vec<&str> = c.payloads.iter().map(|p| p.sha256.as_str()).collect();
        for o in origins(&c.facts) {
            assert_eq!(o.source, c.run.name);
            assert!(digests.contains(&o.payload.as_str()), "{} points at no payload", o.locator);
            assert!(!o.locator.is_empty() && !o.excerpt.is_empty(), "{o:?}");
        }
    }

    let recording = dir.join("recording");
    let config = record(&recording, settings, &live).expect("record the live run");
    assert_eq!(config, recording.join("zoneaudit.yaml"));
    let replay = Settings::load(&config).unwrap_or_else(|e| {
        panic!("the recorded config loads: {e}\n{}", std::fs::read_to_string(&config).unwrap_or_default())
    });
    let replayed = gather(&replay, &[]).await;
    assert_eq!(replayed.len(), live.len(), "every source is recorded");
    for (l, r) in live.iter().zip(&replayed) {
        let spec = replay.sources.iter().find(|s| s.name == l.run.name).expect("source kept");
        let Transport::Files(files) = &spec.transport else {
            panic!("{} replays over {}, not files", spec.name, spec.transport.name())
        };
        assert_eq!(files.len(), l.payloads.len(), "one file per payload");
        assert_eq!((r.run.name.as_str(), r.run.kind.as_str()), (l.run.name.as_str(), l.run.kind.as_str()));
        assert_eq!(r.run.status, SourceStatus::Ok, "{} replay: {:?}", r.run.name, r.run.error);
        assert_eq!(r.run.notes, ["replay: recorded files"]);
        let digests = |c: &Collected| -> Vec<(String, u64)> {
            c.run.payloads.iter().map(|p| (p.sha256.clone(), p.size)).collect()
        };
        assert_eq!(digests(r), digests(l), "{}: the same bytes, in the same order", l.run.name);
        assert_eq!(r.run.counts, l.run.counts);
        assert_eq!(r.facts, l.facts, "{}: replayed facts differ from the live ones", l.run.name);
    }
    live
}

fn tables(f: &Facts) -> Vec<&str> {
    f.routes.iter().map(|r| r.table.as_str()).collect()
}

/// An HTTPS device double trusted through the source's CA file; `answer` gets the request path.
async fn device(pki: &Pki, answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
    Server::start(pki, move |req, _| answer(&req.path)).await
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// Calico from the Kubernetes API double, read in pages of two.
#[tokio::test]
async fn calico_from_the_kubernetes_api_replays_to_the_same_facts() {
    install_crypto();
    const V1: &str = "crd.projectcalico.org/v1";
    let mut fake = FakeApi { group_versions: vec![V1], ..FakeApi::default() };
    let nodes = include_str!("../../tests/fixtures/calico/nodes-core-v1-kubectl.json");
    fake.collections.insert("/api/v1/nodes".into(), from_kubectl(nodes, "v1", "Node", true));
    for (plural, fixture, kind) in [
        ("bgppeers", include_str!("../../tests/fixtures/calico/bgppeers-v1-kubectl.json"), "BGPPeer"),
        (
            "bgpconfigurations",
            include_str!("../../tests/fixtures/calico/bgpconfiguration-mesh-off.json"),
            "BGPConfiguration",
        ),
        ("ippools", include_str!("../../tests/fixtures/calico/ippools-per-zone.json"), "IPPool"),
        (
            "blockaffinities",
            include_str!("../../tests/fixtures/calico/blockaffinities-v1-kubectl.json"),
            "BlockAffinity",
        ),
        (
            "caliconodestatuses",
            include_str!("../../tests/fixtures/calico/caliconodestatus-v1-kubectl.json"),
            "CalicoNodeStatus",
        ),
    ] {
        fake.collections.insert(format!("/apis/{V1}/{plural}"), from_kubectl(fixture, V1, kind, false));
    }
    let (server, _) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = server.kubeconfig(dir.path());
    let source = format!(
        "{{name: calico, kind: calico, kubernetes: {{kubeconfig: \"{}\", context: double, pageSize: 2}}, \
         timeout: 5s, retries: 0}}",
        kubeconfig.display()
    );
    let settings = load(dir.path(), ZONES, &[source]);
    let live = live_then_replay(&settings, dir.path()).await;

    let facts = &live[0].facts;
    let nodes: Vec<&str> = facts.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nodes, ["rr-a-1", "rr-a-2", "wk-a-1", "wk-a-2", "rr-b-1", "wk-b-1"], "every page");
    assert!(facts.bgp_peers.iter().any(|p| p.name == "zone-a-rr-to-leaf-vrf"));
    assert_eq!((facts.ip_pools.len(), facts.block_affinities.len()), (3, 4));
    assert!(facts.sessions.iter().any(|s| s.observer == "rr-a-1"), "CalicoNodeStatus sessions");
    let paged = server.lines().iter().filter(|l| l.starts_with("GET /api/v1/nodes")).count();
    assert_eq!(paged, 3, "six nodes in pages of two, recorded as one list");
}

/// BIRD 2 over its control socket and over `birdc -s SOCKET`, one real daemon for both.
#[tokio::test]
async fn bird_over_socket_and_birdc_replays_to_the_same_facts() {
    install_crypto();
    let bird = TestBird::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = bird.socket.display();
    let sources = [
        format!("{{name: rr-socket, kind: bird, socket: \"{socket}\", timeout: 5s, retries: 0}}"),
        format!(
            "{{name: rr-birdc, kind: bird, command: [birdc, -s, \"{socket}\"], timeout: 5s, retries: 0}}"
        ),
    ];
    let settings = load(dir.path(), ZONES, &sources);
    let live = live_then_replay(&settings, dir.path()).await;

    for c in &live {
        let names: Vec<&str> = c.payloads.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["show protocols all", "show route all table all"], "{}", c.run.name);
        let mut routes: Vec<(&str, String, &str, bool)> = c
            .facts
            .routes
            .iter()
            .map(|r| (r.table.as_str(), r.prefix.to_string(), r.protocol.as_str(), r.best))
            .collect();
        routes.sort();
        assert_eq!(
            routes,
            [
                ("blue", "10.20.0.0/26".to_string(), "static", true),
                ("master4", "10.10.0.0/26".to_string(), "static", true)
            ],
            "{}: both tables of the daemon",
            c.run.name
        );
        assert!(c.facts.routes.iter().all(|r| r.observer == c.run.name));
    }
}

/// FRR over the command transport; a stand-in for vtysh answers with the lab's captures.
#[tokio::test]
async fn frr_over_vtysh_replays_to_the_same_facts() {
    install_crypto();
    let dir = tempfile::tempdir().expect("tempdir");
    // `sh -c SCRIPT COMMAND`: the CLI command arrives as $0, as it would as vtysh's `-c` argument.
    let lab = fixture("frr/baseline");
    let script = format!(
        "case \"$0\" in \
         'show bgp vrf all summary json') cat {lab}/frr-show-bgp-vrf-all-summary.json;; \
         'show ip route vrf za-vrf-blue json') cat {lab}/frr-show-ip-route-vrf-blue.json;; \
         'show ip route vrf za-vrf-yellow json') cat {lab}/frr-show-ip-route-vrf-yellow.json;; \
         *) echo \"% Unknown command: $0\" >&2; exit 1;; esac",
        lab = lab.display()
    );
    let zones = concat!(
        "  yellow:\n    prefixes: [10.10.0.0/16]\n    vrf: za-vrf-yellow\n",
        "  blue:\n    prefixes: [10.20.0.0/16]\n    vrf: za-vrf-blue\n",
    );
    let source = format!("{{name: leaf, kind: frr, command: [sh, -c, {script:?}], timeout: 5s, retries: 0}}");
    let settings = load(dir.path(), zones, &[source]);
    let live = live_then_replay(&settings, dir.path()).await;

    let c = &live[0];
    let names: Vec<&str> = c.payloads.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "show bgp vrf all summary json",
            "show ip route vrf za-vrf-blue json",
            "show ip route vrf za-vrf-yellow json"
        ],
        "the summary, then one route table per zone VRF"
    );
    let blue = c
        .facts
        .routes
        .iter()
        .find(|r| r.table == "za-vrf-blue" && r.prefix.to_string() == "10.20.0.0/26")
        .expect("blue's own prefix");
    assert_eq!((blue.protocol.as_str(), blue.best), ("bgp", true));
    assert_eq!(blue.next_hops, ["172.31.102.1".parse::<std::net::IpAddr>().unwrap()]);
    let yellow = c
        .facts
        .sessions
        .iter()
        .find(|s| s.vrf.as_deref() == Some("za-vrf-yellow"))
        .expect("yellow's session");
    assert_eq!((yellow.peer_addr.to_string().as_str(), yellow.peer_asn), ("172.31.101.1", Some(64512)));
}

/// Arista eAPI: the `runCmds` envelope with the route table and BGP summary of every VRF.
#[tokio::test]
async fn eos_over_eapi_replays_to_the_same_facts() {
    install_crypto();
    let routes = include_str!("../../tests/fixtures/eos/eos-show-ip-route-vrf-all.json");
    let bgp = include_str!("../../tests/fixtures/eos/eos-show-ip-bgp-summary-vrf-all.json");
    let answer = format!(r#"{{"jsonrpc":"2.0","id":"zoneaudit-1","result":[{routes},{bgp}]}}"#);
    let pki = Pki::new();
    let server = device(&pki, move |_| Reply::json(answer.clone())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = load(dir.path(), ZONES, &[pki.source("leaf1", "eos", &server.url("/command-api"), "")]);
    let live = live_then_replay(&settings, dir.path()).await;

    let facts = &live[0].facts;
    assert!(facts.routes.iter().all(|r| r.observer == "leaf1"));
    assert!(facts.routes.iter().any(|r| r.table == "ZONE-PROD"), "{:?}", tables(facts));
    assert!(!facts.sessions.is_empty());
    assert_eq!(server.requests().len(), 1, "one runCmds call");
}

/// Cisco NX-API: the JSON-RPC batch answer, one reply per command.
#[tokio::test]
async fn nxos_over_nxapi_replays_to_the_same_facts() {
    install_crypto();
    let routes = include_str!("../../tests/fixtures/nxos/nxos-show-ip-route-vrf-all.json");
    let bgp = include_str!("../../tests/fixtures/nxos/nxos-show-bgp-vrf-all-ipv4-unicast-summary.json");
    let answer = format!(
        r#"[{{"jsonrpc":"2.0","result":{{"body":{routes}}},"id":1}},{{"jsonrpc":"2.0","result":{{"body":{bgp}}},"id":2}}]"#
    );
    let pki = Pki::new();
    let server = device(&pki, move |_| Reply::json(answer.clone())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = load(dir.path(), ZONES, &[pki.source("nx1", "nxos", &server.url("/ins"), "")]);
    let live = live_then_replay(&settings, dir.path()).await;

    let facts = &live[0].facts;
    assert_eq!((facts.routes.len(), facts.sessions.len()), (7, 4));
    assert!(facts.routes.iter().all(|r| r.observer == "nx1"));
}

/// Junos REST: one RPC per request, each answer its own payload.
#[tokio::test]
async fn junos_over_rest_replays_to_the_same_facts() {
    install_crypto();
    let pki = Pki::new();
    let server = device(&pki, |path| match path {
        "/rpc/get-route-information" => {
            Reply::json(include_str!("../../tests/fixtures/junos/junos-show-route-table-vrf.json"))
        }
        "/rpc/get-bgp-summary-information" => {
            Reply::json(include_str!("../../tests/fixtures/junos/junos-show-bgp-summary.json"))
        }
        _ => Reply::status(404, "<error>no such rpc</error>"),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = load(dir.path(), ZONES, &[pki.source("mx1", "junos", &server.url(""), "")]);
    let live = live_then_replay(&settings, dir.path()).await;

    let c = &live[0];
    let names: Vec<&str> = c.payloads.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["get-route-information", "get-bgp-summary-information"]);
    assert_eq!((c.facts.routes.len(), c.facts.sessions.len()), (4, 3));
    assert!(c.facts.routes.iter().all(|r| r.table == "ZONE-PROD" && r.observer == "mx1"));
}
