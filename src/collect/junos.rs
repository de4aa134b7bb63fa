//! Juniper Junos JSON (REST RPC or `| display json`): `get-route-information` (`show route`) and
//! `get-bgp-summary-information` (`show bgp summary`).
//!
//! Junos JSON maps its XML reply mechanically: every element is an array (even when it occurs
//! once), leaf text is `[{"data": "…"}]` and always a string, flags are `[{"data": [null]}]`:
//!
//! ```text
//!  {"route-information":[{ "route-table":[{ "table-name":[{"data":"ZONE-PROD.inet.0"}],
//!        "rt":[{ "rt-destination":[{"data":"0.0.0.0/0"}],
//!                "rt-entry":[{ active-tag "*"?, protocol-name, as-path, nh:[{to, via}] }, …] }] }] }]}
//!        -> one Route per rt-entry (best = active-tag "*")
//!  {"bgp-information":[{ "bgp-peer":[{ peer-address, peer-as, peer-state,
//!        "bgp-rib":[{ name "ZONE-PROD.inet.0", received-prefix-count }] }] }]}
//!        -> one BgpSession per bgp-peer (VRF from its ribs' table names)
//! ```
//!
//! Table names carry the routing instance: `inet.0` / `inet6.0` are the master instance (VRF
//! `default`), `ZONE-PROD.inet.0` is instance `ZONE-PROD`. Other tables (`inet.3`, `mpls.0`,
//! `bgp.evpn.0`, internal `__…__` and `:vxlan` instances) hold no unicast forwarding state of a
//! zone and are skipped. The summary names a peer's instance only through its ribs, which a peer
//! that is not established may lack: such a peer is reported in the default VRF.
//!
//! Locators are RFC 6901 pointers into the payload
//! (`/route-information/0/route-table/0/rt/1/rt-entry/0`), excerpts the object there as compact
//! JSON. Pointers are built only from fixed element names and indices, so no escaping is needed.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::collect::ParseError;
use crate::collect::json::{bounded, shape};
use crate::model::{BgpSession, Facts, Origin, Route, SessionType};

/// Elements with their JSON pointers.
type Located<'v> = Vec<(String, &'v Map<String, Value>)>;

/// Parse a Junos `route-information` or `bgp-information` JSON reply.
pub fn parse(observer: &str, raw: &[u8]) -> Result<Facts, ParseError> {
    let doc: Value = serde_json::from_slice(raw).map_err(|e| json_error(e, raw))?;
    let Value::Object(top) = &doc else {
        return Err(shape("", "expected a JSON object (a Junos RPC reply)"));
    };
    if let Some((key, error)) = top.iter().find(|(k, _)| k.ends_with("error")) {
        return Err(rpc_error(key, error));
    }
    let mut facts = Facts::default();
    let mut known = false;
    if let Some(info) = top.get("route-information") {
        known = true;
        for (iptr, info) in elements(info, "/route-information")? {
            for (tptr, table) in child_elements(info, "route-table", &iptr)? {
                route_table(observer, table, &tptr, &mut facts)?;
            }
        }
    }
    if let Some(info) = top.get("bgp-information") {
        known = true;
        for (iptr, info) in elements(info, "/bgp-information")? {
            for (pptr, peer) in child_elements(info, "bgp-peer", &iptr)? {
                facts.sessions.push(session(observer, peer, &pptr)?);
            }
        }
    }
    if !known {
        return Err(shape(
            "",
            "expected route-information or bgp-information (replies of get-route-information and \
             get-bgp-summary-information)",
        ));
    }
    Ok(facts)
}

fn route_table(
    observer: &str,
    table: &Map<String, Value>,
    tptr: &str,
    facts: &mut Facts,
) -> Result<(), ParseError> {
    let name = leaf(table, "table-name", tptr)?
        .ok_or_else(|| shape(&format!("{tptr}/table-name"), "expected the table name (missing)"))?;
    let Some(vrf) = instance_of(name) else { return Ok(()) };
    for (rptr, rt) in child_elements(table, "rt", tptr)? {
        let dest = leaf(rt, "rt-destination", &rptr)?
            .ok_or_else(|| shape(&format!("{rptr}/rt-destination"), "expected the destination (missing)"))?;
        let prefix: IpNet = dest.parse().map_err(|_| {
            shape(&format!("{rptr}/rt-destination"), format!("expected a prefix, got {dest:?}"))
        })?;
        for (eptr, entry) in child_elements(rt, "rt-entry", &rptr)? {
            facts.routes.push(route(observer, vrf, prefix, entry, &eptr)?);
        }
    }
    Ok(())
}

