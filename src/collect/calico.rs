//! Calico and Kubernetes resources, as `kubectl get X -o json` or the API server lists them.
//!
//! ```text
//!  {"kind":"List" | "<Kind>List", "items":[..]}  or one object
//!    core v1 Node ............................ NodeFact   (BGP settings in projectcalico.org/* annotations)
//!    projectcalico.org/v3 Node (calicoctl) .... NodeFact   (spec.bgp)
//!    BGPPeer .................................. BgpPeerConfig
//!    BGPConfiguration ......................... BgpConfigurationFact
//!    IPPool ................................... IpPoolFact
//!    BlockAffinity ............................ BlockAffinityFact (deleted ones dropped)
//!    CalicoNodeStatus ......................... BgpSession per status.bgp.peersV4/V6 entry,
//!                                               Route per status.routes.routesV4/V6 entry
//! ```
//!
//! The Calico kinds come in two API groups with the same `spec`/`status` shape:
//! `crd.projectcalico.org/v1` (the CRDs as stored) and `projectcalico.org/v3` (API server or v3
//! CRDs). The one difference is BlockAffinity `spec.deleted`, a string in v1 and a bool in v3.
//! Both shapes give the same facts; only the origins differ.
//!
//! Node labels are what Calico selectors see: for a core Node the Calico labels from the
//! `projectcalico.org/labels` annotation overlaid by the Kubernetes labels, then the labels inside a
//! `projectcalico.org/metadata` annotation (where calicoctl keeps user labels of v1 objects).
//! Node BGP annotations that Calico itself would ignore (an unparsable address, AS number or
//! cluster ID) are ignored here too, so the fact is the node as Calico peers it; the excerpt keeps
//! the raw annotation. Everything else that is malformed is an error naming its JSON pointer.
//!
//! Every fact's origin is the JSON pointer of the object it came from (`/items/3`, or
//! `/items/0/status/bgp/peersV4/1` for a session; the empty pointer is the whole document when the
//! input is one object) with a compact, bounded JSON excerpt.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::collect::ParseError;
use crate::collect::json::{excerpt, json_error, type_name};
use crate::model::{
    BgpConfigurationFact, BgpPeerConfig, BgpSession, BlockAffinityFact, Facts, IpPoolFact, Labels, NodeFact,
    Origin, Route, SessionType,
};

const CORE_V1: &str = "v1";
const CALICO_V1: &str = "crd.projectcalico.org/v1";
const CALICO_V3: &str = "projectcalico.org/v3";

const ANN_IPV4: &str = "projectcalico.org/IPv4Address";
const ANN_IPV6: &str = "projectcalico.org/IPv6Address";
const ANN_ASN: &str = "projectcalico.org/ASNumber";
const ANN_RR_CLUSTER_ID: &str = "projectcalico.org/RouteReflectorClusterID";
const ANN_CALICO_LABELS: &str = "projectcalico.org/labels";
const ANN_CALICO_METADATA: &str = "projectcalico.org/metadata";

const KINDS: [&str; 6] =
    ["Node", "BGPPeer", "BGPConfiguration", "IPPool", "BlockAffinity", "CalicoNodeStatus"];

/// Parse one JSON document: a list (kubectl `List` or an API `<Kind>List`) or a single object.
pub fn parse(raw: &[u8]) -> Result<Facts, ParseError> {
    let doc: Value = serde_json::from_slice(raw).map_err(|e| json_error(&e))?;
    let Some(root) = doc.as_object() else {
        return Err(ParseError::new(
            "",
            format!("expected a Kubernetes list or resource object, found {}", type_name(&doc)),
        ));
    };
    let mut facts = Facts::default();
    let list_kind = match root.get("kind") {
        Some(Value::String(k)) => Some(k.as_str()),
        None | Some(Value::Null) => None,
        Some(other) => return Err(wrong_type("/kind", "a string", other)),
    };
    let is_list = root.contains_key("items") || list_kind.is_some_and(|k| k.ends_with("List"));
    if !is_list {
        resource(&mut facts, Resource::new(root, String::new(), None, None))?;
        return Ok(facts);
    }
    // Typed API lists (`NodeList`) leave `kind` and `apiVersion` out of their items.
    let item_kind = list_kind.and_then(|k| k.strip_suffix("List")).filter(|k| !k.is_empty());
    if let Some(kind) = item_kind
        && !KINDS.contains(&kind)
    {
        return Err(unsupported_kind("/kind", list_kind.unwrap_or(kind)));
    }
    let list_api = root.get("apiVersion").and_then(Value::as_str);
    let items = match root.get("items") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(other) => return Err(wrong_type("/items", "an array", other)),
    };
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/items/{i}");
        let Some(obj) = item.as_object() else {
            return Err(wrong_type(&pointer, "an object", item));
        };
        resource(&mut facts, Resource::new(obj, pointer, item_kind, list_api))?;
    }
    Ok(facts)
}

/// One object of the document and where it is.
struct Resource<'a> {
    obj: &'a Map<String, Value>,
    pointer: String,
    default_kind: Option<&'a str>,
    default_api: Option<&'a str>,
}

impl<'a> Resource<'a> {
    fn new(
        obj: &'a Map<String, Value>,
        pointer: String,
        default_kind: Option<&'a str>,
        default_api: Option<&'a str>,
    ) -> Self {
        Resource { obj, pointer, default_kind, default_api }
    }

    fn pointer_to(&self, path: &[&str]) -> String {
        let mut p = self.pointer.clone();
        for segment in path {
            p.push('/');
            p.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        }
        p
    }

