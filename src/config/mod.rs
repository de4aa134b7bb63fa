//! The zone model: what the operator declares, against which collected facts are judged.
//!
//! `zoneaudit.yaml` is read once: [`raw`] mirrors the YAML (unknown keys rejected, every value with
//! its line), [`Settings::load`] validates it into types that never need re-parsing: CIDRs parsed,
//! zone tries built, selectors parsed, paths resolved against the config file's directory.
//! Every error names the file, the line and the field.

mod alerts;
pub mod raw;
mod source;

pub use alerts::{
    Alerts, Channel, EmailTarget, Route, SmtpTls, Target, WebhookFormat, WebhookTarget, WebhookUrl,
};
pub use source::{
    ApiGroup, Collection, ExecSpec, HttpSpec, KubeAccess, KubernetesSpec, NodeStatusStrategy, SecretRef,
    SourceKind, SourceSpec, Transport,
};

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::model::ZoneMap;
use crate::rules::selector::Selector;
use raw::{RawConfig, Text};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: line {line}: {field}: {message}")]
    Invalid { file: String, line: u64, field: String, message: String },
}

/// One zone as declared.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub prefixes: Vec<IpNet>,
    /// Nodes of the zone, by Calico selector over node labels; `None` when not declared.
    pub node_selector: Option<Selector>,
    pub route_reflectors: Vec<IpAddr>,
    pub vrf: Option<String>,
    pub vrf_overrides: BTreeMap<String, String>,
    pub firewall_zones: Vec<String>,
}

impl Zone {
    /// The zone's VRF name on a given device (per-device override first).
    pub fn vrf_on(&self, device: &str) -> Option<&str> {
        self.vrf_overrides.get(device).map(String::as_str).or(self.vrf.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub port: u16,
    pub protocol: String,
}

/// One approved inter-zone flow; an empty `ports` list approves every port.
#[derive(Debug, Clone)]
pub struct AllowedFlow {
    pub from: String,
    pub to: String,
    pub ports: Vec<PortSpec>,
    pub rule: Option<String>,
}

impl AllowedFlow {
    pub fn permits(&self, from: &str, to: &str, protocol: &str, port: u16) -> bool {
        self.from == from
            && self.to == to
            && (self.ports.is_empty()
                || self.ports.iter().any(|p| p.port == port && p.protocol.eq_ignore_ascii_case(protocol)))
    }
}

#[derive(Debug, Clone)]
pub struct Signing {
    pub key_file: PathBuf,
    pub public_keys: Vec<PathBuf>,
}

/// Where a rule pack comes from: a file, or the pack shipped inside the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulePackRef {
    Builtin(String),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub file: PathBuf,
    /// SHA-256 (hex) of the config file bytes, recorded in every report.
    pub digest: String,
    pub cluster: String,
    pub database: Option<PathBuf>,
    pub zones: BTreeMap<String, Zone>,
    pub zone_map: ZoneMap,
    pub shared: Vec<IpNet>,
    pub allowed_flows: Vec<AllowedFlow>,
    pub sources: Vec<SourceSpec>,
    pub rule_packs: Vec<RulePackRef>,
    pub signing: Option<Signing>,
    pub collection: Collection,
    pub alerts: Alerts,
    /// `retention.keep`: what `runs prune` keeps without `--keep` (default 400 days).
    pub retention_keep: std::time::Duration,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_yaml(&text, &file, base)
    }

    /// Parse and validate YAML text; `file` is used in messages, `base` resolves relative paths.
    pub fn from_yaml(text: &str, file: &str, base: &Path) -> Result<Settings, ConfigError> {
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_string(),
            message: e.to_string().trim_start_matches("error: ").to_string(),
        })?;
        let digest = crate::evidence::canonical::sha256_hex(text.as_bytes());
        Validator { file, base }.settings(raw, digest)
    }

    /// Zones a node belongs to by its labels (more than one is a configuration problem the rules
    /// report; none means the node has no zone by label).
    pub fn zones_by_labels(&self, labels: &crate::model::Labels) -> Vec<&str> {
        self.zones
            .values()
            .filter(|z| z.node_selector.as_ref().is_some_and(|s| s.matches(labels)))
            .map(|z| z.name.as_str())
            .collect()
    }

    /// The zone whose VRF on `device` is named `vrf`.
    pub fn zone_of_vrf(&self, device: &str, vrf: &str) -> Option<&str> {
        self.zones.values().find(|z| z.vrf_on(device) == Some(vrf)).map(|z| z.name.as_str())
    }

    /// The zone a firewall zone name belongs to.
    pub fn zone_of_firewall_zone(&self, fw_zone: &str) -> Option<&str> {
        self.zones.values().find(|z| z.firewall_zones.iter().any(|f| f == fw_zone)).map(|z| z.name.as_str())
    }

    /// The zone whose route reflectors include `addr`.
    pub fn zone_of_route_reflector(&self, addr: IpAddr) -> Option<&str> {
        self.zones.values().find(|z| z.route_reflectors.contains(&addr)).map(|z| z.name.as_str())
    }

    pub fn approved_flow(&self, from: &str, to: &str, protocol: &str, port: u16) -> Option<&AllowedFlow> {
        self.allowed_flows.iter().find(|f| f.permits(from, to, protocol, port))
    }
}

