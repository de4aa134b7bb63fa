//! PAN-OS XML API `show rule-hit-count` over HTTPS: one operational command per poll, recorded as
//! received and read by the `panos-rulehits` parser, live or replayed.
//!
//! ```text
//!  GET <url>/api/?type=op&cmd=<show><rule-hit-count><vsys><vsys-name><entry name='vsys1'>…<all/>…
//!      X-PAN-KEY: <API key from passwordFile / passwordEnv>
//!  200 <response status="success">…       -> RawPayload "show rule-hit-count vsys vsys1 rule-base security"
//!  200 <response status="error" code=N>   -> permanent FetchError quoting code and message
//!  401/403                                 -> permanent FetchError: check the API key
//! ```
//!
//! The API key only ever travels in the `X-PAN-KEY` header (a header value marked sensitive), never
//! in the URL, where proxies and the firewall's own access log would keep it. TLS, timeouts, the
//! size limit and error classes are the shared device client's (`http`).

use reqwest::Url;

use super::http::{self, Credentials, redact};
use super::{FetchError, Limits, RawPayload};
use crate::collect::panos_rulehits::api_error;
use crate::config::{HttpSpec, SourceSpec};

/// The virtual system and rule base polled.
pub const VSYS: &str = "vsys1";
pub const RULEBASE: &str = "security";

/// The operational command, as the XML API takes it in `cmd`.
pub fn command(vsys: &str, rulebase: &str) -> String {
    format!(
        "<show><rule-hit-count><vsys><vsys-name><entry name='{vsys}'><rule-base><entry name='{rulebase}'>\
         <rules><all/></rules></entry></rule-base></entry></vsys-name></vsys></rule-hit-count></show>"
    )
}

/// Fetch the counters of every rule of `vsys1`'s security rule base.
pub async fn fetch(
    http: &HttpSpec,
    spec: &SourceSpec,
    limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    let api = api_url(&http.url)?;
    let client = http::client_with(http, spec, Credentials::ApiKeyHeader("x-pan-key"), explain)?;
    let mut url = api.clone();
    url.query_pairs_mut().append_pair("type", "op").append_pair("cmd", &command(VSYS, RULEBASE));
    let body = http::get(&client, url.as_str(), "application/xml", limits).await?;
    if let Some(e) = api_error(&body) {
        return Err(FetchError::permanent(format!("{} answered {e}", redact(api.as_str()))));
    }
    Ok(vec![RawPayload::new(format!("show rule-hit-count vsys {VSYS} rule-base {RULEBASE}"), body)])
}

/// PAN-OS explains refusals in an XML `<response status="error">`.
fn explain(body: &[u8]) -> Option<String> {
    api_error(body).map(|e| e.to_string())
}

