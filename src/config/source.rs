//! Sources as validated types: a kind (which parser reads the payloads) and exactly one transport
//! (how the payloads are fetched). Every live transport has a replay twin: `files` in the same
//! format, which is what `collect --record` writes.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawExec, RawKubernetes, RawSource, Text};
use super::{ConfigError, Validator};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Calico,
    Bird,
    Frr,
    Eos,
    Nxos,
    Junos,
    Panos,
    Fortigate,
    Asa,
    Netfilter,
    /// PAN-OS `show rule-hit-count` (XML API or its saved answer).
    PanosRuleHits,
}

impl SourceKind {
    pub const ALL: [SourceKind; 11] = [
        SourceKind::Calico,
        SourceKind::Bird,
        SourceKind::Frr,
        SourceKind::Eos,
        SourceKind::Nxos,
        SourceKind::Junos,
        SourceKind::Panos,
        SourceKind::Fortigate,
        SourceKind::Asa,
        SourceKind::Netfilter,
        SourceKind::PanosRuleHits,
    ];

    /// Firewall traffic logs: streamed line by line, never held whole.
    pub fn is_firewall_log(self) -> bool {
        matches!(self, SourceKind::Panos | SourceKind::Fortigate | SourceKind::Asa | SourceKind::Netfilter)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Calico => "calico",
            SourceKind::Bird => "bird",
            SourceKind::Frr => "frr",
            SourceKind::Eos => "eos",
            SourceKind::Nxos => "nxos",
            SourceKind::Junos => "junos",
            SourceKind::Panos => "panos",
            SourceKind::Fortigate => "fortigate",
            SourceKind::Asa => "asa",
            SourceKind::Netfilter => "netfilter",
            SourceKind::PanosRuleHits => "panos-rulehits",
        }
    }

    /// Transports that make sense for the kind; `files` always does.
    fn accepts(self, t: &Transport) -> bool {
        matches!(
            (self, t),
            (_, Transport::Files(_))
                | (SourceKind::Calico, Transport::Kubernetes(_))
                | (SourceKind::Bird, Transport::BirdSocket(_) | Transport::Command(_) | Transport::Exec(_))
                | (SourceKind::Frr, Transport::Command(_))
                | (
                    SourceKind::Eos | SourceKind::Nxos | SourceKind::Junos | SourceKind::PanosRuleHits,
                    Transport::Http(_)
                )
        )
    }
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = SourceKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown source kind {s:?} (known: {})", known.join(", "))
        })
    }
}

/// A secret is named in the config, never written in it; it is read when needed and never shown.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    File(PathBuf),
    Env(String),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::File(p) => write!(f, "SecretRef::File({})", p.display()),
            SecretRef::Env(n) => write!(f, "SecretRef::Env({n})"),
        }
    }
}

