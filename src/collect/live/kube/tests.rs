use std::time::Duration;

use serde_json::{Value, json};

use super::double::{FakeApi, Frames, Server, calico_node_pod, exit_status, from_kubectl};
use super::*;
use crate::collect::{bird, calico};
use crate::config::{ExecSpec, SourceKind, Transport};

const NODES: &str = include_str!("../../../../tests/fixtures/calico/nodes-core-v1-kubectl.json");
const PEERS_V1: &str = include_str!("../../../../tests/fixtures/calico/bgppeers-v1-kubectl.json");
const PEERS_V3: &str = include_str!("../../../../tests/fixtures/calico/bgppeers-v3-api-list.json");
const BGP_CONFIG: &str = include_str!("../../../../tests/fixtures/calico/bgpconfiguration-mesh-off.json");
const POOLS: &str = include_str!("../../../../tests/fixtures/calico/ippools-per-zone.json");
const AFFINITIES: &str = include_str!("../../../../tests/fixtures/calico/blockaffinities-v1-kubectl.json");
const STATUSES_V1: &str = include_str!("../../../../tests/fixtures/calico/caliconodestatus-v1-kubectl.json");
const STATUSES_V3: &str = include_str!("../../../../tests/fixtures/calico/caliconodestatus-v3-api-list.json");
const BIRD_PROTOCOLS_RR: &str =
    include_str!("../../../../tests/fixtures/bird/birdcl-show-protocols-all-rr.txt");

const V1: &str = "crd.projectcalico.org/v1";
const V3: &str = "projectcalico.org/v3";

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The v1 CRD estate of the shared samples, as a KDD cluster serves it.
fn v1_cluster() -> FakeApi {
    let mut fake = FakeApi { group_versions: vec![V1], ..FakeApi::default() };
    fake.collections.insert("/api/v1/nodes".into(), from_kubectl(NODES, "v1", "Node", true));
    for (plural, fixture, kind) in [
        ("bgppeers", PEERS_V1, "BGPPeer"),
        ("bgpconfigurations", BGP_CONFIG, "BGPConfiguration"),
        ("ippools", POOLS, "IPPool"),
        ("blockaffinities", AFFINITIES, "BlockAffinity"),
        ("caliconodestatuses", STATUSES_V1, "CalicoNodeStatus"),
    ] {
        fake.collections.insert(format!("/apis/{V1}/{plural}"), from_kubectl(fixture, V1, kind, false));
    }
    fake
}

/// The same estate behind the Calico API server (v3), whose Calico predates v3 BlockAffinity.
fn v3_cluster() -> FakeApi {
    let mut fake = v1_cluster();
    fake.group_versions = vec![V1, V3];
    fake.v3_resources = vec!["bgppeers", "bgpconfigurations", "ippools", "caliconodestatuses"];
    let raw = |s: &str| serde_json::from_str::<Value>(s).expect("fixture");
    fake.collections.insert(format!("/apis/{V3}/bgppeers"), raw(PEERS_V3));
    fake.collections.insert(format!("/apis/{V3}/caliconodestatuses"), raw(STATUSES_V3));
    fake.collections.insert(
        format!("/apis/{V3}/bgpconfigurations"),
        from_kubectl(BGP_CONFIG, V3, "BGPConfiguration", false),
    );
    fake.collections.insert(format!("/apis/{V3}/ippools"), from_kubectl(POOLS, V3, "IPPool", false));
    fake
}

