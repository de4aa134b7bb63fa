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
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::{FetchError, Limits};
use crate::config::{HttpSpec, SourceSpec};

/// How much of an error answer is read, and how much of it an error message quotes.
const ERROR_BODY_BYTES: u64 = 16 * 1024;
const ERROR_QUOTE_CHARS: usize = 300;

/// How a device API takes its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic from `username` and the password (eAPI, NX-API, Junos REST).
    Basic,
    /// An API key (the password) in this header and nowhere else (PAN-OS `X-PAN-KEY`).
    ApiKeyHeader(&'static str),
}

/// A device API client: TLS and timeouts from the source, credentials attached to every request.
pub struct Client {
    inner: reqwest::Client,
    credentials: Credentials,
    authorization: Option<(HeaderName, HeaderValue)>,
    /// Reads a device's own error document out of an answer (JSON-RPC errors by default).
    explain: fn(&[u8]) -> Option<String>,
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
    client_with(http, spec, Credentials::Basic, json_rpc_error)
}

/// [`client`] for a device that takes other credentials or explains errors in its own format.
pub fn client_with(
    http: &HttpSpec,
    spec: &SourceSpec,
    credentials: Credentials,
    explain: fn(&[u8]) -> Option<String>,
) -> Result<Client, FetchError> {
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
    let authorization = match credentials {
        Credentials::Basic => basic_credentials(http, &url)?.map(|v| (AUTHORIZATION, v)),
        Credentials::ApiKeyHeader(name) => Some((HeaderName::from_static(name), api_key(http, &url)?)),
    };
    Ok(Client {
        inner,
        credentials,
        authorization,
        explain,
        connect_timeout: spec.connect_timeout,
        timeout: spec.timeout,
    })
}

fn basic_credentials(http: &HttpSpec, url: &str) -> Result<Option<HeaderValue>, FetchError> {
    match (&http.username, &http.password) {
        (Some(user), Some(secret)) => {
            let password = secret
                .read()
                .map_err(|e| FetchError::permanent(format!("cannot read the password for {url}: {e}")))?;
            Ok(Some(basic(user, &password)?))
        }
        (Some(user), None) => Ok(Some(basic(user, "")?)),
        (None, Some(_)) => {
            Err(FetchError::permanent(format!("a password is configured for {url} but no username")))
        }
        (None, None) => Ok(None),
    }
}

/// An API key goes in its header only: a username would suggest Basic auth that is never sent.
fn api_key(http: &HttpSpec, url: &str) -> Result<HeaderValue, FetchError> {
    if http.username.is_some() {
        return Err(FetchError::permanent(format!(
            "{url}: this source takes an API key in passwordFile or passwordEnv, not a username"
        )));
    }
    let Some(secret) = &http.password else {
        return Err(FetchError::permanent(format!(
            "{url}: no API key configured (passwordFile or passwordEnv)"
        )));
    };
    let key = secret
        .read()
        .map_err(|e| FetchError::permanent(format!("cannot read the API key for {url}: {e}")))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(FetchError::permanent(format!("the API key for {url} is empty")));
    }
    let mut value = HeaderValue::from_str(key).map_err(|_| {
        FetchError::permanent(format!("the API key for {url} is not valid in an HTTP header"))
    })?;
    value.set_sensitive(true);
    Ok(value)
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
    send(client, reqwest::Method::POST, url, "application/json", Some((content_type, body)), limits).await
}

/// GET `url` (a query is kept, a key never goes there) and return the answer's bytes.
pub async fn get(client: &Client, url: &str, accept: &str, limits: Limits) -> Result<Vec<u8>, FetchError> {
    send(client, reqwest::Method::GET, url, accept, None, limits).await
}

