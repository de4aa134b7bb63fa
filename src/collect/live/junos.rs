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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::live::http::double::{Pki, Reply, Server, fetch, settings};

    const ROUTES: &str = include_str!("../../../tests/fixtures/junos/junos-show-route-table-vrf.json");
    const BGP: &str = include_str!("../../../tests/fixtures/junos/junos-show-bgp-summary.json");

    async fn device(pki: &Pki) -> Server {
        Server::start(pki, |req, _| match req.path.as_str() {
            "/rpc/get-route-information" => Reply::json(ROUTES),
            "/rpc/get-bgp-summary-information" => Reply::json(BGP),
            _ => Reply::status(404, "<error>no such rpc</error>"),
        })
        .await
    }

    #[tokio::test]
    async fn route_and_bgp_rpcs_are_recorded_as_received_and_parse() {
        let pki = Pki::new();
        let server = device(&pki).await;
        let s = settings(&pki.source("mx1", "junos", &server.url(""), ""), "");
        let payloads = fetch(&s).await.unwrap();
        assert_eq!(payloads, vec![RawPayload::new(ROUTES_RPC, ROUTES), RawPayload::new(BGP_RPC, BGP)]);
        for req in server.requests() {
            assert_eq!(req.method, "POST");
            assert_eq!(req.header("accept"), Some("application/json"));
            assert_eq!(req.body_text(), "", "no filter: every instance");
        }
        let mut facts = crate::collect::junos::parse("mx1", &payloads[0].bytes).unwrap();
        facts.extend(crate::collect::junos::parse("mx1", &payloads[1].bytes).unwrap());
        assert_eq!((facts.routes.len(), facts.sessions.len()), (4, 3));
        assert!(facts.routes.iter().all(|r| r.table == "ZONE-PROD"));
    }

    #[tokio::test]
    async fn configured_vrfs_are_read_one_table_each() {
        let pki = Pki::new();
        let server = device(&pki).await;
        let s =
            settings(&pki.source("mx1", "junos", &server.url("/rpc"), ", vrfs: [ZONE-PROD, ZONE-DEV]"), "");
        let payloads = fetch(&s).await.unwrap();
        let names: Vec<&str> = payloads.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "get-route-information table=ZONE-PROD.inet.0",
                "get-route-information table=ZONE-DEV.inet.0",
                "get-bgp-summary-information"
            ]
        );
        let bodies: Vec<String> = server.requests().iter().map(|r| r.body_text()).collect();
        assert_eq!(bodies, vec!["table=ZONE-PROD.inet.0", "table=ZONE-DEV.inet.0", ""]);
        assert_eq!(server.requests()[0].header("content-type"), Some("text/plain"));
    }

    #[tokio::test]
    async fn an_unknown_rpc_is_a_permanent_error_naming_the_url() {
        let pki = Pki::new();
        let server = device(&pki).await;
        let s = settings(&pki.source("mx1", "junos", &server.url("/api"), ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "{} answered 404 Not Found: <error>no such rpc</error>",
                server.url("/api/rpc/get-route-information")
            )
        );
        assert_eq!(server.requests().len(), 1);
    }
}
