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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::live::http::double::{Pki, Reply, Server, fetch, settings};

    const ROUTES: &str = include_str!("../../../tests/fixtures/nxos/nxos-show-ip-route-vrf-all.json");
    const BGP: &str =
        include_str!("../../../tests/fixtures/nxos/nxos-show-bgp-vrf-all-ipv4-unicast-summary.json");
    const ERROR: &str = include_str!("../../../tests/fixtures/nxos/nxapi-jsonrpc-response.json");

    #[tokio::test]
    async fn cli_batch_answer_is_recorded_as_received_and_parses() {
        let answer = format!(
            r#"[{{"jsonrpc":"2.0","result":{{"body":{ROUTES}}},"id":1}},{{"jsonrpc":"2.0","result":{{"body":{BGP}}},"id":2}}]"#
        );
        let served = answer.clone();
        let pki = Pki::new();
        let server = Server::start(&pki, move |_, _| Reply::json(served.clone())).await;
        let s = settings(&pki.source("nx1", "nxos", &server.url("/ins"), ""), "");
        let payloads = fetch(&s).await.unwrap();
        assert_eq!(payloads, vec![RawPayload::new(PAYLOAD, answer)]);

        let req = &server.requests()[0];
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/ins"));
        assert_eq!(req.header("content-type"), Some("application/json-rpc"));
        let batch: Value = serde_json::from_slice(&req.body).unwrap();
        let cmds: Vec<&str> =
            batch.as_array().unwrap().iter().map(|c| c["params"]["cmd"].as_str().unwrap()).collect();
        assert_eq!(cmds, COMMANDS);
        assert!(batch.as_array().unwrap().iter().all(|c| c["method"] == "cli" && c["jsonrpc"] == "2.0"));

        let facts = crate::collect::nxos::parse("nx1", &payloads[0].bytes).unwrap();
        assert_eq!((facts.routes.len(), facts.sessions.len()), (7, 4));
    }

    #[tokio::test]
    async fn an_nxapi_error_reply_is_permanent_and_quotes_the_switch() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::json(ERROR)).await;
        let url = server.url("/ins");
        let s = settings(&pki.source("nx1", "nxos", &url, ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "NX-API at {url} answered error -32602 in reply 2: Invalid params: % Invalid command at '^' marker."
            )
        );
        assert_eq!(server.requests().len(), 1);
    }
}
