//! Arista EOS eAPI JSON: `show ip route vrf all` and `show ip bgp summary vrf all`.
//!
//! eAPI answers a JSON-RPC `runCmds` call with one output per command, in request order:
//!
//! ```text
//!  {"jsonrpc":"2.0","id":…,"result":[ out0, out1, … ]}      or a bare `outN`
//!  outN = {"vrfs": { VRF: {"routes": { PREFIX: {routeType, vias:[{nexthopAddr}]…} } } }}   -> Route
//!       | {"vrfs": { VRF: {"asn": "65101", "peers": { PEER: {peerState, asn…} } } }}      -> BgpSession
//!       | anything else under `vrfs` (`show vrf`)                                          -> ignored
//!  {"error":{"code":1002,"message":…,"data":[out0, …, {"errors":[…]}]}}                    -> ParseError
//! ```
//!
//! Outputs are recognised by shape, not by position, so the request may order its commands freely.
//! Every fact's locator is the RFC 6901 pointer of its object in the payload
//! (`/result/0/vrfs/YELLOW/routes/10.1.0.0~126`) and its excerpt is that object as compact JSON.
//! Every route listed by EOS is active, so `best` is always true.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::collect::ParseError;
use crate::collect::json::{escape, excerpt, json_error, parse_asn, shape};
use crate::model::{BgpSession, Facts, Origin, Route, SessionType, SharedStr};

/// Parse an eAPI response (or one command's bare output) into routes and BGP sessions.
pub fn parse(observer: &str, raw: &[u8]) -> Result<Facts, ParseError> {
    // A border leaf's table is a large document, and as one `Value` tree it costs ten times its
    // size: the common, well-formed case is read one route at a time instead. Anything else
    // (errors, odd shapes, duplicate keys) is read whole below, which names the problem.
    let mut facts = match streamed::parse(observer, raw) {
        Some(facts) => facts,
        None => parse_document(observer, raw)?,
    };
    // Grown one route at a time, the list has up to twice the room it needs, kept all run long.
    facts.routes.shrink_to_fit();
    Ok(facts)
}

/// The whole document as one `Value`: every shape, and every error with its place.
fn parse_document(observer: &str, raw: &[u8]) -> Result<Facts, ParseError> {
    let doc: Value = serde_json::from_slice(raw).map_err(|e| json_error(&e))?;
    let Value::Object(top) = &doc else {
        return Err(shape("", "expected a JSON object (eAPI response or command output)"));
    };
    let mut facts = Facts::default();
    if let Some(error) = top.get("error") {
        return Err(rpc_error(error));
    }
    if let Some(result) = top.get("result") {
        let Value::Array(outputs) = result else {
            return Err(shape("/result", "expected an array with one output per command"));
        };
        for (i, output) in outputs.iter().enumerate() {
            command_output(observer, output, &format!("/result/{i}"), &mut facts)?;
        }
    } else if top.contains_key("vrfs") {
        command_output(observer, &doc, "", &mut facts)?;
    } else {
        return Err(shape(
            "",
            "expected a JSON-RPC response with 'result' or 'error', or a command output with 'vrfs'",
        ));
    }
    Ok(facts)
}

/// eAPI puts the outputs up to the failing command in `error.data`; the failing one holds `errors`.
fn rpc_error(error: &Value) -> ParseError {
    let code = error.get("code").map_or_else(|| "?".to_string(), |c| c.to_string());
    let message = error.get("message").and_then(Value::as_str).unwrap_or("(no message)");
    let failing = error.get("data").and_then(Value::as_array).and_then(|data| {
        data.iter().enumerate().rev().find_map(|(i, out)| out.get("errors").map(|errs| (i, errs)))
    });
    match failing {
        Some((i, errs)) => {
            let texts = match errs {
                Value::Array(a) => {
                    a.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)).collect()
                }
                other => vec![other.to_string()],
            };
            ParseError::new(
                format!("/error/data/{i}"),
                format!(
                    "eapi error {code}: {message}; command {} (index {i}) failed: {}",
                    i + 1,
                    texts.join("; ")
                ),
            )
        }
        None => ParseError::new("/error", format!("eapi error {code}: {message}")),
    }
}

fn command_output(observer: &str, output: &Value, ptr: &str, facts: &mut Facts) -> Result<(), ParseError> {
    let Value::Object(obj) = output else {
        return Err(shape(ptr, "expected an object (one command's output)"));
    };
    if obj.get("output").is_some_and(Value::is_string) {
        return Err(shape(ptr, "text output; the request must ask for format \"json\""));
    }
    if let Some(errs) = obj.get("errors") {
        return Err(shape(&format!("{ptr}/errors"), format!("command failed: {errs}")));
    }
    let Some(vrfs) = obj.get("vrfs") else {
        return Err(shape(
            ptr,
            "expected 'vrfs' (output of 'show ip route vrf all' or 'show ip bgp summary vrf all')",
        ));
    };
    let Value::Object(vrfs) = vrfs else {
        return Err(shape(&format!("{ptr}/vrfs"), "expected an object keyed by VRF name"));
    };
    for (vrf, body) in vrfs {
        let vptr = format!("{ptr}/vrfs/{}", escape(vrf));
        let Value::Object(body) = body else {
            return Err(shape(&vptr, "expected an object (one VRF)"));
        };
        if let Some(routes) = body.get("routes") {
            vrf_routes(observer, vrf, routes, &vptr, facts)?;
        } else if let Some(peers) = body.get("peers") {
            vrf_peers(observer, vrf, body, peers, &vptr, facts)?;
        }
        // Neither: `show vrf` and similar outputs, which carry no routes or sessions.
    }
    Ok(())
}

