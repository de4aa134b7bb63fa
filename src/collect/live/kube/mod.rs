//! Kubernetes transport: Calico resources through the API server, and `exec` into calico-node.
//!
//! ```text
//!  KubeAccess ──▶ Client (kubeconfig + context | in-cluster service account | default kubeconfig)
//!
//!  fetch_calico:  discovery (/apis) ──▶ group: projectcalico.org/v3 if served, else crd.projectcalico.org/v1
//!                 GET /api/v1/nodes                      ┐ every list paged (`limit`, `continue`),
//!                 GET /apis/<group>/bgppeers, …          ├─▶ one payload each:
//!                 caliconodestatuses (existing|ephemeral)┘   {"apiVersion":"v1","kind":"List","items":[…]}
//!
//!  exec_fetch:    pod of (namespace, labelSelector, spec.nodeName) ──▶ exec `command… <cli command>`
//!                 ──▶ one payload per command: its stdout, byte for byte
//! ```
//!
//! A payload is what `kubectl get X -o json` would print for the whole collection: the items
//! exactly as the API server returned them, each with its `apiVersion` and `kind` (typed lists
//! such as `NodeList` leave them out of their items, so they are filled in from the list). The
//! replay form of the source holds the same documents, so `calico::parse` reads both alike.
//!
//! Pages are fetched with raw requests, not `Api<DynamicObject>`, because a typed round trip would
//! reorder and drop fields and evidence must quote what the cluster said. A list that outlives its
//! `continue` token (410 Expired) is started over once: the inconsistent continuation the server
//! offers would mix two resource versions in one snapshot.
//!
//! Errors name the request (`GET /apis/…/bgppeers`) and carry the API server's `Status`
//! (`code`, `reason`, `message`); 4xx other than 408/410/429 are permanent, everything else may pass
//! on a retry.

mod exec;
mod node_status;

#[cfg(test)]
pub(crate) mod double;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

use ::kube::api::{DeleteParams, GetParams, ListParams, PostParams};
use ::kube::client::Body;
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::core::Request;
use ::kube::{Client, Config};
use serde_json::{Map, Value};

use super::{FetchError, Limits, RawPayload};
use crate::config::{ApiGroup, KubeAccess, KubernetesSpec, NodeStatusStrategy, SourceSpec};

pub use exec::exec_fetch;

const CALICO_V3: &str = "projectcalico.org/v3";
const CALICO_V1: &str = "crd.projectcalico.org/v1";

/// The Calico collections read besides node status, in payload order.
const CALICO_COLLECTIONS: [&str; 4] = ["bgppeers", "bgpconfigurations", "ippools", "blockaffinities"];

/// Served only by newer Calico in `projectcalico.org/v3`; older ones keep it as a v1 CRD.
const BLOCK_AFFINITIES: &str = "blockaffinities";

/// Read the Calico view of the cluster: nodes, BGP peers and configuration, IP pools, block
/// affinities and (by the strategy) CalicoNodeStatus, one list document per collection.
pub async fn fetch_calico(
    k: &KubernetesSpec,
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let cluster = Cluster::connect(&k.access, spec, limits).await?;
    let group = cluster.calico_group(k.api_group).await?;
    let mut payloads = vec![cluster.list_payload("/api/v1/nodes", k.page_size, None).await?];
    for plural in CALICO_COLLECTIONS {
        let path = format!("/apis/{}/{plural}", group.group_version);
        if plural == BLOCK_AFFINITIES && group.group_version == CALICO_V3 {
            payloads.push(cluster.block_affinities_v3(&group, k.page_size).await?);
        } else {
            payloads.push(cluster.list_payload(&path, k.page_size, None).await?);
        }
    }
    let statuses = format!("/apis/{}/caliconodestatuses", group.group_version);
    match &k.node_status {
        NodeStatusStrategy::None => {}
        NodeStatusStrategy::Existing => {
            payloads.push(cluster.list_payload(&statuses, k.page_size, None).await?)
        }
        NodeStatusStrategy::Ephemeral { nodes } => {
            payloads.push(
                node_status::ephemeral(&cluster, group.group_version, nodes, k.node_status_timeout).await?,
            );
        }
    }
    Ok(payloads)
}

/// The Calico API group a run reads, and (when discovery was asked) the collections it serves.
struct CalicoGroup {
    group_version: &'static str,
    served: Option<Vec<String>>,
}

