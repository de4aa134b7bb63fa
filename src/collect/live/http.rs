//! HTTPS to device APIs (eAPI, NX-API, Junos REST): the one place that turns a source's `url`
//! settings into a client and a device's answer into bytes or a [`FetchError`].
//!
//! ```text
//!  HttpSpec ──client()──▶ Client { reqwest (TLS: system roots + caFile | insecureSkipVerify),
//!                                  connect timeout, per-request timeout, Basic credentials }
//!  post_json / post_json_rpc / post_text ──▶ status? ──▶ body streamed up to maxResponseBytes ──▶ Vec<u8>
//! ```
//!
//! Errors name the URL (userinfo removed) and what happened; they say whether a retry can help
//! ([`FetchError::permanent`] for credentials, certificates, size and rejected requests). The
//! password is read when the client is built, lives only in a header value marked sensitive, and
//! is never formatted into an error, a log line or a `Debug` output.

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::{FetchError, Limits};
use crate::config::{HttpSpec, SourceSpec};

/// How much of an error answer is read, and how much of it an error message quotes.
const ERROR_BODY_BYTES: u64 = 16 * 1024;
const ERROR_QUOTE_CHARS: usize = 300;

/// A device API client: TLS and timeouts from the source, credentials attached to every request.
pub struct Client {
    inner: reqwest::Client,
    authorization: Option<HeaderValue>,
    connect_timeout: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("authorization", &self.authorization.as_ref().map(|_| "(redacted)"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Build the client for one source. TLS is verified against the system roots plus the source's
/// `caFile`; `insecureSkipVerify: true` turns verification off and is logged once per source.
pub fn client(http: &HttpSpec, spec: &SourceSpec) -> Result<Client, FetchError> {
    let url = redact(&http.url);
    let mut builder = reqwest::Client::builder()
        .connect_timeout(spec.connect_timeout)
        .timeout(spec.timeout)
        // A redirect would re-send the credentials somewhere the config does not name.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("zoneaudit/", env!("CARGO_PKG_VERSION")));
    if http.insecure_skip_verify {
        warn_insecure_once(&spec.name, &url);
        builder = builder.tls_danger_accept_invalid_certs(true);
    } else if let Some(path) = &http.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            FetchError::permanent(format!("cannot read caFile {} for {url}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            FetchError::permanent(format!(
                "caFile {} for {url} is not PEM: {}",
                path.display(),
                root_cause(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(FetchError::permanent(format!(
                "caFile {} for {url} holds no PEM certificate",
                path.display()
            )));
        }
        builder = builder.tls_certs_merge(certs);
    }
    let inner = builder
        .build()
        .map_err(|e| FetchError::permanent(format!("cannot set up HTTPS for {url}: {}", root_cause(&e))))?;
    let authorization = match (&http.username, &http.password) {
        (Some(user), Some(secret)) => {
            let password = secret
                .read()
                .map_err(|e| FetchError::permanent(format!("cannot read the password for {url}: {e}")))?;
            Some(basic(user, &password)?)
        }
        (Some(user), None) => Some(basic(user, "")?),
        (None, Some(_)) => {
            return Err(FetchError::permanent(format!("a password is configured for {url} but no username")));
        }
        (None, None) => None,
    };
    Ok(Client { inner, authorization, connect_timeout: spec.connect_timeout, timeout: spec.timeout })
}

fn basic(user: &str, password: &str) -> Result<HeaderValue, FetchError> {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut value = HeaderValue::from_str(&format!("Basic {token}"))
        .map_err(|_| FetchError::permanent("the username is not valid in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn warn_insecure_once(source: &str, url: &str) {
    static WARNED: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    let mut warned = WARNED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if warned.insert(source.to_string()) {
        tracing::warn!(
            source,
            url,
            "TLS certificate verification is off for this source (insecureSkipVerify: true)"
        );
    }
}

/// POST a JSON document (`Content-Type: application/json`).
pub async fn post_json(
    client: &Client,
    url: &str,
    body: &Value,
    limits: Limits,
) -> Result<Vec<u8>, FetchError> {
    post(client, url, "application/json", body.to_string().into_bytes(), limits).await
}

/// POST a JSON-RPC call (`Content-Type: application/json-rpc`, what eAPI clients and NX-API's
/// JSON-RPC dialect use).
pub async fn post_json_rpc(
    client: &Client,
    url: &str,
    body: &Value,
    limits: Limits,
) -> Result<Vec<u8>, FetchError> {
    post(client, url, "application/json-rpc", body.to_string().into_bytes(), limits).await
}

/// POST a plain-text body (Junos REST takes RPC parameters as `name=value` this way).
pub async fn post_text(
    client: &Client,
    url: &str,
    body: &str,
    limits: Limits,
) -> Result<Vec<u8>, FetchError> {
    post(client, url, "text/plain", body.as_bytes().to_vec(), limits).await
}

/// POST `body` and return the answer's bytes; every answer is asked for as JSON.
pub async fn post(
    client: &Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    limits: Limits,
) -> Result<Vec<u8>, FetchError> {
    let shown = redact(url);
    let parsed = Url::parse(url).map_err(|e| FetchError::permanent(format!("invalid URL {shown}: {e}")))?;
    let mut request = client
        .inner
        .post(parsed)
        .header(CONTENT_TYPE, content_type)
        .header(ACCEPT, "application/json")
        .body(body);
    if let Some(auth) = &client.authorization {
        request = request.header(AUTHORIZATION, auth.clone());
    }
    let mut response = request.send().await.map_err(|e| transport_error(client, &shown, &e))?;
    let status = response.status();
    if status.is_success() {
        return read_body(client, &mut response, &shown, limits.max_response_bytes, false).await;
    }
    let location =
        response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(redact);
    let body = read_body(client, &mut response, &shown, ERROR_BODY_BYTES, true).await.unwrap_or_default();
    Err(status_error(&shown, status, location.as_deref(), &body))
}

/// Stream the body, stopping as soon as it grows beyond `max` (an error, or with `cut` a prefix).
async fn read_body(
    client: &Client,
    response: &mut reqwest::Response,
    url: &str,
    max: u64,
    cut: bool,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || {
        FetchError::permanent(format!(
            "the answer from {url} is larger than the response size limit of {max} bytes"
        ))
    };
    if !cut && response.content_length().is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(client, url, &e))? {
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

/// What a non-2xx answer means for the audit: credentials, a rejected request, or a device that
/// may answer on the next attempt.
fn status_error(url: &str, status: StatusCode, location: Option<&str>, body: &[u8]) -> FetchError {
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return FetchError::permanent(format!("{url} answered {status}: check the credentials"));
    }
    // NX-API answers a rejected command with 500 and a JSON-RPC error: retrying cannot help.
    if let Some(rpc) = json_rpc_error(body) {
        return FetchError::permanent(format!("{url} answered {status} with {rpc}"));
    }
    let quote = quote(body);
    let text = if quote.is_empty() {
        format!("{url} answered {status}")
    } else {
        format!("{url} answered {status}: {quote}")
    };
    if status.is_server_error()
        || matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS)
    {
        FetchError::new(text)
    } else if status.is_redirection() {
        let to = location.map(|l| format!(" to {l}")).unwrap_or_default();
        FetchError::permanent(format!(
            "{url} answered {status}{to}: redirects are not followed, configure the final URL"
        ))
    } else {
        FetchError::permanent(text)
    }
}

/// The JSON-RPC error in an answer (a single reply or a batch), as `error CODE: MESSAGE[: detail]`
/// with the detail NX-API (`data.msg`) and eAPI (`data[i].errors`) give.
pub fn json_rpc_error(body: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let (index, error) = match &doc {
        Value::Object(o) => (None, o.get("error")?),
        Value::Array(replies) => {
            replies.iter().enumerate().find_map(|(i, r)| r.get("error").map(|e| (Some(i), e)))?
        }
        _ => return None,
    };
    let code = error.get("code").map_or_else(|| "?".to_string(), Value::to_string);
    let message = error.get("message").and_then(Value::as_str).unwrap_or("(no message)").trim();
    let mut details: Vec<String> = Vec::new();
    match error.get("data") {
        Some(Value::Object(data)) => {
            details.extend(data.get("msg").and_then(Value::as_str).map(|m| m.trim().to_string()))
        }
        Some(Value::Array(outputs)) => {
            for errs in outputs.iter().filter_map(|o| o.get("errors")).filter_map(Value::as_array) {
                details.extend(errs.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)));
            }
        }
        _ => {}
    }
    let reply = index.map(|i| format!(" in reply {}", i + 1)).unwrap_or_default();
    let mut text = format!("error {code}{reply}: {message}");
    for d in details.iter().filter(|d| !d.is_empty()) {
        text.push_str(": ");
        text.push_str(d);
    }
    Some(bound(&text))
}

fn transport_error(client: &Client, url: &str, e: &reqwest::Error) -> FetchError {
    if let Some(cause) = certificate_failure(e) {
        return FetchError::permanent(format!(
            "certificate verification failed for {url}: {cause}; give the CA that signed the device's \
             certificate in caFile (or, knowingly, set insecureSkipVerify: true)"
        ));
    }
    let cause = root_cause(e);
    if e.is_timeout() {
        if e.is_connect() {
            return FetchError::new(format!(
                "could not connect to {url} within {}",
                humantime::format_duration(client.connect_timeout)
            ));
        }
        return FetchError::new(format!(
            "{url} did not answer within {}",
            humantime::format_duration(client.timeout)
        ));
    }
    if e.is_connect() {
        return FetchError::new(format!("could not connect to {url}: {cause}"));
    }
    if e.is_body() || e.is_decode() {
        return FetchError::new(format!("the answer from {url} was cut off: {cause}"));
    }
    FetchError::new(format!("request to {url} failed: {cause}"))
}

/// The rustls verdict on the server's certificate, wherever the connector wrapped it.
fn certificate_failure(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // io::Error::source skips the error it wraps; look inside it.
        if let Some(inner) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
            && let Some(tls @ rustls::Error::InvalidCertificate(_)) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(tls.to_string());
        }
        current = err.source();
    }
    None
}

/// The innermost cause: reqwest's outer text repeats the URL, the inner one says what happened.
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The URL as errors show it: without userinfo.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        // Not a URL: cut anything that could be userinfo.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
            _ => url.to_string(),
        },
    }
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    bound(&flat)
}

fn bound(s: &str) -> String {
    if s.chars().count() <= ERROR_QUOTE_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(ERROR_QUOTE_CHARS).collect();
    out.push('…');
    out
}