fn vrf_routes(
    observer: &str,
    vrf: &str,
    routes: &Value,
    vptr: &str,
    facts: &mut Facts,
) -> Result<(), ParseError> {
    let Value::Object(routes) = routes else {
        return Err(shape(&format!("{vptr}/routes"), "expected an object keyed by prefix"));
    };
    let mut names = TableNames::new(observer, vrf);
    for (prefix, route) in routes {
        facts.routes.push(route_fact(&mut names, prefix, route, vptr, || excerpt(route))?);
    }
    Ok(())
}

/// The names a VRF's routes repeat, each held once and shared by all of them.
struct TableNames {
    observer: SharedStr,
    table: SharedStr,
    /// Lower case; a table has a handful.
    protocols: Vec<SharedStr>,
}

impl TableNames {
    fn new(observer: &str, table: &str) -> Self {
        TableNames { observer: observer.into(), table: table.into(), protocols: Vec::new() }
    }

    /// `routeType` in lower case.
    fn protocol(&mut self, route_type: &str) -> SharedStr {
        if let Some(known) = self.protocols.iter().find(|p| p.eq_ignore_ascii_case(route_type)) {
            return known.clone();
        }
        let new = SharedStr::from(route_type.to_ascii_lowercase());
        self.protocols.push(new.clone());
        new
    }
}

/// One entry of a VRF's `routes` object; `excerpt` is its compact JSON, asked for once it is read.
fn route_fact(
    names: &mut TableNames,
    prefix: &str,
    route: &Value,
    vptr: &str,
    excerpt: impl FnOnce() -> String,
) -> Result<Route, ParseError> {
    let rptr = route_pointer(vptr, prefix);
    let net: IpNet =
        prefix.parse().map_err(|_| shape(&rptr, format!("expected a prefix as key, got {prefix:?}")))?;
    let Value::Object(obj) = route else {
        return Err(shape(&rptr, "expected an object (one route)"));
    };
    let route_type = opt_str(obj, "routeType", &rptr)?
        .ok_or_else(|| shape(&format!("{rptr}/routeType"), "expected a string (missing)"))?;
    let next_hops = vias(obj, &rptr)?;
    Ok(Route {
        observer: names.observer.clone(),
        table: names.table.clone(),
        prefix: net,
        next_hops,
        protocol: names.protocol(route_type),
        learned_from: None,
        as_path: Vec::new(),
        best: true,
        origin: Origin::at_pointer(rptr, excerpt()),
    })
}

/// `{vptr}/routes/{prefix}`, the prefix escaped (RFC 6901), in a string of exactly its length:
/// a border leaf keeps a million of them.
fn route_pointer(vptr: &str, prefix: &str) -> String {
    const ROUTES: &str = "/routes/";
    let escapes = prefix.bytes().filter(|b| matches!(b, b'~' | b'/')).count();
    let mut out = String::with_capacity(vptr.len() + ROUTES.len() + prefix.len() + escapes);
    out.push_str(vptr);
    out.push_str(ROUTES);
    for c in prefix.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// `nexthopAddr` per via; connected routes have none (or `0.0.0.0` / `""`), EVPN routes have an
/// empty one and the remote VTEP in `vtepAddr`.
fn vias(route: &Map<String, Value>, rptr: &str) -> Result<Vec<IpAddr>, ParseError> {
    let Some(vias) = route.get("vias") else { return Ok(Vec::new()) };
    let Value::Array(vias) = vias else {
        return Err(shape(&format!("{rptr}/vias"), "expected an array"));
    };
    let mut out = Vec::new();
    for (i, via) in vias.iter().enumerate() {
        let vptr = format!("{rptr}/vias/{i}");
        let Value::Object(via) = via else {
            return Err(shape(&vptr, "expected an object (one next hop)"));
        };
        for key in ["nexthopAddr", "vtepAddr"] {
            let Some(text) = opt_str(via, key, &vptr)?.filter(|t| !t.is_empty()) else { continue };
            let addr = parse_addr(text).ok_or_else(|| {
                shape(&format!("{vptr}/{key}"), format!("expected an IP address, got {text:?}"))
            })?;
            if !addr.is_unspecified() {
                out.push(addr);
                break;
            }
        }
    }
    Ok(out)
}

fn vrf_peers(
    observer: &str,
    vrf: &str,
    body: &Map<String, Value>,
    peers: &Value,
    vptr: &str,
    facts: &mut Facts,
) -> Result<(), ParseError> {
    let local_asn = match body.get("asn") {
        Some(v) => Some(
            parse_asn(v)
                .ok_or_else(|| shape(&format!("{vptr}/asn"), format!("expected an AS number, got {v}")))?,
        ),
        None => None,
    };
    let Value::Object(peers) = peers else {
        return Err(shape(&format!("{vptr}/peers"), "expected an object keyed by peer address"));
    };
    for (peer, p) in peers {
        let pptr = format!("{vptr}/peers/{}", escape(peer));
        let peer_addr = parse_addr(peer)
            .ok_or_else(|| shape(&pptr, format!("expected an IP address as key, got {peer:?}")))?;
        let Value::Object(obj) = p else {
            return Err(shape(&pptr, "expected an object (one peer)"));
        };
        let state = opt_str(obj, "peerState", &pptr)?
            .ok_or_else(|| shape(&format!("{pptr}/peerState"), "expected a string (missing)"))?;
        // `show bgp summary` (multi-AFI model) names the peer AS `peerAsn`.
        let asn_key = if obj.contains_key("asn") { "asn" } else { "peerAsn" };
        let peer_asn = match obj.get(asn_key) {
            Some(v) => Some(parse_asn(v).ok_or_else(|| {
                shape(&format!("{pptr}/{asn_key}"), format!("expected an AS number, got {v}"))
            })?),
            None => None,
        };
        let prefixes_received = match opt_u64(obj, "prefixReceived", &pptr)? {
            Some(n) => Some(n),
            None => match obj.get("ipv4Unicast") {
                Some(Value::Object(afi)) => opt_u64(afi, "nlrisReceived", &format!("{pptr}/ipv4Unicast"))?,
                _ => None,
            },
        };
        let since = match obj.get("upDownTime") {
            Some(v) => Some(v.as_f64().and_then(epoch_to_rfc3339).ok_or_else(|| {
                shape(&format!("{pptr}/upDownTime"), format!("expected epoch seconds, got {v}"))
            })?),
            None => None,
        };
        let session_type = match (peer_asn, local_asn) {
            (Some(a), Some(b)) if a == b => SessionType::Ibgp,
            (Some(_), Some(_)) => SessionType::Ebgp,
            _ => SessionType::Unknown,
        };
        facts.sessions.push(BgpSession {
            observer: observer.to_string(),
            vrf: (vrf != "default").then(|| vrf.to_string()),
            protocol: None,
            local_addr: None,
            peer_addr,
            peer_asn,
            state: state.to_string(),
            since,
            session_type,
            prefixes_received,
            origin: Origin::at_pointer(pptr, excerpt(p)),
        });
    }
    Ok(())
}

fn opt_str<'v>(obj: &'v Map<String, Value>, key: &str, ptr: &str) -> Result<Option<&'v str>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(shape(&format!("{ptr}/{key}"), format!("expected a string, got {other}"))),
    }
}

