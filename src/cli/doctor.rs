//! `doctor`: everything a nightly run needs, checked without recording anything, as a table of
//! what passed and what failed, each failure with its reason and the fix.
//!
//! ```text
//!  CHECK              STATUS  DETAIL
//!  config             ok      zoneaudit.yaml: cluster demo-dc1, 3 zones, 11 sources, 1 alert channel
//!  signing key        ok      keys/zoneaudit.key: keyid sha256:…, mode 0600
//!  public keys        ok      keys/zoneaudit.pub matches the signing key
//!  database           ok      zoneaudit.db: schema version 7, 3 runs, writable
//!  source leaf1       FAILED  leaf1 (url): could not connect to https://…: Connection refused
//!                             fix: check url/host and network policy
//!  alert ops          ok      webhook (slack): https host hooks.example reachable (HEAD answered 405)
//! ```
//!
//! Checks, in order: the config parses and validates; the signing key exists, parses and is not
//! readable by group or others, and one of `signing.publicKeys` is its public half (else reports
//! would not verify); the database (or its directory, before the first run) takes a write that is
//! rolled back; every source is collected with the same code as `collect` and the result thrown
//! away; every alert channel is reached without sending: SMTP up to EHLO (STARTTLS and AUTH as
//! configured), a webhook by a HEAD request (a POST would show receivers a fake alert).
//!
//! Exit: 0 all passed (warnings allowed), 1 a check failed, 2 the config cannot be read (then
//! nothing else can be checked and its row is the only one). Webhook URLs are secrets (Slack's
//! carries its token): only the channel name and the host are printed.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::Cli;
use super::commands::{CmdResult, block_on};
use crate::collect::gather;
use crate::config::{Channel, EmailTarget, Settings, SmtpTls, Target, WebhookTarget};
use crate::evidence::keys::{PublicKey, SigningKey};
use crate::model::SourceStatus;
use crate::store::Store;

/// How long the database write probe waits for a run that is writing at the same moment.
const DB_BUSY_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Failed => "FAILED",
        }
    }
}

/// One row of the table: a failure or warning says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check { name: name.into(), status: Status::Ok, detail: detail.into(), fix: None }
    }

    fn failed(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name: name.into(), status: Status::Failed, detail: detail.into(), fix: Some(fix.into()) }
    }

    fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name: name.into(), status: Status::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
}

pub fn doctor(cli: &Cli) -> CmdResult {
    let settings = match Settings::load(&cli.config) {
        Ok(s) => s,
        Err(e) => {
            let row = Check::failed("config", e.to_string(), config_fix(&e));
            print!("{}", render(&[row]));
            return Ok(2);
        }
    };
    let mut checks = vec![config_summary(&settings)];
    checks.extend(check_signing(&settings));
    let db = cli.db.clone().or_else(|| settings.database.clone());
    checks.push(check_database(db.as_deref()));
    checks.extend(block_on(async {
        let mut live = check_sources(&settings).await;
        live.extend(check_channels(&settings).await);
        live
    }));
    print!("{}", render(&checks));
    println!("{}", summary(&checks));
    Ok(exit_code(&checks))
}

/// 1 when any check failed; warnings do not fail.
pub fn exit_code(checks: &[Check]) -> u8 {
    if checks.iter().any(|c| c.status == Status::Failed) { 1 } else { 0 }
}

fn summary(checks: &[Check]) -> String {
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let (failed, warned) = (count(Status::Failed), count(Status::Warn));
    if failed == 0 && warned == 0 {
        return format!("all {} checks passed", checks.len());
    }
    format!(
        "{} checks: {failed} failed, {warned} warning{}",
        checks.len(),
        if warned == 1 { "" } else { "s" }
    )
}

/// `CHECK  STATUS  DETAIL`, a failure's fix on the line below its detail.
pub fn render(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.chars().count()).chain(["CHECK".len()]).max().unwrap_or(5);
    let mut out = format!("{:<width$}  {:<6}  DETAIL\n", "CHECK", "STATUS");
    for c in checks {
        let _ = writeln!(out, "{:<width$}  {:<6}  {}", c.name, c.status.as_str(), c.detail);
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "{:<width$}  {:<6}  fix: {fix}", "", "");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Config

