//! FRR `vtysh … json` output: zebra route tables and bgpd summaries, tables and neighbours.
//!
//! A payload is a stream of JSON values: one value normally, several back to back from FRR 8.4's
//! `show ip route vrf all json` (one object per VRF, an empty VRF as `{}`). Each object is
//! recognised by its shape, at the top level or one level down under a VRF name:
//!
//! ```text
//!  {"10.0.0.0/24": [entry, …]}                      zebra routes of one VRF   ──▶ Route
//!  {"<vrf>": {"10.0.0.0/24": [entry, …]}}           zebra routes, every VRF   ──▶ Route
//!  {"routerId", "as", "peers": {"<ip>": peer}}       BGP summary               ──▶ BgpSession
//!  {"ipv4Unicast": summary, …}                       summary per AFI/SAFI      ──▶ BgpSession
//!  {"vrfName", "routes": {"<prefix>": [path, …]}}    BGP table                 ──▶ Route (bgp)
//!  {"<ip>": {"bgpState", …}}                         neighbours                ──▶ BgpSession
//!  {"<vrf>": any of the last four}                   the same, every VRF
//!  {} or {"vrfId", "vrfName"} only                  nothing (a VRF without routes or peers)
//! ```
//!
//! Invariants: a route's table is its own `vrfName`, else the VRF key it sits under, else
//! `default`; a session's VRF is `None` for `default`. Every fact's locator is the RFC 6901 pointer
//! of the JSON value it was read from (prefixed with `/<index>` when the stream holds several
//! values) and its excerpt the compact JSON of that value, bounded. Routes that zebra could not
//! install (`"failed": true`, as a cross-VRF leak over netns VRFs shows) are kept: they are in the
//! RIB and BGP exports them. `best` is zebra's `selected` (`>` in the text form), BGP's `bestpath`.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::collect::ParseError;
use crate::collect::json::{escape, excerpt, json_error, type_name};
use crate::model::{BgpSession, Facts, Origin, Route, SessionType};

/// Parse one payload of FRR JSON output (see the module header for the shapes read).
pub fn parse(observer: &str, raw: &[u8]) -> Result<Facts, ParseError> {
    let values = read_stream(raw)?;
    let several = values.len() > 1;
    let mut reader = Reader { observer, facts: Facts::default(), seen_sessions: HashSet::new() };
    for (i, value) in values.iter().enumerate() {
        let base = if several { format!("/{i}") } else { String::new() };
        reader.document(value, &base)?;
    }
    Ok(reader.facts)
}

/// Every JSON value of the payload, in order. Empty input is an empty stream.
fn read_stream(raw: &[u8]) -> Result<Vec<Value>, ParseError> {
    let start = raw.iter().position(|b| !b.is_ascii_whitespace());
    // vtysh prints errors as text (`% Unknown command: …`, `VRF x not found`), exit status 0.
    if let Some(first) = start.and_then(|i| raw.get(i))
        && !matches!(first, b'{' | b'[')
    {
        let text = String::from_utf8_lossy(raw.get(start.unwrap_or(0)..).unwrap_or_default());
        let line = text.lines().next().unwrap_or("").trim();
        let line: String = line.chars().take(200).collect();
        let line_no = 1 + raw.iter().take(start.unwrap_or(0)).filter(|b| **b == b'\n').count();
        return Err(ParseError::at_line(line_no, format!("expected FRR JSON output, found text: {line:?}")));
    }
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_slice(raw).into_iter::<Value>() {
        values.push(value.map_err(|e| json_error(&e))?);
    }
    Ok(values)
}

/// What an object holds, told apart by its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Empty,
    Summary,
    AfiSummaries,
    BgpTable,
    ZebraRoutes,
    Neighbors,
    /// Keyed by VRF name (`show … vrf all …`).
    PerVrf,
}