    fn get(&self, path: &[&str]) -> Option<&'a Value> {
        let (first, rest) = path.split_first()?;
        let mut v = self.obj.get(*first)?;
        for segment in rest {
            v = v.as_object()?.get(*segment)?;
        }
        // `null` is how Go writes an unset pointer field: treat it as absent.
        (!v.is_null()).then_some(v)
    }

    fn opt_str(&self, path: &[&str]) -> Result<Option<&'a str>, ParseError> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(wrong_type(&self.pointer_to(path), "a string", other)),
        }
    }

    /// A string field where empty means unset, as in Calico's Go types.
    fn opt_nonempty(&self, path: &[&str]) -> Result<Option<&'a str>, ParseError> {
        Ok(self.opt_str(path)?.filter(|s| !s.trim().is_empty()))
    }

    fn req_str(&self, path: &[&str]) -> Result<&'a str, ParseError> {
        self.opt_nonempty(path)?
            .ok_or_else(|| ParseError::new(self.pointer_to(path), "missing required field"))
    }

    fn opt_bool(&self, path: &[&str]) -> Result<Option<bool>, ParseError> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong_type(&self.pointer_to(path), "a boolean", other)),
        }
    }

    fn opt_array(&self, path: &[&str]) -> Result<&'a [Value], ParseError> {
        match self.get(path) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a.as_slice()),
            Some(other) => Err(wrong_type(&self.pointer_to(path), "an array", other)),
        }
    }

    fn opt_asn(&self, path: &[&str]) -> Result<Option<u32>, ParseError> {
        let Some(v) = self.get(path) else { return Ok(None) };
        asn_value(v).map_err(|m| ParseError::new(self.pointer_to(path), m))
    }

    fn cidr(&self, path: &[&str]) -> Result<IpNet, ParseError> {
        let text = self.req_str(path)?;
        text.trim()
            .parse::<IpNet>()
            .map(|n| n.trunc())
            .map_err(|_| ParseError::new(self.pointer_to(path), format!("invalid CIDR {text:?}")))
    }

    fn name(&self) -> Result<&'a str, ParseError> {
        self.req_str(&["metadata", "name"])
    }

    /// A `{string: string}` map (labels, annotations); absent is empty.
    fn string_map(&self, path: &[&str]) -> Result<Labels, ParseError> {
        let Some(v) = self.get(path) else { return Ok(Labels::new()) };
        let Some(map) = v.as_object() else {
            return Err(wrong_type(&self.pointer_to(path), "an object", v));
        };
        let mut out = Labels::new();
        for (k, v) in map {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                Value::Null => {}
                other => {
                    let mut p = path.to_vec();
                    p.push(k);
                    return Err(wrong_type(&self.pointer_to(&p), "a string", other));
                }
            }
        }
        Ok(out)
    }

    fn annotation(&self, key: &str) -> Result<Option<&'a str>, ParseError> {
        self.opt_nonempty(&["metadata", "annotations", key])
    }

    /// The labels Calico selectors match against (see the module header).
    fn calico_labels(&self) -> Result<Labels, ParseError> {
        // Calico ignores an unparsable labels annotation (it only logs a warning).
        let mut labels: Labels = self
            .annotation(ANN_CALICO_LABELS)?
            .and_then(|text| serde_json::from_str::<Labels>(text).ok())
            .unwrap_or_default();
        labels.extend(self.string_map(&["metadata", "labels"])?);
        if let Some(text) = self.annotation(ANN_CALICO_METADATA)? {
            let pointer = self.pointer_to(&["metadata", "annotations", ANN_CALICO_METADATA]);
            let meta: Value = serde_json::from_str(text)
                .map_err(|e| ParseError::new(&pointer, format!("invalid JSON in annotation: {e}")))?;
            if let Some(extra) = meta.get("labels").filter(|v| !v.is_null()) {
                let extra: Labels = serde_json::from_value(extra.clone())
                    .map_err(|e| ParseError::new(&pointer, format!("invalid labels in annotation: {e}")))?;
                labels.extend(extra);
            }
        }
        Ok(labels)
    }

    fn origin(&self, part: &Value) -> Origin {
        Origin::at_pointer(self.pointer.clone(), excerpt(part))
    }

    fn spec_origin(&self) -> Origin {
        self.origin(self.get(&["spec"]).unwrap_or(&Value::Null))
    }
}

fn resource(facts: &mut Facts, r: Resource<'_>) -> Result<(), ParseError> {
    let kind = match r.obj.get("kind") {
        Some(Value::String(k)) => k.as_str(),
        None | Some(Value::Null) => {
            r.default_kind.ok_or_else(|| ParseError::new(r.pointer_to(&["kind"]), "missing kind"))?
        }
        Some(other) => return Err(wrong_type(&r.pointer_to(&["kind"]), "a string", other)),
    };
    let api = match r.obj.get("apiVersion") {
        Some(Value::String(a)) => Some(a.as_str()),
        None | Some(Value::Null) => r.default_api,
        Some(other) => return Err(wrong_type(&r.pointer_to(&["apiVersion"]), "a string", other)),
    };
    if !KINDS.contains(&kind) {
        return Err(unsupported_kind(&r.pointer_to(&["kind"]), kind));
    }
    // Other projects reuse these kind names (kube-ovn has an `IPPool`): insist on Calico's groups.
    let api_ok = match (kind, api) {
        (_, None) => true,
        ("Node", Some(a)) => a == CORE_V1 || a == CALICO_V3,
        (_, Some(a)) => a == CALICO_V1 || a == CALICO_V3,
    };
    if !api_ok {
        return Err(ParseError::new(
            r.pointer_to(&["apiVersion"]),
            format!("unsupported apiVersion {:?} for kind {kind}", api.unwrap_or_default()),
        ));
    }
    match kind {
        "Node" if api == Some(CALICO_V3) => facts.nodes.push(calico_node(&r)?),
        "Node" => facts.nodes.push(core_node(&r)?),
        "BGPPeer" => facts.bgp_peers.push(bgp_peer(&r)?),
        "BGPConfiguration" => facts.bgp_configurations.push(bgp_configuration(&r)?),
        "IPPool" => facts.ip_pools.push(ip_pool(&r)?),
        "BlockAffinity" => facts.block_affinities.extend(block_affinity(&r)?),
        _ => node_status(facts, &r)?,
    }
    Ok(())
}