fn config_fix(e: &crate::config::ConfigError) -> &'static str {
    match e {
        crate::config::ConfigError::Read { .. } => {
            "give the config with --config FILE (or ZONEAUDIT_CONFIG); in Kubernetes, check the ConfigMap mount"
        }
        _ => "correct the field on the line named above (docs: the zoneaudit.yaml reference in the README)",
    }
}

fn config_summary(s: &Settings) -> Check {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    Check::ok(
        "config",
        format!(
            "{}: cluster {}, {}, {}, {}",
            s.file.display(),
            s.cluster,
            plural(s.zones.len(), "zone"),
            plural(s.sources.len(), "source"),
            plural(s.alerts.channels.len(), "alert channel")
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Signing key

/// A private key must be readable by its owner only — with one exception, as PostgreSQL makes for
/// its TLS key: a root-owned key may also be readable (never writable) by its group. That is how a
/// Kubernetes Secret volume with `fsGroup` presents the key to a non-root pod (mode 0440, group =
/// the pod's). Anything readable by others is refused.
pub fn key_mode_too_open(mode: u32, owned_by_root: bool) -> bool {
    let allowed_group = if owned_by_root { 0o040 } else { 0 };
    mode & 0o077 & !allowed_group != 0
}

fn check_signing(settings: &Settings) -> Vec<Check> {
    let Some(signing) = &settings.signing else {
        return vec![Check::failed(
            "signing key",
            format!(
                "{}: `signing.keyFile` is not set: run reports cannot be signed",
                settings.file.display()
            ),
            "run `zoneaudit keygen --out DIR` and set `signing: { keyFile: DIR/zoneaudit.key }`",
        )];
    };
    let (key_check, key) = check_private_key(&signing.key_file);
    vec![key_check, check_public_keys(&signing.public_keys, key.as_ref())]
}

/// The key file's row, and the key when it could be read (even when its mode is refused, so the
/// public keys can still be matched against it).
fn check_private_key(path: &Path) -> (Check, Option<SigningKey>) {
    const NAME: &str = "signing key";
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let check = Check::failed(
                NAME,
                format!("{shown}: {e}"),
                "check `signing.keyFile` (in Kubernetes: the Secret mount); `zoneaudit keygen --out DIR` makes a key",
            );
            return (check, None);
        }
    };
    let key = match SigningKey::load(path) {
        Ok(k) => k,
        Err(e) => {
            let check = Check::failed(
                NAME,
                e.to_string(),
                "`signing.keyFile` must be an Ed25519 PKCS#8 PEM private key (what `zoneaudit keygen` writes)",
            );
            return (check, None);
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    let check = if key_mode_too_open(
        mode,
        std::os::unix::fs::MetadataExt::uid(&meta) == 0 && !running_as_root(),
    ) {
        Check::failed(
            NAME,
            format!(
                "{shown} is readable by group or others (mode {mode:04o}): refused (a root-owned key may be group-readable, as a Secret volume with fsGroup mounts it)"
            ),
            format!("chmod 600 {shown}"),
        )
    } else {
        Check::ok(NAME, format!("{shown}: keyid {}, mode {mode:04o}", key.keyid()))
    };
    (check, Some(key))
}

/// Root reads any file whatever its mode, so the group exception would only hide a loose key there.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn check_public_keys(paths: &[PathBuf], key: Option<&SigningKey>) -> Check {
    const NAME: &str = "public keys";
    let mut loaded: Vec<(&PathBuf, PublicKey)> = Vec::new();
    for path in paths {
        match PublicKey::load(path) {
            Ok(k) => loaded.push((path, k)),
            Err(e) => {
                return Check::failed(
                    NAME,
                    e.to_string(),
                    "check `signing.publicKeys`: each must be an Ed25519 public key PEM (`zoneaudit.pub`)",
                );
            }
        }
    }
    let Some(key) = key else {
        return Check::warn(
            NAME,
            format!("{} loaded; not matched (the signing key could not be read)", loaded.len()),
            "fix the signing key first",
        );
    };
    match loaded.iter().find(|(_, k)| k.keyid() == key.keyid()) {
        Some((path, _)) => Check::ok(NAME, format!("{} matches the signing key", path.display())),
        None => {
            let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            Check::failed(
                NAME,
                format!(
                    "none of {} is the public half of the signing key ({}): reports would not verify",
                    listed.join(", "),
                    key.keyid()
                ),
                "add the signing key's public key to `signing.publicKeys` (`openssl pkey -in KEY -pubout > KEY.pub`)",
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Database

fn check_database(path: Option<&Path>) -> Check {
    const NAME: &str = "database";
    let Some(path) = path else {
        return Check::failed(
            NAME,
            "no database configured",
            "set `database:` in the config, or give --db FILE (ZONEAUDIT_DB)",
        );
    };
    let fix = "make the file and its directory writable by this user (SQLite writes -wal, -shm and .lock \
               files beside it); in Kubernetes, mount the PVC there";
    if !path.exists() {
        return match directory_writable(path) {
            Ok(dir) => Check::ok(
                NAME,
                format!(
                    "{}: not created yet; {} is writable (the first run creates it)",
                    path.display(),
                    dir
                ),
            ),
            Err(e) => Check::failed(NAME, e, fix),
        };
    }
    match probe_database(path) {
        Ok(detail) => Check::ok(NAME, detail),
        Err(e) => Check::failed(NAME, e, fix),
    }
}

/// A file can be created (and removed again) where the database will be.
fn directory_writable(db: &Path) -> Result<String, String> {
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(dir)
        .map(|_| format!("directory {}", dir.display()))
        .map_err(|e| format!("{}: cannot create files in {}: {e}", db.display(), dir.display()))
}

/// Open as a run does (migrations apply), then take the write lock and change the schema inside a
/// transaction that is rolled back: a read-only file, directory or mount fails here, not at night.
fn probe_database(path: &Path) -> Result<String, String> {
    let store = Store::open(path).map_err(|e| e.to_string())?;
    let version = store.schema_version().map_err(|e| e.to_string())?;
    let runs = store.runs().map_err(|e| e.to_string())?.len();
    drop(store);
    let at = |e: rusqlite::Error| format!("{}: a write was refused: {e}", path.display());
    let conn = rusqlite::Connection::open(path).map_err(at)?;
    conn.busy_timeout(DB_BUSY_WAIT).map_err(at)?;
    let probe = conn.execute_batch("BEGIN IMMEDIATE; CREATE TABLE zoneaudit_doctor_probe (x INTEGER);");
    // Whatever happened, nothing stays: the probe table never commits.
    let rollback = conn.execute_batch("ROLLBACK");
    probe.map_err(at)?;
    rollback.map_err(at)?;
    Ok(format!(
        "{}: schema version {version}, {runs} run{}, writable",
        path.display(),
        if runs == 1 { "" } else { "s" }
    ))
}

// ---------------------------------------------------------------------------------------------
// Sources

/// What an error of a source or channel means for the operator, from its (secret-free) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    Credentials,
    Tls,
    MissingProgram,
    MissingFile,
    Unreachable,
    Other,
}

impl Trouble {
    pub fn of(error: &str) -> Trouble {
        let e = error.to_ascii_lowercase();
        let any = |words: &[&str]| words.iter().any(|w| e.contains(w));
        if has_status(&e, "401")
            || has_status(&e, "403")
            || has_status(&e, "535")
            || any(&["unauthorized", "forbidden", "credentials", "authentication", "api key", "password"])
        {
            Trouble::Credentials
        } else if any(&["certificate", "tls", "handshake", "cafile", "unknown issuer"]) {
            Trouble::Tls
        } else if any(&["program not found"]) {
            Trouble::MissingProgram
        } else if any(&["no such file", "os error 2)", "no input files found"]) {
            Trouble::MissingFile
        } else if any(&[
            "refused",
            "could not connect",
            "connection failed",
            "timed out",
            "did not answer",
            "no answer",
            "no complete answer",
            "unreachable",
            "dns",
            "lookup",
            "resolve",
        ]) {
            Trouble::Unreachable
        } else {
            Trouble::Other
        }
    }

    pub fn fix(self) -> &'static str {
        match self {
            Trouble::Credentials => {
                "check the credentials / RBAC (username and passwordFile, the API key, or the \
                 ServiceAccount's ClusterRole and the deploy overlays)"
            }
            Trouble::Tls => "set caFile to the CA that signed the server's certificate",
            Trouble::MissingProgram => "check command: (is the program installed in the image and on PATH?)",
            Trouble::MissingFile => {
                "check files: (relative paths are resolved from the config file's directory)"
            }
            Trouble::Unreachable => "check url/host and network policy (egress from this pod or host)",
            Trouble::Other => "see the error above; `zoneaudit collect --source NAME -vv` shows each attempt",
        }
    }
}

/// `code` as a number of its own (an HTTP or SMTP status), not inside a port or a count.
fn has_status(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == ':' || c == '.')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// Every source collected exactly as `collect` would, concurrency and timeouts included; the
/// payloads and facts are dropped, only the counts are shown.
async fn check_sources(settings: &Settings) -> Vec<Check> {
    if settings.sources.is_empty() {
        return vec![Check::warn("sources", "none configured", "add the cluster's sources under `sources:`")];
    }
    let collected = gather::gather(settings, &[]).await;
    settings
        .sources
        .iter()
        .zip(&collected)
        .map(|(spec, c)| {
            let name = format!("source {}", spec.name);
            let transport = spec.transport.name();
            let error = c.run.error.clone().unwrap_or_default();
            match c.run.status {
                SourceStatus::Ok => Check::ok(name, format!("{transport}: {}", counts(&c.run.counts))),
                // A partial source leaves the night's evidence incomplete (`run` exits 3).
                SourceStatus::Partial => Check::failed(
                    name,
                    format!("{transport}: partial ({}): {error}", counts(&c.run.counts)),
                    Trouble::of(&error).fix(),
                ),
                SourceStatus::Failed => {
                    Check::failed(name, format!("{transport}: {error}"), Trouble::of(&error).fix())
                }
            }
        })
        .collect()
}

fn counts(counts: &std::collections::BTreeMap<String, u64>) -> String {
    let shown: Vec<String> =
        counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
    if shown.is_empty() { "read, nothing in it".to_string() } else { shown.join(", ") }
}

// ---------------------------------------------------------------------------------------------
// Alert channels

async fn check_channels(settings: &Settings) -> Vec<Check> {
    let timeout = settings.alerts.timeout;
    let mut checks = Vec::new();
    for channel in &settings.alerts.channels {
        checks.push(check_channel(channel, timeout).await);
    }
    checks
}

async fn check_channel(channel: &Channel, timeout: Duration) -> Check {
    let name = format!("alert {}", channel.name);
    let outcome = match &channel.target {
        Target::Email(t) => check_email(t, timeout).await,
        Target::Webhook(t) => check_webhook(t, timeout).await,
    };
    match outcome {
        Ok(detail) => Check::ok(name, detail),
        Err(e) => {
            let fix = Trouble::of(&e).fix();
            Check::failed(name, e, fix)
        }
    }
}

/// Connect, greeting, EHLO, STARTTLS and AUTH as configured, NOOP, QUIT: no MAIL, nothing sent.
async fn check_email(target: &EmailTarget, timeout: Duration) -> Result<String, String> {
    let place = format!("smtp {}:{}", target.host, target.port);
    let password = match (&target.username, &target.password) {
        (Some(_), Some(secret)) => {
            Some(secret.read().map_err(|e| format!("{place}: cannot read the password: {e}"))?)
        }
        _ => None,
    };
    let transport = smtp_transport(target, password.clone(), timeout).map_err(|e| format!("{place}: {e}"))?;
    let outcome = tokio::time::timeout(timeout, transport.test_connection()).await;
    let _ = tokio::time::timeout(timeout, transport.shutdown()).await;
    let scrub = |text: String| match password.as_deref() {
        Some(p) if !p.is_empty() => text.replace(p, "(redacted)"),
        _ => text,
    };
    match outcome {
        Ok(Ok(true)) => {
            let tls = match target.tls {
                SmtpTls::StartTls => "STARTTLS",
                SmtpTls::Implicit => "TLS",
                SmtpTls::None => "no TLS",
            };
            let auth = target.username.as_ref().map(|u| format!(", AUTH as {u}")).unwrap_or_default();
            Ok(format!("{place}: greeting and EHLO answered ({tls}{auth}); nothing sent"))
        }
        Ok(Ok(false)) => Err(format!("{place}: the server did not answer NOOP")),
        Ok(Err(e)) => Err(scrub(format!("{place}: {}", smtp_error(&e)))),
        Err(_) => Err(format!("{place}: timed out after {}", humantime::format_duration(timeout))),
    }
}

/// As `alert::email` builds it: TLS as the channel says, verified against the system roots plus
/// the channel's caFile, AUTH when a user is named.
fn smtp_transport(
    target: &EmailTarget,
    password: Option<String>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match target.tls {
        SmtpTls::StartTls => Tls::Required(smtp_tls_parameters(target)?),
        SmtpTls::Implicit => Tls::Wrapper(smtp_tls_parameters(target)?),
        SmtpTls::None => Tls::None,
    };
    // `builder_dangerous` only means "no TLS unless told": TLS is set just above.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.as_str())
        .port(target.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&target.username, password) {
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

fn smtp_tls_parameters(target: &EmailTarget) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(target.host.clone());
    if let Some(path) = &target.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read caFile {}: {e}", path.display()))?;
        let ca = Certificate::from_pem(&pem).map_err(|e| format!("caFile {}: {e}", path.display()))?;
        builder = builder.add_root_certificate(ca);
    }
    builder.build().map_err(|e| format!("TLS setup failed: {e}"))
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        let code = code.to_string();
        if matches!(code.as_str(), "530" | "534" | "535" | "538") {
            return format!("authentication failed: {e}");
        }
        return format!("server answered {e}");
    }
    if let Some(cause) = certificate_failure(e) {
        return format!("TLS certificate verification failed: {cause}");
    }
    if e.is_tls() {
        return format!("TLS failed: {e}");
    }
    if e.is_timeout() {
        return format!("timed out: {}", root_cause(e));
    }
    if e.is_client() {
        return e.to_string();
    }
    format!("connection failed: {}", root_cause(e))
}

/// A HEAD request with the delivery client (same TLS roots, caFile, timeout): any HTTP answer
/// proves DNS, the route, TLS and the receiver. Nothing is posted, so no receiver shows an alert.
async fn check_webhook(target: &WebhookTarget, timeout: Duration) -> Result<String, String> {
    let format = crate::alert::webhook::format_name(target.format);
    let what = format!("webhook ({format})");
    let url = target.url.read().map_err(|e| format!("{what}: cannot read the URL: {e}"))?;
    let parsed = reqwest::Url::parse(&url).map_err(|_| format!("{what}: the URL is not valid"))?;
    let host = format!(
        "{} host {}",
        parsed.scheme(),
        parsed
            .host_str()
            .map(|h| format!("{h}:{}", parsed.port_or_known_default().unwrap_or(0)))
            .unwrap_or_default()
    );
    let client = crate::alert::webhook::client(target, timeout).map_err(|e| e.to_string())?;
    match client.head(parsed).send().await {
        Ok(response) => Ok(format!(
            "{what}: {host} reachable (HEAD answered {}; nothing posted)",
            response.status().as_u16()
        )),
        Err(e) => {
            let e = e.without_url();
            let why = if let Some(cause) = certificate_failure(&e) {
                format!("TLS certificate verification failed: {cause}")
            } else if e.is_timeout() {
                format!("no answer within {}", humantime::format_duration(timeout))
            } else if e.is_connect() {
                format!("could not connect: {}", root_cause(&e))
            } else {
                format!("request failed: {}", root_cause(&e))
            };
            Err(format!("{what}: {host}: {}", scrub_url(&why, &url)))
        }
    }
}

/// The URL, and its path and query (Slack's token), never appear in what doctor prints.
fn scrub_url(text: &str, url: &str) -> String {
    let mut hide = vec![url.to_string()];
    if let Ok(parsed) = reqwest::Url::parse(url) {
        if parsed.path().len() > 1 {
            hide.push(parsed.path().to_string());
        }
        if let Some(q) = parsed.query() {
            hide.push(q.to_string());
        }
    }
    hide.iter().fold(text.to_string(), |t, h| t.replace(h.as_str(), "[redacted]"))
}

/// The rustls verdict on a server certificate, wherever the connector wrapped it.
fn certificate_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // io::Error::source skips the error it wraps: look inside instead.
        current = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_readable_by_group_or_others_is_refused() {
        for mode in [0o600, 0o400, 0o700] {
            assert!(!key_mode_too_open(mode, false), "{mode:o}");
        }
        for mode in [0o640, 0o644, 0o604, 0o660, 0o601, 0o777] {
            assert!(key_mode_too_open(mode, false), "{mode:o}");
        }
    }

    #[test]
    fn a_root_owned_key_may_be_read_by_its_group_as_a_secret_volume_mounts_it() {
        for mode in [0o440, 0o640, 0o400] {
            assert!(!key_mode_too_open(mode, true), "{mode:o}");
        }
        for mode in [0o444, 0o460, 0o644, 0o604] {
            assert!(key_mode_too_open(mode, true), "{mode:o}");
        }
    }

    #[test]
    fn each_kind_of_error_gets_its_fix() {
        let cases = [
            (
                "leaf1 (url): could not connect to https://10.0.0.1/command-api: Connection refused",
                Trouble::Unreachable,
            ),
            ("leaf1 (url): https://10.0.0.1/command-api did not answer within 30s", Trouble::Unreachable),
            (
                "leaf1 (url): https://10.0.0.1/command-api answered 401 Unauthorized: check the credentials",
                Trouble::Credentials,
            ),
            ("calico (kubernetes): list nodes: 403 Forbidden: nodes is forbidden", Trouble::Credentials),
            (
                "leaf1 (url): certificate verification failed for https://x/: invalid peer certificate: UnknownIssuer",
                Trouble::Tls,
            ),
            ("inputs/eos/leaf1.json: No such file or directory (os error 2)", Trouble::MissingFile),
            ("no input files found", Trouble::MissingFile),
            ("rr1 (command): command ssh: program not found", Trouble::MissingProgram),
            ("smtp mail:587: authentication failed: permanent error (535)", Trouble::Credentials),
            ("rr1: line 3: not a BIRD protocol table", Trouble::Other),
        ];
        for (error, trouble) in cases {
            assert_eq!(Trouble::of(error), trouble, "{error}");
        }
        assert!(Trouble::Unreachable.fix().contains("check url/host and network policy"));
        assert!(Trouble::Credentials.fix().contains("check the credentials / RBAC"));
        assert!(Trouble::Tls.fix().contains("set caFile"));
        assert!(Trouble::MissingFile.fix().contains("check files:"));
    }

    #[test]
    fn a_status_code_is_not_found_inside_a_port_or_a_number() {
        assert!(has_status("answered 403 forbidden", "403"));
        assert!(has_status("(403)", "403"));
        assert!(!has_status("https://10.0.0.1:4030/x: refused", "403"));
        assert!(!has_status("https://10.0.0.1:403/x: refused", "403"));
        assert!(!has_status("14035 lines", "403"));
        assert_eq!(
            Trouble::of("could not connect to https://10.0.0.1:401/x: Connection refused"),
            Trouble::Unreachable
        );
    }

    #[test]
    fn the_table_puts_each_fix_under_its_detail_and_failures_decide_the_exit_code() {
        let checks = vec![
            Check::ok("config", "zoneaudit.yaml: fine"),
            Check::failed("source leaf1", "url: refused", "check url/host and network policy"),
            Check::warn("source fw", "files: partial", "check files:"),
        ];
        let table = render(&checks);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "CHECK         STATUS  DETAIL");
        assert_eq!(lines[1], "config        ok      zoneaudit.yaml: fine");
        assert_eq!(lines[2], "source leaf1  FAILED  url: refused");
        assert_eq!(lines[3], "                      fix: check url/host and network policy");
        assert_eq!(lines[4], "source fw     warn    files: partial");
        assert_eq!(exit_code(&checks), 1);
        assert_eq!(exit_code(&[checks[0].clone(), checks[2].clone()]), 0, "a warning does not fail");
        assert_eq!(summary(&checks), "3 checks: 1 failed, 1 warning");
    }

    #[test]
    fn a_url_its_path_and_its_query_are_scrubbed() {
        let url = "https://hooks.example/services/T000/B000/XXXX?token=abc";
        let text = format!("failed for {url}; path /services/T000/B000/XXXX; q token=abc");
        let clean = scrub_url(&text, url);
        assert!(!clean.contains("T000") && !clean.contains("token=abc"), "{clean}");
    }

    #[test]
    fn a_database_under_a_regular_file_fails_and_a_new_one_in_a_writable_directory_passes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        let c = check_database(Some(&file.join("zoneaudit.db")));
        assert_eq!(c.status, Status::Failed, "{c:?}");
        assert!(c.detail.contains("cannot create files in"), "{c:?}");

        let fresh = dir.path().join("zoneaudit.db");
        let c = check_database(Some(&fresh));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(!fresh.exists(), "doctor creates no database");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "and leaves no probe file");
    }

    #[test]
    fn an_existing_database_is_probed_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("zoneaudit.db");
        drop(Store::open(&db).unwrap());
        let c = check_database(Some(&db));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.detail.contains("schema version") && c.detail.contains("0 runs, writable"), "{c:?}");
        let conn = rusqlite::Connection::open(&db).unwrap();
        let probes: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'zoneaudit_doctor_probe'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(probes, 0);
    }

    /// A minimal SMTP server on loopback: greeting, EHLO, NOOP, QUIT; it fails the test if a
    /// message is started.
    async fn smtp_server() -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (read, mut write) = tcp.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut seen = Vec::new();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                seen.push(verb.clone());
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-test\r\n250 8BITMIME\r\n",
                    "QUIT" => b"221 bye\r\n",
                    "NOOP" => b"250 ok\r\n",
                    _ => b"502 not here\r\n",
                };
                write.write_all(reply).await.unwrap();
                if verb == "QUIT" {
                    break;
                }
            }
            seen
        });
        (port, task)
    }

    fn email(port: u16) -> EmailTarget {
        EmailTarget {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            from: "zoneaudit@example.test".into(),
            to: vec!["netsec@example.test".into()],
            username: None,
            password: None,
            ca_file: None,
        }
    }

    #[tokio::test]
    async fn smtp_is_checked_up_to_ehlo_without_sending() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (port, server) = smtp_server().await;
        let detail = check_email(&email(port), Duration::from_secs(5)).await.expect("reachable");
        assert!(detail.contains(&format!("smtp 127.0.0.1:{port}")), "{detail}");
        let seen = tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
        assert!(seen.contains(&"EHLO".to_string()), "{seen:?}");
        assert!(!seen.iter().any(|v| v == "MAIL" || v == "DATA"), "nothing is sent: {seen:?}");
    }

    #[tokio::test]
    async fn an_smtp_server_that_is_down_fails_with_the_network_fix() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let channel = Channel {
            name: "mail".into(),
            route: crate::config::Route {
                min_severity: crate::model::Severity::Low,
                zones: vec![],
                rules: vec![],
                events: Default::default(),
            },
            target: Target::Email(email(port)),
        };
        let c = check_channel(&channel, Duration::from_secs(5)).await;
        assert_eq!(c.status, Status::Failed, "{c:?}");
        assert!(c.name == "alert mail" && c.detail.contains(&format!("127.0.0.1:{port}")), "{c:?}");
        assert!(c.fix.as_deref().unwrap().contains("check url/host and network policy"), "{c:?}");
    }
}