fn shape(obj: &Map<String, Value>) -> Shape {
    // `"default": {"vrfId": 0, "vrfName": "default"}`: a VRF with nothing to show.
    let vrf_header = obj.contains_key("vrfName") || obj.contains_key("vrfId");
    if obj.is_empty() || (vrf_header && obj.values().all(|v| !v.is_object() && !v.is_array())) {
        return Shape::Empty;
    }
    if obj.get("peers").is_some_and(Value::is_object) {
        return Shape::Summary;
    }
    if obj.get("routes").is_some_and(Value::is_object) {
        return Shape::BgpTable;
    }
    if obj.iter().all(|(k, v)| is_afi_safi(k) && v.is_object()) {
        return Shape::AfiSummaries;
    }
    if obj.keys().any(|k| k.parse::<IpNet>().is_ok()) {
        return Shape::ZebraRoutes;
    }
    if obj.iter().any(|(k, v)| {
        k.parse::<IpAddr>().is_ok() && v.as_object().is_some_and(|p| p.contains_key("bgpState"))
    }) {
        return Shape::Neighbors;
    }
    Shape::PerVrf
}

/// `ipv4Unicast`, `ipv6Unicast`, `l2VpnEvpn`, `ipv4Flowspec`, `linkState`, …
fn is_afi_safi(key: &str) -> bool {
    ["ipv4", "ipv6", "l2Vpn", "linkState"].iter().any(|p| key.starts_with(p))
}

struct Reader<'a> {
    observer: &'a str,
    facts: Facts,
    /// (VRF, peer): a peer with several AFI/SAFIs appears in each summary; one session.
    seen_sessions: HashSet<(Option<String>, IpAddr)>,
}