fn statuses_by_node() -> std::collections::HashMap<String, Value> {
    let doc: Value = serde_json::from_str(STATUSES_V1).expect("fixture");
    doc["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["spec"]["node"].as_str().expect("node").to_string(), i["status"].clone()))
        .collect()
}

fn kube_spec(
    server: &Server,
    dir: &tempfile::TempDir,
    group: ApiGroup,
    node_status: NodeStatusStrategy,
) -> KubernetesSpec {
    KubernetesSpec {
        access: KubeAccess {
            kubeconfig: Some(server.kubeconfig(dir.path())),
            context: Some("double".into()),
        },
        api_group: group,
        page_size: 2,
        node_status,
        node_status_timeout: Duration::from_secs(3),
    }
}

fn source(transport: Transport, timeout: Duration) -> SourceSpec {
    SourceSpec {
        name: "calico".into(),
        kind: SourceKind::Calico,
        observer: "cluster".into(),
        transport,
        connect_timeout: Duration::from_secs(2),
        timeout,
        retries: 0,
        vrfs: Vec::new(),
    }
}

const LIMITS: Limits = Limits { max_response_bytes: 1 << 20 };

async fn fetch(k: &KubernetesSpec, timeout: Duration, limits: Limits) -> Result<Vec<RawPayload>, FetchError> {
    install_crypto();
    let spec = source(Transport::Kubernetes(k.clone()), timeout);
    fetch_calico(k, &spec, limits).await
}

fn names(payloads: &[RawPayload]) -> Vec<&str> {
    payloads.iter().map(|p| p.name.as_str()).collect()
}

fn parse_all(payloads: &[RawPayload]) -> crate::model::Facts {
    let mut facts = crate::model::Facts::default();
    for p in payloads {
        facts.extend(calico::parse(&p.bytes).unwrap_or_else(|e| panic!("{}: {e}", p.name)));
    }
    facts
}

#[tokio::test]
async fn kdd_cluster_is_read_page_by_page_into_parsable_lists() {
    let (server, _) = v1_cluster().serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::Auto, NodeStatusStrategy::Existing);
    let payloads = fetch(&k, Duration::from_secs(5), LIMITS).await.expect("fetch");

    assert_eq!(
        names(&payloads),
        [
            "GET /api/v1/nodes",
            "GET /apis/crd.projectcalico.org/v1/bgppeers",
            "GET /apis/crd.projectcalico.org/v1/bgpconfigurations",
            "GET /apis/crd.projectcalico.org/v1/ippools",
            "GET /apis/crd.projectcalico.org/v1/blockaffinities",
            "GET /apis/crd.projectcalico.org/v1/caliconodestatuses",
        ]
    );
    let facts = parse_all(&payloads);
    let nodes: Vec<&str> = facts.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nodes, ["rr-a-1", "rr-a-2", "wk-a-1", "wk-a-2", "rr-b-1", "wk-b-1"], "all pages, in order");
    let peers: Vec<&str> = facts.bgp_peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        peers,
        [
            "zone-a-workers-to-rr",
            "zone-a-rr-mesh",
            "zone-a-rr-to-leaf-vrf",
            "zone-b-workers-to-rr",
            "zone-b-rr-mesh",
            "zone-b-rr-to-leaf-vrf"
        ]
    );
    assert_eq!(facts.ip_pools.len(), 3);
    assert_eq!(facts.block_affinities.len(), 4);
    assert!(facts.sessions.iter().any(|s| s.observer == "rr-a-1"), "node status sessions are read");
    assert!(facts.sessions.iter().any(|s| s.observer == "wk-a-1"));

    // Core list items come without apiVersion/kind; the payload carries them like kubectl does.
    let nodes_doc: Value = serde_json::from_slice(&payloads[0].bytes).expect("json");
    assert_eq!((nodes_doc["apiVersion"].as_str(), nodes_doc["kind"].as_str()), (Some("v1"), Some("List")));
    assert_eq!(
        (nodes_doc["items"][0]["apiVersion"].as_str(), nodes_doc["items"][0]["kind"].as_str()),
        (Some("v1"), Some("Node"))
    );

    let lines = server.lines();
    let node_requests: Vec<&String> = lines.iter().filter(|l| l.starts_with("GET /api/v1/nodes")).collect();
    assert_eq!(node_requests.len(), 3, "6 nodes in pages of 2: {node_requests:?}");
    assert_eq!(node_requests[0], "GET /api/v1/nodes?limit=2");
    assert!(node_requests[1].contains("continue="), "{}", node_requests[1]);
    assert_eq!(
        server.seen().iter().find(|r| r.path == "/api/v1/nodes").and_then(|r| r.header("authorization")),
        Some("Bearer test-token"),
        "the kubeconfig context's user"
    );
}