/// A core v1 Node: Calico keeps its per-node BGP settings in annotations.
fn core_node(r: &Resource<'_>) -> Result<NodeFact, ParseError> {
    let name = r.name()?;
    let labels = r.calico_labels()?;
    let bgp_ipv4 = r.annotation(ANN_IPV4)?.and_then(bgp_address).filter(|n| matches!(n, IpNet::V4(_)));
    let bgp_ipv6 = r.annotation(ANN_IPV6)?.and_then(bgp_address).filter(|n| matches!(n, IpNet::V6(_)));
    let asn = r.annotation(ANN_ASN)?.and_then(parse_asn);
    let rr_cluster_id = r
        .annotation(ANN_RR_CLUSTER_ID)?
        .filter(|id| id.trim().parse::<std::net::Ipv4Addr>().is_ok())
        .map(str::to_string);
    let addresses = node_addresses(r, &["status", "addresses"])?;

    let mut excerpt = Map::new();
    excerpt.insert("name".into(), Value::from(name));
    if let Some(l) = r.get(&["metadata", "labels"]) {
        excerpt.insert("labels".into(), l.clone());
    }
    if let Some(Value::Object(all)) = r.get(&["metadata", "annotations"]) {
        let calico: Map<String, Value> = all
            .iter()
            .filter(|(k, _)| k.starts_with("projectcalico.org/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !calico.is_empty() {
            excerpt.insert("annotations".into(), Value::Object(calico));
        }
    }
    let origin = r.origin(&Value::Object(excerpt));
    Ok(NodeFact { name: name.to_string(), labels, bgp_ipv4, bgp_ipv6, addresses, asn, rr_cluster_id, origin })
}

/// A Calico v3 Node (`calicoctl get nodes -o json`): BGP settings in `spec.bgp`.
fn calico_node(r: &Resource<'_>) -> Result<NodeFact, ParseError> {
    let name = r.name()?;
    let labels = r.calico_labels()?;
    let address = |key: &str| -> Result<Option<IpNet>, ParseError> {
        let path = ["spec", "bgp", key];
        match r.opt_nonempty(&path)? {
            None => Ok(None),
            Some(text) => bgp_address(text)
                .map(Some)
                .ok_or_else(|| ParseError::new(r.pointer_to(&path), format!("invalid address {text:?}"))),
        }
    };
    let bgp_ipv4 = address("ipv4Address")?;
    let bgp_ipv6 = address("ipv6Address")?;
    let asn = r.opt_asn(&["spec", "bgp", "asNumber"])?;
    let rr_cluster_id = r.opt_nonempty(&["spec", "bgp", "routeReflectorClusterID"])?.map(str::to_string);
    let addresses = node_addresses(r, &["spec", "addresses"])?;

    let mut excerpt = Map::new();
    excerpt.insert("name".into(), Value::from(name));
    if let Some(l) = r.get(&["metadata", "labels"]) {
        excerpt.insert("labels".into(), l.clone());
    }
    if let Some(bgp) = r.get(&["spec", "bgp"]) {
        excerpt.insert("bgp".into(), bgp.clone());
    }
    let origin = r.origin(&Value::Object(excerpt));
    Ok(NodeFact { name: name.to_string(), labels, bgp_ipv4, bgp_ipv6, addresses, asn, rr_cluster_id, origin })
}

/// `InternalIP` / `ExternalIP` entries of `[{address, type}]`; the `CalicoNodeIP` entry repeats
/// the BGP address and host names are not addresses.
fn node_addresses(r: &Resource<'_>, path: &[&str]) -> Result<Vec<IpAddr>, ParseError> {
    let mut out = Vec::new();
    for entry in r.opt_array(path)? {
        let kind = entry.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("InternalIP" | "ExternalIP")) {
            continue;
        }
        let text = entry.get("address").and_then(Value::as_str).unwrap_or_default().trim();
        let addr = text.parse::<IpAddr>().ok().or_else(|| text.parse::<IpNet>().ok().map(|n| n.addr()));
        if let Some(addr) = addr.filter(|a| !out.contains(a)) {
            out.push(addr);
        }
    }
    Ok(out)
}

fn bgp_peer(r: &Resource<'_>) -> Result<BgpPeerConfig, ParseError> {
    let name = r.name()?;
    let (peer_ip, peer_port) = match r.opt_nonempty(&["spec", "peerIP"])? {
        None => (None, None),
        Some(text) => {
            let (ip, port) = parse_peer_ip(text).ok_or_else(|| {
                ParseError::new(
                    r.pointer_to(&["spec", "peerIP"]),
                    format!("invalid peerIP {text:?} (expected <ip>, <ipv4>:<port> or [<ipv6>]:<port>)"),
                )
            })?;
            (Some(ip), port)
        }
    };
    Ok(BgpPeerConfig {
        name: name.to_string(),
        node: r.opt_nonempty(&["spec", "node"])?.map(str::to_string),
        node_selector: r.opt_nonempty(&["spec", "nodeSelector"])?.map(str::to_string),
        peer_ip,
        peer_port,
        peer_selector: r.opt_nonempty(&["spec", "peerSelector"])?.map(str::to_string),
        // Calico omits asNumber when it is 0 (unset).
        asn: r.opt_asn(&["spec", "asNumber"])?.filter(|&asn| asn != 0),
        origin: r.spec_origin(),
    })
}

fn bgp_configuration(r: &Resource<'_>) -> Result<BgpConfigurationFact, ParseError> {
    Ok(BgpConfigurationFact {
        name: r.name()?.to_string(),
        node_to_node_mesh: r.opt_bool(&["spec", "nodeToNodeMeshEnabled"])?.unwrap_or(true),
        asn: r.opt_asn(&["spec", "asNumber"])?,
        origin: r.spec_origin(),
    })
}

fn ip_pool(r: &Resource<'_>) -> Result<IpPoolFact, ParseError> {
    Ok(IpPoolFact {
        name: r.name()?.to_string(),
        cidr: r.cidr(&["spec", "cidr"])?,
        node_selector: r.opt_nonempty(&["spec", "nodeSelector"])?.unwrap_or("all()").to_string(),
        disabled: r.opt_bool(&["spec", "disabled"])?.unwrap_or(false),
        origin: r.spec_origin(),
    })
}

/// `None` for an affinity marked deleted: IPAM readers must ignore those.
fn block_affinity(r: &Resource<'_>) -> Result<Option<BlockAffinityFact>, ParseError> {
    let path = ["spec", "deleted"];
    let deleted = match r.get(&path) {
        None => false,
        Some(Value::Bool(b)) => *b,
        // v1 stores the flag as a string; Go's strconv.ParseBool spellings.
        Some(Value::String(s)) => match s.as_str() {
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            other => {
                return Err(ParseError::new(
                    r.pointer_to(&path),
                    format!("invalid deleted flag {other:?} (expected \"true\" or \"false\")"),
                ));
            }
        },
        Some(other) => return Err(wrong_type(&r.pointer_to(&path), "a boolean or a string", other)),
    };
    if deleted {
        return Ok(None);
    }
    Ok(Some(BlockAffinityFact {
        name: r.name()?.to_string(),
        node: r.req_str(&["spec", "node"])?.to_string(),
        cidr: r.cidr(&["spec", "cidr"])?,
        state: r.opt_str(&["spec", "state"])?.unwrap_or_default().to_string(),
        origin: r.spec_origin(),
    }))
}