/// A connected client plus the per-request bounds of its source.
#[derive(Clone)]
struct Cluster {
    client: Client,
    /// Longest wait for one answer (the source's `timeout`).
    timeout: Duration,
    max_bytes: u64,
}

/// One raw API operation on a collection path.
enum Op<'a> {
    List(&'a ListParams),
    Get(&'a str),
    Create(Vec<u8>),
    Delete(&'a str),
}

/// How one API call failed, before it is given the request it belongs to.
#[derive(Debug, Clone, PartialEq)]
enum CallError {
    /// The API server answered with an error `Status` (or an error code and some other body).
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer: refused, reset, TLS, DNS.
    Transport(String),
    Timeout(Duration),
    TooLarge(u64),
    /// An answer that is not the JSON the API promises.
    Malformed(String),
}

impl CallError {
    fn code(&self) -> Option<u16> {
        match self {
            CallError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn from_kube(e: ::kube::Error) -> CallError {
        match e {
            ::kube::Error::Api(s) => CallError::Status { code: s.code, reason: s.reason, message: s.message },
            other => CallError::Transport(error_chain(&other)),
        }
    }

    /// The error of request `what`, marked permanent when a retry cannot change the answer.
    fn into_fetch(self, what: &str) -> FetchError {
        match self {
            CallError::Status { code, reason, message } => {
                let reason = if reason.is_empty() { String::new() } else { format!(" {reason}") };
                let text = format!("{what}: {code}{reason}: {}", message.trim());
                // 410 Gone: the list moved on (expired continue); a fresh list may get through.
                if (400..500).contains(&code) && ![408, 410, 429].contains(&code) {
                    FetchError::permanent(text)
                } else {
                    FetchError::new(text)
                }
            }
            CallError::Transport(m) => FetchError::new(format!("{what}: {m}")),
            CallError::Timeout(d) => {
                FetchError::new(format!("{what}: no answer within {}", humantime::format_duration(d)))
            }
            CallError::TooLarge(limit) => FetchError::permanent(format!(
                "{what}: the answer is larger than the response limit of {limit} bytes"
            )),
            CallError::Malformed(m) => FetchError::permanent(format!("{what}: {m}")),
        }
    }
}

/// An error with its causes, which is where hyper and rustls say what actually went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// A Kubernetes client for `access`: an explicit kubeconfig (and context), else the pod's service
/// account, else the default kubeconfig (`$KUBECONFIG`, `~/.kube/config`), with `context` if given.
async fn kube_config(access: &KubeAccess) -> Result<Config, FetchError> {
    let options = KubeConfigOptions { context: access.context.clone(), ..Default::default() };
    let context = access.context.as_deref().map(|c| format!(" (context {c:?})")).unwrap_or_default();
    if let Some(path) = &access.kubeconfig {
        let file = Kubeconfig::read_from(path).map_err(|e| {
            FetchError::permanent(format!("kubeconfig {}: {}", path.display(), error_chain(&e)))
        })?;
        return Config::from_custom_kubeconfig(file, &options).await.map_err(|e| {
            FetchError::permanent(format!("kubeconfig {}{context}: {}", path.display(), error_chain(&e)))
        });
    }
    if access.context.is_none()
        && let Ok(config) = Config::incluster()
    {
        return Ok(config);
    }
    Config::from_kubeconfig(&options).await.map_err(|e| {
        FetchError::permanent(format!(
            "no kubeconfig given, no in-cluster service account, and the default kubeconfig{context} \
             is not usable: {}",
            error_chain(&e)
        ))
    })
}

impl Cluster {
    async fn connect(access: &KubeAccess, spec: &SourceSpec, limits: Limits) -> Result<Self, FetchError> {
        let mut config = kube_config(access).await?;
        config.connect_timeout = Some(spec.connect_timeout);
        // Each request is bounded by `timeout` below, with the request named in the error.
        config.read_timeout = None;
        // Retries belong to the source (bounded, with backoff, and counted in the report).
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| {
            FetchError::permanent(format!("Kubernetes client for {server}: {}", error_chain(&e)))
        })?;
        Ok(Cluster { client, timeout: spec.timeout, max_bytes: limits.max_response_bytes })
    }

    /// Await an API future with the per-request timeout.
    async fn timed<T>(&self, fut: impl Future<Output = Result<T, ::kube::Error>>) -> Result<T, CallError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(CallError::from_kube),
            Err(_) => Err(CallError::Timeout(self.timeout)),
        }
    }

    /// One raw request on `path`; the body of a 2xx answer, else the API server's `Status`.
    async fn call(&self, path: &str, op: Op<'_>) -> Result<Vec<u8>, CallError> {
        let builder = Request::new(path);
        let request = match op {
            Op::List(lp) => builder.list(lp),
            Op::Get(name) => builder.get(name, &GetParams::default()),
            Op::Create(body) => builder.create(&PostParams::default(), body),
            Op::Delete(name) => builder.delete(name, &DeleteParams::default()),
        }
        .map_err(|e| CallError::Malformed(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self.client.send(request.map(Body::from)).await.map_err(CallError::from_kube)?;
            let code = response.status().as_u16();
            let declared = response
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > self.max_bytes) {
                return Err(CallError::TooLarge(self.max_bytes));
            }
            let body = response.into_body().collect_bytes().await.map_err(CallError::from_kube)?;
            if body.len() as u64 > self.max_bytes {
                return Err(CallError::TooLarge(self.max_bytes));
            }
            if (200..300).contains(&code) {
                return Ok(body.to_vec());
            }
            Err(status_error(code, &body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(self.timeout)),
        }
    }

    /// Every item of a collection, page by page, in the server's order; each item carries its
    /// `apiVersion` and `kind`.
    async fn list_all(&self, path: &str, page_size: u32) -> Result<Vec<Value>, CallError> {
        let mut restarted = false;
        'list: loop {
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            let mut bytes = 0u64;
            loop {
                let mut params = ListParams::default().limit(page_size);
                if let Some(t) = &token {
                    params = params.continue_token(t);
                }
                let page = match self.call(path, Op::List(&params)).await {
                    Ok(page) => page,
                    Err(e) if e.code() == Some(410) && token.is_some() => {
                        if let (true, CallError::Status { code, reason, message }) = (restarted, &e) {
                            return Err(CallError::Status {
                                code: *code,
                                reason: reason.clone(),
                                message: format!(
                                    "{} (the list was already started over once; it changes faster than it \
                                     can be paged)",
                                    message.trim()
                                ),
                            });
                        }
                        tracing::info!(path, "continue token expired; listing again from the start");
                        restarted = true;
                        continue 'list;
                    }
                    Err(e) => return Err(e),
                };
                bytes += page.len() as u64;
                if bytes > self.max_bytes {
                    return Err(CallError::TooLarge(self.max_bytes));
                }
                token = read_page(&page, &mut items).map_err(CallError::Malformed)?;
                if token.is_none() {
                    return Ok(items);
                }
            }
        }
    }

    /// A whole collection as one payload named by its request (plus `note`).
    async fn list_payload(
        &self,
        path: &str,
        page_size: u32,
        note: Option<&str>,
    ) -> Result<RawPayload, FetchError> {
        let items = self.list_all(path, page_size).await.map_err(|e| e.into_fetch(&format!("GET {path}")))?;
        let name = match note {
            Some(n) => format!("GET {path} ({n})"),
            None => format!("GET {path}"),
        };
        Ok(RawPayload::new(name, list_document(items)))
    }

    /// The group to read: as configured, or by discovery.
    async fn calico_group(&self, wanted: ApiGroup) -> Result<CalicoGroup, FetchError> {
        match wanted {
            ApiGroup::CrdV1 => return Ok(CalicoGroup { group_version: CALICO_V1, served: None }),
            ApiGroup::V3 => return Ok(CalicoGroup { group_version: CALICO_V3, served: None }),
            ApiGroup::Auto => {}
        }
        let groups =
            self.timed(self.client.list_api_groups()).await.map_err(|e| e.into_fetch("GET /apis"))?;
        let offered: Vec<&str> =
            groups.groups.iter().flat_map(|g| g.versions.iter().map(|v| v.group_version.as_str())).collect();
        if offered.contains(&CALICO_V3) {
            let what = format!("GET /apis/{CALICO_V3}");
            let resources = self
                .timed(self.client.list_api_group_resources(CALICO_V3))
                .await
                .map_err(|e| e.into_fetch(&what))?;
            // Subresources (`caliconodestatuses/status`) are not collections.
            let served: Vec<String> =
                resources.resources.into_iter().map(|r| r.name).filter(|n| !n.contains('/')).collect();
            // An API server or v3 CRDs that do not serve BGP peers cannot stand in for the v1 CRDs.
            if served.iter().any(|n| n == "bgppeers") {
                return Ok(CalicoGroup { group_version: CALICO_V3, served: Some(served) });
            }
        }
        if offered.contains(&CALICO_V1) {
            return Ok(CalicoGroup { group_version: CALICO_V1, served: None });
        }
        Err(FetchError::permanent(format!(
            "GET /apis: the API server serves neither {CALICO_V3} nor {CALICO_V1}: is Calico installed \
             with the Kubernetes datastore? (groups served: {})",
            if offered.is_empty() { "none".to_string() } else { offered.join(", ") }
        )))
    }

    /// BlockAffinity in v3, or from the v1 CRD where this Calico does not serve it in v3.
    async fn block_affinities_v3(
        &self,
        group: &CalicoGroup,
        page_size: u32,
    ) -> Result<RawPayload, FetchError> {
        let v3 = format!("/apis/{CALICO_V3}/{BLOCK_AFFINITIES}");
        let v1 = format!("/apis/{CALICO_V1}/{BLOCK_AFFINITIES}");
        let note = format!("{CALICO_V3} does not serve {BLOCK_AFFINITIES}");
        if let Some(served) = &group.served
            && !served.iter().any(|n| n == BLOCK_AFFINITIES)
        {
            return self.list_payload(&v1, page_size, Some(&note)).await;
        }
        match self.list_all(&v3, page_size).await {
            Ok(items) => Ok(RawPayload::new(format!("GET {v3}"), list_document(items))),
            Err(e) if e.code() == Some(404) => self.list_payload(&v1, page_size, Some(&note)).await,
            Err(e) => Err(e.into_fetch(&format!("GET {v3}"))),
        }
    }
}

/// The error of a non-2xx answer: its `Status` when the body is one, else the code and the start
/// of whatever came back (a proxy's HTML page, a bare text).
fn status_error(code: u16, body: &[u8]) -> CallError {
    if let Ok(status) = serde_json::from_slice::<::kube::core::Status>(body)
        && (!status.message.is_empty() || !status.reason.is_empty())
    {
        return CallError::Status {
            code: if status.code == 0 { code } else { status.code },
            reason: status.reason,
            message: status.message,
        };
    }
    let text: String = String::from_utf8_lossy(body).trim().chars().take(300).collect();
    CallError::Status { code, reason: String::new(), message: text }
}

/// Append one page's items (with `apiVersion`/`kind` filled in) and return its continue token.
fn read_page(page: &[u8], items: &mut Vec<Value>) -> Result<Option<String>, String> {
    let doc: Value = serde_json::from_slice(page).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let Some(root) = doc.as_object() else {
        return Err("the answer is not a Kubernetes list object".to_string());
    };
    let api_version = root.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let item_kind =
        root.get("kind").and_then(Value::as_str).and_then(|k| k.strip_suffix("List")).unwrap_or_default();
    let page_items = match root.get("items") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err("/items is not an array".to_string()),
    };
    for (i, item) in page_items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            return Err(format!("/items/{i} is not an object"));
        };
        items.push(Value::Object(with_type_meta(obj, api_version, item_kind)));
    }
    let token = root
        .get("metadata")
        .and_then(|m| m.get("continue"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok(token)
}

/// The object with `apiVersion` and `kind` first, taken from the list where the item has none.
fn with_type_meta(obj: &Map<String, Value>, api_version: &str, kind: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, default) in [("apiVersion", api_version), ("kind", kind)] {
        match obj.get(key) {
            Some(v) => {
                out.insert(key.to_string(), v.clone());
            }
            None if !default.is_empty() => {
                out.insert(key.to_string(), Value::String(default.to_string()));
            }
            None => {}
        }
    }
    for (k, v) in obj {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// The payload bytes: the `List` document `kubectl get -o json` prints.
fn list_document(items: Vec<Value>) -> Vec<u8> {
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), Value::String("v1".into()));
    doc.insert("kind".into(), Value::String("List".into()));
    doc.insert("items".into(), Value::Array(items));
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(doc)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