impl Reader<'_> {
    fn document(&mut self, value: &Value, ptr: &str) -> Result<(), ParseError> {
        let obj = expect_object(value, ptr, "a JSON object")?;
        match shape(obj) {
            Shape::PerVrf => {
                for (vrf, inner) in obj {
                    let at = child(ptr, vrf);
                    let inner = expect_object(
                        inner,
                        &at,
                        "an object per VRF (routes, a BGP summary, a BGP table or neighbours)",
                    )?;
                    match shape(inner) {
                        Shape::PerVrf => {
                            return Err(ParseError::new(
                                locator(&at),
                                "expected routes keyed by prefix, a BGP summary (`peers`), a BGP \
                                 table (`routes`) or neighbours keyed by address",
                            ));
                        }
                        s => self.read(s, inner, Some(vrf), &at)?,
                    }
                }
                Ok(())
            }
            s => self.read(s, obj, None, ptr),
        }
    }

    fn read(
        &mut self,
        shape: Shape,
        obj: &Map<String, Value>,
        vrf: Option<&str>,
        ptr: &str,
    ) -> Result<(), ParseError> {
        match shape {
            Shape::Empty | Shape::PerVrf => Ok(()),
            Shape::Summary => self.summary(obj, vrf, ptr),
            Shape::AfiSummaries => {
                for (afi, summary) in obj {
                    let at = child(ptr, afi);
                    let summary = expect_object(summary, &at, "a BGP summary object")?;
                    if !summary.is_empty() {
                        self.summary(summary, vrf, &at)?;
                    }
                }
                Ok(())
            }
            Shape::BgpTable => self.bgp_table(obj, vrf, ptr),
            Shape::ZebraRoutes => self.zebra_routes(obj, vrf, ptr),
            Shape::Neighbors => self.neighbors(obj, vrf, ptr),
        }
    }

    fn zebra_routes(
        &mut self,
        obj: &Map<String, Value>,
        vrf: Option<&str>,
        ptr: &str,
    ) -> Result<(), ParseError> {
        for (key, entries) in obj {
            let at = child(ptr, key);
            let prefix = parse_prefix(key, &at)?;
            let entries = expect_array(entries, &at, "an array of route entries")?;
            for (i, entry) in entries.iter().enumerate() {
                let at = format!("{at}/{i}");
                let e = expect_object(entry, &at, "a route entry object")?;
                let protocol = required_str(e, "protocol", &at)?.to_ascii_lowercase();
                let table = table_name(e, vrf);
                self.facts.routes.push(Route {
                    observer: self.observer.into(),
                    table: table.into(),
                    prefix,
                    next_hops: next_hops(e, &at)?,
                    protocol: protocol.into(),
                    learned_from: None,
                    as_path: Vec::new(),
                    best: flag(e, "selected"),
                    origin: Origin::at_pointer(at.clone(), excerpt(entry)),
                });
            }
        }
        Ok(())
    }

    fn bgp_table(
        &mut self,
        obj: &Map<String, Value>,
        vrf: Option<&str>,
        ptr: &str,
    ) -> Result<(), ParseError> {
        let table = table_name(obj, vrf);
        let routes_at = child(ptr, "routes");
        let routes = expect_object(obj.get("routes").unwrap_or(&Value::Null), &routes_at, "an object")?;
        for (key, paths) in routes {
            let at = child(&routes_at, key);
            let prefix = parse_prefix(key, &at)?;
            let paths = expect_array(paths, &at, "an array of BGP paths")?;
            for (i, path) in paths.iter().enumerate() {
                let at = format!("{at}/{i}");
                let p = expect_object(path, &at, "a BGP path object")?;
                self.facts.routes.push(Route {
                    observer: self.observer.into(),
                    table: table.as_str().into(),
                    prefix,
                    next_hops: next_hops(p, &at)?,
                    protocol: "bgp".into(),
                    // `(unspec)` for a locally originated or leaked path: no neighbour.
                    learned_from: p.get("peerId").and_then(Value::as_str).and_then(|s| s.parse().ok()),
                    as_path: p.get("path").and_then(Value::as_str).map(as_path).unwrap_or_default(),
                    best: flag(p, "bestpath"),
                    origin: Origin::at_pointer(at.clone(), excerpt(path)),
                });
            }
        }
        Ok(())
    }

    fn summary(&mut self, obj: &Map<String, Value>, vrf: Option<&str>, ptr: &str) -> Result<(), ParseError> {
        let vrf = session_vrf(obj, vrf);
        let local_as = obj.get("as").and_then(asn);
        let peers_at = child(ptr, "peers");
        let peers = expect_object(obj.get("peers").unwrap_or(&Value::Null), &peers_at, "an object")?;
        for (key, peer) in peers {
            let at = child(&peers_at, key);
            let p = expect_object(peer, &at, "a peer object")?;
            // Unnumbered peers are keyed by interface: no address to report or attribute.
            let Ok(peer_addr) = key.parse::<IpAddr>() else { continue };
            let remote_as = p
                .get("remoteAs")
                .ok_or_else(|| ParseError::new(locator(&at), "expected `remoteAs` in the peer object"))?;
            let peer_asn = asn(remote_as);
            let state = required_str(p, "state", &at)?.to_string();
            let local = local_as.or_else(|| p.get("localAs").and_then(asn));
            let session_type = match (peer_asn, local) {
                (Some(r), Some(l)) if r == l => SessionType::Ibgp,
                (Some(_), Some(_)) => SessionType::Ebgp,
                _ => SessionType::Unknown,
            };
            let since =
                p.get("peerUptime").and_then(Value::as_str).filter(|s| *s != "never").map(str::to_string);
            self.push_session(BgpSession {
                observer: self.observer.to_string(),
                vrf: vrf.clone(),
                protocol: None,
                local_addr: None,
                peer_addr,
                peer_asn,
                state,
                since,
                session_type,
                prefixes_received: p.get("pfxRcd").and_then(Value::as_u64),
                origin: Origin::at_pointer(at.clone(), excerpt(peer)),
            });
        }
        Ok(())
    }

    fn neighbors(
        &mut self,
        obj: &Map<String, Value>,
        vrf: Option<&str>,
        ptr: &str,
    ) -> Result<(), ParseError> {
        let vrf = session_vrf(obj, vrf);
        for (key, peer) in obj {
            let Ok(peer_addr) = key.parse::<IpAddr>() else { continue };
            let at = child(ptr, key);
            let p = expect_object(peer, &at, "a neighbour object")?;
            let state = required_str(p, "bgpState", &at)?.to_string();
            let session_type = if flag(p, "nbrInternalLink") {
                SessionType::Ibgp
            } else if flag(p, "nbrExternalLink") {
                SessionType::Ebgp
            } else {
                SessionType::Unknown
            };
            let prefixes_received = p.get("addressFamilyInfo").and_then(Value::as_object).and_then(|afis| {
                afis.get("ipv4Unicast")
                    .into_iter()
                    .chain(afis.values())
                    .find_map(|a| a.get("acceptedPrefixCounter").and_then(Value::as_u64))
            });
            self.push_session(BgpSession {
                observer: self.observer.to_string(),
                vrf: vrf.clone(),
                protocol: None,
                local_addr: p.get("hostLocal").and_then(Value::as_str).and_then(|s| s.parse().ok()),
                peer_addr,
                peer_asn: p.get("remoteAs").and_then(asn),
                state,
                since: p.get("bgpTimerUpString").and_then(Value::as_str).map(str::to_string),
                session_type,
                prefixes_received,
                origin: Origin::at_pointer(at.clone(), excerpt(peer)),
            });
        }
        Ok(())
    }

    fn push_session(&mut self, session: BgpSession) {
        if self.seen_sessions.insert((session.vrf.clone(), session.peer_addr)) {
            self.facts.sessions.push(session);
        }
    }
}

