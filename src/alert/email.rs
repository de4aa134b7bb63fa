//! Email alerts over SMTP (lettre): one message per run per channel, a text part and an HTML
//! alternative, sent with TLS as the channel says and AUTH when it names a user.
//!
//! ```text
//!  AlertMessage ──render_text / render_html──▶ multipart/alternative (text/plain, text/html)
//!        │            Subject: [zoneaudit] demo-dc1: 2 new, 1 drift (worst: critical)
//!        │            Message-ID: <{idempotency key}@zoneaudit>
//!        │            X-Zoneaudit-Idempotency-Key: {idempotency key}
//!        ▼
//!  EmailTarget ──▶ connect ─▶ STARTTLS (required) | TLS from the first byte | plain (tls: none)
//!                  ─▶ AUTH PLAIN/LOGIN (username + password) ─▶ MAIL, RCPT × n, DATA ─▶ QUIT
//! ```
//!
//! TLS is verified against the system roots plus the channel's `caFile`. With `tls: starttls` a
//! server that does not offer STARTTLS gets nothing: lettre refuses before AUTH and MAIL.
//!
//! Exactly-once is the outbox's business ([`crate::alert::deliver`]); this module makes one attempt
//! and says whether another can help: connection refused, timeouts and SMTP 4xx are
//! [`DeliveryError::Transient`]; credentials (535), other 5xx, certificates and a missing STARTTLS
//! are [`DeliveryError::Permanent`]. A timeout after DATA may still have delivered the message:
//! the resend carries the same Message-ID and idempotency header, so mail systems and readers can
//! recognise it. Errors read `smtp HOST:PORT: what happened` and never contain the password.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{AlertEvent, AlertMessage, DeliveryError, EventKind};
use crate::config::{EmailTarget, SmtpTls};
use crate::model::Severity;

/// Carries the idempotency key, so a resend after a crash is recognisable by filters and people.
pub const IDEMPOTENCY_HEADER: &str = "X-Zoneaudit-Idempotency-Key";

/// Send one alert message to every recipient of the channel: one SMTP transaction, at most
/// `timeout` in all (and per network operation).
pub async fn send(
    target: &EmailTarget,
    message: &AlertMessage,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let place = format!("smtp {}:{}", target.host, target.port);
    let permanent = |what: String| DeliveryError::Permanent(format!("{place}: {what}"));
    let password = match (&target.username, &target.password) {
        (Some(_), Some(secret)) => {
            Some(secret.read().map_err(|e| permanent(format!("cannot read the password: {e}")))?)
        }
        _ => None,
    };
    let email = compose(target, message).map_err(permanent)?;
    let transport = transport(target, password.clone(), timeout).map_err(permanent)?;

    let outcome = tokio::time::timeout(timeout, transport.send(email)).await;
    // QUIT politely; the outcome is already known, so a slow goodbye is cut short.
    let _ = tokio::time::timeout(timeout, transport.shutdown()).await;
    match outcome {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(classify(&place, &e, password.as_deref())),
        Err(_) => Err(DeliveryError::Transient(format!(
            "{place}: timed out after {}",
            humantime::format_duration(timeout)
        ))),
    }
}

/// The message as the recipients get it: headers from the alert, text plus HTML alternative.
fn compose(target: &EmailTarget, message: &AlertMessage) -> Result<Message, String> {
    let mailbox = |address: &str, field: &str| {
        address.parse::<Mailbox>().map_err(|e| format!("invalid {field} address {address:?}: {e}"))
    };
    let key = &message.idempotency_key;
    let mut builder = Message::builder()
        .from(mailbox(&target.from, "from")?)
        .subject(one_line(&message.subject_line()))
        .message_id(Some(format!("<{key}@zoneaudit>")))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER), key.clone()));
    for to in &target.to {
        builder = builder.to(mailbox(to, "to")?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(render_text(message), render_html(message)))
        .map_err(|e| format!("cannot build the message: {e}"))
}