fn opt_u64(obj: &Map<String, Value>, key: &str, ptr: &str) -> Result<Option<u64>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            shape(&format!("{ptr}/{key}"), format!("expected a non-negative integer, got {v}"))
        }),
    }
}

/// `upDownTime` is the epoch time of the last state change (not a duration).
fn epoch_to_rfc3339(secs: f64) -> Option<String> {
    if !secs.is_finite() || !(0.0..1e11).contains(&secs) {
        return None;
    }
    let whole = secs.trunc();
    let nanos = ((secs - whole) * 1e9) as u32;
    chrono::DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Link-local peers carry their interface (`fe80::1%Et3`).
fn parse_addr(s: &str) -> Option<IpAddr> {
    s.split('%').next().unwrap_or(s).parse().ok()
}

/// The common case read as a stream: the same facts in the same order as the `Value` reading,
/// holding one route (or one VRF's peers) as a `Value` at a time instead of the whole document.
///
/// It gives up (`None`) on anything the `Value` reading would reject or read differently, which
/// then decides and names the problem: eAPI errors, unexpected shapes, and repeated keys (a
/// `Value` object keeps only the last of them, at the first one's place). Everything skipped is
/// still read as a `Value`, so syntax, UTF-8, number range and nesting depth are checked the same.
mod streamed {
    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;
    use serde_json::{Map, Value};

    use super::{TableNames, route_fact, vrf_peers};
    use crate::collect::json::{bounded, escape, excerpt};
    use crate::model::{Facts, Route};

    pub(super) fn parse(observer: &str, raw: &[u8]) -> Option<Facts> {
        let mut de = serde_json::Deserializer::from_slice(raw);
        let facts = Document { observer }.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(facts)
    }

    /// Not the common case: the whole-document reading decides.
    fn give_up<E: de::Error>() -> E {
        E::custom("not the common case")
    }

    /// The keys of one object so far: a repeated one gives up.
    #[derive(Default)]
    struct Keys(HashSet<String>);

    impl Keys {
        fn first<E: de::Error>(&mut self, key: &str) -> Result<(), E> {
            if self.0.insert(key.to_string()) { Ok(()) } else { Err(give_up()) }
        }
    }

    fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
        map.next_value::<Value>().map(drop)
    }

    /// The top level: a JSON-RPC response (`result`), or one bare command output.
    struct Document<'o> {
        observer: &'o str,
    }

    impl<'de> DeserializeSeed<'de> for Document<'_> {
        type Value = Facts;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Facts, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Document<'_> {
        type Value = Facts;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an eAPI response or a command output")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Facts, A::Error> {
            let (mut keys, mut result, mut bare) = (Keys::default(), None, Output::default());
            while let Some(key) = map.next_key::<String>()? {
                keys.first(&key)?;
                match key.as_str() {
                    "error" => return Err(give_up()),
                    "result" => result = Some(map.next_value_seed(Outputs { observer: self.observer })?),
                    _ => bare.field(&key, &mut map, self.observer, "")?,
                }
            }
            match result {
                Some(facts) => Ok(facts),
                None => bare.finish(),
            }
        }
    }

    /// What one command output's object held.
    #[derive(Default)]
    struct Output {
        vrfs: Option<Facts>,
        text: bool,
        errors: bool,
    }

    impl Output {
        fn field<'de, A: MapAccess<'de>>(
            &mut self,
            key: &str,
            map: &mut A,
            observer: &str,
            ptr: &str,
        ) -> Result<(), A::Error> {
            match key {
                "vrfs" => self.vrfs = Some(map.next_value_seed(Vrfs { observer, ptr })?),
                "output" => self.text = map.next_value::<Value>()?.is_string(),
                "errors" => {
                    skip(map)?;
                    self.errors = true;
                }
                _ => skip(map)?,
            }
            Ok(())
        }

        fn finish<E: de::Error>(self) -> Result<Facts, E> {
            if self.text || self.errors {
                return Err(give_up());
            }
            self.vrfs.ok_or_else(give_up)
        }
    }

    /// `result`: one output per command, in request order.
    struct Outputs<'o> {
        observer: &'o str,
    }

    impl<'de> DeserializeSeed<'de> for Outputs<'_> {
        type Value = Facts;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Facts, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Outputs<'_> {
        type Value = Facts;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of command outputs")
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Facts, S::Error> {
            let mut facts = Facts::default();
            let mut i = 0usize;
            while let Some(output) =
                seq.next_element_seed(OneOutput { observer: self.observer, ptr: &format!("/result/{i}") })?
            {
                facts.extend(output);
                i += 1;
            }
            Ok(facts)
        }
    }

    struct OneOutput<'a> {
        observer: &'a str,
        ptr: &'a str,
    }

    impl<'de> DeserializeSeed<'de> for OneOutput<'_> {
        type Value = Facts;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Facts, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for OneOutput<'_> {
        type Value = Facts;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a command output")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Facts, A::Error> {
            let (mut keys, mut output) = (Keys::default(), Output::default());
            while let Some(key) = map.next_key::<String>()? {
                keys.first(&key)?;
                output.field(&key, &mut map, self.observer, self.ptr)?;
            }
            output.finish()
        }
    }

    /// `vrfs`: one body per VRF name.
    struct Vrfs<'a> {
        observer: &'a str,
        ptr: &'a str,
    }

    impl<'de> DeserializeSeed<'de> for Vrfs<'_> {
        type Value = Facts;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Facts, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Vrfs<'_> {
        type Value = Facts;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object keyed by VRF name")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Facts, A::Error> {
            let (mut keys, mut facts) = (Keys::default(), Facts::default());
            while let Some(vrf) = map.next_key::<String>()? {
                keys.first(&vrf)?;
                let vptr = format!("{}/vrfs/{}", self.ptr, escape(&vrf));
                let body = VrfBody { observer: self.observer, vrf: &vrf, vptr: &vptr, facts: &mut facts };
                map.next_value_seed(body)?;
            }
            Ok(facts)
        }
    }

    /// One VRF: its `routes` streamed; its `peers` (and `asn`) kept, as the table's routes win.
    struct VrfBody<'a> {
        observer: &'a str,
        vrf: &'a str,
        vptr: &'a str,
        facts: &'a mut Facts,
    }

    impl<'de> DeserializeSeed<'de> for VrfBody<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for VrfBody<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object (one VRF)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let VrfBody { observer, vrf, vptr, facts } = self;
            let mut keys = Keys::default();
            let (mut routes, mut peers, mut asn) = (false, None, None);
            while let Some(key) = map.next_key::<String>()? {
                keys.first(&key)?;
                match key.as_str() {
                    "routes" => {
                        map.next_value_seed(Routes { observer, vrf, vptr, into: &mut facts.routes })?;
                        routes = true;
                    }
                    "peers" => peers = Some(map.next_value::<Value>()?),
                    "asn" => asn = Some(map.next_value::<Value>()?),
                    _ => skip(&mut map)?,
                }
            }
            if routes {
                return Ok(());
            }
            if let Some(peers) = peers {
                let body: Map<String, Value> = asn.map(|a| ("asn".to_string(), a)).into_iter().collect();
                vrf_peers(observer, vrf, &body, &peers, vptr, facts).map_err(|_| give_up())?;
            }
            Ok(())
        }
    }

    /// `routes`: one route at a time, straight into the document's list. Each is read as its text
    /// first: when that text is already what serde writes for it (the usual eAPI output) it is
    /// the excerpt itself, not written again; the route's fields come from a (small) `Value`.
    struct Routes<'a> {
        observer: &'a str,
        vrf: &'a str,
        vptr: &'a str,
        into: &'a mut Vec<Route>,
    }

    impl<'de> DeserializeSeed<'de> for Routes<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Routes<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object keyed by prefix")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut keys = Keys::default();
            let mut scratch = Scratch::default();
            let mut names = TableNames::new(self.observer, self.vrf);
            while let Some(prefix) = map.next_key::<String>()? {
                keys.first(&prefix)?;
                let text = map.next_value::<&'de RawValue>()?.get();
                let as_written = match scratch.as_serde_writes(text) {
                    Written::Same => true,
                    Written::Different => false,
                    Written::TooDeep => return Err(give_up()),
                };
                let route: Value = serde_json::from_str(text).map_err(|_| give_up())?;
                let quote = || if as_written { bounded(text) } else { excerpt(&route) };
                let fact =
                    route_fact(&mut names, &prefix, &route, self.vptr, quote).map_err(|_| give_up())?;
                self.into.push(fact);
            }
            Ok(())
        }
    }

    /// How one route's text compares with what serde writes for the `Value` it holds.
    #[derive(Debug, PartialEq)]
    pub(super) enum Written {
        Same,
        Different,
        /// Nested deeper than any route: the whole-document reading, with its depth limit, decides.
        TooDeep,
    }

    /// Routes nest three deep (`{…"vias":[{…}]}`); the document's own limit is 128.
    const MAX_ROUTE_DEPTH: usize = 32;

    /// The open objects and arrays of one text and the keys seen in each open object, kept
    /// across routes so that reading one allocates nothing.
    #[derive(Default)]
    pub(super) struct Scratch<'t> {
        /// Per open container: whether it is an object, and where its keys start in `keys`.
        open: Vec<(bool, usize)>,
        keys: Vec<&'t str>,
    }

    impl<'t> Scratch<'t> {
        /// Whether `text` (one well-formed JSON value) is byte for byte what serde writes for it:
        /// no whitespace between tokens, no escapes in strings (serde writes `\u00e9` as `é`),
        /// numbers as plain integers that stay integers (serde writes `1e2` as `100.0`, `-0`
        /// as `-0.0`), and no repeated key (a `Value` keeps the last one's value, at the first
        /// one's place). Conservative: `Different` only costs writing the excerpt again.
        pub(super) fn as_serde_writes(&mut self, text: &'t str) -> Written {
            self.open.clear();
            self.keys.clear();
            let b = text.as_bytes();
            let mut key_next = false;
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    open @ (b'{' | b'[') => {
                        if self.open.len() == MAX_ROUTE_DEPTH {
                            return Written::TooDeep;
                        }
                        key_next = open == b'{';
                        self.open.push((key_next, self.keys.len()));
                        i += 1;
                    }
                    b'}' | b']' => {
                        if let Some((_, first_key)) = self.open.pop() {
                            self.keys.truncate(first_key);
                        }
                        key_next = false;
                        i += 1;
                    }
                    b',' => {
                        key_next = matches!(self.open.last(), Some((true, _)));
                        i += 1;
                    }
                    b':' => {
                        key_next = false;
                        i += 1;
                    }
                    b'"' => {
                        let body = &b[i + 1..];
                        let Some(len) = body.iter().position(|&c| c == b'"' || c == b'\\') else {
                            return Written::Different;
                        };
                        if body[len] == b'\\' {
                            return Written::Different;
                        }
                        if key_next {
                            let key = &text[i + 1..i + 1 + len];
                            let first_key = self.open.last().map_or(0, |o| o.1);
                            if self.keys[first_key..].contains(&key) {
                                return Written::Different;
                            }
                            self.keys.push(key);
                        }
                        i += len + 2;
                    }
                    b'-' | b'0'..=b'9' => {
                        let start = i + usize::from(b[i] == b'-');
                        let digits = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
                        let end = start + digits;
                        // 18 digits always fit an i64 or u64, which serde writes back as read.
                        let plain = (1..=18).contains(&digits)
                            && !(start > i && b[start] == b'0')
                            && !matches!(b.get(end), Some(b'.' | b'e' | b'E'));
                        if !plain {
                            return Written::Different;
                        }
                        i = end;
                    }
                    b't' | b'n' => i += 4,
                    b'f' => i += 5,
                    _ => return Written::Different,
                }
            }
            Written::Same
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = include_str!("../../tests/fixtures/eos/eos-show-ip-route-vrf-all.json");
    const BGP: &str = include_str!("../../tests/fixtures/eos/eos-show-ip-bgp-summary-vrf-all.json");
    const VRFS: &str = include_str!("../../tests/fixtures/eos/eos-show-vrf.json");
    const ERROR: &str = include_str!("../../tests/fixtures/eos/eos-eapi-error-response.json");
    const REQUEST: &str = include_str!("../../tests/fixtures/eos/eos-eapi-request.json");

    fn ok(raw: &str) -> Facts {
        parse("leaf01", raw.as_bytes()).unwrap_or_else(|e| panic!("parse failed: {e}"))
    }

    fn err(raw: &str) -> ParseError {
        match parse("leaf01", raw.as_bytes()) {
            Ok(f) => {
                panic!("expected an error, got {} routes / {} sessions", f.routes.len(), f.sessions.len())
            }
            Err(e) => e,
        }
    }

    /// The response to the request in `eos-eapi-request.json`: one output per command, in order.
    fn response() -> String {
        format!(r#"{{"jsonrpc": "2.0", "id": "zoneaudit-leaf01-1", "result": [{ROUTES}, {BGP}, {VRFS}]}}"#)
    }

    fn route<'f>(f: &'f Facts, vrf: &str, prefix: &str) -> &'f Route {
        f.routes
            .iter()
            .find(|r| r.table == vrf && r.prefix.to_string() == prefix)
            .unwrap_or_else(|| panic!("no route {vrf} {prefix}"))
    }

    fn peer<'f>(f: &'f Facts, addr: &str) -> &'f BgpSession {
        f.sessions
            .iter()
            .find(|s| s.peer_addr.to_string() == addr)
            .unwrap_or_else(|| panic!("no peer {addr}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bare_route_output_gives_every_route_per_vrf() {
        let f = ok(ROUTES);
        assert!(f.sessions.is_empty());
        let per_vrf = |v: &str| f.routes.iter().filter(|r| r.table == v).count();
        assert_eq!((per_vrf("default"), per_vrf("ZONE-PROD"), per_vrf("ZONE-DEV")), (3, 5, 3));
        assert!(f.routes.iter().all(|r| r.best && r.as_path.is_empty() && r.learned_from.is_none()));

        let ecmp = route(&f, "ZONE-PROD", "10.20.0.0/26");
        assert_eq!(ecmp.protocol, "ibgp");
        assert_eq!(ecmp.next_hops, vec![ip("10.110.0.11"), ip("10.110.0.12")]);
        assert_eq!(ecmp.observer, "leaf01");
        assert_eq!(ecmp.origin.locator, "/vrfs/ZONE-PROD/routes/10.20.0.0~126");
        let quoted: Value = serde_json::from_str(&ecmp.origin.excerpt).unwrap();
        assert_eq!(quoted["routeType"], "iBGP");
        assert!(!ecmp.origin.excerpt.contains('\n'), "compact JSON");

        let firewall_path = route(&f, "ZONE-PROD", "10.30.0.0/26");
        assert_eq!(firewall_path.protocol, "ebgp");
        assert_eq!(firewall_path.next_hops, vec![ip("172.31.100.1")]);

        let connected = route(&f, "ZONE-DEV", "10.120.0.0/24");
        assert_eq!(connected.protocol, "connected");
        assert!(connected.next_hops.is_empty(), "connected vias have only an interface");
        let aggregate = route(&f, "ZONE-DEV", "10.30.0.0/16");
        assert_eq!(aggregate.protocol, "bgpaggregate");
        assert!(aggregate.next_hops.is_empty());
    }

    #[test]
    fn bare_bgp_summary_gives_one_session_per_peer() {
        let f = ok(BGP);
        assert!(f.routes.is_empty());
        assert_eq!(f.sessions.len(), 5);
        let underlay = peer(&f, "10.255.1.0");
        assert_eq!(underlay.vrf, None, "default VRF");
        assert_eq!(underlay.peer_asn, Some(65001));
        assert_eq!(underlay.session_type, SessionType::Ebgp);
        assert_eq!(underlay.prefixes_received, Some(14));
        assert_eq!(underlay.since.as_deref(), Some("2024-07-15T21:55:27Z"));
        assert_eq!(underlay.protocol, None);

        let rr = peer(&f, "10.110.0.11");
        assert_eq!(rr.vrf.as_deref(), Some("ZONE-PROD"));
        assert_eq!(rr.peer_asn, Some(64512));
        assert!(rr.is_established());
        assert_eq!(rr.origin.locator, "/vrfs/ZONE-PROD/peers/10.110.0.11");
        let quoted: Value = serde_json::from_str(&rr.origin.excerpt).unwrap();
        assert_eq!(quoted["peerState"], "Established");

        let firewall = peer(&f, "172.31.100.1");
        assert_eq!(firewall.state, "Active");
        assert_eq!(firewall.since.as_deref(), Some("2024-07-16T20:00:11Z"));
        assert_eq!(peer(&f, "10.120.0.21").vrf.as_deref(), Some("ZONE-DEV"));
    }

    #[test]
    fn json_rpc_response_is_read_by_shape_with_pointers_into_result() {
        let f = ok(&response());
        assert_eq!(f.routes.len(), 11);
        assert_eq!(f.sessions.len(), 5, "show vrf adds nothing");
        assert_eq!(
            route(&f, "ZONE-PROD", "10.20.0.0/26").origin.locator,
            "/result/0/vrfs/ZONE-PROD/routes/10.20.0.0~126"
        );
        assert_eq!(peer(&f, "10.110.0.12").origin.locator, "/result/1/vrfs/ZONE-PROD/peers/10.110.0.12");

        let swapped = format!(r#"{{"jsonrpc": "2.0", "id": 7, "result": [{BGP}, {ROUTES}]}}"#);
        let g = ok(&swapped);
        assert_eq!((g.routes.len(), g.sessions.len()), (11, 5));
        assert_eq!(peer(&g, "10.110.0.12").origin.locator, "/result/0/vrfs/ZONE-PROD/peers/10.110.0.12");
    }

    #[test]
    fn same_asn_is_ibgp_and_asdot_or_integer_asns_are_read() {
        let raw = r#"{"vrfs": {"YELLOW": {"vrf": "YELLOW", "asn": "65002.2048", "peers": {
            "10.1.0.1": {"peerState": "Established", "asn": "65002.2048", "prefixReceived": 3, "upDownTime": 0},
            "fe80::a8c1:abff:fe94:4171%Et3": {"peerState": "Idle", "asn": 65001}
        }}}}"#;
        let f = ok(raw);
        let same = peer(&f, "10.1.0.1");
        assert_eq!(same.peer_asn, Some(4_259_973_120));
        assert_eq!(same.session_type, SessionType::Ibgp);
        assert_eq!(same.since.as_deref(), Some("1970-01-01T00:00:00Z"));
        let link_local = peer(&f, "fe80::a8c1:abff:fe94:4171");
        assert_eq!(link_local.peer_asn, Some(65001));
        assert_eq!(link_local.session_type, SessionType::Ebgp);
        assert_eq!(link_local.prefixes_received, None);
        assert_eq!(link_local.since, None);
        assert_eq!(link_local.origin.locator, "/vrfs/YELLOW/peers/fe80::a8c1:abff:fe94:4171%Et3");
    }

    #[test]
    fn newer_multi_afi_summary_model_is_read() {
        let raw = r#"{"vrfs": {"default": {"asn": "65101", "peers": {"10.0.0.1": {
            "peerState": "Established", "peerAsn": "65101",
            "ipv4Unicast": {"afiSafiState": "negotiated", "nlrisReceived": 4, "nlrisAccepted": 4}}}}}}"#;
        let s = &ok(raw).sessions[0];
        assert_eq!(s.peer_asn, Some(65101));
        assert_eq!(s.session_type, SessionType::Ibgp);
        assert_eq!(s.prefixes_received, Some(4));
    }

    #[test]
    fn pointers_escape_tilde_and_slash_and_next_hops_skip_placeholders() {
        let raw = r#"{"vrfs": {"A/B~C": {"routes": {
            "10.0.0.0/8": {"routeType": "eBGP", "vias": [{"interface": "Et1", "nexthopAddr": "0.0.0.0"}, {"interface": "Et2", "nexthopAddr": "10.9.9.9"}]},
            "10.1.0.0/16": {"routeType": "eBGP", "vias": [{"vtepAddr": "10.0.0.134", "nexthopAddr": "", "routerMac": "44:38:39:24:3f:16", "vni": 999}]}
        }}}}"#;
        let f = ok(raw);
        let r = route(&f, "A/B~C", "10.0.0.0/8");
        assert_eq!(r.origin.locator, "/vrfs/A~1B~0C/routes/10.0.0.0~18");
        assert_eq!(r.next_hops, vec![ip("10.9.9.9")], "0.0.0.0 is no next hop");
        assert_eq!(
            route(&f, "A/B~C", "10.1.0.0/16").next_hops,
            vec![ip("10.0.0.134")],
            "EVPN: the remote VTEP"
        );
    }

    #[test]
    fn eapi_error_names_code_message_and_failing_command() {
        let e = err(ERROR);
        assert_eq!(e.locator, "/error/data/1");
        assert!(e.message.contains("1002"), "{e}");
        assert!(
            e.message.contains("CLI command 2 of 2 'show ip bgp summry vrf all' failed: invalid command"),
            "{e}"
        );
        assert!(
            e.message.contains("command 2 (index 1) failed: Invalid input (at token 3: 'summry')"),
            "{e}"
        );
        let e = err(r#"{"jsonrpc": "2.0", "id": 1, "error": {"code": 1005, "message": "unauthorized"}}"#);
        assert_eq!(e.to_string(), "/error: eapi error 1005: unauthorized");
    }

    #[test]
    fn malformed_and_truncated_json_name_line_and_column() {
        let e = err("{\n  \"vrfs\": {\n    \"default\": [}\n}");
        assert_eq!(e.locator, "line 3 column 17");
        assert!(e.message.starts_with("malformed JSON"), "{e}");

        let cut = &ROUTES[..ROUTES.len() / 2];
        let e = err(cut);
        assert!(e.locator.starts_with("line ") && e.locator.contains(" column "), "{e}");
        assert!(e.message.starts_with("truncated JSON"), "{e}");
        assert!(err("").message.starts_with("truncated JSON"));
        assert!(parse("leaf01", &[0xff, 0xfe]).is_err());
    }

    #[test]
    fn wrong_shapes_name_the_pointer_and_what_was_expected() {
        let cases = [
            (REQUEST, "(root)", "expected a JSON-RPC response"),
            ("[1, 2]", "(root)", "expected a JSON object"),
            (r#"{"result": {}}"#, "/result", "expected an array"),
            (r#"{"result": [{"output": "Gateway of last resort..."}]}"#, "/result/0", "format \"json\""),
            (r#"{"result": [{}, {"routes": {}}]}"#, "/result/0", "expected 'vrfs'"),
            (r#"{"vrfs": []}"#, "/vrfs", "expected an object keyed by VRF name"),
            (r#"{"vrfs": {"X": {"routes": {"bogus": {}}}}}"#, "/vrfs/X/routes/bogus", "expected a prefix"),
            (
                r#"{"vrfs": {"X": {"routes": {"10.0.0.0/8": {"vias": []}}}}}"#,
                "/vrfs/X/routes/10.0.0.0~18/routeType",
                "expected a string",
            ),
            (
                r#"{"vrfs": {"X": {"routes": {"10.0.0.0/8": {"routeType": "static", "vias": [{"nexthopAddr": "nope"}]}}}}}"#,
                "/vrfs/X/routes/10.0.0.0~18/vias/0/nexthopAddr",
                "expected an IP address",
            ),
            (
                r#"{"vrfs": {"X": {"peers": {"router-1": {}}}}}"#,
                "/vrfs/X/peers/router-1",
                "expected an IP address",
            ),
            (
                r#"{"vrfs": {"X": {"peers": {"10.0.0.1": {"asn": "1"}}}}}"#,
                "/vrfs/X/peers/10.0.0.1/peerState",
                "expected a string",
            ),
            (
                r#"{"vrfs": {"X": {"peers": {"10.0.0.1": {"peerState": "Idle", "asn": "AS1"}}}}}"#,
                "/vrfs/X/peers/10.0.0.1/asn",
                "expected an AS number",
            ),
            (
                r#"{"vrfs": {"X": {"peers": {"10.0.0.1": {"peerState": "Idle", "upDownTime": "yesterday"}}}}}"#,
                "/vrfs/X/peers/10.0.0.1/upDownTime",
                "expected epoch seconds",
            ),
        ];
        for (raw, locator, expected) in cases {
            let e = err(raw);
            assert_eq!(e.locator, locator, "{raw}");
            assert!(e.message.contains(expected), "{raw}: {e}");
        }
    }

    /// The streamed reading is the whole-document reading, fact for fact and error for error, and
    /// gives up exactly where that one would disagree (a repeated key keeps only its last value).
    #[test]
    fn streamed_reading_gives_what_the_whole_document_gives() {
        let documents = [
            ROUTES.to_string(),
            BGP.to_string(),
            VRFS.to_string(),
            ERROR.to_string(),
            REQUEST.to_string(),
            response(),
            format!(r#"{{"result": [{ROUTES}], "error": {{"code": 1, "message": "late"}}}}"#),
            format!(r#"{{"vrfs": {{}}, "result": [{BGP}]}}"#),
            r#"{"vrfs": {"X": {"peers": {"10.0.0.1": {"peerState": "Idle"}}, "asn": "7", "routes": {}}}}"#.into(),
            r#"{"vrfs": {"X": {"peers": {"10.0.0.1": {"peerState": "Idle", "asn": 7}}, "asn": "7"}}}"#.into(),
            r#"{"vrfs": {"X": {"routes": {"10.0.0.0/8": {"routeType": "static"}, "10.0.0.0/8": {"routeType": "eBGP"}}}}}"#.into(),
            r#"{"vrfs": {"X": {"routes": {"10.0.0.0/8": {"routeType": "x"}}}, "X": {"routes": {}}}}"#.into(),
            r#"{"vrfs": {"X": {"routes": {}}}, "errors": ["denied"]}"#.into(),
            r#"{"vrfs": {"X": {"routes": {}}}, "output": "text"}"#.into(),
            r#"{"vrfs": {"X": {"routes": {}}}, "skipped": 1e400}"#.into(),
            format!(r#"{{"vrfs": {{}}, "skipped": {}}}"#, "[".repeat(200) + &"]".repeat(200)),
            r#"{"vrfs": {}} trailing"#.into(),
        ];
        for doc in &documents {
            let streamed = streamed::parse("leaf01", doc.as_bytes());
            let whole = parse_document("leaf01", doc.as_bytes());
            if let Some(facts) = &streamed {
                assert_eq!(Ok(facts), whole.as_ref(), "{doc}");
            }
            assert_eq!(parse("leaf01", doc.as_bytes()), whole, "{doc}");
        }
        assert!(streamed::parse("leaf01", response().as_bytes()).is_some(), "the common case streams");
        let repeated = &documents[10];
        assert!(streamed::parse("leaf01", repeated.as_bytes()).is_none(), "a repeated prefix gives up");
        assert_eq!(ok(repeated).routes[0].protocol, "ebgp", "the last value counts");
    }

    /// A route's own text is its excerpt only where serde would write exactly that text again
    /// (conservatively: an escaped quote, written back as read, still counts as different).
    #[test]
    fn route_text_is_the_excerpt_only_when_serde_writes_it_so() {
        let texts = [
            (
                r#"{"routeType":"eBGP","vias":[{"nexthopAddr":"10.0.0.1"}],"metric":0,"ok":true,"x":null}"#,
                true,
            ),
            ("{\"a\":{\"b\":[1,-2,{\"c\":false}]},\"d\":[],\"e\":{},\"f\":\"é ☃ \u{2028}\u{7f}\"}", true),
            (r#"{"big":123456789012345678,"neg":-123456789012345678}"#, true),
            (r#"{"a":[{"k":1},{"k":2}],"k":3}"#, true),
            (r#"{"routeType": "eBGP"}"#, false),
            ("{\n\"routeType\":\"eBGP\"}", false),
            (r#"{"routeType":"e\u0042GP"}"#, false),
            (r#"{"routeType":"a\"b"}"#, false),
            (r#"{"routeType":"a\/b"}"#, false),
            (r#"{"metric":1.0}"#, false),
            (r#"{"metric":1e2}"#, false),
            (r#"{"metric":-0}"#, false),
            (r#"{"metric":12345678901234567890}"#, false),
            (r#"{"metric":123456789012345678901234}"#, false),
            (r#"{"k":1,"k":2}"#, false),
            (r#"{"a":{"k":1,"j":2,"k":3}}"#, false),
        ];
        let mut scratch = streamed::Scratch::default();
        for (text, same) in texts {
            let verdict = scratch.as_serde_writes(text);
            assert_eq!(verdict == streamed::Written::Same, same, "{text}: {verdict:?}");
            if same {
                assert_eq!(serde_json::from_str::<Value>(text).unwrap().to_string(), text);
            }
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(scratch.as_serde_writes(&deep), streamed::Written::TooDeep);

        // Either way a streamed route is what the whole-document reading gives, excerpt included.
        for (text, _) in texts {
            let raw = format!(r#"{{"vrfs":{{"X":{{"routes":{{"10.0.0.0/8":{text}}}}}}}}}"#);
            assert_eq!(parse("leaf01", raw.as_bytes()), parse_document("leaf01", raw.as_bytes()), "{text}");
        }
        let raw = r#"{"vrfs":{"X":{"routes":{"10.0.0.0/8":{"routeType":"eBGP","metric":1e2}}}}}"#;
        let f = streamed::parse("leaf01", raw.as_bytes()).expect("streams");
        assert_eq!(f.routes[0].origin.excerpt, r#"{"routeType":"eBGP","metric":100.0}"#);
        assert_eq!(f.routes[0].origin.locator, "/vrfs/X/routes/10.0.0.0~18");
        assert_eq!(f.routes[0].origin.locator.capacity(), f.routes[0].origin.locator.len());
    }

    #[test]
    fn bgp_not_configured_gives_no_sessions() {
        let f = ok(
            r#"{"jsonrpc": "2.0", "id": 1, "result": [{"vrfs": {}}, {"vrfs": {"default": {"asn": "1", "peers": {}}}}]}"#,
        );
        assert_eq!(f, Facts::default());
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
            fn never_panics_on_cut_samples(cut in 0usize..6000, which in 0usize..3) {
                let full = match which { 0 => ROUTES.to_string(), 1 => BGP.to_string(), _ => response() };
                let bytes = full.as_bytes();
                let _ = parse("x", &bytes[..cut.min(bytes.len())]);
            }

            #[test]
            fn never_panics_on_arbitrary_values_in_the_shape(
                key in "[ -~]{0,12}",
                value in prop_oneof![
                    Just("null".to_string()), Just("[]".to_string()), Just("{}".to_string()),
                    Just("-1".to_string()), Just("1e400".to_string()), Just("18446744073709551616".to_string()),
                    "\"[ -~]{0,12}\"",
                ],
            ) {
                let key = serde_json::to_string(&key).unwrap();
                for raw in [
                    format!(r#"{{"vrfs": {{"X": {{"routes": {{{key}: {{"routeType": {value}, "vias": [{{"nexthopAddr": {value}}}]}}}}}}}}}}"#),
                    format!(r#"{{"vrfs": {{"X": {{"asn": {value}, "peers": {{{key}: {{"peerState": {value}, "asn": {value}, "upDownTime": {value}, "prefixReceived": {value}}}}}}}}}}}"#),
                    format!(r#"{{"error": {{"code": {value}, "message": {value}, "data": [{{"errors": {value}}}]}}}}"#),
                ] {
                    let _ = parse("x", raw.as_bytes());
                }
            }
        }
    }
}