/// The route's own VRF, else the VRF it is listed under, else the default table.
fn table_name(obj: &Map<String, Value>, vrf: Option<&str>) -> String {
    obj.get("vrfName").and_then(Value::as_str).or(vrf).unwrap_or("default").to_string()
}

fn session_vrf(obj: &Map<String, Value>, vrf: Option<&str>) -> Option<String> {
    obj.get("vrfName").and_then(Value::as_str).or(vrf).filter(|v| *v != "default").map(str::to_string)
}

/// Gateway addresses; directly connected and blackhole next hops have none, and BGP's `0.0.0.0`
/// for a locally originated path is not a gateway.
fn next_hops(entry: &Map<String, Value>, ptr: &str) -> Result<Vec<IpAddr>, ParseError> {
    let Some(hops) = entry.get("nexthops") else { return Ok(Vec::new()) };
    let at = child(ptr, "nexthops");
    let hops = expect_array(hops, &at, "an array of next hops")?;
    let mut out = Vec::new();
    for (i, hop) in hops.iter().enumerate() {
        let Some(ip) = hop.get("ip") else { continue };
        let ip_at = format!("{at}/{i}/ip");
        let addr: IpAddr = ip.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            ParseError::new(ip_at, format!("expected an IP address, found {}", excerpt(ip)))
        })?;
        if !addr.is_unspecified() && !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

/// `"65000 65102 {64601,64602}"`: AS sets count their members in order.
fn as_path(text: &str) -> Vec<u32> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '{' | '}' | '(' | ')' | '[' | ']'))
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// A number, or a string in plain or asdot (`1.10`) notation.
fn asn(value: &Value) -> Option<u32> {
    if let Some(n) = value.as_u64() {
        return u32::try_from(n).ok();
    }
    let s = value.as_str()?;
    match s.split_once('.') {
        Some((hi, lo)) => {
            let (hi, lo) = (hi.parse::<u16>().ok()?, lo.parse::<u16>().ok()?);
            Some(u32::from(hi) << 16 | u32::from(lo))
        }
        None => s.parse().ok(),
    }
}

fn flag(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn parse_prefix(key: &str, ptr: &str) -> Result<IpNet, ParseError> {
    key.parse().map_err(|_| {
        ParseError::new(locator(ptr), format!("expected a prefix such as 10.0.0.0/24, found {key:?}"))
    })
}

fn required_str<'v>(obj: &'v Map<String, Value>, key: &str, ptr: &str) -> Result<&'v str, ParseError> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError::new(locator(ptr), format!("expected a string `{key}`")))
}

fn expect_object<'v>(value: &'v Value, ptr: &str, what: &str) -> Result<&'v Map<String, Value>, ParseError> {
    value
        .as_object()
        .ok_or_else(|| ParseError::new(locator(ptr), format!("expected {what}, found {}", type_name(value))))
}

fn expect_array<'v>(value: &'v Value, ptr: &str, what: &str) -> Result<&'v Vec<Value>, ParseError> {
    value
        .as_array()
        .ok_or_else(|| ParseError::new(locator(ptr), format!("expected {what}, found {}", type_name(value))))
}

/// RFC 6901: `~` and `/` in a key are escaped (`10.0.0.0/24` -> `10.0.0.0~124`).
fn child(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", escape(key))
}