fn transport(
    target: &EmailTarget,
    password: Option<String>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match target.tls {
        SmtpTls::StartTls => Tls::Required(tls_parameters(target)?),
        SmtpTls::Implicit => Tls::Wrapper(tls_parameters(target)?),
        SmtpTls::None => Tls::None,
    };
    // `builder_dangerous` only means "no TLS unless told": TLS is set just below.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.as_str())
        .port(target.port)
        .tls(tls)
        .timeout(Some(timeout))
        .pool_config(PoolConfig::new().max_size(1).min_idle(0));
    if let (Some(user), Some(password)) = (&target.username, password) {
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// System roots plus the channel's CA file.
fn tls_parameters(target: &EmailTarget) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(target.host.clone());
    if let Some(path) = &target.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read caFile {}: {e}", path.display()))?;
        // lettre accepts a file without any certificate; that would only fail later, as an
        // unknown issuer, far from the real mistake.
        if !CertificateDer::pem_slice_iter(&pem).any(|c| c.is_ok()) {
            return Err(format!("caFile {} holds no PEM certificate", path.display()));
        }
        let ca = Certificate::from_pem(&pem).map_err(|e| format!("caFile {}: {e}", path.display()))?;
        builder = builder.add_root_certificate(ca);
    }
    builder.build().map_err(|e| format!("TLS setup failed: {e}"))
}

/// Whether another attempt can help, and what happened in words an operator can act on.
fn classify(place: &str, err: &lettre::transport::smtp::Error, password: Option<&str>) -> DeliveryError {
    let detail = err.to_string();
    let (permanent, what) = if let Some(code) = err.status() {
        match code.to_string().as_str() {
            // 530 authentication required, 534 mechanism too weak, 535 invalid credentials,
            // 538 encryption required for the mechanism.
            "530" | "534" | "535" | "538" => (true, format!("authentication failed: {detail}")),
            _ if err.is_transient() => (false, format!("server deferred the message: {detail}")),
            _ => (true, format!("server refused the message: {detail}")),
        }
    } else if let Some(tls) = rustls_error(err) {
        let hint = match tls {
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                " (unknown issuer: set caFile to the CA that signed the server's certificate)"
            }
            _ => "",
        };
        let what = match tls {
            rustls::Error::InvalidCertificate(_) => "TLS certificate verification failed",
            _ => "TLS handshake failed",
        };
        (true, format!("{what}: {tls}{hint}"))
    } else if err.is_tls() {
        (true, format!("TLS failed: {detail}"))
    } else if err.is_client() {
        let what = if detail.contains("STARTTLS") {
            "the server does not offer STARTTLS; refusing to send without TLS (tls: starttls)".to_string()
        } else if detail.contains("authentication mechanism") {
            "authentication failed: the server offers no mechanism zoneaudit speaks (PLAIN, LOGIN)"
                .to_string()
        } else {
            detail
        };
        (true, what)
    } else if err.is_timeout() {
        (false, format!("timed out: {}", source_text(err)))
    } else if err.is_response() {
        (false, format!("unreadable answer: {detail}"))
    } else {
        (false, format!("connection failed: {}", source_text(err)))
    };
    // Belt and braces: no server echoes a password, but an error must never carry one.
    let what = match password {
        Some(p) if !p.is_empty() => what.replace(p, "(redacted)"),
        _ => what,
    };
    let text = format!("{place}: {what}");
    if permanent { DeliveryError::Permanent(text) } else { DeliveryError::Transient(text) }
}

/// The innermost useful text: lettre's own wording ("Connection error") says nothing new.
fn source_text(err: &lettre::transport::smtp::Error) -> String {
    std::error::Error::source(err).map(|s| s.to_string()).unwrap_or_else(|| err.to_string())
}

/// lettre reports TLS handshake failures as connection errors; the rustls error inside says
/// whether the certificate was refused.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error::source` skips the wrapped error itself; `get_ref` does not.
        if let Some(tls) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

fn heading(kind: EventKind) -> &'static str {
    match kind {
        EventKind::New => "New findings",
        EventKind::Resolved => "Resolved findings",
        EventKind::Drift => "Topology drift against the accepted baseline",
        EventKind::Reminder => "Still open (reminder)",
    }
}

/// What `since` means for each kind (see [`AlertEvent::since`]).
fn since_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Resolved => "last seen",
        _ => "since",
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn events_of(message: &AlertMessage, kind: EventKind) -> Vec<&AlertEvent> {
    message.events.iter().filter(|e| e.kind == kind).collect()
}

/// `2 new, 1 drift; worst: critical`
fn summary(message: &AlertMessage) -> String {
    let counts = message.counts();
    let parts: Vec<String> =
        EventKind::ALL.iter().filter_map(|k| counts.get(k).map(|n| format!("{n} {}", k.as_str()))).collect();
    let worst = message.worst().map(|s| format!("; worst: {}", s.as_str())).unwrap_or_default();
    format!("{}{worst}", parts.join(", "))
}

