//! Cisco NX-OS NX-API JSON: `show ip route vrf all` and `show bgp vrf all ipv4 unicast summary`.
//!
//! NX-API wraps each command's structured output (`body`) in one of two envelopes; a bare body
//! (what `| json` prints on the box) is read too:
//!
//! ```text
//!  JSON-RPC  [ {"jsonrpc":"2.0","result":{"body":BODY}|null,"id":1}, {"error":{code,message,data:{msg}}} ]
//!            (a single object when one command was sent)
//!  ins_api   {"ins_api":{"outputs":{"output": OUT | [OUT, …]}}}   OUT = {input, code:"200", msg, body | clierror}
//!  bare      BODY
//!
//!  BODY = TABLE_vrf.ROW_vrf[]  {vrf-name-out,
//!           TABLE_addrf.ROW_addrf[].TABLE_prefix.ROW_prefix[] {ipprefix, TABLE_path.ROW_path[]}  -> Route
//!           vrf-local-as, TABLE_af.ROW_af[].TABLE_saf.ROW_saf[]
//!                                 .TABLE_neighbor.ROW_neighbor[] {neighborid, neighboras, state}  -> BgpSession }
//! ```
//!
//! Two quirks of plain `| json` shape every read: a `ROW_*` with one row is a bare object rather
//! than a one-element array (the envelope's `output` does the same), and scalars are mostly
//! strings (`"prefixreceived": "13"`) but sometimes numbers. `| json native` output (typed, every
//! row an array) goes through the same code. Outputs are recognised by shape, not by position.
//!
//! One route per `ROW_prefix`: its next hops are those of the `ubest` paths (all paths when none
//! is best), its protocol the first best path's `clientname` without the instance tag
//! (`bgp-65102` -> `ebgp` / `ibgp` from the path `type`, `ospf-1` -> `ospf`). Locators are
//! RFC 6901 pointers into the payload (`/0/result/body/TABLE_vrf/ROW_vrf/1/…/ROW_prefix/2`); a
//! single-row object has no index in its pointer, exactly as the payload has none. Pointers are
//! built only from fixed key names and indices, so no escaping is needed.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::collect::ParseError;
use crate::collect::json::{bounded, json_error, parse_asn, shape};
use crate::model::{BgpSession, Facts, Origin, Route, SessionType};

/// Rows with their JSON pointers.
type Located<'v> = Vec<(String, &'v Map<String, Value>)>;

/// Parse an NX-API response (JSON-RPC, `ins_api`) or one command's bare body.
pub fn parse(observer: &str, raw: &[u8]) -> Result<Facts, ParseError> {
    let doc: Value = serde_json::from_slice(raw).map_err(|e| json_error(&e))?;
    let mut facts = Facts::default();
    match &doc {
        Value::Array(replies) => {
            for (i, reply) in replies.iter().enumerate() {
                json_rpc_reply(observer, reply, &format!("/{i}"), &mut facts)?;
            }
        }
        Value::Object(top) if top.contains_key("ins_api") => ins_api(observer, top, &mut facts)?,
        Value::Object(top) if ["jsonrpc", "result", "error"].iter().any(|k| top.contains_key(*k)) => {
            json_rpc_reply(observer, &doc, "", &mut facts)?;
        }
        Value::Object(top) if top.contains_key("TABLE_vrf") => body(observer, &doc, "", &mut facts)?,
        _ => {
            return Err(shape(
                "",
                "expected an NX-API response (JSON-RPC array or object, ins_api) or a command body with TABLE_vrf",
            ));
        }
    }
    Ok(facts)
}