/// The root pointer is the empty string; errors say so in words.
fn locator(ptr: &str) -> String {
    if ptr.is_empty() { "top level".to_string() } else { ptr.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED_ROUTES: &str = include_str!("../../tests/fixtures/frr/frr-show-ip-route-vrf-all.json");
    const SHARED_ROUTES_LEAK: &str =
        include_str!("../../tests/fixtures/frr/frr-show-ip-route-vrf-all-LEAK-example.json");
    const SHARED_SUMMARY: &str = include_str!("../../tests/fixtures/frr/frr-show-bgp-summary.json");
    const SHARED_VRF_SUMMARY: &str =
        include_str!("../../tests/fixtures/frr/frr-show-bgp-vrf-all-summary.json");
    const SHARED_BGP_TABLE: &str =
        include_str!("../../tests/fixtures/frr/frr-show-bgp-vrf-ipv4-unicast.json");
    const SHARED_BGP_TABLE_LEAK: &str =
        include_str!("../../tests/fixtures/frr/frr-show-bgp-vrf-ipv4-unicast-LEAK-example.json");

    macro_rules! lab {
        ($dir:literal) => {
            [
                (
                    "frr-show-bgp-vrf-all-ipv4.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-bgp-vrf-all-ipv4.json"
                    )),
                ),
                (
                    "frr-show-bgp-vrf-all-neighbors.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-bgp-vrf-all-neighbors.json"
                    )),
                ),
                (
                    "frr-show-bgp-vrf-all-summary.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-bgp-vrf-all-summary.json"
                    )),
                ),
                (
                    "frr-show-bgp-vrf-blue-ipv4.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-bgp-vrf-blue-ipv4.json"
                    )),
                ),
                (
                    "frr-show-bgp-vrf-yellow-ipv4.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-bgp-vrf-yellow-ipv4.json"
                    )),
                ),
                (
                    "frr-show-ip-route-vrf-all.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-ip-route-vrf-all.json"
                    )),
                ),
                (
                    "frr-show-ip-route-vrf-blue.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-ip-route-vrf-blue.json"
                    )),
                ),
                (
                    "frr-show-ip-route-vrf-yellow.json",
                    include_str!(concat!(
                        "../../tests/fixtures/frr/",
                        $dir,
                        "/frr-show-ip-route-vrf-yellow.json"
                    )),
                ),
            ]
        };
    }

    type Capture = [(&'static str, &'static str); 8];

    fn capture(files: &Capture, name: &str) -> &'static str {
        files.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect("fixture listed")
    }

    fn facts(text: &str) -> Facts {
        parse("leaf", text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn prefixes(f: &Facts, table: &str) -> Vec<String> {
        let mut out: Vec<String> =
            f.routes.iter().filter(|r| r.table == table).map(|r| r.prefix.to_string()).collect();
        out.sort();
        out
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn leak_pipe_shows_yellow_prefixes_in_blue_as_failed_routes() {
        let lab = lab!("leak-pipe");
        let f = facts(capture(&lab, "frr-show-ip-route-vrf-blue.json"));
        assert_eq!(
            prefixes(&f, "za-vrf-blue"),
            ["10.10.0.0/26", "10.10.0.64/26", "10.20.0.0/26", "10.20.0.64/26", "172.31.102.0/30"]
        );
        let leaked = f.routes.iter().find(|r| r.prefix == net("10.10.0.0/26")).unwrap();
        assert_eq!(leaked.table, "za-vrf-blue");
        assert_eq!(leaked.protocol, "bgp");
        assert_eq!(leaked.next_hops, vec![ip("172.31.101.1")]);
        assert!(leaked.best, "zebra selected the leaked route even though it could not install it");
        assert_eq!(leaked.learned_from, None);
        assert_eq!(leaked.origin.locator, "/10.10.0.0~126/0");
        assert!(leaked.origin.excerpt.contains(r#""failed":true"#), "{}", leaked.origin.excerpt);
        assert!(leaked.origin.excerpt.contains(r#""vrf":"za-vrf-yellow""#));
        let connected = f.routes.iter().find(|r| r.prefix == net("172.31.102.0/30")).unwrap();
        assert_eq!(connected.protocol, "connected");
        assert!(connected.next_hops.is_empty());
    }

    #[test]
    fn baseline_blue_has_only_blue_prefixes() {
        let lab = lab!("baseline");
        let f = facts(capture(&lab, "frr-show-ip-route-vrf-blue.json"));
        assert_eq!(prefixes(&f, "za-vrf-blue"), ["10.20.0.0/26", "10.20.0.64/26", "172.31.102.0/30"]);
        assert!(f.routes.iter().all(|r| !r.origin.excerpt.contains(r#""failed":true"#)));
        let y = facts(capture(&lab, "frr-show-ip-route-vrf-yellow.json"));
        assert_eq!(prefixes(&y, "za-vrf-yellow"), ["10.10.0.0/26", "10.10.0.64/26", "172.31.101.0/30"]);
    }

    #[test]
    fn leak_peer_brings_a_blue_block_into_yellow() {
        let lab = lab!("leak-peer");
        let f = facts(capture(&lab, "frr-show-ip-route-vrf-yellow.json"));
        let r = f.routes.iter().find(|r| r.prefix == net("10.20.0.0/26")).expect("blue block in yellow");
        assert_eq!(r.table, "za-vrf-yellow");
        assert!(r.best);
        assert!(!r.origin.excerpt.contains(r#""failed""#), "a peer leak installs normally");
        let s = facts(capture(&lab, "frr-show-bgp-vrf-all-summary.json"));
        let yellow = s.sessions.iter().find(|s| s.vrf.as_deref() == Some("za-vrf-yellow")).unwrap();
        assert_eq!(yellow.prefixes_received, Some(3));
    }

    #[test]
    fn frr_8_4_vrf_all_is_a_stream_of_objects_one_per_vrf() {
        let lab = lab!("leak-pipe");
        let f = facts(capture(&lab, "frr-show-ip-route-vrf-all.json"));
        assert_eq!(
            prefixes(&f, "za-vrf-blue"),
            ["10.10.0.0/26", "10.10.0.64/26", "10.20.0.0/26", "10.20.0.64/26", "172.31.102.0/30"]
        );
        // netns VRFs of the lab's nodes show up too: zebra -n makes every netns a VRF.
        assert!(f.routes.iter().any(|r| r.table == "za-b-node1"));
        let leaked =
            f.routes.iter().find(|r| r.table == "za-vrf-blue" && r.prefix == net("10.10.0.64/26")).unwrap();
        // The first object of the stream is the empty `{}` of a VRF without routes.
        assert!(leaked.origin.locator.starts_with('/'));
        let index: usize = leaked.origin.locator[1..].split('/').next().unwrap().parse().unwrap();
        assert!(index > 0);
        assert!(leaked.origin.locator.ends_with("/10.10.0.64~126/0"), "{}", leaked.origin.locator);
        let values: Vec<Value> =
            serde_json::Deserializer::from_str(capture(&lab, "frr-show-ip-route-vrf-all.json"))
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(values[0], serde_json::json!({}));
        assert_eq!(
            values[index]["10.10.0.64/26"][0]["vrfName"], "za-vrf-blue",
            "the locator points at the leaked entry"
        );
    }

    #[test]
    fn vrf_all_summary_gives_one_ebgp_session_per_vrf() {
        let lab = lab!("baseline");
        let f = facts(capture(&lab, "frr-show-bgp-vrf-all-summary.json"));
        let mut got: Vec<(Option<String>, IpAddr, Option<u32>, SessionType)> =
            f.sessions.iter().map(|s| (s.vrf.clone(), s.peer_addr, s.peer_asn, s.session_type)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (Some("za-vrf-blue".into()), ip("172.31.102.1"), Some(64512), SessionType::Ebgp),
                (Some("za-vrf-yellow".into()), ip("172.31.101.1"), Some(64512), SessionType::Ebgp),
            ]
        );
        let s = &f.sessions[0];
        assert_eq!(s.state, "Established");
        assert_eq!(s.observer, "leaf");
        assert!(s.since.is_some());
        assert_eq!(s.prefixes_received, Some(2));
        assert!(s.origin.locator.starts_with("/za-vrf-"), "{}", s.origin.locator);
        assert!(s.origin.locator.contains("/ipv4Unicast/peers/172.31.10"));
    }

    #[test]
    fn neighbors_and_bgp_tables_of_every_lab_capture_parse() {
        for (dir, lab) in [
            ("baseline", lab!("baseline")),
            ("leak-pipe", lab!("leak-pipe")),
            ("leak-peer", lab!("leak-peer")),
        ] {
            for (name, text) in lab {
                let f = parse("leaf", text.as_bytes()).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
                assert!(!f.routes.is_empty() || !f.sessions.is_empty(), "{dir}/{name} gave no facts");
                assert!(
                    f.routes.iter().all(|r| !r.origin.locator.is_empty() && !r.origin.excerpt.is_empty())
                );
            }
            let n = facts(capture(&lab, "frr-show-bgp-vrf-all-neighbors.json"));
            assert_eq!(n.sessions.len(), 2, "{dir}: one neighbour per zone VRF");
            assert!(n.sessions.iter().all(|s| s.session_type == SessionType::Ebgp && s.is_established()));
        }
        let lab = lab!("leak-pipe");
        let t = facts(capture(&lab, "frr-show-bgp-vrf-blue-ipv4.json"));
        let leaked = t.routes.iter().find(|r| r.prefix == net("10.10.0.0/26")).unwrap();
        assert_eq!((leaked.table.as_str(), leaked.protocol.as_str()), ("za-vrf-blue", "bgp"));
        assert_eq!(leaked.as_path, vec![64512]);
        assert_eq!(leaked.learned_from, None, "peerId (unspec): leaked, not learned from a neighbour");
        assert!(leaked.origin.excerpt.contains(r#""nhVrfName":"za-vrf-yellow""#));
        let native = t.routes.iter().find(|r| r.prefix == net("10.20.0.0/26")).unwrap();
        assert_eq!(native.learned_from, Some(ip("172.31.102.1")));
        assert_eq!(native.origin.locator, "/routes/10.20.0.0~126/0");
        let local = t.routes.iter().find(|r| r.prefix == net("198.51.100.0/24")).unwrap();
        assert!(local.next_hops.is_empty(), "0.0.0.0 is not a gateway");
        let all = facts(capture(&lab, "frr-show-bgp-vrf-all-ipv4.json"));
        assert_eq!(prefixes(&all, "za-vrf-yellow"), ["10.10.0.0/26", "10.10.0.64/26", "192.0.2.0/24"]);
        assert!(prefixes(&all, "default").is_empty());
    }

    #[test]
    fn shared_samples_parse_to_their_vrfs() {
        let f = facts(SHARED_ROUTES);
        assert!(f.routes.iter().any(|r| r.table == "default" && r.prefix == net("10.255.0.11/32")));
        assert!(f.routes.iter().any(|r| r.table == "Vrf_zone_a" && r.prefix == net("10.10.1.0/24")));
        let leak = facts(SHARED_ROUTES_LEAK);
        assert!(leak.routes.iter().any(|r| r.table == "Vrf_zone_b"));
        let s = facts(SHARED_SUMMARY);
        assert_eq!(s.sessions.len(), 2);
        assert!(s.sessions.iter().all(|s| s.vrf.is_none() && s.peer_asn == Some(65200)));
        assert!(s.sessions.iter().all(|s| s.session_type == SessionType::Ebgp));
        assert_eq!(s.sessions[0].since.as_deref(), Some("1d02h12m"));
        assert_eq!(s.sessions[0].prefixes_received, Some(6));
        let v = facts(SHARED_VRF_SUMMARY);
        assert!(v.sessions.iter().any(|s| s.vrf.is_none()));
        assert!(v.sessions.iter().any(|s| s.vrf.is_some()));
        let t = facts(SHARED_BGP_TABLE);
        assert!(!t.routes.is_empty());
        assert!(t.routes.iter().all(|r| r.protocol == "bgp"));
        assert!(t.routes.iter().any(|r| r.best && !r.as_path.is_empty()));
        let tl = facts(SHARED_BGP_TABLE_LEAK);
        assert!(tl.routes.iter().any(|r| r.origin.excerpt.contains("nhVrfName")));
    }

    #[test]
    fn an_ibgp_peer_has_the_vrf_as() {
        let text = r#"{"ipv4Unicast":{"as":64512,"vrfName":"default","peers":{
            "10.0.0.1":{"remoteAs":64512,"state":"Active","pfxRcd":0,"peerUptime":"never"}}},
            "ipv6Unicast":{"as":64512,"vrfName":"default","peers":{
            "10.0.0.1":{"remoteAs":64512,"state":"Active","peerUptime":"never"}}}}"#;
        let f = facts(text);
        assert_eq!(f.sessions.len(), 1, "one session for a peer in two AFI summaries");
        assert_eq!(f.sessions[0].session_type, SessionType::Ibgp);
        assert_eq!(f.sessions[0].since, None);
        assert!(!f.sessions[0].is_established());
    }

    #[test]
    fn empty_input_and_empty_objects_give_no_facts() {
        for text in ["", "  \n", "{}", "{\n}\n{\n}\n", r#"{"default":{}}"#] {
            assert_eq!(facts(text), Facts::default(), "{text:?}");
        }
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = parse("leaf", b"{\n  \"10.0.0.0/24\": [\n    {\"protocol\": bgp}\n  ]\n}").unwrap_err();
        assert_eq!(e.locator, "line 3 column 18");
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
        let lab = lab!("leak-pipe");
        let full = capture(&lab, "frr-show-ip-route-vrf-blue.json");
        let cut = &full[..full.len() / 2];
        let e = parse("leaf", cut.as_bytes()).unwrap_err();
        assert!(e.locator.starts_with("line "), "{}", e.locator);
        assert!(e.message.contains("truncated"), "{}", e.message);
        let e = parse("leaf", b"% Unknown command: show ip route vrf x jsn\n").unwrap_err();
        assert_eq!(e.locator, "line 1");
        assert!(e.message.contains("% Unknown command"), "{}", e.message);
    }

    #[test]
    fn wrong_shapes_name_the_pointer_and_what_was_expected() {
        let e = parse("leaf", b"[1, 2]").unwrap_err();
        assert_eq!(
            (e.locator.as_str(), e.message.as_str()),
            ("top level", "expected a JSON object, found an array")
        );
        let e = parse("leaf", br#"{"10.0.0.0/24": {"protocol": "bgp"}}"#).unwrap_err();
        assert_eq!(e.locator, "/10.0.0.0~124");
        assert!(e.message.contains("expected an array of route entries"), "{}", e.message);
        let e = parse("leaf", br#"{"10.0.0.0/24": [{"selected": true}]}"#).unwrap_err();
        assert_eq!(e.locator, "/10.0.0.0~124/0");
        assert!(e.message.contains("`protocol`"));
        let e =
            parse("leaf", br#"{"blue": {"10.0.0.0/24": [{"protocol": "bgp", "nexthops": [{"ip": "x"}]}]}}"#)
                .unwrap_err();
        assert_eq!(e.locator, "/blue/10.0.0.0~124/0/nexthops/0/ip");
        let e = parse("leaf", br#"{"blue": 3}"#).unwrap_err();
        assert_eq!(e.locator, "/blue");
        let e = parse("leaf", br#"{} {"peers": {"10.0.0.1": {"state": "Idle"}}}"#).unwrap_err();
        assert_eq!(e.locator, "/1/peers/10.0.0.1");
        assert!(e.message.contains("remoteAs"));
    }

    #[test]
    fn asdot_and_as_sets_are_read() {
        assert_eq!(asn(&serde_json::json!("1.10")), Some(65546));
        assert_eq!(asn(&serde_json::json!(4200000000u64)), Some(4_200_000_000));
        assert_eq!(as_path("65000 {64601,64602}"), vec![65000, 64601, 64602]);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = parse("x", &raw);
            }

            #[test]
            fn never_panics_on_json_shaped_text(text in r#"[{}\[\]",:0-9a-zA-Z./~%-]{0,200}"#) {
                let _ = parse("x", text.as_bytes());
            }

            #[test]
            fn never_panics_on_cut_captures(cut in 0usize..18000, which in 0usize..8) {
                let lab = lab!("leak-pipe");
                let text = lab.get(which).map(|(_, t)| *t).unwrap_or("");
                let bytes = text.as_bytes();
                let _ = parse("x", &bytes[..cut.min(bytes.len())]);
            }
        }
    }
}