async fn send(
    client: &Client,
    method: reqwest::Method,
    url: &str,
    accept: &str,
    body: Option<(&str, Vec<u8>)>,
    limits: Limits,
) -> Result<Vec<u8>, FetchError> {
    let parsed =
        Url::parse(url).map_err(|e| FetchError::permanent(format!("invalid URL {}: {e}", redact(url))))?;
    // Messages name the endpoint, not the query (a long command, and never a credential).
    let mut endpoint = parsed.clone();
    endpoint.set_query(None);
    let shown = redact(endpoint.as_str());
    let mut request = client.inner.request(method, parsed).header(ACCEPT, accept);
    if let Some((content_type, body)) = body {
        request = request.header(CONTENT_TYPE, content_type).body(body);
    }
    if let Some((name, value)) = &client.authorization {
        request = request.header(name.clone(), value.clone());
    }
    let mut response = request.send().await.map_err(|e| transport_error(client, &shown, &e))?;
    let status = response.status();
    if status.is_success() {
        return read_body(client, &mut response, &shown, limits.max_response_bytes, false).await;
    }
    let location =
        response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(redact);
    let body = read_body(client, &mut response, &shown, ERROR_BODY_BYTES, true).await.unwrap_or_default();
    Err(status_error(client, &shown, status, location.as_deref(), &body))
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
fn status_error(
    client: &Client,
    url: &str,
    status: StatusCode,
    location: Option<&str>,
    body: &[u8],
) -> FetchError {
    let explained = (client.explain)(body);
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        let detail = explained.map(|e| format!(" ({e})")).unwrap_or_default();
        let check = match client.credentials {
            Credentials::Basic => "check the credentials",
            Credentials::ApiKeyHeader(_) => "check the API key",
        };
        return FetchError::permanent(format!("{url} answered {status}{detail}: {check}"));
    }
    // NX-API answers a rejected command with 500 and a JSON-RPC error: retrying cannot help.
    if let Some(rpc) = explained {
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
        // io::Error::source skips the error it wraps (and connectors wrap io errors in io errors):
        // look inside instead.
        current = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
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

/// An HTTPS device double for tests: a test CA made with the `openssl` CLI, a TLS listener on
/// 127.0.0.1 and a hand-written HTTP/1.1 exchange, so clients meet real TLS and real framing.
#[cfg(test)]
pub(crate) mod double {
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    /// A test CA and a server certificate for IP 127.0.0.1 signed by it.
    pub struct Pki {
        dir: tempfile::TempDir,
    }

    impl Pki {
        pub fn new() -> Pki {
            let dir = tempfile::tempdir().expect("temporary directory");
            let openssl = |args: &[&str]| {
                let out = Command::new("openssl")
                    .args(args)
                    .current_dir(dir.path())
                    .output()
                    .expect("openssl runs");
                assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            };
            // Distinct names, so a certificate of another test CA fails as an unknown issuer.
            let unique =
                dir.path().file_name().map(|n| n.to_string_lossy().replace('.', "")).unwrap_or_default();
            let subject = format!("/CN=zoneaudit test CA {unique}");
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
            let mut ca = vec!["req", "-x509", "-new"];
            ca.extend(ec);
            ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", &subject]);
            ca.extend([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&ca);
            let mut csr = vec!["req", "-new"];
            csr.extend(ec);
            csr.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
            openssl(&csr);
            std::fs::write(
                dir.path().join("server.ext"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
            )
            .expect("extension file");
            openssl(&[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ]);
            Pki { dir }
        }

        pub fn ca_file(&self) -> PathBuf {
            self.dir.path().join("ca.pem")
        }

        fn acceptor(&self) -> TlsAcceptor {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let certs = vec![
                CertificateDer::from_pem_file(self.dir.path().join("server.pem"))
                    .expect("server certificate"),
            ];
            let key = PrivateKeyDer::from_pem_file(self.dir.path().join("server.key")).expect("server key");
            let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server TLS config");
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            TlsAcceptor::from(Arc::new(config))
        }
    }

    /// The password the tests configure; no error, log or Debug output may contain it.
    pub const PASSWORD: &str = "s3cr3t-Pa55w0rd";

    impl Pki {
        /// A password file as an operator writes it (with a trailing newline).
        pub fn password_file(&self) -> PathBuf {
            let path = self.dir.path().join("password");
            std::fs::write(&path, format!("{PASSWORD}\n")).expect("password file");
            path
        }

        /// One source entry (YAML flow mapping) for a device at `url`, trusting this CA.
        pub fn source(&self, name: &str, kind: &str, url: &str, extra: &str) -> String {
            // No retries unless the test asks: failures should show on the first attempt.
            let retries = if extra.contains("retries:") { "" } else { ", retries: 0" };
            format!(
                "{{name: {name}, kind: {kind}, url: \"{url}\", username: zoneaudit, passwordFile: \"{}\", \
                 caFile: \"{}\", connectTimeout: 2s, timeout: 5s{retries}{extra}}}",
                self.password_file().display(),
                self.ca_file().display()
            )
        }
    }

    /// A whole config with one source, validated the way `zoneaudit` loads it.
    pub fn settings(source: &str, top_level: &str) -> crate::config::Settings {
        let text = format!(
            "cluster: lab\nzones:\n  prod:\n    prefixes: [10.110.0.0/16]\n    vrf: ZONE-PROD\n{top_level}sources:\n  - {source}\n"
        );
        crate::config::Settings::from_yaml(&text, "zoneaudit.yaml", Path::new("/"))
            .unwrap_or_else(|e| panic!("test config is valid: {e}\n{text}"))
    }

    /// Fetch the config's first source through the live dispatcher (timeouts, retries, limits).
    pub async fn fetch(
        settings: &crate::config::Settings,
    ) -> Result<Vec<crate::collect::live::RawPayload>, crate::collect::live::FetchError> {
        let limits =
            crate::collect::live::Limits { max_response_bytes: settings.collection.max_response_bytes };
        let ctx = crate::collect::live::FetchContext { settings, limits };
        crate::collect::live::fetch(&settings.sources[0], &ctx).await
    }

    /// One request as the double received it.
    #[derive(Debug, Clone)]
    pub struct Request {
        pub method: String,
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Request {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        pub fn body_text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    /// How the double answers one request.
    #[derive(Debug, Clone)]
    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
        /// Wait this long before answering.
        pub delay: Duration,
        /// Send only this many body bytes (the declared length stays the full one), then close.
        pub cut_at: Option<usize>,
        /// Send no Content-Length: the body ends when the connection closes.
        pub close_delimited: bool,
    }

    impl Reply {
        pub fn json(body: impl Into<Vec<u8>>) -> Reply {
            Reply::status(200, body).header("Content-Type", "application/json")
        }

        pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
            Reply {
                status,
                headers: Vec::new(),
                body: body.into(),
                delay: Duration::ZERO,
                cut_at: None,
                close_delimited: false,
            }
        }

        pub fn header(mut self, name: &str, value: &str) -> Reply {
            self.headers.push((name.to_string(), value.to_string()));
            self
        }

        pub fn after(mut self, delay: Duration) -> Reply {
            self.delay = delay;
            self
        }

        pub fn cut_at(mut self, bytes: usize) -> Reply {
            self.cut_at = Some(bytes);
            self
        }

        pub fn close_delimited(mut self) -> Reply {
            self.close_delimited = true;
            self
        }
    }

    type Answer = dyn Fn(&Request, usize) -> Reply + Send + Sync;

    /// A running double; it stops when dropped.
    pub struct Server {
        pub addr: SocketAddr,
        requests: Arc<Mutex<Vec<Request>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Server {
        /// Serve with `pki`'s certificate; `answer` gets each request and its 0-based number.
        pub async fn start(
            pki: &Pki,
            answer: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
        ) -> Server {
            let acceptor = pki.acceptor();
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
            let addr = listener.local_addr().expect("local address");
            let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
            let answer: Arc<Answer> = Arc::new(answer);
            let seen = requests.clone();
            let task = tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (acceptor, answer, seen) = (acceptor.clone(), answer.clone(), seen.clone());
                    tokio::spawn(async move {
                        // A client that rejects the certificate ends the handshake: nothing to serve.
                        let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                        let Some(request) = read_request(&mut tls).await else { return };
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push(request.clone());
                            seen.len() - 1
                        };
                        let reply = answer(&request, n);
                        tokio::time::sleep(reply.delay).await;
                        let _ = write_reply(&mut tls, &reply).await;
                        let _ = tls.shutdown().await;
                    });
                }
            });
            Server { addr, requests, task }
        }

        pub fn url(&self, path: &str) -> String {
            format!("https://127.0.0.1:{}{path}", self.addr.port())
        }

        pub fn requests(&self) -> Vec<Request> {
            self.requests.lock().unwrap().clone()
        }
    }

    async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Request> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut start = lines.next()?.split(' ');
        let (method, path) = (start.next()?.to_string(), start.next()?.to_string());
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some(Request { method, path, headers, body })
    }

    async fn write_reply<S: tokio::io::AsyncWrite + Unpin>(
        stream: &mut S,
        reply: &Reply,
    ) -> std::io::Result<()> {
        let reason = reqwest::StatusCode::from_u16(reply.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !reply.close_delimited {
            head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        let body = match reply.cut_at {
            Some(n) => reply.body.get(..n).unwrap_or(&reply.body),
            None => &reply.body,
        };
        stream.write_all(body).await?;
        stream.flush().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::double::{PASSWORD, Pki, Reply, Server, fetch, settings};
    use super::*;
    use crate::config::Transport;

    const EAPI_OK: &str = r#"{"jsonrpc":"2.0","id":"zoneaudit-1","result":[{"vrfs":{}},{"vrfs":{}}]}"#;

    fn no_password(texts: &[String]) {
        for t in texts {
            assert!(!t.contains(PASSWORD), "the password leaked into: {t}");
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("zoneaudit:{PASSWORD}"));
            assert!(!t.contains(&encoded), "the encoded credentials leaked into: {t}");
        }
    }

    #[tokio::test]
    async fn credentials_go_in_a_basic_header_and_the_body_comes_back() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::json(EAPI_OK)).await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ""), "");
        let payloads = fetch(&s).await.unwrap();
        assert_eq!(payloads[0].bytes, EAPI_OK.as_bytes());
        let req = &server.requests()[0];
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/command-api"));
        let token = req.header("authorization").unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(token).unwrap();
        assert_eq!(decoded, format!("zoneaudit:{PASSWORD}").as_bytes());
        assert_eq!(req.header("accept"), Some("application/json"));
    }

    #[tokio::test]
    async fn unauthorized_is_permanent_and_says_check_the_credentials() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| {
            Reply::status(401, "Unauthorized").header("WWW-Authenticate", "Basic realm=\"eapi\"")
        })
        .await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ", retries: 3"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!("{} answered 401 Unauthorized: check the credentials", server.url("/command-api"))
        );
        assert_eq!(server.requests().len(), 1, "a 401 is not retried");
        no_password(&[e.to_string(), format!("{e:?}")]);
    }

    #[tokio::test]
    async fn server_error_then_success_is_retried_through_the_dispatcher() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, n| {
            if n == 0 { Reply::status(500, "busy, try later") } else { Reply::json(EAPI_OK) }
        })
        .await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ", retries: 2"), "");
        let payloads = fetch(&s).await.unwrap();
        assert_eq!(payloads.len(), 1);
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn persistent_server_error_fails_after_the_retries_quoting_the_answer() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::status(503, "maintenance")).await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ", retries: 1"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "{} answered 503 Service Unavailable: maintenance (after 2 attempts)",
                server.url("/command-api")
            )
        );
    }

    #[tokio::test]
    async fn a_json_rpc_error_in_a_server_error_is_not_retried() {
        let pki = Pki::new();
        let body = include_str!("../../../tests/fixtures/nxos/nxapi-jsonrpc-response.json");
        let server = Server::start(&pki, move |_, _| Reply::status(500, body)).await;
        let s = settings(&pki.source("nx1", "nxos", &server.url("/ins"), ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(server.requests().len(), 1);
        assert!(
            e.message().ends_with("answered 500 Internal Server Error with error -32602 in reply 2: Invalid params: % Invalid command at '^' marker."),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_slow_device_times_out_naming_the_url() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::json(EAPI_OK).after(Duration::from_secs(3))).await;
        let s = settings(
            &pki.source("leaf1", "eos", &server.url("/command-api"), "")
                .replace("timeout: 5s", "timeout: 300ms"),
            "",
        );
        let Transport::Http(http) = &s.sources[0].transport else { panic!("an http source") };
        let c = client(http, &s.sources[0]).unwrap();
        let started = std::time::Instant::now();
        let e = post_json(&c, &http.url, &serde_json::json!({}), Limits { max_response_bytes: 1 << 20 })
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "the timeout was not applied");
        assert_eq!(e.message(), format!("{} did not answer within 300ms", server.url("/command-api")));
        assert!(e.is_retryable());

        // Through the dispatcher the whole attempt is bounded by the same timeout.
        let e = fetch(&s).await.unwrap_err();
        assert!(e.message().contains("within 300ms"), "{e}");
    }

    #[tokio::test]
    async fn an_oversized_answer_fails_naming_url_and_limit() {
        let pki = Pki::new();
        let big = format!(r#"{{"jsonrpc":"2.0","id":"x","result":[{{"pad":"{}"}}]}}"#, "x".repeat(5000));
        let declared = big.clone();
        let server = Server::start(&pki, move |req, _| {
            // The first path declares its length, the second streams until it closes.
            if req.path == "/declared" {
                Reply::json(declared.clone())
            } else {
                Reply::json(big.clone()).close_delimited()
            }
        })
        .await;
        for path in ["/declared", "/streamed"] {
            let s = settings(
                &pki.source("leaf1", "eos", &server.url(path), ", retries: 2"),
                "collection: {maxResponseBytes: 1000}\n",
            );
            let e = fetch(&s).await.unwrap_err();
            assert_eq!(
                e.message(),
                format!(
                    "the answer from {} is larger than the response size limit of 1000 bytes",
                    server.url(path)
                )
            );
        }
        assert_eq!(server.requests().len(), 2, "a size error is not retried");
    }

    #[tokio::test]
    async fn a_truncated_answer_is_retried_then_reported() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::json(EAPI_OK).cut_at(20)).await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ", retries: 1"), "");
        let e = fetch(&s).await.unwrap_err();
        assert!(
            e.message().starts_with(&format!("the answer from {} was cut off", server.url("/command-api"))),
            "{e}"
        );
        assert!(e.message().ends_with("(after 2 attempts)"), "{e}");
    }

    #[tokio::test]
    async fn a_certificate_from_another_ca_fails_unless_verification_is_knowingly_off() {
        let trusted = Pki::new();
        let rogue = Pki::new();
        let server = Server::start(&rogue, |_, _| Reply::json(EAPI_OK)).await;
        let url = server.url("/command-api");
        let s = settings(&trusted.source("leaf1", "eos", &url, ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert!(e.message().starts_with(&format!("certificate verification failed for {url}: ")), "{e}");
        assert!(e.message().contains("caFile"), "{e}");
        assert!(server.requests().is_empty(), "nothing is sent to an unverified server");

        let s = settings(&trusted.source("leaf1", "eos", &url, ", insecureSkipVerify: true"), "");
        assert_eq!(fetch(&s).await.unwrap()[0].bytes, EAPI_OK.as_bytes());
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn without_ca_file_a_private_ca_is_not_trusted() {
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| Reply::json(EAPI_OK)).await;
        let source = pki.source("leaf1", "eos", &server.url("/command-api"), "");
        let source = source.replace(&format!(", caFile: \"{}\"", pki.ca_file().display()), "");
        let e = fetch(&settings(&source, "")).await.unwrap_err();
        assert!(
            e.message().contains("certificate verification failed")
                || e.message().contains("cannot set up HTTPS"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn the_password_never_shows_in_errors_or_debug_output() {
        let pki = Pki::new();
        let server = Server::start(&pki, |req, _| match req.path.as_str() {
            "/denied" => Reply::status(403, "Forbidden"),
            "/broken" => Reply::status(500, "internal error"),
            "/slow" => Reply::json(EAPI_OK).after(Duration::from_secs(2)),
            _ => Reply::json(EAPI_OK).cut_at(5),
        })
        .await;
        let mut texts = Vec::new();
        for path in ["/denied", "/broken", "/slow", "/cut"] {
            let source =
                pki.source("leaf1", "eos", &server.url(path), "").replace("timeout: 5s", "timeout: 300ms");
            let s = settings(&source, "");
            let e = fetch(&s).await.unwrap_err();
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
            texts.push(format!("{:?}", s.sources[0]));
            let Transport::Http(http) = &s.sources[0].transport else { panic!("an http source") };
            texts.push(format!("{:?}", client(http, &s.sources[0]).unwrap()));
        }
        // Credentials written into the URL itself are cut from every message too.
        let with_userinfo =
            server.url("/denied").replace("https://", &format!("https://zoneaudit:{PASSWORD}@"));
        let s = settings(&pki.source("leaf1", "eos", &with_userinfo, ""), "");
        texts.push(fetch(&s).await.unwrap_err().to_string());
        assert!(texts.iter().any(|t| t.contains("403 Forbidden")), "{texts:?}");
        no_password(&texts);
    }

    #[tokio::test]
    async fn unreadable_secrets_name_where_they_were_looked_for() {
        let pki = Pki::new();
        let source = pki.source("leaf1", "eos", "https://127.0.0.1:9/command-api", "");
        let source = source.replace(
            &format!("passwordFile: \"{}\"", pki.password_file().display()),
            "passwordEnv: ZONEAUDIT_TEST_UNSET_PASSWORD",
        );
        let e = fetch(&settings(&source, "")).await.unwrap_err();
        assert_eq!(
            e.message(),
            "cannot read the password for https://127.0.0.1:9/command-api: environment variable ZONEAUDIT_TEST_UNSET_PASSWORD is not set"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_retryable_and_names_the_url() {
        let pki = Pki::new();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("https://127.0.0.1:{port}/command-api");
        let s = settings(&pki.source("leaf1", "eos", &url, ""), "");
        let Transport::Http(http) = &s.sources[0].transport else { panic!("an http source") };
        let c = client(http, &s.sources[0]).unwrap();
        let e = post_json(&c, &url, &serde_json::json!({}), Limits { max_response_bytes: 1024 })
            .await
            .unwrap_err();
        assert!(e.is_retryable());
        assert!(e.message().starts_with(&format!("could not connect to {url}: ")), "{e}");
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let pki = Pki::new();
        let server =
            Server::start(&pki, |_, _| Reply::status(302, "").header("Location", "https://elsewhere/login"))
                .await;
        let s = settings(&pki.source("leaf1", "eos", &server.url("/command-api"), ", retries: 2"), "");
        let e = fetch(&s).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "{} answered 302 Found to https://elsewhere/login: redirects are not followed, configure the final URL",
                server.url("/command-api")
            )
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(redact("https://admin:pw@leaf1:443/command-api"), "https://leaf1/command-api");
        assert_eq!(redact("https://admin:pw@leaf1:8443/x?a=b"), "https://leaf1:8443/x?a=b");
        assert_eq!(redact("not a url://u:pw@host"), "not a url://host");
    }

    #[test]
    fn json_rpc_errors_quote_code_message_and_detail() {
        let eapi = include_str!("../../../tests/fixtures/eos/eos-eapi-error-response.json");
        assert_eq!(
            json_rpc_error(eapi.as_bytes()).unwrap(),
            "error 1002: CLI command 2 of 2 'show ip bgp summry vrf all' failed: invalid command: \
             Invalid input (at token 3: 'summry')"
        );
        assert_eq!(json_rpc_error(EAPI_OK.as_bytes()), None);
        assert_eq!(json_rpc_error(b"not json"), None);
    }
}
