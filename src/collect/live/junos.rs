//! Junos REST API: one RPC per request (`POST /rpc/<rpc>`, parameters as `name=value` text,
//! `Accept: application/json`). Routes come from `get-route-information` (every table, or
//! `table=<VRF>.inet.0` per configured VRF), sessions from `get-bgp-summary-information`. Each
//! answer is recorded as received and read by the `junos` parser, live or replayed.

use super::http;
use super::{FetchError, Limits, RawPayload};
use crate::config::{HttpSpec, SourceSpec};

pub const ROUTES_RPC: &str = "get-route-information";
pub const BGP_RPC: &str = "get-bgp-summary-information";

/// Fetch from the device's REST endpoint (`https://mx1:3443`; a URL ending in `/rpc` is taken too).
pub async fn fetch(
    http: &HttpSpec,
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let client = http::client(http, spec)?;
    let mut payloads = Vec::new();
    for (rpc, params) in requests(spec) {
        let url = rpc_url(&http.url, rpc);
        let bytes = http::post_text(&client, &url, &params, limits).await?;
        let name = if params.is_empty() { rpc.to_string() } else { format!("{rpc} {params}") };
        payloads.push(RawPayload::new(name, bytes));
    }
    Ok(payloads)
}

/// Without configured VRFs one unfiltered route request reads every instance's tables (the
/// parser keeps the unicast ones); with them, one request per VRF keeps answers small.
fn requests(spec: &SourceSpec) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = if spec.vrfs.is_empty() {
        vec![(ROUTES_RPC, String::new())]
    } else {
        spec.vrfs.iter().map(|v| (ROUTES_RPC, format!("table={v}.inet.0"))).collect()
    };
    out.push((BGP_RPC, String::new()));
    out
}

fn rpc_url(base: &str, rpc: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/rpc") { format!("{base}/{rpc}") } else { format!("{base}/rpc/{rpc}") }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn rpc_urls_from_the_device_endpoint() {
        assert_eq!(rpc_url("https://mx1:3443", ROUTES_RPC), "https://mx1:3443/rpc/get-route-information");
        assert_eq!(
            rpc_url("https://mx1:3443/rpc/", BGP_RPC),
            "https://mx1:3443/rpc/get-bgp-summary-information"
        );
    }
}