/// `https://fw1` or `https://fw1/api/` -> `https://fw1/api/`. A query in the configured URL is
/// refused without quoting it: it is where a key would be if someone put it there.
fn api_url(base: &str) -> Result<Url, FetchError> {
    let mut url =
        Url::parse(base).map_err(|e| FetchError::permanent(format!("invalid URL {}: {e}", redact(base))))?;
    if url.query().is_some() || url.fragment().is_some() {
        url.set_query(None);
        url.set_fragment(None);
        return Err(FetchError::permanent(format!(
            "{}: the url must not carry a query; the API key belongs in passwordFile or passwordEnv",
            redact(url.as_str())
        )));
    }
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/api") { format!("{path}/") } else { format!("{path}/api/") };
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::live::http::double::{PASSWORD, Pki, Reply, Server, fetch, settings};

    const SAMPLE: &str = include_str!("../../../tests/fixtures/panos-rulehits/panos-rule-hit-count.xml");
    const ERROR: &str = include_str!("../../../tests/fixtures/panos-rulehits/panos-error-response.xml");
    const BAD_KEY: &str =
        "<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>";

    /// A firewall source: the double's password file holds the API key; no username.
    fn source(pki: &Pki, url: &str, extra: &str) -> String {
        pki.source("fw1", "panos-rulehits", url, extra).replace("username: zoneaudit, ", "")
    }

    fn xml(body: &str) -> Reply {
        Reply::status(200, body).header("Content-Type", "application/xml; charset=UTF-8")
    }

    fn no_key(texts: &[String]) {
        for t in texts {
            assert!(!t.contains(PASSWORD), "the API key leaked into: {t}");
        }
    }

    #[tokio::test]
    async fn counters_are_fetched_with_the_key_in_the_header_only() {
        let pki = Pki::new();
        let server = Server::start(&pki, |req, _| {
            if req.header("x-pan-key") == Some(PASSWORD) { xml(SAMPLE) } else { Reply::status(403, BAD_KEY) }
        })
        .await;
        let s = settings(&source(&pki, &server.url(""), ""), "");
        let payloads = fetch(&s).await.unwrap();
        assert_eq!(
            payloads,
            vec![RawPayload::new("show rule-hit-count vsys vsys1 rule-base security", SAMPLE)]
        );
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, "GET");
        assert!(reqs[0].path.starts_with("/api/?type=op&cmd="), "{}", reqs[0].path);
        let query = Url::parse(&format!("https://fw1{}", reqs[0].path)).unwrap();
        let cmd = query.query_pairs().find(|(k, _)| k == "cmd").map(|(_, v)| v.into_owned());
        assert_eq!(cmd.as_deref(), Some(command("vsys1", "security").as_str()));
        assert!(!reqs[0].path.contains(PASSWORD), "the key is never in the URL");
        assert!(reqs[0].header("authorization").is_none());
        let facts = crate::collect::panos_rulehits::parse("fw1", &payloads[0].bytes).unwrap();
        assert_eq!(facts.rule_hits.len(), 6);
    }

    #[tokio::test]
    async fn an_api_url_is_taken_as_configured() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| xml(SAMPLE)).await;
        let s = settings(&source(&pki, &server.url("/api/"), ""), "");
        fetch(&s).await.unwrap();
        assert!(server.requests()[0].path.starts_with("/api/?type=op"));
    }

    #[tokio::test]
    async fn an_error_response_is_permanent_and_quotes_code_and_message() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| xml(ERROR)).await;
        let s = settings(&source(&pki, &server.url(""), ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "{} answered error 17: show -> rule-hit-count -> vsys -> vsys-name -> vsys9 is not a valid reference",
                server.url("/api/")
            )
        );
        assert_eq!(server.requests().len(), 1, "an API error is not retried");
    }

    #[tokio::test]
    async fn a_rejected_key_is_permanent_and_never_quoted() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::status(403, BAD_KEY)).await;
        let s = settings(&source(&pki, &server.url(""), ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "{} answered 403 Forbidden (error 403: Invalid Credential): check the API key",
                server.url("/api/")
            )
        );
        assert_eq!(server.requests().len(), 1);
        assert_eq!(server.requests()[0].header("x-pan-key"), Some(PASSWORD));
        no_key(&[e.to_string(), format!("{e:?}"), format!("{:?}", s.sources[0])]);
    }

    #[tokio::test]
    async fn the_key_never_shows_in_errors() {
        let pki = Pki::new();
        let server = Server::start(&pki, |req, _| match req.path.split('?').next().unwrap_or("") {
            "/broken/api/" => Reply::status(500, format!("internal error for key {}", "x")),
            "/slow/api/" => xml(SAMPLE).after(std::time::Duration::from_secs(2)),
            _ => xml(SAMPLE).cut_at(10),
        })
        .await;
        let mut texts = Vec::new();
        for path in ["/broken", "/slow", "/cut"] {
            let src = source(&pki, &server.url(path), "").replace("timeout: 5s", "timeout: 300ms");
            let e = fetch(&settings(&src, "")).await.unwrap_err();
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
        }
        assert!(texts[0].contains("500 Internal Server Error"), "{texts:?}");
        no_key(&texts);
    }

    #[tokio::test]
    async fn a_missing_key_or_a_username_is_a_configuration_error() {
        let pki = Pki::new();
        let url = "https://127.0.0.1:9";
        let unset = source(&pki, url, "").replace(
            &format!("passwordFile: \"{}\"", pki.password_file().display()),
            "passwordEnv: ZONEAUDIT_TEST_UNSET_PANOS_KEY",
        );
        let e = fetch(&settings(&unset, "")).await.unwrap_err();
        assert_eq!(
            e.message(),
            "cannot read the API key for https://127.0.0.1:9/: environment variable ZONEAUDIT_TEST_UNSET_PANOS_KEY is not set"
        );
        let with_user = settings(&pki.source("fw1", "panos-rulehits", url, ""), "");
        let crate::config::Transport::Http(h) = &with_user.sources[0].transport else {
            panic!("a url source")
        };
        let e =
            super::fetch(h, &with_user.sources[0], Limits { max_response_bytes: 1024 }).await.unwrap_err();
        assert!(
            e.message().contains("takes an API key in passwordFile or passwordEnv, not a username"),
            "{e}"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn api_urls_from_the_firewall_address() {
        assert_eq!(api_url("https://fw1").unwrap().as_str(), "https://fw1/api/");
        assert_eq!(api_url("https://fw1:8443/api").unwrap().as_str(), "https://fw1:8443/api/");
        let e = api_url("https://fw1/api/?key=s3cr3t").unwrap_err();
        assert_eq!(
            e.message(),
            "https://fw1/api/: the url must not carry a query; the API key belongs in passwordFile or passwordEnv"
        );
    }
}