fn json_rpc_reply(observer: &str, reply: &Value, ptr: &str, facts: &mut Facts) -> Result<(), ParseError> {
    let Value::Object(obj) = reply else {
        return Err(shape(ptr, "expected a JSON-RPC reply object"));
    };
    if let Some(error) = obj.get("error") {
        let code = error.get("code").map_or_else(|| "?".to_string(), Value::to_string);
        let message = error.get("message").and_then(Value::as_str).unwrap_or("(no message)");
        let detail = error.pointer("/data/msg").and_then(Value::as_str).map(str::trim);
        let text = match detail {
            Some(d) if !d.is_empty() => format!("nx-api error {code}: {message}: {d}"),
            _ => format!("nx-api error {code}: {message}"),
        };
        return Err(shape(&format!("{ptr}/error"), text));
    }
    match obj.get("result") {
        // Commands without output answer `"result": null`.
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(result)) => {
            let rptr = format!("{ptr}/result");
            match result.get("body") {
                Some(b) => body(observer, b, &format!("{rptr}/body"), facts),
                None if result.get("msg").is_some_and(Value::is_string) => Err(shape(
                    &format!("{rptr}/msg"),
                    "text output; the request must use method \"cli\" for structured output",
                )),
                None => Ok(()),
            }
        }
        Some(_) => Err(shape(&format!("{ptr}/result"), "expected an object with 'body', or null")),
    }
}

fn ins_api(observer: &str, top: &Map<String, Value>, facts: &mut Facts) -> Result<(), ParseError> {
    let Some(output) = top.get("ins_api").and_then(|a| a.get("outputs")).and_then(|o| o.get("output")) else {
        return Err(shape("/ins_api", "expected outputs.output (one object per command)"));
    };
    for (optr, out) in rows_of(output, "/ins_api/outputs/output")? {
        let code = match out.get("code") {
            Some(c) => number(c)
                .ok_or_else(|| shape(&format!("{optr}/code"), format!("expected a status code, got {c}")))?,
            None => return Err(shape(&format!("{optr}/code"), "expected a status code (missing)")),
        };
        if code != 200 {
            let input = out.get("input").and_then(Value::as_str).unwrap_or("(unknown command)");
            let msg = out.get("msg").and_then(Value::as_str).unwrap_or("(no message)");
            let cli = out.get("clierror").and_then(Value::as_str).map(str::trim).unwrap_or("");
            return Err(shape(
                &optr,
                format!(
                    "command {input:?} failed with code {code} ({msg}){}",
                    if cli.is_empty() { String::new() } else { format!(": {cli}") }
                ),
            ));
        }
        if let Some(b) = out.get("body") {
            body(observer, b, &format!("{optr}/body"), facts)?;
        }
    }
    Ok(())
}

/// One command's structured output.
fn body(observer: &str, body: &Value, ptr: &str, facts: &mut Facts) -> Result<(), ParseError> {
    match body {
        // A command with nothing to show (no BGP configured, empty VRF list).
        Value::String(s) if s.trim().is_empty() => Ok(()),
        Value::String(_) => Err(shape(ptr, "text output; the request must ask for structured (JSON) output")),
        Value::Object(obj) if obj.is_empty() => Ok(()),
        Value::Object(obj) => {
            let Some(table) = obj.get("TABLE_vrf") else {
                return Err(shape(
                    ptr,
                    "expected TABLE_vrf (output of 'show ip route vrf all' or 'show bgp vrf all ipv4 unicast summary')",
                ));
            };
            for (vptr, vrf_row) in table_rows(table, "ROW_vrf", &format!("{ptr}/TABLE_vrf"))? {
                vrf(observer, vrf_row, &vptr, facts)?;
            }
            Ok(())
        }
        _ => Err(shape(ptr, "expected an object (one command's output)")),
    }
}