/// Network-derived text on one line: a newline in a BGP description must not forge a line of
/// the alert (or a header).
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The plain-text body: the run, then the events grouped by kind (new, resolved, drift,
/// reminder), each with severity, rule, zone, since, subject and message.
pub fn render_text(message: &AlertMessage) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "zoneaudit: cluster {}, run {} started {}",
        one_line(&message.cluster),
        message.run_id,
        timestamp(message.run_started_at)
    );
    let _ = writeln!(out, "{}", summary(message));
    for kind in EventKind::ALL {
        let events = events_of(message, kind);
        if events.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({})", heading(kind), events.len());
        for e in events {
            let mut facts = Vec::new();
            facts.extend(e.severity.map(|s| s.as_str().to_string()));
            facts.extend(e.rule_id.as_deref().map(one_line));
            facts.extend(e.zone.as_deref().map(|z| format!("zone {}", one_line(z))));
            facts.extend(e.since.map(|t| format!("{} {}", since_label(kind), timestamp(t))));
            let _ = writeln!(out, "- {}", facts.join(" | "));
            let _ = writeln!(out, "  {}", one_line(&e.subject));
            let _ = writeln!(out, "  {}", one_line(&e.message));
        }
    }
    let _ = writeln!(
        out,
        "\n-- \nchannel {} | idempotency key {}",
        one_line(&message.channel),
        message.idempotency_key
    );
    out
}

/// HTML-escape text for element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn severity_colour(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Critical) => "#b00020",
        Some(Severity::High) => "#d35400",
        Some(Severity::Medium) => "#b7950b",
        Some(Severity::Low | Severity::Info) => "#2e86c1",
        None => "#555555",
    }
}

/// The HTML alternative: the same content as [`render_text`], one table per kind. Every piece of
/// text is escaped: subjects and messages come from the network (BGP descriptions, device names).
pub fn render_html(message: &AlertMessage) -> String {
    let dash = || "&mdash;".to_string();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;font-size:14px\">\n\
         <h2>zoneaudit: {}</h2>\n<p>Run {} started {}: <strong>{}</strong></p>\n",
        escape(&message.subject_line()),
        escape(&message.cluster),
        message.run_id,
        escape(&timestamp(message.run_started_at)),
        escape(&summary(message)),
    );
    for kind in EventKind::ALL {
        let events = events_of(message, kind);
        if events.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3>{} ({})</h3>\n<table cellpadding=\"4\" style=\"border-collapse:collapse\">\n\
             <tr style=\"text-align:left;border-bottom:1px solid #ccc\"><th>Severity</th><th>Rule</th>\
             <th>Zone</th><th>Subject</th><th>Message</th><th>{}</th></tr>\n",
            heading(kind),
            events.len(),
            if kind == EventKind::Resolved { "Last seen" } else { "Since" },
        );
        for e in events {
            let _ = writeln!(
                out,
                "<tr style=\"vertical-align:top\"><td style=\"color:{};font-weight:bold\">{}</td>\
                 <td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                severity_colour(e.severity),
                e.severity.map(|s| escape(s.as_str())).unwrap_or_else(dash),
                e.rule_id.as_deref().map(escape).unwrap_or_else(dash),
                e.zone.as_deref().map(escape).unwrap_or_else(dash),
                escape(&e.subject),
                escape(&e.message),
                e.since.map(|t| escape(&timestamp(t))).unwrap_or_else(dash),
            );
        }
        out.push_str("</table>\n");
    }
    let _ = write!(
        out,
        "<p style=\"color:#666;font-size:12px\">channel {} | idempotency key {}</p>\n</body></html>\n",
        escape(&message.channel),
        escape(&message.idempotency_key),
    );
    out
}

