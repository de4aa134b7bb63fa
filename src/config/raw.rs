//! The YAML as written: every key known (`deny_unknown_fields`), every value still text with its
//! place in the file. `Settings::from_raw` turns this into validated types exactly once.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConfig {
    pub cluster: Text,
    #[serde(default)]
    pub database: Option<Text>,
    pub zones: BTreeMap<String, Spanned<RawZone>>,
    #[serde(default)]
    pub shared: Vec<Text>,
    #[serde(default)]
    pub allowed_flows: Vec<Spanned<RawAllowedFlow>>,
    #[serde(default)]
    pub sources: Vec<Spanned<RawSource>>,
    #[serde(default)]
    pub rule_packs: Vec<Text>,
    #[serde(default)]
    pub signing: Option<RawSigning>,
    #[serde(default)]
    pub collection: Option<RawCollection>,
    #[serde(default)]
    pub alerts: Option<RawAlerts>,
    #[serde(default)]
    pub retention: Option<RawRetention>,
}

/// How long `runs prune` keeps runs when `--keep` is not given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRetention {
    pub keep: Text,
}

/// Drift alerts: where they go and how they are delivered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAlerts {
    /// Re-notify unresolved critical findings after this long (default 7d).
    #[serde(default)]
    pub repeat_interval: Option<Text>,
    /// Attempts per delivery within one run (default 4).
    #[serde(default)]
    pub attempts: Option<Spanned<u32>>,
    /// First retry delay, doubled per attempt (default 1s).
    #[serde(default)]
    pub backoff: Option<Text>,
    /// Per attempt (default 10s).
    #[serde(default)]
    pub timeout: Option<Text>,
    #[serde(default)]
    pub channels: Vec<Spanned<RawChannel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawChannel {
    pub name: Text,
    /// `email` or `webhook`.
    #[serde(rename = "type")]
    pub kind: Text,
    /// Routing: only events of at least this severity (default low; drift counts as medium).
    #[serde(default)]
    pub min_severity: Option<Text>,
    #[serde(default)]
    pub zones: Vec<Text>,
    #[serde(default)]
    pub rules: Vec<Text>,
    /// new, resolved, drift, reminder (default all).
    #[serde(default)]
    pub events: Vec<Text>,
    // email
    /// `smtp://host:port` (STARTTLS) or `smtps://host:port` (implicit TLS).
    #[serde(default)]
    pub smtp: Option<Text>,
    /// `starttls` (default for smtp://), `tls` (default for smtps://) or `none` (explicit, noted).
    #[serde(default)]
    pub tls: Option<Text>,
    #[serde(default)]
    pub from: Option<Text>,
    #[serde(default)]
    pub to: Vec<Text>,
    #[serde(default)]
    pub username: Option<Text>,
    #[serde(default)]
    pub password_file: Option<Text>,
    #[serde(default)]
    pub password_env: Option<Text>,
    // webhook
    /// `generic` (default), `slack` or `alertmanager`.
    #[serde(default)]
    pub format: Option<Text>,
    #[serde(default)]
    pub url: Option<Text>,
    /// The URL from a file (Slack webhook URLs are secrets).
    #[serde(default)]
    pub url_file: Option<Text>,
    /// HMAC-SHA256 secret for `X-Zoneaudit-Signature` (generic).
    #[serde(default)]
    pub secret_file: Option<Text>,
    // both
    #[serde(default)]
    pub ca_file: Option<Text>,
}