impl SecretRef {
    /// The secret's value (trailing newline of a file removed). Errors name where, not what.
    pub fn read(&self) -> Result<String, String> {
        match self {
            SecretRef::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("{}: {e}", p.display())),
            SecretRef::Env(n) => std::env::var(n).map_err(|_| format!("environment variable {n} is not set")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    pub ca_file: Option<PathBuf>,
    /// Explicit, per source, and shown in the report.
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGroup {
    /// Ask the API server (discovery): v3 when it serves `projectcalico.org/v3`, else v1 CRDs.
    Auto,
    CrdV1,
    V3,
}

impl ApiGroup {
    pub fn group_version(self) -> Option<&'static str> {
        match self {
            ApiGroup::Auto => None,
            ApiGroup::CrdV1 => Some("crd.projectcalico.org/v1"),
            ApiGroup::V3 => Some("projectcalico.org/v3"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatusStrategy {
    None,
    Existing,
    Ephemeral { nodes: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct KubeAccess {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KubernetesSpec {
    pub access: KubeAccess,
    pub api_group: ApiGroup,
    pub page_size: u32,
    pub node_status: NodeStatusStrategy,
    pub node_status_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecSpec {
    pub access: KubeAccess,
    pub namespace: String,
    pub label_selector: String,
    /// The node whose pod runs the command.
    pub node: String,
    pub container: Option<String>,
    pub command: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Files(Vec<PathBuf>),
    BirdSocket(PathBuf),
    /// argv; the CLI command is appended as one more argument.
    Command(Vec<String>),
    Exec(ExecSpec),
    Http(HttpSpec),
    Kubernetes(KubernetesSpec),
}

impl Transport {
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Files(_) => "files",
            Transport::BirdSocket(_) => "socket",
            Transport::Command(_) => "command",
            Transport::Exec(_) => "exec",
            Transport::Http(_) => "url",
            Transport::Kubernetes(_) => "kubernetes",
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self, Transport::Files(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    pub name: String,
    pub kind: SourceKind,
    /// Device or node name the output belongs to.
    pub observer: String,
    pub transport: Transport,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retries: u32,
    /// VRFs read one by one (FRR); empty: every zone's VRF on this device.
    pub vrfs: Vec<String>,
}

impl SourceSpec {
    /// The files of a replay source (empty for live ones).
    pub fn files(&self) -> &[PathBuf] {
        match &self.transport {
            Transport::Files(f) => f,
            _ => &[],
        }
    }
}

/// Limits that apply across all sources of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub concurrency: usize,
    pub max_response_bytes: u64,
}

impl Default for Collection {
    fn default() -> Self {
        Collection { concurrency: 4, max_response_bytes: 64 * 1024 * 1024 }
    }
}

pub const DEFAULT_BIRDCL: [&str; 3] = ["birdcl", "-s", "/var/run/calico/bird.ctl"];

impl Validator<'_> {
    fn duration(&self, t: &Text, field: String) -> Result<Duration, ConfigError> {
        humantime::parse_duration(t.value.trim())
            .map_err(|e| self.invalid(t, field, format!("invalid duration {:?}: {e}", t.value)))
    }

    fn access(&self, kubeconfig: &Option<Text>, context: &Option<Text>) -> KubeAccess {
        KubeAccess {
            kubeconfig: kubeconfig.as_ref().map(|t| self.path(t)),
            context: context.as_ref().map(|t| t.value.clone()),
        }
    }

    pub(super) fn source(&self, i: usize, s: &RawSource) -> Result<SourceSpec, ConfigError> {
        let field = |f: &str| format!("sources[{i}].{f}");
        let kind: SourceKind =
            s.kind.value.parse().map_err(|e: String| self.invalid(&s.kind, field("kind"), e))?;
        if s.name.value.trim().is_empty() {
            return Err(self.invalid(&s.name, field("name"), "must not be empty"));
        }
        let observer = s.observer.as_ref().map(|t| t.value.clone()).unwrap_or_else(|| s.name.value.clone());
        let mut transports = Vec::new();
        if !s.files.is_empty() {
            transports.push(Transport::Files(s.files.iter().map(|t| self.path(t)).collect()));
        }
        if let Some(t) = &s.socket {
            transports.push(Transport::BirdSocket(self.path(t)));
        }
        if !s.command.is_empty() {
            transports.push(Transport::Command(s.command.iter().map(|t| t.value.clone()).collect()));
        }
        if let Some(e) = &s.exec {
            transports.push(Transport::Exec(self.exec(e, &observer)));
        }
        if let Some(u) = &s.url {
            transports.push(Transport::Http(self.http(i, s, u)?));
        }
        if let Some(k) = &s.kubernetes {
            transports.push(Transport::Kubernetes(self.kubernetes(i, k)?));
        }
        let transport = match transports.len() {
            1 => transports.remove(0),
            0 => {
                return Err(self.invalid(
                    &s.name,
                    format!("sources[{i}]"),
                    "needs one transport: files, socket, command, exec, url or kubernetes",
                ));
            }
            _ => {
                let names: Vec<&str> = transports.iter().map(Transport::name).collect();
                return Err(self.invalid(
                    &s.name,
                    format!("sources[{i}]"),
                    format!("has several transports ({}); give exactly one", names.join(", ")),
                ));
            }
        };
        if !kind.accepts(&transport) {
            return Err(self.invalid(
                &s.kind,
                format!("sources[{i}]"),
                format!("a {} source cannot use the {} transport", kind.as_str(), transport.name()),
            ));
        }
        if s.url.is_none()
            && let Some(t) = s.username.as_ref().or(s.password_file.as_ref()).or(s.ca_file.as_ref())
        {
            return Err(self.invalid(
                t,
                format!("sources[{i}]"),
                "username, passwordFile and caFile need a url",
            ));
        }
        let timeout = match &s.timeout {
            Some(t) => self.duration(t, field("timeout"))?,
            None => Duration::from_secs(60),
        };
        // The whole fetch is bounded by `timeout`: a status wait as long would be cut short.
        if let (Transport::Kubernetes(k), Some(raw)) = (&transport, &s.kubernetes)
            && k.node_status_timeout >= timeout
            && let Some(ns) = &raw.node_status
        {
            return Err(self.invalid(
                ns.timeout.as_ref().unwrap_or(&ns.strategy),
                field("kubernetes.nodeStatus.timeout"),
                format!(
                    "{} must be shorter than the source's timeout ({})",
                    humantime::format_duration(k.node_status_timeout),
                    humantime::format_duration(timeout)
                ),
            ));
        }
        Ok(SourceSpec {
            name: s.name.value.clone(),
            kind,
            observer,
            transport,
            connect_timeout: match &s.connect_timeout {
                Some(t) => self.duration(t, field("connectTimeout"))?,
                None => Duration::from_secs(5),
            },
            timeout,
            retries: s.retries.as_ref().map(|r| r.value).unwrap_or(2),
            vrfs: s.vrfs.iter().map(|t| t.value.clone()).collect(),
        })
    }

    fn exec(&self, e: &RawExec, observer: &str) -> ExecSpec {
        ExecSpec {
            access: self.access(&e.kubeconfig, &e.context),
            namespace: e.namespace.value.clone(),
            label_selector: e.label_selector.value.clone(),
            node: e.node.as_ref().map(|t| t.value.clone()).unwrap_or_else(|| observer.to_string()),
            container: e.container.as_ref().map(|t| t.value.clone()),
            command: if e.command.is_empty() {
                DEFAULT_BIRDCL.iter().map(|s| s.to_string()).collect()
            } else {
                e.command.iter().map(|t| t.value.clone()).collect()
            },
        }
    }

    fn http(&self, i: usize, s: &RawSource, url: &Text) -> Result<HttpSpec, ConfigError> {
        let u = url.value.trim();
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(self.invalid(
                url,
                format!("sources[{i}].url"),
                format!("{u:?} is not an http(s) URL"),
            ));
        }
        let password = match (&s.password_file, &s.password_env) {
            (Some(f), None) => Some(SecretRef::File(self.path(f))),
            (None, Some(e)) => Some(SecretRef::Env(e.value.clone())),
            (None, None) => None,
            (Some(f), Some(_)) => {
                return Err(self.invalid(
                    f,
                    format!("sources[{i}]"),
                    "give passwordFile or passwordEnv, not both",
                ));
            }
        };
        Ok(HttpSpec {
            url: u.to_string(),
            username: s.username.as_ref().map(|t| t.value.clone()),
            password,
            ca_file: s.ca_file.as_ref().map(|t| self.path(t)),
            insecure_skip_verify: s.insecure_skip_verify.as_ref().is_some_and(|b| b.value),
        })
    }

    fn kubernetes(&self, i: usize, k: &RawKubernetes) -> Result<KubernetesSpec, ConfigError> {
        let field = |f: &str| format!("sources[{i}].kubernetes.{f}");
        let api_group = match k.api_group.as_ref().map(|t| (t, t.value.as_str())) {
            None | Some((_, "auto")) => ApiGroup::Auto,
            Some((_, "crd.projectcalico.org/v1")) => ApiGroup::CrdV1,
            Some((_, "projectcalico.org/v3")) => ApiGroup::V3,
            Some((t, other)) => {
                return Err(self.invalid(
                    t,
                    field("apiGroup"),
                    format!("{other:?}: expected auto, crd.projectcalico.org/v1 or projectcalico.org/v3"),
                ));
            }
        };
        let (node_status, node_status_timeout) = match &k.node_status {
            None => (NodeStatusStrategy::Existing, Duration::from_secs(30)),
            Some(ns) => {
                let strategy = match ns.strategy.value.as_str() {
                    "none" => NodeStatusStrategy::None,
                    "existing" => NodeStatusStrategy::Existing,
                    "ephemeral" if ns.nodes.is_empty() => {
                        return Err(self.invalid(
                            &ns.strategy,
                            field("nodeStatus.nodes"),
                            "the ephemeral strategy needs the nodes to create a status for",
                        ));
                    }
                    "ephemeral" => NodeStatusStrategy::Ephemeral {
                        nodes: ns.nodes.iter().map(|t| t.value.clone()).collect(),
                    },
                    other => {
                        return Err(self.invalid(
                            &ns.strategy,
                            field("nodeStatus.strategy"),
                            format!("{other:?}: expected none, existing or ephemeral"),
                        ));
                    }
                };
                let timeout = match &ns.timeout {
                    Some(t) => self.duration(t, field("nodeStatus.timeout"))?,
                    None => Duration::from_secs(30),
                };
                (strategy, timeout)
            }
        };
        let page_size = k.page_size.as_ref().map(|p| p.value).unwrap_or(500);
        if page_size == 0 {
            return Err(self.invalid_at(
                k.page_size.as_ref().map(|p| p.referenced.line()).unwrap_or(0),
                field("pageSize"),
                "must be at least 1",
            ));
        }
        Ok(KubernetesSpec {
            access: self.access(&k.kubeconfig, &k.context),
            api_group,
            page_size,
            node_status,
            node_status_timeout,
        })
    }
}