fn vrf(observer: &str, row: &Map<String, Value>, vptr: &str, facts: &mut Facts) -> Result<(), ParseError> {
    let name = text(row, "vrf-name-out", vptr)?
        .ok_or_else(|| shape(&format!("{vptr}/vrf-name-out"), "expected the VRF name (missing)"))?;
    if let Some(addrf) = row.get("TABLE_addrf") {
        for (aptr, af) in table_rows(addrf, "ROW_addrf", &format!("{vptr}/TABLE_addrf"))? {
            let Some(prefixes) = af.get("TABLE_prefix") else { continue };
            for (pptr, prefix) in table_rows(prefixes, "ROW_prefix", &format!("{aptr}/TABLE_prefix"))? {
                facts.routes.push(route(observer, name, prefix, &pptr)?);
            }
        }
    }
    if let Some(afs) = row.get("TABLE_af") {
        let local_asn = match row.get("vrf-local-as") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_asn(v).ok_or_else(|| {
                shape(&format!("{vptr}/vrf-local-as"), format!("expected an AS number, got {v}"))
            })?),
        };
        for (afptr, af) in table_rows(afs, "ROW_af", &format!("{vptr}/TABLE_af"))? {
            let Some(safs) = af.get("TABLE_saf") else { continue };
            for (sptr, saf) in table_rows(safs, "ROW_saf", &format!("{afptr}/TABLE_saf"))? {
                let Some(neighbors) = saf.get("TABLE_neighbor") else { continue };
                for (nptr, n) in table_rows(neighbors, "ROW_neighbor", &format!("{sptr}/TABLE_neighbor"))? {
                    facts.sessions.push(session(observer, name, local_asn, n, &nptr)?);
                }
            }
        }
    }
    Ok(())
}

fn route(observer: &str, vrf: &str, row: &Map<String, Value>, pptr: &str) -> Result<Route, ParseError> {
    let text_prefix = text(row, "ipprefix", pptr)?
        .ok_or_else(|| shape(&format!("{pptr}/ipprefix"), "expected a prefix (missing)"))?;
    let prefix: IpNet = text_prefix
        .parse()
        .map_err(|_| shape(&format!("{pptr}/ipprefix"), format!("expected a prefix, got {text_prefix:?}")))?;
    let mut paths = Vec::new();
    if let Some(table) = row.get("TABLE_path") {
        for (ptr, path) in table_rows(table, "ROW_path", &format!("{pptr}/TABLE_path"))? {
            let best = flag(path, "ubest", &ptr)?.unwrap_or(false);
            paths.push((ptr, path, best));
        }
    }
    let best = paths.iter().any(|(_, _, b)| *b);
    let mut next_hops = Vec::new();
    let mut protocol = None;
    for (ptr, path, _) in paths.iter().filter(|(_, _, b)| *b == best) {
        if protocol.is_none() {
            protocol = Some(path_protocol(path, ptr)?);
        }
        if let Some(hop) = text(path, "ipnexthop", ptr)? {
            let addr: IpAddr = hop.parse().map_err(|_| {
                shape(&format!("{ptr}/ipnexthop"), format!("expected an IP address, got {hop:?}"))
            })?;
            if !addr.is_unspecified() && !next_hops.contains(&addr) {
                next_hops.push(addr);
            }
        }
    }
    Ok(Route {
        observer: observer.into(),
        table: vrf.into(),
        prefix,
        next_hops,
        protocol: protocol.unwrap_or_else(|| "unknown".to_string()).into(),
        learned_from: None,
        as_path: Vec::new(),
        best,
        origin: Origin::at_pointer(pptr, excerpt(row)),
    })
}

/// `clientname` names the routing process with its instance (`bgp-65102`, `ospf-UNDERLAY`);
/// BGP paths say in `type` whether the peer was internal or external.
fn path_protocol(path: &Map<String, Value>, ptr: &str) -> Result<String, ParseError> {
    let client = text(path, "clientname", ptr)?
        .ok_or_else(|| shape(&format!("{ptr}/clientname"), "expected the owning protocol (missing)"))?;
    let process = client.split_once('-').map_or(client, |(p, _)| p).to_ascii_lowercase();
    if process == "bgp" {
        return Ok(match text(path, "type", ptr)? {
            Some("external") => "ebgp".to_string(),
            Some("internal") => "ibgp".to_string(),
            _ => "bgp".to_string(),
        });
    }
    Ok(process)
}