struct Validator<'a> {
    file: &'a str,
    base: &'a Path,
}

impl Validator<'_> {
    fn invalid(&self, at: &Text, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line: at.referenced.line(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn invalid_at(&self, line: u64, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }

    fn path(&self, t: &Text) -> PathBuf {
        let p = Path::new(&t.value);
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
    }

    fn cidr(&self, t: &Text, field: String) -> Result<IpNet, ConfigError> {
        let s = t.value.trim();
        let net: IpNet = s
            .parse()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| self.invalid(t, field.clone(), format!("invalid CIDR {s:?}")))?;
        if net.trunc() != net {
            return Err(self.invalid(
                t,
                field,
                format!("{s} has host bits set (did you mean {}?)", net.trunc()),
            ));
        }
        Ok(net)
    }

    fn settings(&self, raw: RawConfig, digest: String) -> Result<Settings, ConfigError> {
        if raw.cluster.value.trim().is_empty() {
            return Err(self.invalid(&raw.cluster, "cluster", "must not be empty"));
        }
        if raw.zones.is_empty() {
            return Err(self.invalid_at(1, "zones", "at least one zone must be declared"));
        }
        let mut zones = BTreeMap::new();
        let mut zone_map = ZoneMap::new();
        let mut owners: Vec<(IpNet, String, u64)> = Vec::new();
        for (name, z) in &raw.zones {
            let zone = self.zone(name, &z.value, z.referenced.line())?;
            for (p, t) in zone.prefixes.iter().zip(&z.value.prefixes) {
                let line = t.referenced.line();
                if let Some((other, owner, other_line)) =
                    owners.iter().find(|(o, _, _)| o.contains(p) || p.contains(o))
                {
                    return Err(self.invalid_at(
                        line,
                        format!("zones.{name}.prefixes"),
                        format!("{p} overlaps {other} of zone {owner} (line {other_line}): zone prefixes must be disjoint"),
                    ));
                }
                owners.push((*p, name.clone(), line));
                zone_map.insert_zone(*p, name);
            }
            zones.insert(name.clone(), zone);
        }
        let mut shared = Vec::new();
        for (i, t) in raw.shared.iter().enumerate() {
            let p = self.cidr(t, format!("shared[{i}]"))?;
            zone_map.insert_shared(p);
            shared.push(p);
        }
        for zone in zones.values() {
            for rr in &zone.route_reflectors {
                if zone_map.zone_of_addr(*rr) != Some(zone.name.as_str()) {
                    let t = raw.zones[&zone.name]
                        .value
                        .route_reflectors
                        .iter()
                        .find(|t| t.value.trim() == rr.to_string())
                        .expect("route reflector came from this list");
                    return Err(self.invalid(
                        t,
                        format!("zones.{}.routeReflectors", zone.name),
                        format!("{rr} is not inside the prefixes of zone {}", zone.name),
                    ));
                }
            }
        }
        let mut fw_names: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, z) in &raw.zones {
            for t in &z.value.firewall_zones {
                if let Some(other) = fw_names.insert(t.value.as_str(), name.as_str()) {
                    return Err(self.invalid(
                        t,
                        format!("zones.{name}.firewallZones"),
                        format!("firewall zone {:?} is already declared for zone {other}", t.value),
                    ));
                }
            }
        }
        let allowed_flows = raw
            .allowed_flows
            .iter()
            .enumerate()
            .map(|(i, f)| self.allowed_flow(i, &f.value, &zones))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sources = Vec::new();
        let mut source_names = BTreeSet::new();
        for (i, s) in raw.sources.iter().enumerate() {
            let spec = self.source(i, &s.value)?;
            if !source_names.insert(spec.name.clone()) {
                return Err(self.invalid(
                    &s.value.name,
                    format!("sources[{i}].name"),
                    format!("duplicate source name {:?}", spec.name),
                ));
            }
            sources.push(spec);
        }
        let rule_packs = if raw.rule_packs.is_empty() {
            vec![RulePackRef::Builtin("zone-isolation".into())]
        } else {
            raw.rule_packs
                .iter()
                .map(|t| match t.value.strip_prefix("builtin:") {
                    Some(name) => Ok(RulePackRef::Builtin(name.to_string())),
                    None => Ok(RulePackRef::File(self.path(t))),
                })
                .collect::<Result<Vec<_>, ConfigError>>()?
        };
        let signing = raw.signing.as_ref().map(|s| {
            let key_file = self.path(&s.key_file);
            let public_keys = if s.public_keys.is_empty() {
                vec![key_file.with_extension("pub")]
            } else {
                s.public_keys.iter().map(|t| self.path(t)).collect()
            };
            Signing { key_file, public_keys }
        });
        let alerts = {
            let zone_names: Vec<&str> = zones.keys().map(String::as_str).collect();
            self.alerts(raw.alerts.as_ref(), &zone_names)?
        };
        Ok(Settings {
            file: PathBuf::from(self.file),
            digest,
            cluster: raw.cluster.value.trim().to_string(),
            database: raw.database.as_ref().map(|t| self.path(t)),
            zones,
            zone_map,
            shared,
            allowed_flows,
            sources,
            rule_packs,
            signing,
            collection: self.collection(raw.collection.as_ref())?,
            alerts,
            retention_keep: match raw.retention.as_ref() {
                None => std::time::Duration::from_secs(400 * 24 * 3600),
                Some(r) => humantime::parse_duration(r.keep.value.trim()).map_err(|e| {
                    self.invalid(
                        &r.keep,
                        "retention.keep",
                        format!("invalid duration {:?}: {e}", r.keep.value),
                    )
                })?,
            },
        })
    }

    fn collection(&self, raw: Option<&raw::RawCollection>) -> Result<Collection, ConfigError> {
        let mut c = Collection::default();
        let Some(raw) = raw else { return Ok(c) };
        if let Some(n) = &raw.concurrency {
            if n.value == 0 {
                return Err(self.invalid_at(
                    n.referenced.line(),
                    "collection.concurrency",
                    "must be at least 1",
                ));
            }
            c.concurrency = n.value as usize;
        }
        if let Some(n) = &raw.max_response_bytes {
            c.max_response_bytes = n.value;
        }
        Ok(c)
    }

    fn zone(&self, name: &str, z: &raw::RawZone, line: u64) -> Result<Zone, ConfigError> {
        let field = |f: &str| format!("zones.{name}.{f}");
        if z.prefixes.is_empty() {
            return Err(self.invalid_at(line, field("prefixes"), "a zone needs at least one prefix"));
        }
        let prefixes = z
            .prefixes
            .iter()
            .enumerate()
            .map(|(i, t)| self.cidr(t, format!("zones.{name}.prefixes[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let node_selector = match &z.node_selector {
            Some(t) => Some(
                Selector::parse(&t.value)
                    .map_err(|e| self.invalid(t, field("nodeSelector"), e.to_string()))?,
            ),
            None => None,
        };
        let route_reflectors = z
            .route_reflectors
            .iter()
            .map(|t| {
                t.value.trim().parse::<IpAddr>().map_err(|_| {
                    self.invalid(t, field("routeReflectors"), format!("invalid IP address {:?}", t.value))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Zone {
            name: name.to_string(),
            prefixes,
            node_selector,
            route_reflectors,
            vrf: z.vrf.as_ref().map(|t| t.value.clone()),
            vrf_overrides: z.vrf_overrides.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
            firewall_zones: z.firewall_zones.iter().map(|t| t.value.clone()).collect(),
        })
    }

    fn zone_ref(
        &self,
        t: &Text,
        field: String,
        zones: &BTreeMap<String, Zone>,
    ) -> Result<String, ConfigError> {
        if zones.contains_key(&t.value) {
            Ok(t.value.clone())
        } else {
            let declared: Vec<&str> = zones.keys().map(String::as_str).collect();
            Err(self.invalid(
                t,
                field,
                format!("zone {:?} is not declared (zones: {})", t.value, declared.join(", ")),
            ))
        }
    }

    fn allowed_flow(
        &self,
        i: usize,
        f: &raw::RawAllowedFlow,
        zones: &BTreeMap<String, Zone>,
    ) -> Result<AllowedFlow, ConfigError> {
        let from = self.zone_ref(&f.from, format!("allowedFlows[{i}].from"), zones)?;
        let to = self.zone_ref(&f.to, format!("allowedFlows[{i}].to"), zones)?;
        let mut ports = Vec::new();
        for (j, t) in f.ports.iter().enumerate() {
            if t.value.trim() == "any" {
                ports.clear();
                break;
            }
            ports.push(self.port(t, format!("allowedFlows[{i}].ports[{j}]"))?);
        }
        Ok(AllowedFlow { from, to, ports, rule: f.rule.as_ref().map(|t| t.value.clone()) })
    }

    fn port(&self, t: &Text, field: String) -> Result<PortSpec, ConfigError> {
        let bad =
            || self.invalid(t, field.clone(), format!("invalid port {:?} (expected e.g. 443/tcp)", t.value));
        let (port, protocol) = t.value.trim().split_once('/').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let protocol = protocol.to_ascii_lowercase();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp" | "icmp") {
            return Err(bad());
        }
        Ok(PortSpec { port, protocol })
    }
}

#[cfg(test)]
mod tests;