#[tokio::test]
async fn calico_api_server_is_preferred_and_block_affinities_fall_back_to_v1() {
    let (server, _) = v3_cluster().serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::Auto, NodeStatusStrategy::Existing);
    let payloads = fetch(&k, Duration::from_secs(5), LIMITS).await.expect("fetch");
    assert_eq!(
        names(&payloads),
        [
            "GET /api/v1/nodes",
            "GET /apis/projectcalico.org/v3/bgppeers",
            "GET /apis/projectcalico.org/v3/bgpconfigurations",
            "GET /apis/projectcalico.org/v3/ippools",
            "GET /apis/crd.projectcalico.org/v1/blockaffinities (projectcalico.org/v3 does not serve blockaffinities)",
            "GET /apis/projectcalico.org/v3/caliconodestatuses",
        ]
    );
    let facts = parse_all(&payloads);
    assert_eq!(facts.bgp_peers.len(), 6);
    let peers: Value = serde_json::from_slice(&payloads[1].bytes).expect("json");
    assert_eq!(peers["items"][0]["apiVersion"], V3, "peers as the API server converted them");
    assert_eq!(facts.block_affinities.len(), 4);

    // Configured v3 without discovery: the 404 of v3 blockaffinities sends it to v1.
    let k = kube_spec(&server, &dir, ApiGroup::V3, NodeStatusStrategy::None);
    let payloads = fetch(&k, Duration::from_secs(5), LIMITS).await.expect("fetch");
    assert_eq!(payloads.len(), 5, "no node status with strategy none");
    assert_eq!(
        payloads[4].name,
        "GET /apis/crd.projectcalico.org/v1/blockaffinities (projectcalico.org/v3 does not serve blockaffinities)"
    );
    assert!(server.lines().contains(&"GET /apis/projectcalico.org/v3/blockaffinities?limit=2".to_string()));
}

#[tokio::test]
async fn a_cluster_without_calico_is_a_permanent_error() {
    let (server, _) = FakeApi::default().serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::Auto, NodeStatusStrategy::None);
    let err = fetch(&k, Duration::from_secs(5), LIMITS).await.expect_err("no calico");
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "GET /apis: the API server serves neither projectcalico.org/v3 nor crd.projectcalico.org/v1: is \
         Calico installed with the Kubernetes datastore? (groups served: apps/v1)"
    );
}

#[tokio::test]
async fn forbidden_list_names_the_resource_and_the_missing_permission() {
    let mut fake = v1_cluster();
    fake.forbidden.push(format!("/apis/{V1}/bgppeers"));
    let (server, _) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::Auto, NodeStatusStrategy::None);
    let err = fetch(&k, Duration::from_secs(5), LIMITS).await.expect_err("403");
    assert!(!err.is_retryable(), "RBAC does not change on retry");
    assert_eq!(
        err.message(),
        "GET /apis/crd.projectcalico.org/v1/bgppeers: 403 Forbidden: bgppeers.crd.projectcalico.org is \
         forbidden: User \"system:serviceaccount:zoneaudit:zoneaudit\" cannot list resource \"bgppeers\" in \
         API group \"crd.projectcalico.org\" at the cluster scope"
    );
}

#[tokio::test]
async fn server_errors_and_slow_answers_are_retryable_and_name_the_request() {
    let mut fake = v1_cluster();
    fake.failing.push(format!("/apis/{V1}/ippools"));
    let (server, _) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, NodeStatusStrategy::None);
    let err = fetch(&k, Duration::from_secs(5), LIMITS).await.expect_err("500");
    assert!(err.is_retryable());
    assert_eq!(
        err.message(),
        "GET /apis/crd.projectcalico.org/v1/ippools: 500 InternalError: Internal error occurred: etcdserver: \
         request timed out"
    );

    let mut fake = v1_cluster();
    fake.slow.push((format!("/apis/{V1}/bgpconfigurations"), Duration::from_secs(5)));
    let (server, _) = fake.serve().await;
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, NodeStatusStrategy::None);
    let started = std::time::Instant::now();
    let err = fetch(&k, Duration::from_millis(400), LIMITS).await.expect_err("slow");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up at the timeout, not when the server answered"
    );
    assert!(err.is_retryable());
    assert_eq!(err.message(), "GET /apis/crd.projectcalico.org/v1/bgpconfigurations: no answer within 400ms");
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused() {
    let (server, _) = v1_cluster().serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, NodeStatusStrategy::None);
    let err =
        fetch(&k, Duration::from_secs(5), Limits { max_response_bytes: 1500 }).await.expect_err("limit");
    assert!(!err.is_retryable(), "{}", err.message());
    assert_eq!(
        err.message(),
        "GET /api/v1/nodes: the answer is larger than the response limit of 1500 bytes"
    );
}