fn session(
    observer: &str,
    vrf: &str,
    local_asn: Option<u32>,
    row: &Map<String, Value>,
    nptr: &str,
) -> Result<BgpSession, ParseError> {
    let id = text(row, "neighborid", nptr)?
        .ok_or_else(|| shape(&format!("{nptr}/neighborid"), "expected the neighbor address (missing)"))?;
    let peer_addr = parse_addr(id)
        .ok_or_else(|| shape(&format!("{nptr}/neighborid"), format!("expected an IP address, got {id:?}")))?;
    let state = text(row, "state", nptr)?
        .ok_or_else(|| shape(&format!("{nptr}/state"), "expected the session state (missing)"))?;
    let peer_asn = match row.get("neighboras") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_asn(v).ok_or_else(|| {
            shape(&format!("{nptr}/neighboras"), format!("expected an AS number, got {v}"))
        })?),
    };
    let prefixes_received = match row.get("prefixreceived") {
        None | Some(Value::Null) => None,
        Some(v) => Some(number(v).ok_or_else(|| {
            shape(&format!("{nptr}/prefixreceived"), format!("expected a non-negative integer, got {v}"))
        })?),
    };
    let session_type = match (peer_asn, local_asn) {
        (Some(a), Some(b)) if a == b => SessionType::Ibgp,
        (Some(_), Some(_)) => SessionType::Ebgp,
        _ => SessionType::Unknown,
    };
    Ok(BgpSession {
        observer: observer.to_string(),
        vrf: (vrf != "default").then(|| vrf.to_string()),
        protocol: None,
        local_addr: None,
        peer_addr,
        peer_asn,
        state: state.to_string(),
        // `time` is how long the session has been in its state, not a point in time.
        since: None,
        session_type,
        prefixes_received,
        origin: Origin::at_pointer(nptr, excerpt(row)),
    })
}

/// The rows of `TABLE_x`: `{ROW_x: row}` or `{ROW_x: [row, …]}`; a table without its row key
/// (NX-OS prints some empty tables that way) has none.
fn table_rows<'v>(table: &'v Value, row_key: &str, tptr: &str) -> Result<Located<'v>, ParseError> {
    match table {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::Object(t) => match t.get(row_key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(rows) => rows_of(rows, &format!("{tptr}/{row_key}")),
        },
        _ => Err(shape(tptr, format!("expected an object holding {row_key}"))),
    }
}

/// One row as a bare object, several as an array of objects.
fn rows_of<'v>(rows: &'v Value, ptr: &str) -> Result<Located<'v>, ParseError> {
    match rows {
        Value::Object(row) => Ok(vec![(ptr.to_string(), row)]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let iptr = format!("{ptr}/{i}");
                match item {
                    Value::Object(row) => Ok((iptr, row)),
                    _ => Err(shape(&iptr, "expected an object (one row)")),
                }
            })
            .collect(),
        _ => Err(shape(ptr, "expected an object (one row) or an array of rows")),
    }
}

fn text<'v>(obj: &'v Map<String, Value>, key: &str, ptr: &str) -> Result<Option<&'v str>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(shape(&format!("{ptr}/{key}"), format!("expected a string, got {other}"))),
    }
}

/// `"true"` / `"false"` in every output mode; a JSON boolean is taken too.
fn flag(obj: &Map<String, Value>, key: &str, ptr: &str) -> Result<Option<bool>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => {
            Err(shape(&format!("{ptr}/{key}"), format!("expected \"true\" or \"false\", got {other}")))
        }
    }
}

/// Counters come as strings in `| json` and as numbers in `| json native`.
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Link-local neighbours may carry their interface (`fe80::1%Eth1/1`).
fn parse_addr(s: &str) -> Option<IpAddr> {
    s.split('%').next().unwrap_or(s).trim().parse().ok()
}

