//! Arista eAPI: one JSON-RPC `runCmds` call over HTTPS for the route table and the BGP summary of
//! every VRF. The answer is recorded as received (the JSON-RPC envelope with one output per
//! command), which is what the `eos` parser reads in the replay form too.

use serde_json::json;

use super::http;
use super::{FetchError, Limits, RawPayload};
use crate::config::{HttpSpec, SourceSpec};

/// What zoneaudit asks the switch, in this order.
pub const COMMANDS: [&str; 2] = ["show ip route vrf all", "show ip bgp summary vrf all"];

/// The name of the one payload: the commands whose outputs it holds.
pub const PAYLOAD: &str = "show ip route vrf all + show ip bgp summary vrf all";

/// Call `runCmds` at the configured URL (`https://leaf1/command-api`).
pub async fn fetch(
    http: &HttpSpec,
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let client = http::client(http, spec)?;
    let body = request();
    let bytes = http::post_json_rpc(&client, &http.url, &body, limits).await?;
    // eAPI answers a failed command with 200 and a JSON-RPC error: the device understood the
    // request and refused it, so a retry gives the same answer.
    if let Some(error) = http::json_rpc_error(&bytes) {
        return Err(FetchError::permanent(format!("eAPI at {} answered {error}", http::redact(&http.url))));
    }
    Ok(vec![RawPayload::new(PAYLOAD, bytes)])
}

/// Model revision 1 (`version: 1`) keeps the output shape stable across EOS upgrades.
fn request() -> serde_json::Value {
    json!({
        "jsonrpc": "2.0",
        "method": "runCmds",
        "params": {"version": 1, "cmds": COMMANDS, "format": "json"},
        "id": "zoneaudit-1",
    })
}
