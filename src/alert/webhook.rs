//! Webhook delivery: one HTTPS (or HTTP) POST per [`AlertMessage`], in one of three payloads.
//!
//! ```text
//!  AlertMessage ──generic_body──────▶ zoneaudit's own JSON (reports/alert.schema.json)
//!               ──slack_body────────▶ Slack incoming-webhook message: `text` fallback + mrkdwn blocks
//!               ──alertmanager_body─▶ Alertmanager webhook payload, version "4": one alert per event
//!  body ──send()──▶ POST url   Content-Type: application/json
//!                              Idempotency-Key: <message.idempotency_key>   (the same on every attempt)
//!                              User-Agent: zoneaudit/<version>
//!                              X-Zoneaudit-Signature: sha256=<hex HMAC-SHA256(secret, body bytes)>
//!                                                                    (generic, when a secret is set)
//!       ──▶ 2xx: Ok │ 408, 429, 5xx, connect error, timeout, cut connection: Transient │ else: Permanent
//! ```
//!
//! A receiver checks the signature over the exact bytes it received, before parsing them. The
//! idempotency key lets it drop a resend (after a timeout whose request did arrive, or a crash
//! between "sent" and "marked delivered"): zoneaudit may send a message twice, never two
//! different messages under one key.
//!
//! Alertmanager receivers deduplicate by `fingerprint`: it is derived from the cluster and the
//! event key (the finding fingerprint or the topology item key), so the firing alert of night 2
//! and its resolution on night 3 carry the same one. Topology drift has no `appeared`/`vanished`
//! field: the event message starts with that word (see `AlertEvent::message`).
//!
//! Secrets: the URL (Slack's carries its token) and the HMAC secret are read at each attempt and
//! never enter an error: reqwest errors lose their URL (`without_url`), and anything quoted from
//! a response or a transport error is scrubbed of the URL, its path and query, and the secret.
//! Redirects are not followed: a 3xx would re-send the signed body somewhere the config does not
//! name.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{AlertEvent, AlertMessage, DeliveryError, EventKind};
use crate::config::{WebhookFormat, WebhookTarget};

/// The `schema` of the generic payload; `reports/alert.schema.json` has this `$id`.
pub const SCHEMA: &str = "https://zoneaudit.io/schemas/alert/v1";
/// The generic payload's signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Zoneaudit-Signature";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
const USER_AGENT: &str = concat!("zoneaudit/", env!("CARGO_PKG_VERSION"));

/// `alertname` of topology drift alerts (findings use their rule id).
pub const DRIFT_ALERTNAME: &str = "ZoneauditTopologyDrift";
/// Go's zero time: what Alertmanager sends as `endsAt` of a firing alert.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Slack: a section's text is at most 3,000 characters and a message at most 50 blocks.
const SLACK_SECTION_CHARS: usize = 3000;
const SLACK_MAX_BLOCKS: usize = 50;
/// How much of a refusing receiver's answer an error quotes (Slack explains itself in the body:
/// `invalid_payload`, `no_service`).
const ERROR_QUOTE_CHARS: usize = 200;

pub fn format_name(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::Generic => "generic",
        WebhookFormat::Slack => "slack",
        WebhookFormat::Alertmanager => "alertmanager",
    }
}

/// The client for one webhook target: rustls verifying against the system roots plus the
/// target's `caFile`, `timeout` for a whole attempt (connect, send, answer), no redirects.
/// Needs a rustls crypto provider installed (main does it).
pub fn client(target: &WebhookTarget, timeout: Duration) -> Result<reqwest::Client, DeliveryError> {
    let what = format!("webhook ({})", format_name(target.format));
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT);
    if let Some(path) = &target.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            DeliveryError::Permanent(format!("{what}: cannot read caFile {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            DeliveryError::Permanent(format!(
                "{what}: caFile {} is not PEM: {}",
                path.display(),
                root_cause(&e.without_url())
            ))
        })?;
        if certs.is_empty() {
            return Err(DeliveryError::Permanent(format!(
                "{what}: caFile {} holds no PEM certificate",
                path.display()
            )));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| {
        DeliveryError::Permanent(format!("{what}: cannot set up HTTPS: {}", root_cause(&e.without_url())))
    })
}

/// The payload `format` sends for `message`.
pub fn body(format: WebhookFormat, message: &AlertMessage) -> Vec<u8> {
    match format {
        WebhookFormat::Generic => generic_body(message),
        WebhookFormat::Slack => slack_body(message),
        WebhookFormat::Alertmanager => alertmanager_body(message),
    }
}