fn excerpt(row: &Map<String, Value>) -> String {
    bounded(&Value::Object(row.clone()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = include_str!("../../tests/fixtures/nxos/nxos-show-ip-route-vrf-all.json");
    const NATIVE: &str = include_str!("../../tests/fixtures/nxos/nxos-show-ip-route-vrf-all.native.json");
    const BGP: &str =
        include_str!("../../tests/fixtures/nxos/nxos-show-bgp-vrf-all-ipv4-unicast-summary.json");
    const JSONRPC: &str = include_str!("../../tests/fixtures/nxos/nxapi-jsonrpc-response.json");
    const INS_API: &str = include_str!("../../tests/fixtures/nxos/nxapi-ins-api-response.json");

    fn route<'f>(facts: &'f Facts, table: &str, prefix: &str) -> &'f Route {
        facts
            .routes
            .iter()
            .find(|r| r.table == table && r.prefix.to_string() == prefix)
            .unwrap_or_else(|| panic!("no route {table}/{prefix} in {:?}", facts.routes))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The JSON-RPC answer to both commands, as NX-API sends it.
    fn jsonrpc_ok() -> String {
        format!(
            r#"[{{"jsonrpc":"2.0","result":{{"body":{ROUTES}}},"id":1}},{{"jsonrpc":"2.0","result":{{"body":{BGP}}},"id":2}}]"#
        )
    }

    #[test]
    fn routes_of_every_vrf_with_single_rows_as_objects() {
        let facts = parse("nx1", ROUTES.as_bytes()).unwrap();
        assert_eq!(facts.routes.len(), 7);
        let tables: std::collections::BTreeSet<&str> =
            facts.routes.iter().map(|r| r.table.as_str()).collect();
        assert_eq!(tables.into_iter().collect::<Vec<_>>(), vec!["ZONE-DEV", "ZONE-PROD", "default"]);

        // ZONE-DEV has one prefix with one path: both rows are bare objects.
        let null = route(&facts, "ZONE-DEV", "10.30.0.0/16");
        assert!(null.next_hops.is_empty(), "a Null0 discard route has no next hop");
        assert_eq!(null.protocol, "bgp");
        assert_eq!(null.origin.locator, "/TABLE_vrf/ROW_vrf/2/TABLE_addrf/ROW_addrf/TABLE_prefix/ROW_prefix");
        assert!(null.origin.excerpt.contains(r#""ipprefix":"10.30.0.0/16""#), "{}", null.origin.excerpt);

        let ecmp = route(&facts, "ZONE-PROD", "10.20.0.64/26");
        assert_eq!(ecmp.next_hops, vec![ip("10.110.0.13"), ip("10.110.0.14")]);
        assert_eq!(ecmp.protocol, "ibgp");
        assert!(ecmp.best);
        assert_eq!(ecmp.observer, "nx1");
        assert_eq!(
            ecmp.origin.locator,
            "/TABLE_vrf/ROW_vrf/1/TABLE_addrf/ROW_addrf/TABLE_prefix/ROW_prefix/1"
        );

        let leaked = route(&facts, "ZONE-PROD", "10.30.0.64/26");
        assert_eq!(leaked.next_hops, vec![ip("10.120.0.22")]);
        assert!(leaked.origin.excerpt.contains(r#""nexthop-vrf-name":"ZONE-DEV""#));

        assert_eq!(route(&facts, "ZONE-PROD", "0.0.0.0/0").protocol, "ebgp");
        assert_eq!(route(&facts, "ZONE-PROD", "10.110.0.0/24").protocol, "direct");
        // Two best paths (local and direct) to the same address: one next hop.
        let lo = route(&facts, "default", "10.0.0.12/32");
        assert_eq!(lo.next_hops, vec![ip("10.0.0.12")]);
        assert_eq!(lo.protocol, "local");
    }

    #[test]
    fn native_json_with_typed_numbers_reads_the_same() {
        let facts = parse("nx1", NATIVE.as_bytes()).unwrap();
        assert_eq!(facts.routes.len(), 2);
        let r = route(&facts, "ZONE-DEV", "10.30.0.64/26");
        assert_eq!(r.next_hops, vec![ip("10.120.0.22")]);
        assert_eq!(r.protocol, "ibgp");
        assert_eq!(
            r.origin.locator,
            "/TABLE_vrf/ROW_vrf/0/TABLE_addrf/ROW_addrf/0/TABLE_prefix/ROW_prefix/1"
        );
    }

    #[test]
    fn bgp_sessions_with_numbers_as_strings() {
        let facts = parse("nx1", BGP.as_bytes()).unwrap();
        assert_eq!(facts.sessions.len(), 4);
        let dev = &facts.sessions[0];
        assert_eq!(dev.vrf.as_deref(), Some("ZONE-DEV"));
        assert_eq!(dev.peer_addr, ip("10.120.0.22"));
        assert_eq!(dev.peer_asn, Some(64513));
        assert_eq!(dev.state, "Established");
        assert_eq!(dev.prefixes_received, Some(1));
        assert_eq!(dev.session_type, SessionType::Ebgp);
        assert_eq!(
            dev.origin.locator,
            "/TABLE_vrf/ROW_vrf/0/TABLE_af/ROW_af/TABLE_saf/ROW_saf/TABLE_neighbor/ROW_neighbor"
        );
        let down = facts.sessions.iter().find(|s| s.peer_addr == ip("172.31.100.3")).unwrap();
        assert_eq!(down.state, "Active");
        assert!(!down.is_established());
        assert_eq!(down.prefixes_received, Some(0));
        assert_eq!(
            down.origin.locator,
            "/TABLE_vrf/ROW_vrf/1/TABLE_af/ROW_af/TABLE_saf/ROW_saf/TABLE_neighbor/ROW_neighbor/2"
        );
        assert!(down.origin.excerpt.contains(r#""neighboras":"65000""#));
    }

    #[test]
    fn jsonrpc_batch_reads_both_commands_with_pointers_into_the_envelope() {
        let facts = parse("nx1", jsonrpc_ok().as_bytes()).unwrap();
        assert_eq!((facts.routes.len(), facts.sessions.len()), (7, 4));
        assert!(facts.routes[0].origin.locator.starts_with("/0/result/body/TABLE_vrf/ROW_vrf/0/"));
        assert!(facts.sessions[0].origin.locator.starts_with("/1/result/body/TABLE_vrf/ROW_vrf/0/"));
    }

    #[test]
    fn single_jsonrpc_object_and_null_result_are_read() {
        let single = format!(r#"{{"jsonrpc":"2.0","result":{{"body":{BGP}}},"id":1}}"#);
        let facts = parse("nx1", single.as_bytes()).unwrap();
        assert_eq!(facts.sessions.len(), 4);
        assert!(facts.sessions[0].origin.locator.starts_with("/result/body/"));
        let empty = parse("nx1", br#"[{"jsonrpc":"2.0","result":null,"id":1}]"#).unwrap();
        assert_eq!(empty, Facts::default());
    }

    #[test]
    fn jsonrpc_error_names_the_failing_reply_and_quotes_the_device() {
        let e = parse("nx1", JSONRPC.as_bytes()).unwrap_err();
        assert_eq!(e.locator, "/1/error");
        assert_eq!(e.message, "nx-api error -32602: Invalid params: % Invalid command at '^' marker.");
    }

    #[test]
    fn ins_api_error_output_names_the_command() {
        let e = parse("nx1", INS_API.as_bytes()).unwrap_err();
        assert_eq!(e.locator, "/ins_api/outputs/output/1");
        assert!(e.message.contains("\"show bgp vrf all ipv4 unicast summary\" failed with code 400"), "{e}");
        assert!(e.message.contains("% Invalid command at '^' marker."), "{e}");
    }

    #[test]
    fn ins_api_single_output_is_an_object() {
        let ok = INS_API.replace(r#""code": "400""#, r#""code": "200""#);
        let v: Value = serde_json::from_str(&ok).unwrap();
        let first = v.pointer("/ins_api/outputs/output/0").unwrap().clone();
        let single = serde_json::json!({"ins_api": {"type": "cli_show", "version": "1.0", "sid": "eoc", "outputs": {"output": first}}});
        let facts = parse("nx1", single.to_string().as_bytes()).unwrap();
        assert_eq!(facts.routes.len(), 3);
        let mgmt = route(&facts, "management", "0.0.0.0/0");
        assert_eq!(mgmt.next_hops, vec![ip("192.168.0.1")]);
        assert_eq!(mgmt.protocol, "static");
        assert_eq!(
            mgmt.origin.locator,
            "/ins_api/outputs/output/body/TABLE_vrf/ROW_vrf/1/TABLE_addrf/ROW_addrf/TABLE_prefix/ROW_prefix/0"
        );
    }

    #[test]
    fn malformed_and_truncated_json_name_line_and_column() {
        let e = parse("nx1", b"{\n  \"TABLE_vrf\": {\n    \"ROW_vrf\": [}\n}").unwrap_err();
        assert_eq!(e.locator, "line 3 column 17");
        assert!(e.message.starts_with("malformed JSON"), "{e}");
        let cut = &ROUTES.as_bytes()[..ROUTES.len() / 2];
        let e = parse("nx1", cut).unwrap_err();
        assert!(e.message.starts_with("truncated JSON"), "{e}");
        assert!(e.locator.starts_with("line "), "{e}");
    }

    #[test]
    fn wrong_shapes_name_the_pointer() {
        let bad_prefix = ROUTES.replace("10.110.0.0/24", "10.110.0.0/33");
        let e = parse("nx1", bad_prefix.as_bytes()).unwrap_err();
        assert_eq!(
            e.locator,
            "/TABLE_vrf/ROW_vrf/1/TABLE_addrf/ROW_addrf/TABLE_prefix/ROW_prefix/3/ipprefix"
        );
        assert!(e.message.contains("10.110.0.0/33"), "{e}");

        let bad_as = BGP.replace(r#""neighboras": "64513""#, r#""neighboras": "sixty""#);
        let e = parse("nx1", bad_as.as_bytes()).unwrap_err();
        assert_eq!(
            e.locator,
            "/TABLE_vrf/ROW_vrf/0/TABLE_af/ROW_af/TABLE_saf/ROW_saf/TABLE_neighbor/ROW_neighbor/neighboras"
        );

        let e = parse("nx1", br#"{"TABLE_vrf": {"ROW_vrf": [7]}}"#).unwrap_err();
        assert_eq!(e.to_string(), "/TABLE_vrf/ROW_vrf/0: expected an object (one row)");
        let e = parse("nx1", br#"{"vrfs": {}}"#).unwrap_err();
        assert_eq!(e.locator, "(root)");
        let e = parse("nx1", br#"[{"jsonrpc":"2.0","result":{"body":{"rows":[]}},"id":1}]"#).unwrap_err();
        assert_eq!(e.locator, "/0/result/body");
    }

    #[test]
    fn a_vrf_row_without_tables_has_nothing() {
        let facts =
            parse("nx1", br#"{"TABLE_vrf":{"ROW_vrf":{"vrf-name-out":"ZONE-X","vrf-local-as":"65102"}}}"#)
                .unwrap();
        assert_eq!(facts, Facts::default());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse("nx1", &raw);
            }

            #[test]
            fn never_panics_on_mangled_samples(cut in 0usize..6096, byte in any::<u8>()) {
                for sample in [ROUTES, BGP, INS_API] {
                    let mut raw = sample.as_bytes().to_vec();
                    if let Some(b) = raw.get_mut(cut) {
                        *b = byte;
                    }
                    let _ = parse("nx1", &raw);
                    let _ = parse("nx1", &raw[..cut.min(raw.len())]);
                }
            }
        }
    }
}