fn route(
    observer: &str,
    vrf: &str,
    prefix: IpNet,
    entry: &Map<String, Value>,
    eptr: &str,
) -> Result<Route, ParseError> {
    let protocol = leaf(entry, "protocol-name", eptr)?
        .ok_or_else(|| shape(&format!("{eptr}/protocol-name"), "expected the protocol (missing)"))?;
    let best = leaf(entry, "active-tag", eptr)? == Some("*");
    let mut next_hops = Vec::new();
    for (nptr, nh) in child_elements(entry, "nh", eptr)? {
        let Some(to) = leaf(nh, "to", &nptr)? else { continue };
        let addr: IpAddr = to
            .parse()
            .map_err(|_| shape(&format!("{nptr}/to"), format!("expected an IP address, got {to:?}")))?;
        if !next_hops.contains(&addr) {
            next_hops.push(addr);
        }
    }
    let as_path = leaf(entry, "as-path", eptr)?.map(as_path).unwrap_or_default();
    Ok(Route {
        observer: observer.into(),
        table: vrf.into(),
        prefix,
        next_hops,
        protocol: protocol.to_ascii_lowercase().into(),
        learned_from: None,
        as_path,
        best,
        origin: Origin::at_pointer(eptr, excerpt(entry)),
    })
}

fn session(observer: &str, peer: &Map<String, Value>, pptr: &str) -> Result<BgpSession, ParseError> {
    let address = leaf(peer, "peer-address", pptr)?
        .ok_or_else(|| shape(&format!("{pptr}/peer-address"), "expected the peer address (missing)"))?;
    let peer_addr = parse_peer_addr(address).ok_or_else(|| {
        shape(&format!("{pptr}/peer-address"), format!("expected an IP address, got {address:?}"))
    })?;
    let state = leaf(peer, "peer-state", pptr)?
        .ok_or_else(|| shape(&format!("{pptr}/peer-state"), "expected the peer state (missing)"))?;
    let peer_asn = match leaf(peer, "peer-as", pptr)? {
        Some(text) => Some(parse_asn(text).ok_or_else(|| {
            shape(&format!("{pptr}/peer-as"), format!("expected an AS number, got {text:?}"))
        })?),
        None => None,
    };
    let mut vrf = None;
    let mut prefixes_received: Option<u64> = None;
    for (rptr, rib) in child_elements(peer, "bgp-rib", pptr)? {
        if vrf.is_none()
            && let Some(name) = leaf(rib, "name", &rptr)?
        {
            vrf = instance_of(name);
        }
        if let Some(n) = leaf(rib, "received-prefix-count", &rptr)? {
            let n: u64 = n.trim().parse().map_err(|_| {
                shape(
                    &format!("{rptr}/received-prefix-count"),
                    format!("expected a non-negative integer, got {n:?}"),
                )
            })?;
            prefixes_received = Some(prefixes_received.unwrap_or(0).saturating_add(n));
        }
    }
    Ok(BgpSession {
        observer: observer.to_string(),
        vrf: vrf.filter(|v| *v != "default").map(str::to_string),
        protocol: None,
        local_addr: None,
        peer_addr,
        peer_asn,
        state: state.to_string(),
        // `elapsed-time` is how long the peer has been in its state, not a point in time.
        since: None,
        // The summary does not give the local AS, so internal and external cannot be told apart.
        session_type: SessionType::Unknown,
        prefixes_received,
        origin: Origin::at_pointer(pptr, excerpt(peer)),
    })
}

/// The routing instance of a unicast table, `None` for tables zoneaudit does not read.
fn instance_of(table: &str) -> Option<&str> {
    if table == "inet.0" || table == "inet6.0" {
        return Some("default");
    }
    let instance = table.strip_suffix(".inet.0").or_else(|| table.strip_suffix(".inet6.0"))?;
    let internal = instance.is_empty() || instance.starts_with("__") || instance.starts_with(':');
    (!internal).then_some(instance)
}

