//! Cisco NX-API: one JSON-RPC batch (method `cli`, structured output) over HTTPS for the route
//! table and the IPv4 BGP summary of every VRF. The answer is recorded as received (an array with
//! one reply per command), which is what the `nxos` parser reads in the replay form too.

use serde_json::{Value, json};

use super::http;
use super::{FetchError, Limits, RawPayload};
use crate::config::{HttpSpec, SourceSpec};

/// What zoneaudit asks the switch, in this order.
pub const COMMANDS: [&str; 2] = ["show ip route vrf all", "show bgp vrf all ipv4 unicast summary"];

/// The name of the one payload: the commands whose outputs it holds.
pub const PAYLOAD: &str = "show ip route vrf all + show bgp vrf all ipv4 unicast summary";

/// POST the batch to the configured URL (`https://nx1/ins`).
pub async fn fetch(
    http: &HttpSpec,
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let client = http::client(http, spec)?;
    let bytes = http::post_json_rpc(&client, &http.url, &request(), limits).await?;
    // A command the switch refused comes back as an error reply inside the batch.
    if let Some(error) = http::json_rpc_error(&bytes) {
        return Err(FetchError::permanent(format!("NX-API at {} answered {error}", http::redact(&http.url))));
    }
    Ok(vec![RawPayload::new(PAYLOAD, bytes)])
}

fn request() -> Value {
    let calls: Vec<Value> = COMMANDS
        .iter()
        .enumerate()
        .map(|(i, cmd)| {
            json!({"jsonrpc": "2.0", "method": "cli", "params": {"cmd": cmd, "version": 1}, "id": i + 1})
        })
        .collect();
    Value::Array(calls)
}