/// Sessions and routes that calico-node reported for its node.
fn node_status(facts: &mut Facts, r: &Resource<'_>) -> Result<(), ParseError> {
    let observer = match r.opt_nonempty(&["spec", "node"])? {
        Some(node) => node,
        None => r.name()?,
    };
    for family in ["peersV4", "peersV6"] {
        let path = ["status", "bgp", family];
        for (j, peer) in r.opt_array(&path)?.iter().enumerate() {
            let index = j.to_string();
            let at = |field: &str| {
                let mut p = path.to_vec();
                p.push(&index);
                if !field.is_empty() {
                    p.push(field);
                }
                r.pointer_to(&p)
            };
            let Some(obj) = peer.as_object() else {
                return Err(wrong_type(&at(""), "an object", peer));
            };
            let field = |name: &str| -> Result<Option<&str>, ParseError> {
                match obj.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
                    Some(other) => Err(wrong_type(&at(name), "a string", other)),
                }
            };
            let ip_text =
                field("peerIP")?.ok_or_else(|| ParseError::new(at("peerIP"), "missing required field"))?;
            let peer_addr = ip_text
                .trim()
                .parse::<IpAddr>()
                .map_err(|_| ParseError::new(at("peerIP"), format!("invalid IP address {ip_text:?}")))?;
            let session_type = match field("type")? {
                Some("NodeMesh") => SessionType::Mesh,
                Some("NodePeer") => SessionType::Node,
                Some("GlobalPeer") => SessionType::Global,
                _ => SessionType::Unknown,
            };
            facts.sessions.push(BgpSession {
                observer: observer.to_string(),
                vrf: None,
                protocol: None,
                local_addr: None,
                peer_addr,
                peer_asn: None,
                // calico-node leaves state out for BIRD states it does not map ("empty means unknown").
                state: field("state")?.unwrap_or("Unknown").to_string(),
                since: field("since")?.map(str::to_string),
                session_type,
                prefixes_received: None,
                origin: Origin::at_pointer(at(""), excerpt(peer)),
            });
        }
    }
    for family in ["routesV4", "routesV6"] {
        let path = ["status", "routes", family];
        for (j, route) in r.opt_array(&path)?.iter().enumerate() {
            let index = j.to_string();
            let at = |field: &[&str]| {
                let mut p = path.to_vec();
                p.push(&index);
                p.extend_from_slice(field);
                r.pointer_to(&p)
            };
            if !route.is_object() {
                return Err(wrong_type(&at(&[]), "an object", route));
            }
            let field = |names: &[&str]| -> Result<Option<&str>, ParseError> {
                let mut v = Some(route);
                for name in names {
                    v = v.and_then(|v| v.get(*name));
                }
                match v {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
                    Some(other) => Err(wrong_type(&at(names), "a string", other)),
                }
            };
            let dest = field(&["destination"])?
                .ok_or_else(|| ParseError::new(at(&["destination"]), "missing required field"))?;
            let prefix = dest
                .trim()
                .parse::<IpNet>()
                .map_err(|_| ParseError::new(at(&["destination"]), format!("invalid CIDR {dest:?}")))?;
            // `N/A` marks device, blackhole and unreachable routes.
            let next_hops = match field(&["gateway"])? {
                None | Some("N/A") => Vec::new(),
                Some(gw) => vec![gw.trim().parse::<IpAddr>().map_err(|_| {
                    ParseError::new(
                        at(&["gateway"]),
                        format!("invalid gateway {gw:?} (expected an IP or N/A)"),
                    )
                })?],
            };
            let protocol =
                match field(&["learnedFrom", "sourceType"])?.map(str::to_ascii_lowercase).as_deref() {
                    Some("bgppeer" | "nodemesh") => "bgp".to_string(),
                    Some(other) => other.to_string(),
                    None => "unknown".to_string(),
                };
            // Decoded by calico-node from the BIRD protocol name, so it can be junk
            // (`10.0.0.1.port.179` for a peer with a port): keep it only when it is an address.
            let learned_from =
                field(&["learnedFrom", "peerIP"])?.and_then(|ip| ip.trim().parse::<IpAddr>().ok());
            facts.routes.push(Route {
                observer: observer.into(),
                table: "master".into(),
                prefix,
                next_hops,
                protocol: protocol.into(),
                learned_from,
                as_path: Vec::new(),
                best: field(&["type"])? == Some("FIB"),
                origin: Origin::at_pointer(at(&[]), excerpt(route)),
            });
        }
    }
    Ok(())
}

/// `10.0.0.1`, `10.0.0.1:179`, `[fd00::1]:179` (and a bare `fd00::1` or `[fd00::1]`).
fn parse_peer_ip(text: &str) -> Option<(IpAddr, Option<u16>)> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// Calico's `ASNumber`: a JSON number, or a string in plain (`"64512"`) or dotted (`"1.10"`) form.
fn asn_value(v: &Value) -> Result<Option<u32>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("invalid AS number {n}")),
        Value::String(s) => parse_asn(s).map(Some).ok_or_else(|| format!("invalid AS number {s:?}")),
        other => Err(format!("expected an AS number, found {}", type_name(other))),
    }
}

fn parse_asn(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.split_once('.') {
        Some((high, low)) => {
            let high: u16 = high.parse().ok()?;
            let low: u16 = low.parse().ok()?;
            Some(u32::from(high) << 16 | u32::from(low))
        }
        None => text.parse().ok(),
    }
}

