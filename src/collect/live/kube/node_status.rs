//! Ephemeral CalicoNodeStatus: ask calico-node on a few nodes for their BIRD state through the API.
//!
//! ```text
//!  POST zoneaudit-<node>-<suffix> {spec: node, classes [Agent BGP Routes], updatePeriodSeconds 10}
//!   └─▶ GET every second until status.lastUpdated is set or the timeout ──▶ DELETE (always)
//! ```
//!
//! The objects are deleted on every path: success, timeout, error, and when the whole fetch is
//! cancelled (its outer timeout drops this future): a guard then deletes them from a spawned task,
//! because a status left behind keeps calico-node writing to the API server every 10 s.

use std::time::Duration;

use serde_json::{Value, json};

use super::{CallError, Cluster, Op, list_document};
use crate::collect::live::{FetchError, RawPayload};

const POLL: Duration = Duration::from_secs(1);
const UPDATE_PERIOD_SECONDS: u32 = 10;

/// Create one status per node, wait for them, read them and delete them.
///
/// Statuses that do not arrive in time are left out and named in the payload's name, and the
/// fetch fails only when none arrived: one slow node then costs its own sessions, not the
/// cluster's configuration read with it; the missing node shows as an evidence gap downstream.
pub(super) async fn ephemeral(
    cluster: &Cluster,
    group_version: &str,
    nodes: &[String],
    timeout: Duration,
) -> Result<RawPayload, FetchError> {
    let path = format!("/apis/{group_version}/caliconodestatuses");
    let mut created = Created { cluster: cluster.clone(), path: path.clone(), names: Vec::new() };
    let outcome = create_and_wait(cluster, group_version, &path, nodes, timeout, &mut created.names).await;
    let leaked = created.delete_all().await;
    if !leaked.is_empty() {
        tracing::warn!(path, objects = ?leaked, "could not delete CalicoNodeStatus objects zoneaudit created");
    }
    let arrived = outcome?;
    let missing: Vec<&str> =
        nodes.iter().filter(|n| !arrived.iter().any(|(node, _)| node == *n)).map(String::as_str).collect();
    let waited = humantime::format_duration(timeout);
    if arrived.is_empty() {
        return Err(FetchError::new(format!(
            "GET {path}: no CalicoNodeStatus got a status within {waited} (nodes {}); is calico-node running there?",
            nodes.join(", ")
        )));
    }
    let mut name = format!("GET {path} (ephemeral for {}", nodes.join(", "));
    if !missing.is_empty() {
        name.push_str(&format!("; no status within {waited}: {}", missing.join(", ")));
    }
    name.push(')');
    Ok(RawPayload::new(name, list_document(arrived.into_iter().map(|(_, obj)| obj).collect())))
}

/// Create the statuses (recording each name before anything else can fail) and poll them.
/// Returns `(node, object)` in the order of `nodes`.
async fn create_and_wait(
    cluster: &Cluster,
    group_version: &str,
    path: &str,
    nodes: &[String],
    timeout: Duration,
    names: &mut Vec<String>,
) -> Result<Vec<(String, Value)>, FetchError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending: Vec<(String, String)> = Vec::new();
    for node in nodes {
        let name = object_name(node);
        let body = json!({
            "apiVersion": group_version,
            "kind": "CalicoNodeStatus",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "zoneaudit"}},
            "spec": {"node": node, "classes": ["Agent", "BGP", "Routes"], "updatePeriodSeconds": UPDATE_PERIOD_SECONDS},
        });
        // Recorded first: a create that timed out may still have happened.
        names.push(name.clone());
        cluster
            .call(path, Op::Create(body.to_string().into_bytes()))
            .await
            .map_err(|e| e.into_fetch(&format!("POST {path} (status of node {node})")))?;
        pending.push((node.clone(), name));
    }
    let mut arrived: Vec<(String, Value)> = Vec::new();
    loop {
        let mut still = Vec::new();
        for (node, name) in pending {
            match cluster.call(path, Op::Get(&name)).await {
                Ok(bytes) => {
                    let obj: Value = serde_json::from_slice(&bytes).map_err(|e| {
                        CallError::Malformed(format!("the answer is not JSON: {e}"))
                            .into_fetch(&format!("GET {path}/{name}"))
                    })?;
                    if has_status(&obj) {
                        arrived.push((node, obj));
                    } else {
                        still.push((node, name));
                    }
                }
                // RBAC that allows create but not get will not change while we wait.
                Err(e @ CallError::Status { code: 400..=499, .. }) if e.code() != Some(429) => {
                    return Err(e.into_fetch(&format!("GET {path}/{name}")));
                }
                Err(e) => {
                    tracing::debug!(path, name, error = ?e, "polling CalicoNodeStatus; trying again");
                    still.push((node, name));
                }
            }
        }
        pending = still;
        let now = tokio::time::Instant::now();
        if pending.is_empty() || now >= deadline {
            break;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
    arrived.sort_by_key(|(node, _)| nodes.iter().position(|n| n == node));
    Ok(arrived)
}

/// calico-node sets `lastUpdated` with every status it writes.
fn has_status(obj: &Value) -> bool {
    obj.pointer("/status/lastUpdated").and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// `zoneaudit-<node>-<5 random [a-z0-9]>`, within the 253 characters of a Kubernetes name.
fn object_name(node: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = [0u8; 5];
    // Without entropy the name is still unique enough within one run: the node names differ.
    let _ = getrandom::fill(&mut random);
    let suffix: String = random.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    let node: String = node.chars().take(253 - "zoneaudit--".len() - suffix.len()).collect();
    format!("zoneaudit-{node}-{suffix}")
}

/// The statuses this fetch created; deleted by `delete_all`, or on drop if it never ran.
struct Created {
    cluster: Cluster,
    path: String,
    names: Vec<String>,
}

impl Created {
    /// Delete every created status; returns the ones that could not be deleted (gone is fine).
    async fn delete_all(&mut self) -> Vec<String> {
        let names = std::mem::take(&mut self.names);
        delete(&self.cluster, &self.path, names).await
    }
}

async fn delete(cluster: &Cluster, path: &str, names: Vec<String>) -> Vec<String> {
    let mut leaked = Vec::new();
    for name in names {
        match cluster.call(path, Op::Delete(&name)).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(404) => {}
            Err(e) => {
                leaked.push(format!("{name}: {}", e.into_fetch(&format!("DELETE {path}/{name}")).message()))
            }
        }
    }
    leaked
}

impl Drop for Created {
    fn drop(&mut self) {
        if self.names.is_empty() {
            return;
        }
        let names = std::mem::take(&mut self.names);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let cluster = self.cluster.clone();
                let path = self.path.clone();
                runtime.spawn(async move {
                    let leaked = delete(&cluster, &path, names).await;
                    if !leaked.is_empty() {
                        tracing::warn!(path, objects = ?leaked, "could not delete CalicoNodeStatus objects");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(path = self.path, objects = ?names, "CalicoNodeStatus objects left behind")
            }
        }
    }
}
