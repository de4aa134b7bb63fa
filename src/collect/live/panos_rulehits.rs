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
//! in the URL, where proxies and the firewall's own access log would keep it. The shared client in
//! `http` speaks POST with Basic credentials only, so this module builds the same kind of client
//! (system roots + `caFile`, or `insecureSkipVerify`; no redirects; the source's timeouts) for GET.

use std::error::Error as StdError;

use reqwest::header::{ACCEPT, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use super::http::redact;
use super::{FetchError, Limits, RawPayload};
use crate::collect::panos_rulehits::api_error;
use crate::config::{HttpSpec, SourceSpec};

/// The virtual system and rule base polled.
pub const VSYS: &str = "vsys1";
pub const RULEBASE: &str = "security";

const KEY_HEADER: &str = "x-pan-key";
const ERROR_QUOTE_CHARS: usize = 300;

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
    let shown = redact(api.as_str());
    if http.username.is_some() {
        return Err(FetchError::permanent(format!(
            "{shown}: a panos-rulehits source takes an API key in passwordFile or passwordEnv, not a username"
        )));
    }
    let key = api_key(http, &shown)?;
    let client = client(http, spec, &shown)?;
    let mut url = api;
    url.query_pairs_mut().append_pair("type", "op").append_pair("cmd", &command(VSYS, RULEBASE));
    let mut response = client
        .get(url)
        .header(ACCEPT, "application/xml")
        .header(HeaderName::from_static(KEY_HEADER), key)
        .send()
        .await
        .map_err(|e| transport_error(&shown, spec, &e))?;
    let status = response.status();
    let max = if status.is_success() { limits.max_response_bytes } else { 16 * 1024 };
    let body = read_body(&mut response, &shown, spec, max, !status.is_success()).await?;
    if !status.is_success() {
        return Err(status_error(&shown, status, &body));
    }
    if let Some(e) = api_error(&body) {
        return Err(FetchError::permanent(format!("{shown} answered {e}")));
    }
    Ok(vec![RawPayload::new(format!("show rule-hit-count vsys {VSYS} rule-base {RULEBASE}"), body)])
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

fn api_key(http: &HttpSpec, shown: &str) -> Result<HeaderValue, FetchError> {
    let Some(secret) = &http.password else {
        return Err(FetchError::permanent(format!(
            "{shown}: no API key configured (passwordFile or passwordEnv)"
        )));
    };
    let key = secret
        .read()
        .map_err(|e| FetchError::permanent(format!("cannot read the API key for {shown}: {e}")))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(FetchError::permanent(format!("the API key for {shown} is empty")));
    }
    let mut value = HeaderValue::from_str(key).map_err(|_| {
        FetchError::permanent(format!("the API key for {shown} is not valid in an HTTP header"))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn client(http: &HttpSpec, spec: &SourceSpec, shown: &str) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(spec.connect_timeout)
        .timeout(spec.timeout)
        // A redirect would re-send the key somewhere the config does not name.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("zoneaudit/", env!("CARGO_PKG_VERSION")));
    if http.insecure_skip_verify {
        tracing::warn!(
            source = %spec.name,
            url = shown,
            "TLS certificate verification is off for this source (insecureSkipVerify: true)"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    } else if let Some(path) = &http.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            FetchError::permanent(format!("cannot read caFile {} for {shown}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            FetchError::permanent(format!(
                "caFile {} for {shown} is not PEM: {}",
                path.display(),
                root_cause(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(FetchError::permanent(format!(
                "caFile {} for {shown} holds no PEM certificate",
                path.display()
            )));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| FetchError::permanent(format!("cannot set up HTTPS for {shown}: {}", root_cause(&e))))
}

/// Stream the body up to `max` bytes: beyond it an error, or with `cut` the prefix (error answers).
async fn read_body(
    response: &mut reqwest::Response,
    shown: &str,
    spec: &SourceSpec,
    max: u64,
    cut: bool,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || {
        FetchError::permanent(format!(
            "the answer from {shown} is larger than the response size limit of {max} bytes"
        ))
    };
    if !cut && response.content_length().is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(shown, spec, &e))? {
        if (body.len() + chunk.len()) as u64 > max {
            if cut {
                let room = (max as usize).saturating_sub(body.len());
                body.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
                return Ok(body);
            }
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A non-2xx answer: PAN-OS answers a bad key with 403 and an XML error; 5xx may pass.
fn status_error(shown: &str, status: StatusCode, body: &[u8]) -> FetchError {
    let detail = match api_error(body) {
        Some(e) => format!(" ({e})"),
        None => {
            let q = quote(body);
            if q.is_empty() { String::new() } else { format!(": {q}") }
        }
    };
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return FetchError::permanent(format!("{shown} answered {status}{detail}: check the API key"));
    }
    let text = format!("{shown} answered {status}{detail}");
    if status.is_server_error()
        || matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS)
    {
        FetchError::new(text)
    } else if status.is_redirection() {
        FetchError::permanent(format!("{text}: redirects are not followed, configure the final URL"))
    } else {
        FetchError::permanent(text)
    }
}

fn transport_error(shown: &str, spec: &SourceSpec, e: &reqwest::Error) -> FetchError {
    if let Some(cause) = certificate_failure(e) {
        return FetchError::permanent(format!(
            "certificate verification failed for {shown}: {cause}; give the CA that signed the \
             firewall's certificate in caFile (or, knowingly, set insecureSkipVerify: true)"
        ));
    }
    let cause = root_cause(e);
    if e.is_timeout() {
        let (what, limit) = if e.is_connect() {
            ("could not connect to", spec.connect_timeout)
        } else {
            ("no answer from", spec.timeout)
        };
        return FetchError::new(format!("{what} {shown} within {}", humantime::format_duration(limit)));
    }
    if e.is_connect() {
        return FetchError::new(format!("could not connect to {shown}: {cause}"));
    }
    if e.is_body() || e.is_decode() {
        return FetchError::new(format!("the answer from {shown} was cut off: {cause}"));
    }
    FetchError::new(format!("request to {shown} failed: {cause}"))
}

/// The rustls verdict on the server's certificate, wherever the connector wrapped it.
fn certificate_failure(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        current = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn quote(body: &[u8]) -> String {
    let flat = String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= ERROR_QUOTE_CHARS {
        return flat;
    }
    let mut out: String = flat.chars().take(ERROR_QUOTE_CHARS).collect();
    out.push('…');
    out
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
            "cannot read the API key for https://127.0.0.1:9/api/: environment variable ZONEAUDIT_TEST_UNSET_PANOS_KEY is not set"
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