/// A node BGP address: CIDR as Calico stores it; a bare address is taken as a host route.
fn bgp_address(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn wrong_type(pointer: &str, expected: &str, found: &Value) -> ParseError {
    ParseError::new(pointer, format!("expected {expected}, found {}", type_name(found)))
}

fn unsupported_kind(pointer: &str, kind: &str) -> ParseError {
    ParseError::new(
        pointer,
        format!("unsupported kind {kind:?} (expected {} or a list of them)", KINDS.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORE_NODES: &[u8] = include_bytes!("../../tests/fixtures/calico/nodes-core-v1-kubectl.json");
    const CALICOCTL_NODES: &[u8] = include_bytes!("../../tests/fixtures/calico/nodes-calicoctl-v3.json");
    const PEERS_V1: &[u8] = include_bytes!("../../tests/fixtures/calico/bgppeers-v1-kubectl.json");
    const PEERS_V3: &[u8] = include_bytes!("../../tests/fixtures/calico/bgppeers-v3-api-list.json");
    const BGP_CONFIG: &[u8] = include_bytes!("../../tests/fixtures/calico/bgpconfiguration-mesh-off.json");
    const IP_POOLS: &[u8] = include_bytes!("../../tests/fixtures/calico/ippools-per-zone.json");
    const AFFINITIES: &[u8] = include_bytes!("../../tests/fixtures/calico/blockaffinities-v1-kubectl.json");
    const STATUS_V1: &[u8] = include_bytes!("../../tests/fixtures/calico/caliconodestatus-v1-kubectl.json");
    const STATUS_V3: &[u8] = include_bytes!("../../tests/fixtures/calico/caliconodestatus-v3-api-list.json");

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    /// The same facts with the origins blanked, to compare v1 and v3 shapes.
    fn without_origins(mut f: Facts) -> Facts {
        let blank = Origin::default;
        f.nodes.iter_mut().for_each(|x| x.origin = blank());
        f.bgp_peers.iter_mut().for_each(|x| x.origin = blank());
        f.bgp_configurations.iter_mut().for_each(|x| x.origin = blank());
        f.ip_pools.iter_mut().for_each(|x| x.origin = blank());
        f.block_affinities.iter_mut().for_each(|x| x.origin = blank());
        f.sessions.iter_mut().for_each(|x| x.origin = blank());
        f.routes.iter_mut().for_each(|x| x.origin = blank());
        f
    }

    fn err(json: &str) -> ParseError {
        parse(json.as_bytes()).expect_err(json)
    }

    #[test]
    fn core_nodes_carry_calico_annotations_and_zone_labels() {
        let facts = parse(CORE_NODES).unwrap();
        let names: Vec<_> = facts.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["rr-a-1", "rr-a-2", "wk-a-1", "wk-a-2", "rr-b-1", "wk-b-1"]);
        assert_eq!(facts.counts().len(), 1, "only nodes: {:?}", facts.counts());

        let rr = &facts.nodes[0];
        assert_eq!(rr.bgp_ipv4, Some(net("10.10.1.11/24")));
        assert_eq!(rr.bgp_ipv6, None);
        assert_eq!(rr.asn, Some(64601));
        assert_eq!(rr.rr_cluster_id.as_deref(), Some("244.0.1.1"));
        assert!(rr.is_route_reflector());
        assert_eq!(rr.addresses, [ip("10.10.1.11")]);
        assert_eq!(rr.labels["topology.kubernetes.io/zone"], "zone-a");
        assert_eq!(rr.labels["route-reflector"], "true");
        assert_eq!(rr.origin.locator, "/items/0");
        assert!(rr.origin.excerpt.starts_with(r#"{"name":"rr-a-1","labels":{"#), "{}", rr.origin.excerpt);
        assert!(rr.origin.excerpt.contains(r#""projectcalico.org/IPv4Address":"10.10.1.11/24""#));
        assert!(!rr.origin.excerpt.contains("volumes.kubernetes.io"), "only Calico annotations");

        let wk_b = &facts.nodes[5];
        assert_eq!((wk_b.asn, wk_b.rr_cluster_id.as_deref()), (Some(64602), None));
        assert_eq!(wk_b.labels["topology.kubernetes.io/zone"], "zone-b");
        assert_eq!(wk_b.origin.locator, "/items/5");
    }

    #[test]
    fn calicoctl_nodes_give_the_same_facts_as_core_nodes() {
        let calicoctl = parse(CALICOCTL_NODES).unwrap();
        assert_eq!(calicoctl.nodes[4].origin.locator, "/items/4");
        assert!(calicoctl.nodes[4].origin.excerpt.contains(r#""bgp":{"asNumber":64602"#));
        assert_eq!(without_origins(calicoctl), without_origins(parse(CORE_NODES).unwrap()));
    }

    #[test]
    fn bgp_peers_from_kubectl_v1_list() {
        let facts = parse(PEERS_V1).unwrap();
        assert_eq!(facts.bgp_peers.len(), 6);
        let to_rr = &facts.bgp_peers[0];
        assert_eq!(to_rr.name, "zone-a-workers-to-rr");
        assert_eq!(
            to_rr.node_selector.as_deref(),
            Some("topology.kubernetes.io/zone == 'zone-a' && !has(route-reflector)")
        );
        assert_eq!(
            to_rr.peer_selector.as_deref(),
            Some("topology.kubernetes.io/zone == 'zone-a' && route-reflector == 'true'")
        );
        assert_eq!((to_rr.peer_ip, to_rr.asn, to_rr.node.as_deref()), (None, None, None));
        assert!(!to_rr.is_global());

        let leaf = &facts.bgp_peers[5];
        assert_eq!(leaf.name, "zone-b-rr-to-leaf-vrf");
        assert_eq!((leaf.peer_ip, leaf.peer_port, leaf.asn), (Some(ip("10.20.1.1")), None, Some(65102)));
        assert_eq!(leaf.origin.locator, "/items/5");
        assert!(leaf.origin.excerpt.starts_with(r#"{"asNumber":65102,"keepOriginalNextHop":true"#));
    }

    #[test]
    fn bgp_peers_v1_and_v3_give_the_same_facts() {
        let v3 = parse(PEERS_V3).unwrap();
        assert_eq!(v3.bgp_peers[2].name, "zone-a-rr-to-leaf-vrf");
        assert_eq!(v3.bgp_peers[2].peer_ip, Some(ip("10.10.1.1")));
        assert_eq!(without_origins(v3), without_origins(parse(PEERS_V1).unwrap()));
    }

    #[test]
    fn peer_ip_forms_and_as_number_forms() {
        let peer = |peer_ip: &str, asn: &str| {
            let doc = format!(
                r#"{{"apiVersion":"projectcalico.org/v3","kind":"BGPPeer","metadata":{{"name":"p"}},
                    "spec":{{"peerIP":{peer_ip:?},"asNumber":{asn}}}}}"#
            );
            let facts = parse(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc}: {e}"));
            let p = facts.bgp_peers.into_iter().next().unwrap();
            (p.peer_ip, p.peer_port, p.asn)
        };
        assert_eq!(peer("10.0.0.1", "64512"), (Some(ip("10.0.0.1")), None, Some(64512)));
        assert_eq!(peer("10.0.0.1:179", "\"64512\""), (Some(ip("10.0.0.1")), Some(179), Some(64512)));
        assert_eq!(peer("[fd00::1]:1179", "\"1.10\""), (Some(ip("fd00::1")), Some(1179), Some(65546)));
        assert_eq!(peer("fd00::1", "4200000000"), (Some(ip("fd00::1")), None, Some(4_200_000_000)));
        assert_eq!(peer("", "0"), (None, None, None));

        let bad_ip = err(r#"{"kind":"BGPPeer","metadata":{"name":"p"},"spec":{"peerIP":"10.0.0.300"}}"#);
        assert_eq!(bad_ip.locator, "/spec/peerIP");
        assert!(bad_ip.message.contains(r#"invalid peerIP "10.0.0.300""#), "{bad_ip}");
        let bad_asn = err(r#"{"kind":"BGPPeer","metadata":{"name":"p"},"spec":{"asNumber":"1.70000"}}"#);
        assert_eq!(bad_asn.to_string(), r#"/spec/asNumber: invalid AS number "1.70000""#);
        let negative = err(r#"{"kind":"BGPPeer","metadata":{"name":"p"},"spec":{"asNumber":-1}}"#);
        assert_eq!(negative.to_string(), "/spec/asNumber: invalid AS number -1");
    }

    #[test]
    fn peer_without_node_scope_is_global() {
        let facts = parse(
            br#"{"kind":"BGPPeerList","apiVersion":"crd.projectcalico.org/v1","items":[
                {"metadata":{"name":"tor"},"spec":{"peerIP":"10.255.1.2","asNumber":65000,"nodeSelector":""}}]}"#,
        )
        .unwrap();
        let tor = &facts.bgp_peers[0];
        assert_eq!(tor.node_selector, None, "empty nodeSelector is unset");
        assert!(tor.is_global());
        assert_eq!(tor.origin.locator, "/items/0");
    }

    #[test]
    fn bgp_configuration_mesh_off_and_default_on() {
        let facts = parse(BGP_CONFIG).unwrap();
        let default = &facts.bgp_configurations[0];
        assert_eq!(
            (default.name.as_str(), default.node_to_node_mesh, default.asn),
            ("default", false, Some(64512))
        );
        assert_eq!(default.origin.locator, "/items/0");
        assert!(default.origin.excerpt.contains(r#""nodeToNodeMeshEnabled":false"#));

        let absent =
            parse(br#"{"kind":"BGPConfiguration","metadata":{"name":"default"},"spec":{}}"#).unwrap();
        assert!(absent.bgp_configurations[0].node_to_node_mesh, "absent means the mesh is on");
        assert_eq!(absent.bgp_configurations[0].asn, None);
        let wrong = err(
            r#"{"kind":"BGPConfiguration","metadata":{"name":"d"},"spec":{"nodeToNodeMeshEnabled":"no"}}"#,
        );
        assert_eq!(wrong.to_string(), "/spec/nodeToNodeMeshEnabled: expected a boolean, found a string");
    }

    #[test]
    fn ip_pools_with_selectors_and_disabled_default_pool() {
        let facts = parse(IP_POOLS).unwrap();
        let pools: Vec<_> = facts
            .ip_pools
            .iter()
            .map(|p| (p.name.as_str(), p.cidr, p.node_selector.as_str(), p.disabled))
            .collect();
        assert_eq!(
            pools,
            [
                ("zone-a-pool", net("192.168.10.0/24"), "topology.kubernetes.io/zone == 'zone-a'", false),
                ("zone-b-pool", net("192.168.20.0/24"), "topology.kubernetes.io/zone == 'zone-b'", false),
                ("default-ipv4-ippool", net("192.168.0.0/16"), "all()", true),
            ]
        );
        assert_eq!(facts.ip_pools[2].origin.locator, "/items/2");
        assert!(facts.ip_pools[2].origin.excerpt.contains(r#""disabled":true"#));

        let no_selector =
            parse(br#"{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"p"},"spec":{"cidr":"fd00:10::/48"}}"#)
                .unwrap();
        assert_eq!(no_selector.ip_pools[0].node_selector, "all()");
        assert_eq!(no_selector.ip_pools[0].cidr, net("fd00:10::/48"));
    }

    #[test]
    fn bad_or_missing_cidr_names_the_pointer() {
        let doc = String::from_utf8(IP_POOLS.to_vec()).unwrap().replace("192.168.0.0/16", "10.0.0/8");
        let e = parse(doc.as_bytes()).unwrap_err();
        assert_eq!(e.locator, "/items/2/spec/cidr");
        assert_eq!(e.to_string(), r#"/items/2/spec/cidr: invalid CIDR "10.0.0/8""#);

        let missing = err(r#"{"kind":"List","items":[{"kind":"IPPool","metadata":{"name":"p"},"spec":{}}]}"#);
        assert_eq!(missing.to_string(), "/items/0/spec/cidr: missing required field");
        let no_name =
            err(r#"{"kind":"List","items":[{"kind":"IPPool","metadata":{},"spec":{"cidr":"10.0.0.0/8"}}]}"#);
        assert_eq!(no_name.to_string(), "/items/0/metadata/name: missing required field");
    }

    #[test]
    fn block_affinities_skip_deleted_in_both_shapes() {
        let facts = parse(AFFINITIES).unwrap();
        let blocks: Vec<_> =
            facts.block_affinities.iter().map(|b| (b.node.as_str(), b.cidr, b.state.as_str())).collect();
        assert_eq!(
            blocks,
            [
                ("wk-a-1", net("192.168.10.0/26"), "confirmed"),
                ("wk-a-2", net("192.168.10.64/26"), "confirmed"),
                ("wk-b-1", net("192.168.20.0/26"), "confirmed"),
                ("wk-b-2", net("192.168.20.64/26"), "confirmed"),
            ]
        );
        assert_eq!(facts.block_affinities[0].name, "wk-a-1-192-168-10-0-26");

        let mixed = parse(
            br#"{"kind":"List","items":[
            {"apiVersion":"crd.projectcalico.org/v1","kind":"BlockAffinity","metadata":{"name":"gone-v1"},
             "spec":{"cidr":"192.168.10.0/26","deleted":"true","node":"wk-a-1","state":"pendingDeletion"}},
            {"apiVersion":"projectcalico.org/v3","kind":"BlockAffinity","metadata":{"name":"gone-v3"},
             "spec":{"cidr":"192.168.10.64/26","deleted":true,"node":"wk-a-2","state":"confirmed"}},
            {"apiVersion":"projectcalico.org/v3","kind":"BlockAffinity","metadata":{"name":"kept-v3"},
             "spec":{"cidr":"192.168.20.0/26","deleted":false,"node":"wk-b-1","state":"confirmed"}}]}"#,
        )
        .unwrap();
        assert_eq!(mixed.block_affinities.len(), 1);
        assert_eq!(mixed.block_affinities[0].name, "kept-v3");
        assert_eq!(mixed.block_affinities[0].origin.locator, "/items/2");

        let odd = err(r#"{"kind":"BlockAffinity","metadata":{"name":"b"},"spec":{"deleted":"maybe"}}"#);
        assert_eq!(odd.locator, "/spec/deleted");
    }

    #[test]
    fn node_status_gives_sessions_and_routes() {
        let facts = parse(STATUS_V1).unwrap();
        assert_eq!(facts.sessions.len(), 7);
        assert_eq!(facts.routes.len(), 17);

        let worker: Vec<_> = facts.sessions.iter().filter(|s| s.observer == "wk-a-1").collect();
        assert_eq!(
            worker.iter().map(|s| s.peer_addr).collect::<Vec<_>>(),
            [ip("10.10.1.11"), ip("10.10.1.12")]
        );
        assert!(worker.iter().all(|s| s.is_established() && s.session_type == SessionType::Node));
        assert_eq!(worker[0].since.as_deref(), Some("08:14:03"));

        let down = &facts.sessions[6];
        assert_eq!((down.observer.as_str(), down.peer_addr), ("rr-a-1", ip("10.10.1.23")));
        assert_eq!(down.state, "Active");
        assert!(!down.is_established());
        assert_eq!(down.origin.locator, "/items/1/status/bgp/peersV4/4");
        assert_eq!(
            down.origin.excerpt,
            r#"{"peerIP":"10.10.1.23","since":"08:20:11","state":"Active","type":"NodePeer"}"#
        );

        // wk-a-1 learned zone-b's block from its RR, next hop the leaf.
        let learned: Vec<_> = facts
            .routes
            .iter()
            .filter(|r| r.observer == "wk-a-1" && r.prefix == net("192.168.20.0/26"))
            .map(|r| (r.best, r.learned_from, r.next_hops.clone(), r.protocol.as_str(), r.table.as_str()))
            .collect();
        assert_eq!(
            learned,
            [
                (true, Some(ip("10.10.1.11")), vec![ip("10.10.1.1")], "bgp", "master"),
                (false, Some(ip("10.10.1.12")), vec![ip("10.10.1.1")], "bgp", "master"),
            ]
        );
        let blackhole = &facts.routes[1];
        assert_eq!((blackhole.prefix, blackhole.protocol.as_str()), (net("192.168.10.0/26"), "static"));
        assert!(blackhole.next_hops.is_empty() && blackhole.learned_from.is_none());
        assert_eq!(blackhole.origin.locator, "/items/0/status/routes/routesV4/1");
        assert_eq!(facts.routes[0].protocol, "kernel");
        assert_eq!(facts.routes[10].protocol, "direct");
    }

    #[test]
    fn node_status_v1_and_v3_give_the_same_facts() {
        let v3 = parse(STATUS_V3).unwrap();
        assert_eq!(v3.sessions[6].origin.locator, "/items/1/status/bgp/peersV4/4");
        assert_eq!(without_origins(v3), without_origins(parse(STATUS_V1).unwrap()));
    }

    #[test]
    fn node_status_edge_cases() {
        let facts = parse(
            br#"{"apiVersion":"projectcalico.org/v3","kind":"CalicoNodeStatus","metadata":{"name":"status-rr"},
              "spec":{"node":"rr-b-1"},
              "status":{"bgp":{"peersV6":[{"peerIP":"fd00:20::1","type":"GlobalPeer"},
                                          {"peerIP":"fd00:20::2","type":"NodeMesh","state":"Idle"}]},
                        "routes":{"routesV6":[{"destination":"fd00:192:168:20::/122","gateway":"fd00:20::1",
                          "interface":"ens192","type":"RIB",
                          "learnedFrom":{"sourceType":"NodeMesh","peerIP":"fd00.20..1.port.179"}}]}}}"#,
        )
        .unwrap();
        let s: Vec<_> =
            facts.sessions.iter().map(|s| (s.observer.as_str(), s.state.as_str(), s.session_type)).collect();
        assert_eq!(s, [("rr-b-1", "Unknown", SessionType::Global), ("rr-b-1", "Idle", SessionType::Mesh)]);
        assert_eq!(facts.sessions[0].origin.locator, "/status/bgp/peersV6/0");
        let r = &facts.routes[0];
        assert_eq!(
            (r.protocol.as_str(), r.best, r.learned_from),
            ("bgp", false, None),
            "bogus peerIP dropped"
        );
        assert_eq!(r.next_hops, [ip("fd00:20::1")]);

        let unpopulated =
            parse(br#"{"kind":"CalicoNodeStatus","metadata":{"name":"n"},"spec":{"node":"n"}}"#);
        assert_eq!(unpopulated.unwrap(), Facts::default());

        let bad_peer = err(r#"{"kind":"List","items":[{"kind":"CalicoNodeStatus","metadata":{"name":"n"},
               "status":{"bgp":{"peersV4":[{"peerIP":"10.0.0.1"},{"peerIP":"10.0.0.x"}]}}}]}"#);
        assert_eq!(
            bad_peer.to_string(),
            r#"/items/0/status/bgp/peersV4/1/peerIP: invalid IP address "10.0.0.x""#
        );
        let bad_dest = err(
            r#"{"kind":"CalicoNodeStatus","metadata":{"name":"n"},"status":{"routes":{"routesV4":[{"destination":"x"}]}}}"#,
        );
        assert_eq!(bad_dest.locator, "/status/routes/routesV4/0/destination");
    }

    #[test]
    fn labels_merge_calico_annotations_like_calico() {
        let facts = parse(
            br#"{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"n1",
              "labels":{"shadowed":"k8s","topology.kubernetes.io/zone":"zone-a"},
              "annotations":{"projectcalico.org/labels":"{\"rack\":\"r1\",\"shadowed\":\"calico\"}",
                             "projectcalico.org/metadata":"{\"labels\":{\"team\":\"net\"}}",
                             "projectcalico.org/IPv4Address":"10.10.1.99",
                             "projectcalico.org/IPv6Address":"10.10.1.99/24",
                             "projectcalico.org/ASNumber":"not-a-number",
                             "projectcalico.org/RouteReflectorClusterID":""}},
              "status":{"addresses":[{"type":"Hostname","address":"n1"},{"type":"ExternalIP","address":"203.0.113.9"}]}}]}"#,
        )
        .unwrap();
        let n = &facts.nodes[0];
        let labels: Vec<_> = n.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            labels,
            [("rack", "r1"), ("shadowed", "k8s"), ("team", "net"), ("topology.kubernetes.io/zone", "zone-a")]
        );
        // What Calico itself would drop is dropped: a v4 address in the v6 annotation, a bad ASN, an empty ID.
        assert_eq!((n.bgp_ipv4, n.bgp_ipv6, n.asn), (Some(net("10.10.1.99/32")), None, None));
        assert!(!n.is_route_reflector());
        assert_eq!(n.addresses, [ip("203.0.113.9")]);

        let bad_meta = err(
            r#"{"kind":"Node","apiVersion":"v1","metadata":{"name":"n","annotations":{"projectcalico.org/metadata":"{"}}}"#,
        );
        assert_eq!(bad_meta.locator, "/metadata/annotations/projectcalico.org~1metadata");
    }

    #[test]
    fn long_excerpts_are_bounded() {
        let long = "x".repeat(2000);
        let doc = format!(
            r#"{{"kind":"BGPPeer","metadata":{{"name":"p"}},"spec":{{"nodeSelector":"has({long})"}}}}"#
        );
        let facts = parse(doc.as_bytes()).unwrap();
        let excerpt = &facts.bgp_peers[0].origin.excerpt;
        assert_eq!(excerpt.chars().count(), crate::collect::json::MAX_EXCERPT_CHARS + 1);
        assert!(excerpt.starts_with(r#"{"nodeSelector":"has(xxx"#) && excerpt.ends_with('…'));
        assert_eq!(facts.bgp_peers[0].origin.locator, "", "a single object is the whole document");
    }

    #[test]
    fn malformed_and_truncated_json_name_line_and_column() {
        let e = parse(b"{\n  \"kind\": \"List\",\n  \"items\": [,]\n}").unwrap_err();
        assert_eq!(e.locator, "line 3 column 13");
        assert!(e.message.starts_with("malformed JSON: expected value"), "{e}");
        assert!(!e.message.contains("at line"), "position only in the locator: {e}");

        let truncated = &STATUS_V1[..STATUS_V1.len() / 2];
        let e = parse(truncated).unwrap_err();
        assert!(e.locator.starts_with("line ") && e.locator.contains(" column "), "{e}");
        assert!(e.message.starts_with("truncated JSON") && e.message.contains("EOF while parsing"), "{e}");

        let empty = parse(b"").unwrap_err();
        assert!(empty.locator.starts_with("line 1 column"), "{empty}");
    }

    #[test]
    fn unknown_kinds_and_shapes_are_refused_at_their_pointer() {
        let pods = err(
            r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}]}"#,
        );
        assert_eq!(pods.locator, "/items/0/kind");
        assert!(pods.message.starts_with(r#"unsupported kind "Pod""#), "{pods}");
        let empty_pods = err(r#"{"apiVersion":"v1","kind":"PodList","items":[]}"#);
        assert_eq!(empty_pods.locator, "/kind");
        assert!(empty_pods.message.contains(r#""PodList""#));
        let other_ippool = err(r#"{"kind":"List","items":[{"apiVersion":"kubeovn.io/v1","kind":"IPPool"}]}"#);
        assert_eq!(
            other_ippool.to_string(),
            r#"/items/0/apiVersion: unsupported apiVersion "kubeovn.io/v1" for kind IPPool"#
        );
        let not_object = err(
            r#"{"kind":"List","items":[{"kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.0.0.0/8"}},7]}"#,
        );
        assert_eq!(not_object.to_string(), "/items/1: expected an object, found a number");
        let no_kind = err(r#"{"kind":"List","items":[{"metadata":{"name":"p"}}]}"#);
        assert_eq!(no_kind.to_string(), "/items/0/kind: missing kind");
        assert_eq!(err("[1]").message, "expected a Kubernetes list or resource object, found an array");
    }

    #[test]
    fn empty_lists_are_empty_facts() {
        assert_eq!(
            parse(br#"{"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}}"#)
                .unwrap(),
            Facts::default()
        );
        assert_eq!(parse(br#"{"kind":"BGPPeerList","items":null}"#).unwrap(), Facts::default());
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&raw);
        }

        #[test]
        fn parse_never_panics_on_damaged_samples(cut in 0usize..13_076, byte in any::<u8>(), at in 0usize..13_076) {
            let mut raw = STATUS_V1.to_vec();
            if let Some(b) = raw.get_mut(at) {
                *b = byte;
            }
            raw.truncate(cut.max(1));
            let _ = parse(&raw);
            let mut peers = PEERS_V1.to_vec();
            if let Some(b) = peers.get_mut(at % PEERS_V1.len()) {
                *b = byte;
            }
            let _ = parse(&peers);
        }
    }
}