/// `65000 65101 I`: AS numbers, then the origin code; `{…}` sets and `(…)` confederation
/// segments are flattened, `[…]` (the local AS Junos prints in detail views) is not part of it.
fn as_path(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter(|t| !t.starts_with('['))
        .filter_map(|t| t.trim_matches(|c| matches!(c, '{' | '}' | '(' | ')' | ',')).parse().ok())
        .collect()
}

/// `10.0.0.1`, `10.0.0.1+179`, `2001:db8::1+179`.
fn parse_peer_addr(text: &str) -> Option<IpAddr> {
    let addr = text.split('+').next().unwrap_or(text).trim();
    addr.parse().ok()
}

fn parse_asn(text: &str) -> Option<u32> {
    match text.trim().split_once('.') {
        Some((hi, lo)) => {
            let hi: u16 = hi.parse().ok()?;
            let lo: u16 = lo.parse().ok()?;
            Some(u32::from(hi) << 16 | u32::from(lo))
        }
        None => text.trim().parse().ok(),
    }
}

/// The elements named `key` under `parent` (absent: none).
fn child_elements<'v>(
    parent: &'v Map<String, Value>,
    key: &str,
    ptr: &str,
) -> Result<Located<'v>, ParseError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => elements(v, &format!("{ptr}/{key}")),
    }
}

/// An element list: an array of objects (a bare object, as some older releases print, is one).
fn elements<'v>(v: &'v Value, ptr: &str) -> Result<Located<'v>, ParseError> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(o) => Ok((format!("{ptr}/{i}"), o)),
                _ => Err(shape(&format!("{ptr}/{i}"), "expected an object (one element)")),
            })
            .collect(),
        Value::Object(o) => Ok(vec![(ptr.to_string(), o)]),
        _ => Err(shape(ptr, "expected an array of elements")),
    }
}

/// The text of a leaf element: `key: [{"data": "text"}]`. Flags (`[{"data": [null]}]`) and empty
/// elements (`[{}]`) have none.
fn leaf<'v>(obj: &'v Map<String, Value>, key: &str, ptr: &str) -> Result<Option<&'v str>, ParseError> {
    let Some(v) = obj.get(key) else { return Ok(None) };
    let first = match v {
        Value::Array(items) => match items.first() {
            Some(first) => first,
            None => return Ok(None),
        },
        Value::Object(_) => v,
        Value::String(s) => return Ok(Some(s)),
        Value::Null => return Ok(None),
        other => {
            return Err(shape(&format!("{ptr}/{key}"), format!("expected [{{\"data\": …}}], got {other}")));
        }
    };
    let dptr = if matches!(v, Value::Array(_)) { format!("{ptr}/{key}/0") } else { format!("{ptr}/{key}") };
    let Value::Object(element) = first else {
        return Err(shape(&dptr, format!("expected {{\"data\": …}}, got {first}")));
    };
    match element.get("data") {
        None | Some(Value::Null) | Some(Value::Array(_)) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(shape(&format!("{dptr}/data"), format!("expected a string, got {other}"))),
    }
}

/// Junos reports a failed RPC as an error element (`xnm:error`, `rpc-error`) with a `message`.
fn rpc_error(key: &str, error: &Value) -> ParseError {
    let message = elements(error, key)
        .ok()
        .and_then(|els| els.into_iter().find_map(|(_, el)| leaf(el, "message", "").ok().flatten()))
        .map(|m| m.trim().to_string())
        .unwrap_or_else(|| bounded(&error.to_string()));
    ParseError::new(format!("/{key}"), format!("junos rpc error: {message}"))
}

fn excerpt(element: &Map<String, Value>) -> String {
    bounded(&Value::Object(element.clone()).to_string())
}