#[tokio::test]
async fn an_expired_continue_token_restarts_the_list_once() {
    let fake = v1_cluster();
    *fake.expire_continues.lock().expect("lock") = 1;
    let (server, _) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, NodeStatusStrategy::None);
    let payloads = fetch(&k, Duration::from_secs(5), LIMITS).await.expect("restarted");
    let nodes: Vec<String> = parse_all(&payloads[..1]).nodes.into_iter().map(|n| n.name).collect();
    assert_eq!(
        nodes,
        ["rr-a-1", "rr-a-2", "wk-a-1", "wk-a-2", "rr-b-1", "wk-b-1"],
        "no page twice, none lost"
    );
    let node_requests: Vec<String> =
        server.lines().into_iter().filter(|l| l.starts_with("GET /api/v1/nodes")).collect();
    assert_eq!(node_requests.len(), 5, "first page, expired continue, then three pages: {node_requests:?}");
    assert_eq!(node_requests[2], "GET /api/v1/nodes?limit=2", "started over without the token");

    let fake = v1_cluster();
    *fake.expire_continues.lock().expect("lock") = 2;
    let (server, _) = fake.serve().await;
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, NodeStatusStrategy::None);
    let err = fetch(&k, Duration::from_secs(5), LIMITS).await.expect_err("expired twice");
    assert!(err.is_retryable());
    assert!(
        err.message()
            .starts_with("GET /api/v1/nodes: 410 Expired: The provided continue parameter is too old"),
        "{}",
        err.message()
    );
    assert!(
        err.message()
            .ends_with("(the list was already started over once; it changes faster than it can be paged)")
    );
}

/// The node-status objects the double saw deleted, and the ones it saw created.
fn created_and_deleted(server: &Server) -> (Vec<String>, Vec<String>) {
    let seen = server.seen();
    let created = seen
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("body")["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_string()
        })
        .collect();
    let deleted = seen
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.rsplit('/').next().expect("name").to_string())
        .collect();
    (created, deleted)
}

fn ephemeral(nodes: &[&str]) -> NodeStatusStrategy {
    NodeStatusStrategy::Ephemeral { nodes: nodes.iter().map(|n| n.to_string()).collect() }
}

