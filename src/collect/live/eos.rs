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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::live::http::double::{Pki, Reply, Server, fetch, settings};

    const ROUTES: &str = include_str!("../../../tests/fixtures/eos/eos-show-ip-route-vrf-all.json");
    const BGP: &str = include_str!("../../../tests/fixtures/eos/eos-show-ip-bgp-summary-vrf-all.json");
    const ERROR: &str = include_str!("../../../tests/fixtures/eos/eos-eapi-error-response.json");

    #[tokio::test]
    async fn run_cmds_answer_is_recorded_as_received_and_parses() {
        let answer = format!(r#"{{"jsonrpc":"2.0","id":"zoneaudit-1","result":[{ROUTES},{BGP}]}}"#);
        let served = answer.clone();
        let pki = Pki::new();
        let server = Server::start(&pki, move |_, _| Reply::json(served.clone())).await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ""), "");
        let payloads = fetch(&s).await.unwrap();
        assert_eq!(payloads, vec![RawPayload::new(PAYLOAD, answer)]);

        let req = &server.requests()[0];
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/command-api"));
        assert_eq!(req.header("content-type"), Some("application/json-rpc"));
        let call: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(call["method"], "runCmds");
        assert_eq!(call["params"]["version"], 1);
        assert_eq!(call["params"]["format"], "json");
        assert_eq!(call["params"]["cmds"], serde_json::json!(COMMANDS));

        let facts = crate::collect::eos::parse("leaf1", &payloads[0].bytes).unwrap();
        assert!(!facts.routes.is_empty() && !facts.sessions.is_empty());
        assert!(facts.routes.iter().all(|r| r.observer == "leaf1"));
    }

    #[tokio::test]
    async fn an_eapi_error_is_permanent_and_quotes_code_and_message() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::json(ERROR)).await;
        let url = server.url("/command-api");
        let s = settings(&pki.source("leaf1", "eos", &url, ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "eAPI at {url} answered error 1002: CLI command 2 of 2 'show ip bgp summry vrf all' failed: \
                 invalid command: Invalid input (at token 3: 'summry')"
            )
        );
        assert_eq!(server.requests().len(), 1, "a refused command is not retried");
    }
}