/// An XML answer means the request forgot `Accept: application/json`: say so.
fn json_error(e: serde_json::Error, raw: &[u8]) -> ParseError {
    let mut err = crate::collect::json::json_error(&e);
    if raw.trim_ascii_start().starts_with(b"<") {
        err.message.push_str(" (this is XML: the request must send Accept: application/json)");
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = include_str!("../../tests/fixtures/junos/junos-show-route-table-vrf.json");
    const BGP: &str = include_str!("../../tests/fixtures/junos/junos-show-bgp-summary.json");

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn routes_of_a_vrf_table_one_per_path() {
        let facts = parse("mx1", ROUTES.as_bytes()).unwrap();
        assert_eq!(facts.routes.len(), 4);
        assert!(facts.routes.iter().all(|r| r.table == "ZONE-PROD" && r.observer == "mx1"));

        let active = &facts.routes[0];
        assert_eq!(active.prefix.to_string(), "0.0.0.0/0");
        assert!(active.best);
        assert_eq!(active.protocol, "bgp");
        assert_eq!(active.next_hops, vec![ip("172.31.100.5")]);
        assert_eq!(active.as_path, vec![65000]);
        assert_eq!(active.origin.locator, "/route-information/0/route-table/0/rt/0/rt-entry/0");
        assert!(
            active.origin.excerpt.contains(r#""to":[{"data":"172.31.100.5"}]"#),
            "{}",
            active.origin.excerpt
        );

        let backup = &facts.routes[1];
        assert!(!backup.best, "active-tag [{{}}] is not the active path");
        assert_eq!(backup.as_path, vec![65000, 65101]);
        assert_eq!(backup.next_hops, vec![ip("172.31.100.7")]);

        let direct = &facts.routes[2];
        assert_eq!((direct.protocol.as_str(), direct.next_hops.len()), ("direct", 0));
        assert_eq!(facts.routes[3].protocol, "local");
        assert_eq!(facts.routes[3].prefix.to_string(), "172.31.100.4/32");
    }

    #[test]
    fn bgp_peers_take_their_vrf_from_the_rib_name() {
        let facts = parse("mx1", BGP.as_bytes()).unwrap();
        assert_eq!(facts.sessions.len(), 3);
        let underlay = &facts.sessions[0];
        assert_eq!(underlay.peer_addr, ip("10.255.2.1"));
        assert_eq!(underlay.vrf, None, "inet.0 is the master instance");
        assert_eq!(underlay.peer_asn, Some(65001));
        assert_eq!(underlay.prefixes_received, Some(3));
        assert!(underlay.is_established());
        let prod = &facts.sessions[1];
        assert_eq!(prod.vrf.as_deref(), Some("ZONE-PROD"));
        assert_eq!(prod.peer_addr, ip("172.31.100.5"));
        assert_eq!(prod.prefixes_received, Some(2));
        assert_eq!(prod.origin.locator, "/bgp-information/0/bgp-peer/1");
        assert!(prod.origin.excerpt.contains(r#""peer-as":[{"data":"65000"}]"#));
    }

    #[test]
    fn tables_name_their_instance() {
        assert_eq!(instance_of("inet.0"), Some("default"));
        assert_eq!(instance_of("inet6.0"), Some("default"));
        assert_eq!(instance_of("ZONE-PROD.inet.0"), Some("ZONE-PROD"));
        assert_eq!(instance_of("ZONE-PROD.inet6.0"), Some("ZONE-PROD"));
        for skipped in ["inet.3", "mpls.0", "bgp.evpn.0", ":vxlan.inet.0", "__juniper_private1__.inet.0"] {
            assert_eq!(instance_of(skipped), None, "{skipped}");
        }
    }

    #[test]
    fn all_tables_reply_keeps_unicast_tables_only() {
        let doc = serde_json::json!({"route-information": [{"route-table": [
            {"table-name": [{"data": "inet.0"}], "rt": [{"rt-destination": [{"data": "10.255.2.0/31"}],
                "rt-entry": [{"active-tag": [{"data": "*"}], "protocol-name": [{"data": "Direct"}]}]}]},
            {"table-name": [{"data": "bgp.evpn.0"}], "rt": [{"rt-destination": [{"data": "5:10.0.0.1:1::0::10.1.0.0::24/248"}],
                "rt-entry": [{"protocol-name": [{"data": "BGP"}]}]}]},
            {"table-name": [{"data": "ZONE-DEV.inet.0"}], "rt": [{"rt-destination": [{"data": "10.30.0.0/16"}],
                "rt-entry": [{"active-tag": [{"data": "*"}], "protocol-name": [{"data": "Static"}],
                    "nh": [{"to": [{"data": "10.120.0.1"}]}, {"to": [{"data": "10.120.0.9"}]}]}]}]}
        ]}]});
        let facts = parse("mx1", doc.to_string().as_bytes()).unwrap();
        let got: Vec<(String, String)> =
            facts.routes.iter().map(|r| (r.table.to_string(), r.prefix.to_string())).collect();
        assert_eq!(
            got,
            vec![("default".into(), "10.255.2.0/31".into()), ("ZONE-DEV".into(), "10.30.0.0/16".into())]
        );
        assert_eq!(facts.routes[1].next_hops, vec![ip("10.120.0.1"), ip("10.120.0.9")]);
        assert_eq!(facts.routes[1].origin.locator, "/route-information/0/route-table/2/rt/0/rt-entry/0");
    }

    #[test]
    fn peer_address_with_port_and_peer_without_rib() {
        let doc = serde_json::json!({"bgp-information": [{"bgp-peer": [{
            "peer-address": [{"data": "2001:db8::1+179"}], "peer-as": [{"data": "65000.10"}],
            "peer-state": [{"data": "Active"}]}]}]});
        let facts = parse("mx1", doc.to_string().as_bytes()).unwrap();
        let s = &facts.sessions[0];
        assert_eq!(s.peer_addr, ip("2001:db8::1"));
        assert_eq!(s.peer_asn, Some(65000 << 16 | 10));
        assert_eq!((s.vrf.as_deref(), s.prefixes_received), (None, None));
        assert_eq!(s.state, "Active");
    }

    #[test]
    fn malformed_json_names_line_and_column_and_spots_xml() {
        let e = parse("mx1", b"{\n \"route-information\": [\n  {,\n]}").unwrap_err();
        assert_eq!(e.locator, "line 3 column 4");
        assert!(e.message.starts_with("malformed JSON"), "{e}");
        let e = parse("mx1", b"<rpc-reply><route-information/></rpc-reply>").unwrap_err();
        assert!(e.message.contains("Accept: application/json"), "{e}");
        let e = parse("mx1", &BGP.as_bytes()[..BGP.len() - 20]).unwrap_err();
        assert!(e.message.starts_with("truncated JSON"), "{e}");
    }

    #[test]
    fn wrong_shapes_name_the_pointer() {
        let bad = ROUTES.replace("172.31.100.4/31", "172.31.100.4/40");
        let e = parse("mx1", bad.as_bytes()).unwrap_err();
        assert_eq!(e.locator, "/route-information/0/route-table/0/rt/1/rt-destination");
        assert!(e.message.contains("172.31.100.4/40"), "{e}");

        let bad = BGP.replace(r#""peer-as": [{"data": "65001"}]"#, r#""peer-as": [{"data": 65001}]"#);
        let e = parse("mx1", bad.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/bgp-information/0/bgp-peer/0/peer-as/0/data: expected a string, got 65001"
        );

        let bad = ROUTES.replace(r#""to": [{"data": "172.31.100.7"}]"#, r#""to": [{"data": "xe-0/0/4"}]"#);
        let e = parse("mx1", bad.as_bytes()).unwrap_err();
        assert_eq!(e.locator, "/route-information/0/route-table/0/rt/0/rt-entry/1/nh/0/to");

        let e = parse("mx1", br#"{"route-information": [{"route-table": [3]}]}"#).unwrap_err();
        assert_eq!(e.locator, "/route-information/0/route-table/0");
        let e = parse("mx1", br#"{"interface-information": []}"#).unwrap_err();
        assert_eq!(e.locator, "(root)");
    }

    #[test]
    fn rpc_error_quotes_the_device() {
        let e =
            parse("mx1", br#"{"xnm:error": [{"message": [{"data": "syntax error, expecting <command>"}]}]}"#)
                .unwrap_err();
        assert_eq!(e.to_string(), "/xnm:error: junos rpc error: syntax error, expecting <command>");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse("mx1", &raw);
            }

            #[test]
            fn never_panics_on_mangled_samples(cut in 0usize..4400, byte in any::<u8>()) {
                for sample in [ROUTES, BGP] {
                    let mut raw = sample.as_bytes().to_vec();
                    if let Some(b) = raw.get_mut(cut) {
                        *b = byte;
                    }
                    let _ = parse("mx1", &raw);
                    let _ = parse("mx1", &raw[..cut.min(raw.len())]);
                }
            }
        }
    }
}
