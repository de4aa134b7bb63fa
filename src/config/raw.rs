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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSigning {
    pub key_file: Text,
    /// Public keys that verify reports (current and retired); defaults to `<keyFile stem>.pub`.
    #[serde(default)]
    pub public_keys: Vec<Text>,
}