/// One delivery attempt of `message` to `target`. See the module header for the outcome mapping.
pub async fn send(
    client: &reqwest::Client,
    target: &WebhookTarget,
    message: &AlertMessage,
) -> Result<(), DeliveryError> {
    let attempt = Attempt { channel: &message.channel, format: target.format, hide: Vec::new() };
    let url = target.url.read().map_err(|e| attempt.permanent(format!("cannot read the URL: {e}")))?;
    let mut attempt = attempt.hiding(&url);
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| attempt.permanent(format!("the configured URL is not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(
            attempt.permanent(format!("the URL must be https:// or http://, not {}:", parsed.scheme()))
        );
    }
    attempt = attempt.hiding(parsed.path()).hiding(parsed.query().unwrap_or_default());
    let secret = match &target.secret {
        Some(secret_ref) => {
            let secret =
                secret_ref.read().map_err(|e| attempt.permanent(format!("cannot read the secret: {e}")))?;
            if secret.is_empty() {
                return Err(attempt.permanent("the secret is empty".into()));
            }
            attempt = attempt.hiding(&secret);
            Some(secret)
        }
        None => None,
    };

    let body = body(target.format, message);
    let mut request = client
        .post(parsed)
        .header(CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_HEADER, &message.idempotency_key);
    if let Some(secret) = &secret {
        request = request.header(SIGNATURE_HEADER, signature(secret.as_bytes(), &body));
    }
    let started = Instant::now();
    let response = match request.body(body).send().await {
        Ok(response) => response,
        Err(e) => return Err(attempt.transport(&e.without_url(), started.elapsed())),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(|v| format!(" (Retry-After: {})", attempt.scrub(v)));
    let quote = read_quote(response).await;
    let mut text = format!("HTTP {}{}", status.as_u16(), retry_after.unwrap_or_default());
    if status.is_redirection() {
        text.push_str(" (redirects are not followed: configure the final URL)");
    }
    if !quote.is_empty() {
        text.push_str(&format!(": {}", attempt.scrub(&quote)));
    }
    Err(if is_transient_status(status.as_u16()) { attempt.transient(text) } else { attempt.permanent(text) })
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`: what [`SIGNATURE_HEADER`] carries.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Worth retrying: the receiver is overloaded, restarting or rate-limiting.
fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The start of a refusing receiver's answer, on one line. The attempt's timeout bounds the wait.
async fn read_quote(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_QUOTE_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut quote: String = flat.chars().take(ERROR_QUOTE_CHARS).collect();
    if flat.chars().count() > ERROR_QUOTE_CHARS {
        quote.push('…');
    }
    quote
}

/// One attempt's error wording: `webhook <channel> (<format>): …`, never a secret.
struct Attempt<'a> {
    channel: &'a str,
    format: WebhookFormat,
    /// Texts that must not appear in an error: the URL, its path and query, the secret.
    hide: Vec<String>,
}

impl Attempt<'_> {
    fn hiding(mut self, text: &str) -> Self {
        // A bare "/" path is no secret, and hiding it would mangle every error.
        if text.len() > 1 {
            self.hide.push(text.to_string());
        }
        self
    }

    fn scrub(&self, text: &str) -> String {
        let mut hide: Vec<&String> = self.hide.iter().collect();
        // Longest first: the URL before the path it contains.
        hide.sort_by_key(|h| std::cmp::Reverse(h.len()));
        hide.iter().fold(text.to_string(), |t, h| t.replace(h.as_str(), "[redacted]"))
    }

    fn say(&self, what: &str) -> String {
        let what = self.scrub(what);
        format!("webhook {} ({}): {what}", self.channel, format_name(self.format))
    }

    fn permanent(&self, what: String) -> DeliveryError {
        DeliveryError::Permanent(self.say(&what))
    }

    fn transient(&self, what: String) -> DeliveryError {
        DeliveryError::Transient(self.say(&what))
    }

    /// No answer: refused, timed out, TLS refused, or the connection was cut. Only a certificate
    /// the client cannot verify is permanent; in every other case the receiver may be back soon,
    /// and the request may even have arrived (the idempotency key covers that).
    fn transport(&self, e: &reqwest::Error, waited: Duration) -> DeliveryError {
        if let Some(cause) = certificate_failure(e) {
            return self.permanent(format!(
                "certificate verification failed: {cause}; give the CA that signed the receiver's \
                 certificate in caFile"
            ));
        }
        if e.is_builder() {
            return self.permanent(format!("cannot build the request: {}", root_cause(e)));
        }
        if e.is_timeout() {
            return self.transient(format!("timed out after {}", seconds(waited)));
        }
        if e.is_connect() {
            return self.transient(format!("could not connect: {}", root_cause(e)));
        }
        self.transient(format!("request failed: {}", root_cause(e)))
    }
}

/// `10s` for a wait that the client's 10 s timeout ended a few milliseconds late.
fn seconds(waited: Duration) -> String {
    if waited < Duration::from_secs(1) {
        return format!("{}ms", waited.as_millis());
    }
    humantime::format_duration(Duration::from_secs(waited.as_secs_f64().round() as u64)).to_string()
}

/// The rustls verdict on the receiver's certificate, wherever the connector wrapped it.
fn certificate_failure(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // io::Error::source skips the error it wraps: look inside instead.
        current = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The innermost cause: what happened, without reqwest's wording around it.
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

// ---------------------------------------------------------------------------------------------
// Generic

/// zoneaudit's own payload: the message as serialised (camelCase), with `schema` first and a
/// `summary` (event counts per kind, worst severity, the headline) before the events.
pub fn generic_body(message: &AlertMessage) -> Vec<u8> {
    let Value::Object(fields) = serde_json::to_value(message).expect("an AlertMessage serialises") else {
        unreachable!("an AlertMessage serialises to an object")
    };
    let mut out = Map::new();
    out.insert("schema".into(), json!(SCHEMA));
    let events = fields.get("events").cloned().unwrap_or_else(|| json!([]));
    out.extend(fields.into_iter().filter(|(k, _)| k != "events"));
    out.insert("summary".into(), summary(message));
    out.insert("events".into(), events);
    serde_json::to_vec(&Value::Object(out)).expect("JSON serialises")
}

fn summary(message: &AlertMessage) -> Value {
    let counts = message.counts();
    let mut summary = Map::new();
    for kind in EventKind::ALL {
        summary.insert(kind.as_str().into(), json!(counts.get(&kind).copied().unwrap_or(0)));
    }
    summary.insert("worst".into(), json!(message.worst().map(|s| s.as_str())));
    summary.insert("headline".into(), json!(message.subject_line()));
    Value::Object(summary)
}

// ---------------------------------------------------------------------------------------------
// Slack

/// A Slack incoming-webhook message: `text` (the headline; what notifications show) and `blocks`:
/// the headline, one mrkdwn section per event, and a context line with cluster, run and key.
/// Network text is escaped (`&`, `<`, `>`), so a subject can neither format, link nor mention.
pub fn slack_body(message: &AlertMessage) -> Vec<u8> {
    let section = |text: String| json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } });
    let headline = escape_slack(&message.subject_line(), SLACK_SECTION_CHARS - 2);
    let mut blocks = vec![section(format!("*{headline}*"))];
    // The headline, the context line and possibly an "and N more" line besides the events.
    let room = SLACK_MAX_BLOCKS - 3;
    let shown = if message.events.len() <= room + 1 { message.events.len() } else { room };
    blocks.extend(message.events[..shown].iter().map(|e| section(slack_event_line(e))));
    if shown < message.events.len() {
        let more = message.events.len() - shown;
        blocks.push(section(format!("_… and {more} more events: see `zoneaudit alerts list`_")));
    }
    let context = format!(
        "cluster {} · run {} started {} · {}",
        escape_slack(&message.cluster, 200),
        message.run_id,
        rfc3339(message.run_started_at),
        escape_slack(&message.idempotency_key, 200),
    );
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));
    let text = escape_slack(&message.subject_line(), SLACK_SECTION_CHARS);
    serde_json::to_vec(&json!({ "text": text, "blocks": blocks })).expect("JSON serialises")
}

/// `:red_circle: *NEW* critical · ZI-ROUTE-LEAK · zone yellow` then subject and message.
fn slack_event_line(event: &AlertEvent) -> String {
    let marker = match event.kind {
        EventKind::New | EventKind::Reminder if event.routing_severity() >= crate::model::Severity::High => {
            ":red_circle:"
        }
        EventKind::New | EventKind::Reminder => ":large_orange_circle:",
        EventKind::Resolved => ":white_check_mark:",
        EventKind::Drift => ":twisted_rightwards_arrows:",
    };
    let mut head = Vec::new();
    if let Some(severity) = event.severity {
        head.push(severity.as_str().to_string());
    }
    if let Some(rule) = &event.rule_id {
        head.push(escape_slack(rule, 100));
    }
    if let Some(zone) = &event.zone {
        head.push(format!("zone {}", escape_slack(zone, 100)));
    }
    let subject = escape_slack(&event.subject, 500);
    let message = escape_slack(&event.message, 2000);
    let kind = event.kind.as_str().to_uppercase();
    let first = format!("{marker} *{kind}* {}", head.join(" · "));
    format!("{}\n*{subject}*\n{message}", first.trim_end())
}

/// Slack's escaping of `&`, `<`, `>`, bounded to `max` characters without cutting an entity.
fn escape_slack(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let piece: std::borrow::Cow<str> = match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            c => c.to_string().into(),
        };
        let n = piece.chars().count();
        if used + n > max.saturating_sub(1) {
            out.push('…');
            break;
        }
        used += n;
        out.push_str(&piece);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

/// The Alertmanager webhook payload, version 4, as Alertmanager itself would POST it for a group
/// `{cluster=...}`: one alert per event; new, reminder and appeared drift fire, resolutions and
/// vanished drift are resolved (`endsAt` = the run's start). The group fires if any alert does.
pub fn alertmanager_body(message: &AlertMessage) -> Vec<u8> {
    let alerts: Vec<AmAlert> = message.events.iter().map(|e| AmAlert::of(message, e)).collect();
    let status = if alerts.iter().any(|a| a.firing) { "firing" } else { "resolved" };
    let group_labels = BTreeMap::from([("cluster".to_string(), message.cluster.clone())]);
    let body = json!({
        "version": "4",
        "groupKey": format!("{{}}:{{cluster={:?}}}", message.cluster),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": message.channel,
        "groupLabels": group_labels,
        "commonLabels": common(alerts.iter().map(|a| &a.labels)),
        "commonAnnotations": common(alerts.iter().map(|a| &a.annotations)),
        "externalURL": "",
        "alerts": alerts.iter().map(AmAlert::to_json).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&body).expect("JSON serialises")
}

struct AmAlert {
    firing: bool,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    fingerprint: String,
}

impl AmAlert {
    fn of(message: &AlertMessage, event: &AlertEvent) -> AmAlert {
        let firing = match event.kind {
            EventKind::New | EventKind::Reminder => true,
            EventKind::Resolved => false,
            EventKind::Drift => !event.message.starts_with("vanished"),
        };
        let alertname = event.rule_id.clone().unwrap_or_else(|| DRIFT_ALERTNAME.to_string());
        let mut labels = BTreeMap::from([
            ("alertname".to_string(), alertname),
            ("severity".to_string(), event.routing_severity().as_str().to_string()),
            ("cluster".to_string(), message.cluster.clone()),
            ("subject".to_string(), event.subject.clone()),
        ]);
        if let Some(zone) = &event.zone {
            labels.insert("zone".into(), zone.clone());
        }
        let annotations = BTreeMap::from([
            ("summary".to_string(), event.subject.clone()),
            ("description".to_string(), event.message.clone()),
            ("event".to_string(), event.kind.as_str().to_string()),
            ("key".to_string(), event.key.clone()),
        ]);
        AmAlert {
            firing,
            labels,
            annotations,
            starts_at: event.since.unwrap_or(message.run_started_at).min(message.run_started_at),
            ends_at: (!firing).then_some(message.run_started_at),
            fingerprint: fingerprint(&message.cluster, &event.key),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "status": if self.firing { "firing" } else { "resolved" },
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "endsAt": self.ends_at.map(rfc3339).unwrap_or_else(|| GO_ZERO_TIME.to_string()),
            "generatorURL": "",
            "fingerprint": self.fingerprint,
        })
    }
}

/// 16 hex digits, like Alertmanager's: the same event (cluster and key) always gets the same one.
pub fn fingerprint(cluster: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(cluster.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// The pairs every map has (Alertmanager's commonLabels / commonAnnotations).
fn common<'a>(mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else { return BTreeMap::new() };
    let mut common = first.clone();
    for map in maps {
        common.retain(|k, v| map.get(k) == Some(v));
    }
    common
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A webhook receiver for tests, reusable by the delivery loop's tests.
///
/// Plain HTTP/1.1 on 127.0.0.1 (port from binding port 0), one request per connection
/// (`Connection: close`). It records every request it reads, headers and exact body bytes,
/// before it answers, so a request the client gave up on still counts as received. Each request
/// takes the next [`Reply`] of the script, in arrival order; once the script is used up it
/// answers 200.
///
/// ```ignore
/// let down = testkit::unused_port();                 // nothing listens: connection refused
/// let url = testkit::url_on(down);                   // path carries a fake Slack-like token
/// /* ...first attempt fails transiently... */
/// let receiver = Receiver::start_on(down, vec![Reply::Status(500), Reply::Stall(Duration::from_secs(5))]);
/// /* ...500, then a timeout (received!), then 200 ... */
/// assert_eq!(receiver.accepted_idempotency_keys(), vec![key]);   // delivered exactly once
/// assert_eq!(receiver.distinct_idempotency_keys().len(), 1);       // every attempt: one key
/// ```
#[cfg(test)]
pub(crate) mod testkit {
    use std::collections::{BTreeSet, VecDeque};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// The path of every receiver URL: shaped like a Slack webhook, with a token that no error
    /// or Debug output may contain.
    pub const TOKEN_PATH: &str = "/services/T000/B000/XXXSECRETXXX";
    pub const TOKEN: &str = "XXXSECRETXXX";

    /// How the receiver answers one request.
    #[derive(Debug, Clone)]
    pub enum Reply {
        /// This status, empty body.
        Status(u16),
        /// This status and body.
        Body(u16, String),
        /// Say nothing for this long, then close: longer than the client's timeout, it times out.
        Stall(Duration),
        /// Close the connection without answering.
        Hangup,
    }

    /// One request as received.
    #[derive(Debug, Clone)]
    pub struct Request {
        pub method: String,
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
        /// The status it was answered with (`None`: stalled or hung up).
        pub answered: Option<u16>,
    }

    impl Request {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).expect("request body is JSON")
        }

        pub fn idempotency_key(&self) -> Option<&str> {
            self.header(super::IDEMPOTENCY_HEADER)
        }
    }

    /// A running receiver; it stops accepting when dropped.
    pub struct Receiver {
        port: u16,
        requests: Arc<Mutex<Vec<Request>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// A loopback port with nothing listening on it (bound, then released): a receiver that is
    /// down, until [`Receiver::start_on`] brings it up on that port.
    pub fn unused_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.local_addr().expect("local address").port()
    }

    /// The receiver URL on `port`.
    pub fn url_on(port: u16) -> String {
        format!("http://127.0.0.1:{port}{TOKEN_PATH}")
    }

    impl Receiver {
        /// Listen on a fresh loopback port. Call inside a Tokio runtime.
        pub fn start(script: Vec<Reply>) -> Receiver {
            Receiver::start_on(0, script)
        }

        /// Listen on `port` (0: any).
        pub fn start_on(port: u16, script: Vec<Reply>) -> Receiver {
            let std_listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
            std_listener.set_nonblocking(true).expect("non-blocking listener");
            let listener = TcpListener::from_std(std_listener).expect("listener in the Tokio runtime");
            let port = listener.local_addr().expect("local address").port();
            let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
            let script = Arc::new(Mutex::new(VecDeque::from(script)));
            let seen = requests.clone();
            let task = tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (seen, script) = (seen.clone(), script.clone());
                    tokio::spawn(serve(tcp, seen, script));
                }
            });
            Receiver { port, requests, task }
        }

        pub fn url(&self) -> String {
            url_on(self.port)
        }

        /// Every request read so far, in arrival order.
        pub fn requests(&self) -> Vec<Request> {
            self.requests.lock().unwrap().clone()
        }

        /// The idempotency keys of all requests, each once.
        pub fn distinct_idempotency_keys(&self) -> BTreeSet<String> {
            self.requests().iter().filter_map(|r| r.idempotency_key().map(str::to_string)).collect()
        }

        /// The idempotency keys of the requests answered 2xx, in order, repeats kept: "zero lost,
        /// zero duplicated" is this list holding each expected key exactly once.
        pub fn accepted_idempotency_keys(&self) -> Vec<String> {
            self.requests()
                .iter()
                .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
                .filter_map(|r| r.idempotency_key().map(str::to_string))
                .collect()
        }
    }

    async fn serve(mut tcp: TcpStream, seen: Arc<Mutex<Vec<Request>>>, script: Arc<Mutex<VecDeque<Reply>>>) {
        let Some(mut request) = read_request(&mut tcp).await else { return };
        let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
        let (status, body) = match &reply {
            Reply::Status(s) => (Some(*s), String::new()),
            Reply::Body(s, b) => (Some(*s), b.clone()),
            Reply::Stall(_) | Reply::Hangup => (None, String::new()),
        };
        request.answered = status;
        seen.lock().unwrap().push(request);
        match (reply, status) {
            (Reply::Stall(d), _) => tokio::time::sleep(d).await,
            (_, Some(status)) => {
                let reason = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Unknown");
                let head = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(body.as_bytes()).await;
                let _ = tcp.shutdown().await;
            }
            _ => {}
        }
    }

    async fn read_request(tcp: &mut TcpStream) -> Option<Request> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = tcp.read(&mut chunk).await.ok()?;
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
            let n = tcp.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some(Request { method, path, headers, body, answered: None })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use serde_json::Value;

    use super::testkit::{Receiver, Reply, TOKEN, unused_port, url_on};
    use super::*;
    use crate::alert::sample::night_two;
    use crate::config::{SecretRef, WebhookUrl};

    /// The HMAC secret the tests configure; no error or Debug output may contain it.
    const SECRET: &str = "hm4c-Secret-f0r-tests";

    fn provider() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    fn target(format: WebhookFormat, url: &str, secret_dir: Option<&Path>) -> WebhookTarget {
        let secret = secret_dir.map(|dir| {
            let path = dir.join("webhook-secret");
            // As an operator writes it: with a trailing newline, which is not part of the key.
            std::fs::write(&path, format!("{SECRET}\n")).expect("secret file");
            SecretRef::File(path)
        });
        WebhookTarget { format, url: WebhookUrl::Inline(url.to_string()), secret, ca_file: None }
    }

    async fn deliver(target: &WebhookTarget, timeout: Duration) -> Result<(), DeliveryError> {
        provider();
        let client = client(target, timeout).expect("client");
        send(&client, target, &night_two("ops-webhook")).await
    }

    /// The same event as night 2's route leak, resolved on night 3.
    fn night_three(channel: &str) -> AlertMessage {
        let mut m = night_two(channel);
        m.run_id = 3;
        m.run_started_at = "2026-11-26T02:00:00Z".parse().unwrap();
        m.idempotency_key = AlertMessage::idempotency_key_for(&m.cluster, 3, channel);
        m.events.truncate(1);
        m.events[0].kind = EventKind::Resolved;
        m.events[0].since = Some(night_two(channel).run_started_at);
        m
    }

    fn text(e: &DeliveryError) -> String {
        match e {
            DeliveryError::Transient(t) | DeliveryError::Permanent(t) => t.clone(),
        }
    }

    /// HMAC-SHA256 by the `openssl` CLI, a different implementation than the one under test.
    fn openssl_hmac(key: &str, body: &[u8]) -> String {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-hmac", key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the openssl CLI is needed for this test: apt-get install openssl");
        child.stdin.take().unwrap().write_all(body).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        // `SHA2-256(stdin)= <hex>` (openssl 3) or `(stdin)= <hex>`.
        String::from_utf8(out.stdout).unwrap().split_whitespace().last().unwrap().to_string()
    }

    #[tokio::test]
    async fn generic_post_is_signed_over_the_exact_body_and_carries_the_idempotency_key() {
        let receiver = Receiver::start(vec![]);
        let dir = tempfile::tempdir().unwrap();
        let target = target(WebhookFormat::Generic, &receiver.url(), Some(dir.path()));
        deliver(&target, Duration::from_secs(5)).await.expect("delivered");

        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", testkit::TOKEN_PATH));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.idempotency_key(), Some(night_two("ops-webhook").idempotency_key.as_str()));
        assert_eq!(r.header("user-agent"), Some(concat!("zoneaudit/", env!("CARGO_PKG_VERSION"))));
        let expected = format!("sha256={}", openssl_hmac(SECRET, &r.body));
        assert_eq!(r.header("x-zoneaudit-signature"), Some(expected.as_str()));
        assert_eq!(r.body, generic_body(&night_two("ops-webhook")), "the body is the generic payload");
        let mut tampered = r.body.clone();
        tampered[10] ^= 1;
        assert_ne!(format!("sha256={}", openssl_hmac(SECRET, &tampered)), expected);
    }

    #[tokio::test]
    async fn without_a_secret_there_is_no_signature_header() {
        let receiver = Receiver::start(vec![]);
        for format in [WebhookFormat::Generic, WebhookFormat::Slack, WebhookFormat::Alertmanager] {
            deliver(&target(format, &receiver.url(), None), Duration::from_secs(5)).await.expect("delivered");
        }
        let requests = receiver.requests();
        assert_eq!(requests.len(), 3);
        for r in &requests {
            assert_eq!(r.header("x-zoneaudit-signature"), None);
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert!(r.idempotency_key().is_some_and(|k| k.starts_with("zoneaudit-")));
        }
        assert_eq!(requests[1].json()["text"], "[zoneaudit] demo-dc1: 2 new, 1 drift (worst: critical)");
        assert_eq!(requests[2].json()["version"], "4");
    }

    #[test]
    fn generic_body_validates_against_the_published_schema() {
        let schema: Value = serde_json::from_str(include_str!("../../reports/alert.schema.json")).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["$id"], SCHEMA);
        let mut body: Value = serde_json::from_slice(&generic_body(&night_two("ops"))).unwrap();
        let errors = mini_schema::check(&schema, &schema, &body);
        assert!(errors.is_empty(), "{errors:#?}");
        let resolved: Value = serde_json::from_slice(&generic_body(&night_three("ops"))).unwrap();
        assert!(mini_schema::check(&schema, &schema, &resolved).is_empty());

        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.first().map(|k| k.as_str()), Some("schema"), "schema first: {keys:?}");
        assert_eq!(
            body["summary"],
            serde_json::json!({"new": 2, "resolved": 0, "drift": 1, "reminder": 0, "worst": "critical",
                "headline": "[zoneaudit] demo-dc1: 2 new, 1 drift (worst: critical)"})
        );
        assert_eq!(body["events"][2]["severity"], Value::Null);
        assert_eq!(body["runStartedAt"], "2026-11-25T02:00:00Z");

        // The check has teeth: an unknown kind and an undeclared property are caught.
        body["events"][0]["kind"] = "appeared".into();
        body["summary"]["extra"] = 1.into();
        let errors = mini_schema::check(&schema, &schema, &body);
        assert!(errors.iter().any(|e| e.starts_with("/events/0/kind")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("/summary/extra")), "{errors:#?}");
    }

    #[test]
    fn slack_body_has_a_fallback_text_and_escaped_mrkdwn_blocks() {
        let body: Value = serde_json::from_slice(&slack_body(&night_two("ops"))).expect("valid JSON");
        assert_eq!(body["text"], "[zoneaudit] demo-dc1: 2 new, 1 drift (worst: critical)");
        let blocks = body["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        assert!(blocks[0]["text"]["text"].as_str().unwrap().contains(body["text"].as_str().unwrap()));
        let sections: Vec<&str> = blocks
            .iter()
            .filter(|b| b["type"] == "section")
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(sections.len(), 4, "headline and one section per event");
        assert!(sections[1].contains("*NEW* critical · ZI-ROUTE-LEAK · zone yellow"), "{}", sections[1]);
        assert!(sections[1].contains("&lt;b&gt;&amp;&lt;/b&gt;"), "{}", sections[1]);
        assert!(sections[2].contains("yellow-rr1&lt;-&gt;172.31.20.21"), "{}", sections[2]);
        assert!(sections[3].contains("*DRIFT*") && sections[3].contains("appeared"), "{}", sections[3]);
        let raw = String::from_utf8(slack_body(&night_two("ops"))).unwrap();
        assert!(!raw.contains("<b>") && !raw.contains("<->"), "no unescaped markup: {raw}");
        let context = blocks.last().unwrap();
        assert_eq!(context["type"], "context");
        assert!(context["elements"][0]["text"].as_str().unwrap().contains("run 2"));
    }

    #[test]
    fn slack_body_stays_within_slack_limits() {
        let mut m = night_two("ops");
        let template = m.events[0].clone();
        m.events = (0..120)
            .map(|i| AlertEvent { key: format!("k{i}"), message: "&".repeat(5000), ..template.clone() })
            .collect();
        let body: Value = serde_json::from_slice(&slack_body(&m)).unwrap();
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), SLACK_MAX_BLOCKS);
        for b in blocks.iter().filter(|b| b["type"] == "section") {
            let t = b["text"]["text"].as_str().unwrap();
            assert!(t.chars().count() <= SLACK_SECTION_CHARS, "{} chars", t.chars().count());
            assert!(!t.contains("&amp…") && !t.contains("&a…"), "no entity cut in half");
        }
        let more = blocks[blocks.len() - 2]["text"]["text"].as_str().unwrap();
        assert!(more.contains("and 73 more events"), "{more}");
    }

    #[test]
    fn alertmanager_body_is_version_4_with_firing_and_resolved_alerts_and_stable_fingerprints() {
        let two: Value = serde_json::from_slice(&alertmanager_body(&night_two("ops-am"))).unwrap();
        for field in [
            "version",
            "groupKey",
            "truncatedAlerts",
            "status",
            "receiver",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "alerts",
        ] {
            assert!(two.get(field).is_some(), "{field} missing: {two:#}");
        }
        assert_eq!(two["version"], "4");
        assert_eq!(two["status"], "firing");
        assert_eq!(two["receiver"], "ops-am");
        assert_eq!(two["groupLabels"], serde_json::json!({"cluster": "demo-dc1"}));
        assert_eq!(two["commonLabels"]["cluster"], "demo-dc1");
        assert_eq!(two["commonLabels"]["zone"], "yellow");
        assert_eq!(two["truncatedAlerts"], 0);
        let alerts = two["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 3);
        let leak = &alerts[0];
        assert_eq!(leak["status"], "firing");
        assert_eq!(leak["labels"]["alertname"], "ZI-ROUTE-LEAK");
        assert_eq!(leak["labels"]["severity"], "critical");
        assert_eq!(leak["labels"]["subject"], "leaf1/YELLOW/10.20.1.0/26");
        assert_eq!(leak["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(leak["startsAt"], "2026-11-25T02:00:00Z");
        for a in alerts {
            let fp = a["fingerprint"].as_str().unwrap();
            assert!(fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit()), "{fp}");
            for k in ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]
            {
                assert!(a.get(k).is_some(), "{k} missing: {a:#}");
            }
        }
        assert_eq!(alerts[2]["labels"]["alertname"], DRIFT_ALERTNAME);
        assert_eq!(alerts[2]["labels"]["severity"], "medium");
        assert_eq!(alerts[2]["status"], "firing", "an appeared item fires");
        let fps: std::collections::BTreeSet<&str> =
            alerts.iter().map(|a| a["fingerprint"].as_str().unwrap()).collect();
        assert_eq!(fps.len(), 3, "distinct events, distinct fingerprints");

        let three: Value = serde_json::from_slice(&alertmanager_body(&night_three("ops-am"))).unwrap();
        assert_eq!(three["status"], "resolved", "nothing fires any more");
        let resolved = &three["alerts"][0];
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["endsAt"], "2026-11-26T02:00:00Z", "ends at the run that saw it gone");
        assert_eq!(resolved["fingerprint"], leak["fingerprint"], "same event, same fingerprint");
        assert_eq!(resolved["labels"], leak["labels"]);
    }

    #[test]
    fn vanished_topology_is_a_resolved_alert() {
        let mut m = night_two("ops");
        m.events[2].message = "vanished since the baseline (run 1)".into();
        let body: Value = serde_json::from_slice(&alertmanager_body(&m)).unwrap();
        assert_eq!(body["alerts"][2]["status"], "resolved");
        assert_eq!(body["alerts"][2]["endsAt"], "2026-11-25T02:00:00Z");
        assert_eq!(body["status"], "firing", "the two new findings still fire");
    }

    #[tokio::test]
    async fn http_500_408_429_are_transient_and_400_404_permanent() {
        let receiver = Receiver::start(vec![
            Reply::Status(500),
            Reply::Status(503),
            Reply::Status(408),
            Reply::Status(429),
            Reply::Body(400, "invalid_payload".into()),
            Reply::Status(404),
            Reply::Status(301),
        ]);
        let target = target(WebhookFormat::Slack, &receiver.url(), None);
        let mut outcomes = Vec::new();
        for _ in 0..7 {
            outcomes.push(deliver(&target, Duration::from_secs(5)).await.unwrap_err());
        }
        for (e, status) in outcomes[..4].iter().zip([500, 503, 408, 429]) {
            assert_eq!(e, &DeliveryError::Transient(format!("webhook ops-webhook (slack): HTTP {status}")));
        }
        assert_eq!(
            outcomes[4],
            DeliveryError::Permanent("webhook ops-webhook (slack): HTTP 400: invalid_payload".into())
        );
        assert!(outcomes[5].is_permanent() && text(&outcomes[5]).ends_with("HTTP 404"), "{:?}", outcomes[5]);
        assert!(outcomes[6].is_permanent() && text(&outcomes[6]).contains("redirects are not followed"));
        assert_eq!(receiver.requests().len(), 7, "no retry inside send");
    }

    #[tokio::test]
    async fn a_receiver_that_does_not_answer_in_time_is_transient() {
        let receiver = Receiver::start(vec![Reply::Stall(Duration::from_secs(6))]);
        let target = target(WebhookFormat::Generic, &receiver.url(), None);
        let e = deliver(&target, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(e, DeliveryError::Transient("webhook ops-webhook (generic): timed out after 1s".into()));
        assert_eq!(receiver.requests().len(), 1, "the request did arrive");

        // The retry is recognisable as the same message: one key, accepted once.
        deliver(&target, Duration::from_secs(1)).await.expect("answered this time");
        assert_eq!(receiver.requests().len(), 2);
        assert_eq!(receiver.distinct_idempotency_keys().len(), 1);
        assert_eq!(receiver.accepted_idempotency_keys(), vec![night_two("ops-webhook").idempotency_key]);
    }

    #[tokio::test]
    async fn a_receiver_that_hangs_up_is_transient() {
        let receiver = Receiver::start(vec![Reply::Hangup]);
        let target = target(WebhookFormat::Generic, &receiver.url(), None);
        let e = deliver(&target, Duration::from_secs(5)).await.unwrap_err();
        assert!(!e.is_permanent(), "{e:?}");
        assert!(text(&e).starts_with("webhook ops-webhook (generic): request failed"), "{e}");
    }

    #[tokio::test]
    async fn a_receiver_that_is_down_is_transient_until_it_comes_back() {
        let port = unused_port();
        let target = target(WebhookFormat::Alertmanager, &url_on(port), None);
        let e = deliver(&target, Duration::from_secs(5)).await.unwrap_err();
        assert!(!e.is_permanent(), "{e:?}");
        assert!(text(&e).starts_with("webhook ops-webhook (alertmanager): could not connect"), "{e}");

        let receiver = Receiver::start_on(port, vec![]);
        deliver(&target, Duration::from_secs(5)).await.expect("delivered once it is up");
        assert_eq!(receiver.accepted_idempotency_keys(), vec![night_two("ops-webhook").idempotency_key]);
    }

    #[tokio::test]
    async fn neither_the_url_nor_the_secret_appears_in_errors_or_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let echo = format!("Cannot POST {} (secret {SECRET})", testkit::TOKEN_PATH);
        let receiver = Receiver::start(vec![
            Reply::Status(500),
            Reply::Status(400),
            Reply::Body(404, echo),
            Reply::Stall(Duration::from_secs(6)),
            Reply::Hangup,
        ]);
        let with_query = format!("{}?token={TOKEN}", receiver.url());
        let up = target(WebhookFormat::Generic, &with_query, Some(dir.path()));
        let down = target(WebhookFormat::Generic, &url_on(unused_port()), Some(dir.path()));
        let bad_scheme = target(WebhookFormat::Slack, &format!("ftp://h{}", testkit::TOKEN_PATH), None);
        let not_a_url =
            target(WebhookFormat::Slack, &format!("hooks.slack.com{}", testkit::TOKEN_PATH), None);
        let mut texts = vec![format!("{up:?}"), format!("{down:?}")];
        let mut errors = Vec::new();
        for _ in 0..5 {
            errors.push(deliver(&up, Duration::from_secs(1)).await.unwrap_err());
        }
        errors.push(deliver(&down, Duration::from_secs(1)).await.unwrap_err());
        errors.push(deliver(&bad_scheme, Duration::from_secs(1)).await.unwrap_err());
        errors.push(deliver(&not_a_url, Duration::from_secs(1)).await.unwrap_err());
        provider();
        texts.push(format!("{:?}", client(&up, Duration::from_secs(1)).unwrap()));
        for e in &errors {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
        }
        for t in &texts {
            assert!(!t.contains(TOKEN), "URL token leaked: {t}");
            assert!(!t.contains(SECRET), "HMAC secret leaked: {t}");
            assert!(!t.contains("127.0.0.1"), "URL leaked: {t}");
        }
        assert!(
            text(&errors[2]).starts_with("webhook ops-webhook (generic): HTTP 404: Cannot POST [redacted]")
        );
        assert!(errors[6].is_permanent() && errors[7].is_permanent(), "{errors:?}");
        assert_eq!(receiver.requests().len(), 5);
    }

    #[tokio::test]
    async fn a_missing_secret_file_is_permanent_and_sends_nothing() {
        let receiver = Receiver::start(vec![]);
        let mut target = target(WebhookFormat::Generic, &receiver.url(), None);
        target.secret = Some(SecretRef::File("no-such-dir/webhook-secret".into()));
        let e = deliver(&target, Duration::from_secs(5)).await.unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        assert!(text(&e).starts_with("webhook ops-webhook (generic): cannot read the secret"), "{e}");
        assert!(receiver.requests().is_empty(), "an unsigned body is never sent");
    }

    #[tokio::test]
    async fn https_is_verified_against_the_system_roots_and_the_ca_file() {
        use crate::collect::live::http::double::{Pki, Reply as TlsReply, Server};
        provider();
        let pki = Pki::new();
        let server = Server::start(&pki, |_, _| TlsReply::status(204, "")).await;
        let mut target = target(WebhookFormat::Generic, &server.url(testkit::TOKEN_PATH), None);

        let e = deliver(&target, Duration::from_secs(5)).await.unwrap_err();
        assert!(e.is_permanent(), "an unknown CA does not get better by retrying: {e:?}");
        assert!(text(&e).contains("certificate verification failed") && text(&e).contains("caFile"), "{e}");
        assert!(!text(&e).contains(TOKEN), "{e}");

        target.ca_file = Some(pki.ca_file());
        deliver(&target, Duration::from_secs(5)).await.expect("delivered over verified TLS");
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].path, testkit::TOKEN_PATH);
        assert!(requests[0].header("idempotency-key").is_some());
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_a_permanent_error() {
        provider();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let mut t = target(WebhookFormat::Generic, "https://127.0.0.1/x", None);
        t.ca_file = Some(path);
        let e = client(&t, Duration::from_secs(1)).unwrap_err();
        assert!(e.is_permanent() && text(&e).contains("caFile"), "{e:?}");
        t.ca_file = Some(dir.path().join("missing.pem"));
        assert!(client(&t, Duration::from_secs(1)).unwrap_err().is_permanent());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// Just enough JSON Schema (type, enum, const, minimum, properties, required,
    /// additionalProperties, items, $ref, anyOf; not pattern or format) to hold the published
    /// schema to the serialiser. Like the run report's checker in `evidence/report.rs`, which is
    /// private to that module's tests.
    mod mini_schema {
        use serde_json::Value;

        pub fn check(root: &Value, schema: &Value, value: &Value) -> Vec<String> {
            check_at(root, schema, value, "")
        }

        fn check_at(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                return match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                    Some(s) => check_at(root, s, value, at),
                    None => vec![format!("{at}: unresolved $ref {r}")],
                };
            }
            let mut errors = Vec::new();
            if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
                && !any.iter().any(|s| check_at(root, s, value, at).is_empty())
            {
                errors.push(format!("{at}: matches no anyOf branch"));
            }
            if let Some(types) = schema.get("type") {
                let names: Vec<&str> = match types {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !names.iter().any(|t| is_type(t, value)) {
                    errors.push(format!("{at}: {value} is not {names:?}"));
                    return errors;
                }
            }
            if let Some(options) = schema.get("enum").and_then(Value::as_array)
                && !options.contains(value)
            {
                errors.push(format!("{at}: {value} not in enum"));
            }
            if let Some(c) = schema.get("const")
                && c != value
            {
                errors.push(format!("{at}: {value} is not {c}"));
            }
            if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64())
                && n < min
            {
                errors.push(format!("{at}: {n} < {min}"));
            }
            if let Value::Object(map) = value {
                for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(k) = req.as_str()
                        && !map.contains_key(k)
                    {
                        errors.push(format!("{at}/{k}: required"));
                    }
                }
                let props = schema.get("properties").and_then(Value::as_object);
                for (k, v) in map {
                    let here = format!("{at}/{k}");
                    match (props.and_then(|p| p.get(k)), schema.get("additionalProperties")) {
                        (Some(s), _) => errors.extend(check_at(root, s, v, &here)),
                        (None, Some(Value::Bool(false))) => errors.push(format!("{here}: not allowed")),
                        (None, Some(s @ Value::Object(_))) => errors.extend(check_at(root, s, v, &here)),
                        _ => {}
                    }
                }
            }
            if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
                for (i, v) in items.iter().enumerate() {
                    errors.extend(check_at(root, s, v, &format!("{at}/{i}")));
                }
            }
            errors
        }

        fn is_type(t: &str, v: &Value) -> bool {
            match t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                _ => false,
            }
        }
    }
}