/// Against a real SMTP server: aiosmtpd, run by `tests/fixtures/smtp/server.py` on 127.0.0.1,
/// with a test CA and server certificate made by the `openssl` CLI.
#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::OnceLock;
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::alert::sample::night_two;
    use crate::config::SecretRef;

    const USER: &str = "alerts@example.test";
    const PASSWORD: &str = "s3cr3t-Smtp-Pa55";
    const WRONG_PASSWORD: &str = "wr0ng-Smtp-Guess";
    const TIMEOUT: Duration = Duration::from_secs(10);

    const INSTALL: &str = "aiosmtpd is needed for the email tests: `python3 -m pip install 'aiosmtpd>=1.4,<2'` \
                           (or `apt-get install -y python3-aiosmtpd` for the system python3)";

    /// The first python that can import aiosmtpd: the one on PATH (pip), else Debian's system
    /// python, which is where `apt-get install python3-aiosmtpd` puts it.
    fn python() -> &'static str {
        static PYTHON: OnceLock<Option<&'static str>> = OnceLock::new();
        PYTHON
            .get_or_init(|| {
                ["python3", "/usr/bin/python3"].into_iter().find(|py| {
                    Command::new(py)
                        .args(["-c", "import aiosmtpd.smtp"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                })
            })
            .unwrap_or_else(|| panic!("{INSTALL}"))
    }

    /// A test CA and a certificate for IP 127.0.0.1 signed by it.
    struct Pki {
        dir: tempfile::TempDir,
    }

    impl Pki {
        fn new() -> Pki {
            let dir = tempfile::tempdir().expect("temporary directory");
            let openssl = |args: &[&str]| {
                let out =
                    Command::new("openssl").args(args).current_dir(dir.path()).output().unwrap_or_else(|e| {
                        panic!("openssl is needed for the email tests (apt-get install -y openssl): {e}")
                    });
                assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            };
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
            let mut ca = vec!["req", "-x509", "-new"];
            ca.extend(ec);
            ca.extend([
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=zoneaudit smtp test CA",
            ]);
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

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum ServerTls {
        StartTls,
        Implicit,
        None,
    }

    /// One aiosmtpd process; killed when dropped.
    struct SmtpServer {
        child: Child,
        port: u16,
        spool: tempfile::TempDir,
    }

    impl SmtpServer {
        /// `port` 0: a free port.
        fn start(pki: &Pki, tls: ServerTls, auth: bool, port: u16) -> SmtpServer {
            let spool = tempfile::tempdir().expect("spool directory");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp/server.py");
            let mut command = Command::new(python());
            command.arg(script).arg("--spool").arg(spool.path()).args(["--port", &port.to_string()]);
            command.args([
                "--tls",
                match tls {
                    ServerTls::StartTls => "starttls",
                    ServerTls::Implicit => "implicit",
                    ServerTls::None => "none",
                },
            ]);
            command.arg("--cert").arg(pki.path("server.pem")).arg("--key").arg(pki.path("server.key"));
            if auth {
                command.args(["--user", USER, "--password", PASSWORD]);
            }
            let log = std::fs::File::create(spool.path().join("server.log")).expect("server log");
            let mut child = command
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("{INSTALL}: {e}"));
            // The server prints `READY <port>` once it listens, or exits (EOF) on failure.
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
            let Some(port) = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()) else {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(spool.path().join("server.log")).unwrap_or_default();
                panic!("the SMTP test server did not start ({INSTALL}):\n{log}");
            };
            SmtpServer { child, port, spool }
        }

        /// Every message received so far, in order of arrival.
        fn received(&self) -> Vec<Value> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.spool.path())
                .expect("spool")
                .map(|e| e.expect("spool entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|p| {
                    serde_json::from_str(&std::fs::read_to_string(p).expect("message file")).expect("JSON")
                })
                .collect()
        }
    }

    impl Drop for SmtpServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn target(port: u16, tls: SmtpTls, ca: Option<PathBuf>, password: Option<PathBuf>) -> EmailTarget {
        EmailTarget {
            host: "127.0.0.1".into(),
            port,
            tls,
            from: "zoneaudit@example.test".into(),
            to: vec!["netsec@example.test".into(), "oncall@example.test".into()],
            username: password.is_some().then(|| USER.to_string()),
            password: password.map(SecretRef::File),
            ca_file: ca,
        }
    }

    /// A password file as an operator writes it (trailing newline).
    fn password_file(dir: &Path, password: &str) -> PathBuf {
        let path = dir.join("smtp-password");
        std::fs::write(&path, format!("{password}\n")).expect("password file");
        path
    }

    fn tls_provider() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    fn part<'a>(mail: &'a Value, content_type: &str) -> &'a str {
        mail["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .find(|p| p["content_type"] == content_type)
            .and_then(|p| p["body"].as_str())
            .unwrap_or_else(|| panic!("no {content_type} part in {mail}"))
    }

    #[tokio::test]
    async fn starttls_with_auth_delivers_once_to_every_recipient_as_text_and_html() {
        tls_provider();
        let pki = Pki::new();
        let server = SmtpServer::start(&pki, ServerTls::StartTls, true, 0);
        let secret = password_file(pki.dir.path(), PASSWORD);
        let target = target(server.port, SmtpTls::StartTls, Some(pki.path("ca.pem")), Some(secret));
        let message = night_two("mail");

        send(&target, &message, TIMEOUT).await.expect("delivered");

        let received = server.received();
        assert_eq!(received.len(), 1, "exactly one message: {received:?}");
        let mail = &received[0];
        assert_eq!(mail["rcpt_tos"], serde_json::json!(["netsec@example.test", "oncall@example.test"]));
        assert_eq!(mail["mail_from"], "zoneaudit@example.test");
        assert_eq!(mail["authenticated_as"], USER);
        assert_eq!(mail["tls"], true);
        assert_eq!(mail["content_type"], "multipart/alternative");
        assert_eq!(mail["subject"], "[zoneaudit] demo-dc1: 2 new, 1 drift (worst: critical)");
        let key = &message.idempotency_key;
        assert_eq!(mail["headers"]["x-zoneaudit-idempotency-key"], key.as_str());
        assert_eq!(mail["headers"]["message-id"], format!("<{key}@zoneaudit>"));
        assert!(mail["headers"]["date"].as_str().is_some_and(|d| !d.is_empty()), "Date header: {mail}");

        let text = part(mail, "text/plain");
        assert!(text.contains("New findings (2)"), "{text}");
        assert!(
            text.contains("critical | ZI-ROUTE-LEAK | zone yellow | since 2026-11-25 02:00 UTC"),
            "{text}"
        );
        assert!(text.contains("leaf1/YELLOW/10.20.1.0/26"), "{text}");
        assert!(text.contains("Topology drift against the accepted baseline (1)"), "{text}");
        assert!(text.find("New findings").unwrap() < text.find("Topology drift").unwrap(), "{text}");

        let html = part(mail, "text/html");
        assert!(html.contains("carries 10.20.1.0/26 of zone blue &lt;b&gt;&amp;&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>&</b>"), "unescaped network text in the HTML: {html}");
        assert!(
            html.contains("ZI-CROSS-ZONE-SESSION") && html.contains("yellow-rr1&lt;-&gt;172.31.20.21"),
            "{html}"
        );
    }

    #[tokio::test]
    async fn implicit_tls_delivers() {
        tls_provider();
        let pki = Pki::new();
        let server = SmtpServer::start(&pki, ServerTls::Implicit, true, 0);
        let secret = password_file(pki.dir.path(), PASSWORD);
        let target = target(server.port, SmtpTls::Implicit, Some(pki.path("ca.pem")), Some(secret));

        send(&target, &night_two("mail"), TIMEOUT).await.expect("delivered over implicit TLS");

        let received = server.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0]["tls"], true);
        assert_eq!(received[0]["authenticated_as"], USER);
    }

    #[tokio::test]
    async fn a_wrong_password_is_permanent_and_never_shown() {
        tls_provider();
        let pki = Pki::new();
        let server = SmtpServer::start(&pki, ServerTls::StartTls, true, 0);
        let secret = password_file(pki.dir.path(), WRONG_PASSWORD);
        let target = target(server.port, SmtpTls::StartTls, Some(pki.path("ca.pem")), Some(secret));

        let err = send(&target, &night_two("mail"), TIMEOUT).await.expect_err("refused");

        assert!(err.is_permanent(), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("smtp 127.0.0.1:{}: authentication failed", server.port)),
            "{text}"
        );
        assert!(text.contains("535"), "{text}");
        for shown in [text, format!("{err:?}")] {
            assert!(!shown.contains(WRONG_PASSWORD) && !shown.contains(PASSWORD), "password in {shown}");
        }
        assert!(server.received().is_empty());
    }

    #[tokio::test]
    async fn an_unreadable_password_file_is_permanent_and_named() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let missing = dir.path().join("no-such-password");
        // Nothing listens there: the password is read before any connection.
        let target = target(9, SmtpTls::StartTls, None, Some(missing.clone()));

        let err = send(&target, &night_two("mail"), TIMEOUT).await.expect_err("no password");

        assert!(err.is_permanent(), "{err:?}");
        assert!(err.to_string().starts_with("smtp 127.0.0.1:9: cannot read the password: "), "{err}");
        assert!(err.to_string().contains(&missing.display().to_string()), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_transient_and_the_next_send_after_it_comes_up_delivers() {
        tls_provider();
        let pki = Pki::new();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            listener.local_addr().expect("address").port()
        };
        let secret = password_file(pki.dir.path(), PASSWORD);
        let target = target(port, SmtpTls::StartTls, Some(pki.path("ca.pem")), Some(secret));
        let message = night_two("mail");

        let err = send(&target, &message, TIMEOUT).await.expect_err("nothing listens");
        assert!(!err.is_permanent(), "{err:?}");
        assert!(err.to_string().starts_with(&format!("smtp 127.0.0.1:{port}: connection failed")), "{err}");

        let server = SmtpServer::start(&pki, ServerTls::StartTls, true, port);
        send(&target, &message, TIMEOUT).await.expect("delivered once the server is up");
        assert_eq!(server.received().len(), 1);
    }

    #[tokio::test]
    async fn without_the_ca_file_the_certificate_is_refused() {
        tls_provider();
        let pki = Pki::new();
        let server = SmtpServer::start(&pki, ServerTls::StartTls, true, 0);
        let secret = password_file(pki.dir.path(), PASSWORD);
        let target = target(server.port, SmtpTls::StartTls, None, Some(secret));

        let err = send(&target, &night_two("mail"), TIMEOUT).await.expect_err("untrusted certificate");

        assert!(err.is_permanent(), "{err:?}");
        assert!(err.to_string().contains("certificate"), "{err}");
        assert!(err.to_string().contains("caFile"), "the fix is named: {err}");
        assert!(server.received().is_empty());
    }

    #[tokio::test]
    async fn starttls_is_required_when_configured() {
        tls_provider();
        let pki = Pki::new();
        let server = SmtpServer::start(&pki, ServerTls::None, false, 0);
        let target = target(server.port, SmtpTls::StartTls, Some(pki.path("ca.pem")), None);

        let err = send(&target, &night_two("mail"), TIMEOUT).await.expect_err("no STARTTLS offered");

        assert!(err.is_permanent(), "{err:?}");
        assert!(err.to_string().contains("does not offer STARTTLS"), "{err}");
        assert!(server.received().is_empty(), "nothing may be sent in clear");
    }

    #[tokio::test]
    async fn plain_smtp_only_when_configured() {
        let pki = Pki::new();
        let server = SmtpServer::start(&pki, ServerTls::None, false, 0);
        let target = target(server.port, SmtpTls::None, None, None);

        send(&target, &night_two("mail"), TIMEOUT).await.expect("delivered in clear to a local relay");

        let received = server.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0]["tls"], false);
    }

    #[test]
    fn text_groups_events_by_kind_with_their_facts() {
        let mut message = night_two("mail");
        let mut resolved = message.events[1].clone();
        resolved.kind = EventKind::Resolved;
        resolved.message = "line one\nForged: line".into();
        message.events.insert(2, resolved);

        let text = render_text(&message);

        assert!(
            text.starts_with("zoneaudit: cluster demo-dc1, run 2 started 2026-11-25 02:00 UTC\n"),
            "{text}"
        );
        assert!(text.contains("\n2 new, 1 resolved, 1 drift; worst: critical\n"), "{text}");
        let order: Vec<usize> = ["New findings (2)", "Resolved findings (1)", "Topology drift"]
            .iter()
            .map(|h| text.find(h).unwrap_or_else(|| panic!("{h} in {text}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("| last seen 2026-11-25 02:00 UTC"), "{text}");
        assert!(
            text.contains("- zone yellow\n  VRF YELLOW on leaf1: 10.20.1.0/26\n  appeared since"),
            "{text}"
        );
        assert!(text.contains("line one Forged: line"), "newline folded: {text}");
    }

    #[test]
    fn html_escapes_every_network_text() {
        let mut message = night_two("mail");
        message.events[0].zone = Some("\"><script>".into());
        message.events[0].rule_id = Some("R'1".into());

        let html = render_html(&message);

        assert!(html.contains("&lt;b&gt;&amp;&lt;/b&gt;"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;") && html.contains("R&#39;1"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("<b>&"), "{html}");
        assert!(html.contains("<h3>New findings (2)</h3>") && html.contains("<td>&mdash;</td>"), "{html}");
    }
}