#[tokio::test]
async fn ephemeral_node_status_is_read_when_it_arrives_and_then_deleted() {
    let mut fake = v1_cluster();
    fake.status_of = statuses_by_node();
    fake.status_after_polls = [("wk-a-1".to_string(), 2), ("rr-a-1".to_string(), 1)].into();
    let (server, fake) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::Auto, ephemeral(&["wk-a-1", "rr-a-1"]));
    let payloads = fetch(&k, Duration::from_secs(10), LIMITS).await.expect("fetch");
    let status = payloads.last().expect("status payload");
    assert_eq!(
        status.name,
        "GET /apis/crd.projectcalico.org/v1/caliconodestatuses (ephemeral for wk-a-1, rr-a-1)"
    );
    let facts = calico::parse(&status.bytes).expect("parse");
    let mut observers: Vec<&str> = facts.sessions.iter().map(|s| s.observer.as_str()).collect();
    observers.dedup();
    assert_eq!(observers, ["wk-a-1", "rr-a-1"]);

    let post = server.seen().into_iter().find(|r| r.method == "POST").expect("create");
    let body: Value = serde_json::from_slice(&post.body).expect("json");
    assert_eq!(
        body["spec"],
        json!({"node": "wk-a-1", "classes": ["Agent", "BGP", "Routes"], "updatePeriodSeconds": 10})
    );
    assert!(body["metadata"]["name"].as_str().expect("name").starts_with("zoneaudit-wk-a-1-"));
    let (created, deleted) = created_and_deleted(&server);
    assert_eq!(created.len(), 2);
    assert_eq!(deleted, created, "every status created is deleted");
    assert!(fake.node_statuses.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn ephemeral_node_status_is_deleted_on_timeout() {
    let mut fake = v1_cluster();
    fake.status_of = statuses_by_node();
    fake.status_after_polls = [("wk-a-1".to_string(), 1)].into();
    let (server, fake) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut k = kube_spec(&server, &dir, ApiGroup::CrdV1, ephemeral(&["wk-a-1", "wk-a-3"]));
    k.node_status_timeout = Duration::from_millis(1500);
    let payloads = fetch(&k, Duration::from_secs(10), LIMITS).await.expect("partial");
    let status = payloads.last().expect("status payload");
    assert_eq!(
        status.name,
        "GET /apis/crd.projectcalico.org/v1/caliconodestatuses (ephemeral for wk-a-1, wk-a-3; no status within 1s 500ms: wk-a-3)"
    );
    let facts = calico::parse(&status.bytes).expect("parse");
    assert!(facts.sessions.iter().all(|s| s.observer == "wk-a-1") && !facts.sessions.is_empty());
    let (created, deleted) = created_and_deleted(&server);
    assert_eq!(deleted, created, "the late one is deleted too");
    assert!(fake.node_statuses.lock().expect("lock").is_empty());

    // Nothing arrives: the fetch fails, and still deletes.
    let mut fake = v1_cluster();
    fake.status_of = statuses_by_node();
    let (server, _) = fake.serve().await;
    let mut k = kube_spec(&server, &dir, ApiGroup::CrdV1, ephemeral(&["wk-a-3"]));
    k.node_status_timeout = Duration::from_millis(1200);
    let err = fetch(&k, Duration::from_secs(10), LIMITS).await.expect_err("nothing arrived");
    assert!(err.is_retryable());
    assert_eq!(
        err.message(),
        "GET /apis/crd.projectcalico.org/v1/caliconodestatuses: no CalicoNodeStatus got a status within 1s 200ms \
         (nodes wk-a-3); is calico-node running there?"
    );
    let (created, deleted) = created_and_deleted(&server);
    assert_eq!((created.len(), deleted), (1, created.clone()));
}

#[tokio::test]
async fn ephemeral_node_status_is_deleted_on_error() {
    let mut fake = v1_cluster();
    fake.status_of = statuses_by_node();
    fake.forbid_status_get = true;
    let (server, fake) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, ephemeral(&["wk-a-1"]));
    let err = fetch(&k, Duration::from_secs(10), LIMITS).await.expect_err("403 on get");
    assert!(!err.is_retryable());
    let (created, deleted) = created_and_deleted(&server);
    assert_eq!(created.len(), 1);
    assert_eq!(
        err.message(),
        format!(
            "GET /apis/crd.projectcalico.org/v1/caliconodestatuses/{}: 403 Forbidden: \
             caliconodestatuses.crd.projectcalico.org \"{}\" is forbidden: User \
             \"system:serviceaccount:zoneaudit:zoneaudit\" cannot get resource \"caliconodestatuses\" in API \
             group \"crd.projectcalico.org\" at the cluster scope",
            created[0], created[0]
        )
    );
    assert_eq!(deleted, created);
    assert!(fake.node_statuses.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn ephemeral_node_status_is_deleted_when_the_fetch_is_cancelled() {
    let mut fake = v1_cluster();
    fake.status_of = statuses_by_node();
    let (server, fake) = fake.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let k = kube_spec(&server, &dir, ApiGroup::CrdV1, ephemeral(&["wk-a-3"]));
    install_crypto();
    let spec = source(Transport::Kubernetes(k.clone()), Duration::from_secs(10));
    // The source's outer timeout drops the fetch while it polls.
    let cut = tokio::time::timeout(Duration::from_millis(1500), fetch_calico(&k, &spec, LIMITS)).await;
    assert!(cut.is_err());
    for _ in 0..50 {
        if fake.node_statuses.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (created, deleted) = created_and_deleted(&server);
    assert_eq!((created.len(), deleted), (1, created.clone()));
}

// --- exec -----------------------------------------------------------------------------------

fn exec_spec(server: &Server, dir: &tempfile::TempDir, node: &str) -> ExecSpec {
    ExecSpec {
        access: KubeAccess {
            kubeconfig: Some(server.kubeconfig(dir.path())),
            context: Some("double".into()),
        },
        namespace: "calico-system".into(),
        label_selector: "k8s-app=calico-node".into(),
        node: node.into(),
        container: None,
        command: ["birdcl", "-s", "/var/run/calico/bird.ctl"].map(String::from).to_vec(),
    }
}

fn exec_cluster(replies: Vec<(&str, Frames)>) -> FakeApi {
    FakeApi {
        pods: vec![
            calico_node_pod("calico-node-old", "rr-a-1", "Failed"),
            calico_node_pod("calico-node-7xk2p", "rr-a-1", "Running"),
            calico_node_pod("calico-node-q9wz4", "wk-a-1", "Running"),
        ],
        exec_replies: replies.into_iter().map(|(c, f)| (c.to_string(), f)).collect(),
        ..FakeApi::default()
    }
}

async fn exec(e: &ExecSpec, commands: &[&str], limits: Limits) -> Result<Vec<RawPayload>, FetchError> {
    install_crypto();
    let mut spec = source(Transport::Exec(e.clone()), Duration::from_secs(10));
    spec.kind = SourceKind::Bird;
    exec_fetch(e, commands, &spec, limits).await
}

#[tokio::test]
async fn exec_runs_birdcl_in_the_calico_node_pod_of_the_node() {
    // stdout split over frames at arbitrary points, as the kubelet streams it.
    let text = BIRD_PROTOCOLS_RR.as_bytes();
    let frames = text.chunks(700).map(|c| (1u8, c.to_vec())).chain([(3u8, exit_status(0))]).collect();
    let (server, _) = exec_cluster(vec![("show protocols all", frames)]).serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let e = exec_spec(&server, &dir, "rr-a-1");
    let payloads = exec(&e, &["show protocols all"], LIMITS).await.expect("exec");

    assert_eq!(names(&payloads), ["birdcl -s /var/run/calico/bird.ctl show protocols all"]);
    assert_eq!(payloads[0].bytes, text, "stdout byte for byte");
    let facts =
        bird::parse("rr-a-1", std::str::from_utf8(&payloads[0].bytes).expect("utf-8")).expect("parse");
    assert!(
        facts
            .sessions
            .iter()
            .any(|s| s.protocol.as_deref() == Some("Node_10_10_1_21") && s.state == "Established")
    );

    let seen = server.seen();
    let list = seen.iter().find(|r| r.path == "/api/v1/namespaces/calico-system/pods").expect("pod list");
    assert_eq!(list.param("labelSelector"), Some("k8s-app=calico-node"));
    assert_eq!(list.param("fieldSelector"), Some("spec.nodeName=rr-a-1"));
    let exec = seen.iter().find(|r| r.path.ends_with("/exec")).expect("exec");
    assert_eq!(exec.path, "/api/v1/namespaces/calico-system/pods/calico-node-7xk2p/exec", "the running pod");
    assert_eq!(exec.params("command"), ["birdcl", "-s", "/var/run/calico/bird.ctl", "show protocols all"]);
    assert_eq!(exec.param("container"), Some("calico-node"), "the pod's first container");
    assert!(exec.header("sec-websocket-protocol").is_some_and(|p| p.contains("v4.channel.k8s.io")));
}

#[tokio::test]
async fn exec_failures_say_what_the_command_said() {
    let failing = vec![
        (2u8, b"Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory\n".to_vec()),
        (3u8, exit_status(3)),
    ];
    let big = vec![(1u8, vec![b'x'; 5000]), (3u8, exit_status(0))];
    let (server, _) =
        exec_cluster(vec![("show protocols all", failing), ("show route all", big)]).serve().await;
    let dir = tempfile::tempdir().expect("tempdir");

    let e = exec_spec(&server, &dir, "wk-a-1");
    let err = exec(&e, &["show protocols all"], LIMITS).await.expect_err("exit 3");
    assert!(err.is_retryable(), "BIRD may be restarting");
    assert_eq!(
        err.message(),
        "exec in calico-system/calico-node-q9wz4 (calico-node) `birdcl -s /var/run/calico/bird.ctl show protocols \
         all`: exited with status 3; stderr: Unable to connect to server control socket \
         (/var/run/calico/bird.ctl): No such file or directory"
    );

    let err = exec(&e, &["show status"], LIMITS).await.expect_err("exit 127");
    assert!(!err.is_retryable());
    assert!(
        err.message().ends_with("exited with status 127; stderr: show status: not found"),
        "{}",
        err.message()
    );

    let err = exec(&e, &["show route all"], Limits { max_response_bytes: 1000 }).await.expect_err("limit");
    assert!(!err.is_retryable(), "{}", err.message());
    assert!(
        err.message().ends_with("the answer is larger than the response limit of 1000 bytes"),
        "{}",
        err.message()
    );

    let e = exec_spec(&server, &dir, "wk-b-9");
    let err = exec(&e, &["show protocols all"], LIMITS).await.expect_err("no pod");
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "GET /api/v1/namespaces/calico-system/pods?labelSelector=k8s-app=calico-node&fieldSelector=spec.nodeName=wk-b-9: \
         no pod in namespace calico-system matches \"k8s-app=calico-node\" on node wk-b-9"
    );
}