/// How live collection behaves across sources.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCollection {
    /// Sources fetched at the same time (devices, sockets, API calls).
    #[serde(default)]
    pub concurrency: Option<Spanned<u32>>,
    /// The most bytes one response may have; larger answers fail that source.
    #[serde(default)]
    pub max_response_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawZone {
    pub prefixes: Vec<Text>,
    #[serde(default)]
    pub node_selector: Option<Text>,
    #[serde(default)]
    pub route_reflectors: Vec<Text>,
    #[serde(default)]
    pub vrf: Option<Text>,
    /// Device name -> VRF name, where a device names the zone's VRF differently.
    #[serde(default)]
    pub vrf_overrides: BTreeMap<String, Text>,
    #[serde(default)]
    pub firewall_zones: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAllowedFlow {
    pub from: Text,
    pub to: Text,
    /// `443/tcp`, `53/udp`, `any`; empty means any port.
    #[serde(default)]
    pub ports: Vec<Text>,
    #[serde(default)]
    pub rule: Option<Text>,
}

/// A source: its kind and exactly one transport (files, socket, command, exec, url, kubernetes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSource {
    pub name: Text,
    pub kind: Text,
    /// Files or directories (every regular file inside, sorted), relative to the config file.
    #[serde(default)]
    pub files: Vec<Text>,
    /// Device or node name the output belongs to; defaults to the source name.
    #[serde(default)]
    pub observer: Option<Text>,
    /// BIRD control socket path (`/run/bird/bird.ctl`, calico-node's `/var/run/calico/bird.ctl`).
    #[serde(default)]
    pub socket: Option<Text>,
    /// A command to which the CLI command is appended as one argument: `[ssh, rr1, birdc]`, `[vtysh, -c]`.
    #[serde(default)]
    pub command: Vec<Text>,
    /// Exec into a pod through the Kubernetes API (calico-node's birdcl).
    #[serde(default)]
    pub exec: Option<RawExec>,
    /// Device API endpoint (eAPI, NX-API, Junos REST).
    #[serde(default)]
    pub url: Option<Text>,
    #[serde(default)]
    pub username: Option<Text>,
    #[serde(default)]
    pub password_file: Option<Text>,
    #[serde(default)]
    pub password_env: Option<Text>,
    #[serde(default)]
    pub ca_file: Option<Text>,
    #[serde(default)]
    pub insecure_skip_verify: Option<Spanned<bool>>,
    /// The Kubernetes API (Calico resources).
    #[serde(default)]
    pub kubernetes: Option<RawKubernetes>,
    /// Connect timeout (`5s`).
    #[serde(default)]
    pub connect_timeout: Option<Text>,
    /// Whole-fetch timeout (`60s`).
    #[serde(default)]
    pub timeout: Option<Text>,
    /// Retries after a failed attempt, with exponential backoff.
    #[serde(default)]
    pub retries: Option<Spanned<u32>>,
    /// VRFs to read per VRF (FRR); default: every zone's VRF on this device.
    #[serde(default)]
    pub vrfs: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawKubernetes {
    /// Default: in-cluster service account, else `$KUBECONFIG` / `~/.kube/config`.
    #[serde(default)]
    pub kubeconfig: Option<Text>,
    #[serde(default)]
    pub context: Option<Text>,
    /// `auto` (discovery), `crd.projectcalico.org/v1` or `projectcalico.org/v3`.
    #[serde(default)]
    pub api_group: Option<Text>,
    /// Items per list page.
    #[serde(default)]
    pub page_size: Option<Spanned<u32>>,
    #[serde(default)]
    pub node_status: Option<RawNodeStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNodeStatus {
    /// `none`, `existing` (read what is there) or `ephemeral` (create, wait, read, delete).
    pub strategy: Text,
    /// Nodes to create a CalicoNodeStatus for (ephemeral).
    #[serde(default)]
    pub nodes: Vec<Text>,
    /// How long to wait for calico-node to fill the status (`30s`).
    #[serde(default)]
    pub timeout: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExec {
    #[serde(default)]
    pub kubeconfig: Option<Text>,
    #[serde(default)]
    pub context: Option<Text>,
    pub namespace: Text,
    /// Pods by label (`k8s-app=calico-node`).
    pub label_selector: Text,
    /// The node whose pod to use; default: the source's observer.
    #[serde(default)]
    pub node: Option<Text>,
    #[serde(default)]
    pub container: Option<Text>,
    /// Default `[birdcl, -s, /var/run/calico/bird.ctl]`; the CLI command is appended.
    #[serde(default)]
    pub command: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSigning {
    pub key_file: Text,
    /// Public keys that verify reports (current and retired); defaults to `<keyFile stem>.pub`.
    #[serde(default)]
    pub public_keys: Vec<Text>,
}
