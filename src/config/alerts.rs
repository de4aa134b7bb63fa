//! `alerts:`: channels (email, webhook), their routing, and delivery bounds.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawAlerts, RawChannel, Text};
use super::{ConfigError, SecretRef, Validator};
use crate::alert::EventKind;
use crate::model::Severity;

#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub repeat_interval: Duration,
    pub attempts: u32,
    pub backoff: Duration,
    pub timeout: Duration,
    pub channels: Vec<Channel>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            repeat_interval: Duration::from_secs(7 * 24 * 3600),
            attempts: 4,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            channels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub route: Route,
    pub target: Target,
}

/// Which events a channel hears. Empty `zones` / `rules` mean all.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub min_severity: Severity,
    pub zones: Vec<String>,
    pub rules: Vec<String>,
    pub events: BTreeSet<EventKind>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Email(EmailTarget),
    Webhook(WebhookTarget),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// No TLS at all: only when configured explicitly (a relay on localhost).
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailTarget {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Generic,
    Slack,
    Alertmanager,
}

/// The webhook URL is a secret for Slack (the token is in the path): it may come from a file, and
/// it never appears in errors, logs or the database.
#[derive(Clone, PartialEq)]
pub enum WebhookUrl {
    Inline(String),
    File(PathBuf),
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebhookUrl::Inline(_) => f.write_str("WebhookUrl::Inline(..)"),
            WebhookUrl::File(p) => write!(f, "WebhookUrl::File({})", p.display()),
        }
    }
}

impl WebhookUrl {
    pub fn read(&self) -> Result<String, String> {
        match self {
            WebhookUrl::Inline(u) => Ok(u.clone()),
            WebhookUrl::File(p) => SecretRef::File(p.clone()).read(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub format: WebhookFormat,
    pub url: WebhookUrl,
    pub secret: Option<SecretRef>,
    pub ca_file: Option<PathBuf>,
}

impl Validator<'_> {
    pub(super) fn alerts(&self, raw: Option<&RawAlerts>, zones: &[&str]) -> Result<Alerts, ConfigError> {
        let mut alerts = Alerts::default();
        let Some(raw) = raw else { return Ok(alerts) };
        if let Some(t) = &raw.repeat_interval {
            alerts.repeat_interval = self.alert_duration(t, "alerts.repeatInterval")?;
        }
        if let Some(t) = &raw.backoff {
            alerts.backoff = self.alert_duration(t, "alerts.backoff")?;
        }
        if let Some(t) = &raw.timeout {
            alerts.timeout = self.alert_duration(t, "alerts.timeout")?;
        }
        if let Some(n) = &raw.attempts {
            if n.value == 0 {
                return Err(self.invalid_at(n.referenced.line(), "alerts.attempts", "must be at least 1"));
            }
            alerts.attempts = n.value;
        }
        let mut names = BTreeSet::new();
        for (i, c) in raw.channels.iter().enumerate() {
            let channel = self.channel(i, &c.value, zones)?;
            if !names.insert(channel.name.clone()) {
                return Err(self.invalid(
                    &c.value.name,
                    format!("alerts.channels[{i}].name"),
                    format!("duplicate channel name {:?}", channel.name),
                ));
            }
            alerts.channels.push(channel);
        }
        Ok(alerts)
    }

    fn alert_duration(&self, t: &Text, field: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(t.value.trim())
            .map_err(|e| self.invalid(t, field, format!("invalid duration {:?}: {e}", t.value)))
    }

    fn channel(&self, i: usize, c: &RawChannel, zones: &[&str]) -> Result<Channel, ConfigError> {
        let field = |f: &str| format!("alerts.channels[{i}].{f}");
        let name = c.name.value.trim().to_string();
        if name.is_empty() {
            return Err(self.invalid(&c.name, field("name"), "must not be empty"));
        }
        let min_severity = match &c.min_severity {
            Some(t) => {
                t.value.trim().parse::<Severity>().map_err(|e| self.invalid(t, field("minSeverity"), e))?
            }
            None => Severity::Low,
        };
        for t in &c.zones {
            if !zones.contains(&t.value.as_str()) {
                return Err(self.invalid(
                    t,
                    field("zones"),
                    format!("{:?} is not a declared zone ({})", t.value, zones.join(", ")),
                ));
            }
        }
        let events = if c.events.is_empty() {
            EventKind::ALL.into_iter().collect()
        } else {
            c.events
                .iter()
                .map(|t| t.value.trim().parse::<EventKind>().map_err(|e| self.invalid(t, field("events"), e)))
                .collect::<Result<BTreeSet<_>, _>>()?
        };
        let route = Route {
            min_severity,
            zones: c.zones.iter().map(|t| t.value.clone()).collect(),
            rules: c.rules.iter().map(|t| t.value.clone()).collect(),
            events,
        };
        let target = match c.kind.value.trim() {
            "email" => Target::Email(self.email(c, &field)?),
            "webhook" => Target::Webhook(self.webhook(c, &field)?),
            other => {
                return Err(self.invalid(
                    &c.kind,
                    field("type"),
                    format!("unknown channel type {other:?} (email|webhook)"),
                ));
            }
        };
        Ok(Channel { name, route, target })
    }

    fn email(&self, c: &RawChannel, field: &dyn Fn(&str) -> String) -> Result<EmailTarget, ConfigError> {
        let smtp = c.smtp.as_ref().ok_or_else(|| {
            self.invalid(
                &c.name,
                field("smtp"),
                "an email channel needs smtp: smtp://HOST:PORT or smtps://HOST:PORT",
            )
        })?;
        let (scheme, rest) = smtp.value.trim().split_once("://").ok_or_else(|| {
            self.invalid(
                smtp,
                field("smtp"),
                format!("{:?} is not smtp://HOST:PORT or smtps://HOST:PORT", smtp.value),
            )
        })?;
        let default_tls = match scheme {
            "smtp" => SmtpTls::StartTls,
            "smtps" => SmtpTls::Implicit,
            other => {
                return Err(self.invalid(
                    smtp,
                    field("smtp"),
                    format!("unknown scheme {other:?} (smtp|smtps)"),
                ));
            }
        };
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| self.invalid(smtp, field("smtp"), format!("invalid port {p:?}")))?;
                (h.to_string(), port)
            }
            None => (
                rest.trim_end_matches('/').to_string(),
                if default_tls == SmtpTls::Implicit { 465 } else { 587 },
            ),
        };
        if host.is_empty() || host.contains(['@', '/']) {
            return Err(self.invalid(
                smtp,
                field("smtp"),
                "give the host only: credentials go in username/passwordFile",
            ));
        }
        let tls = match &c.tls {
            None => default_tls,
            Some(t) => match t.value.trim() {
                "starttls" => SmtpTls::StartTls,
                "tls" => SmtpTls::Implicit,
                "none" => SmtpTls::None,
                other => {
                    return Err(self.invalid(
                        t,
                        field("tls"),
                        format!("unknown value {other:?} (starttls|tls|none)"),
                    ));
                }
            },
        };
        let from = c
            .from
            .as_ref()
            .ok_or_else(|| self.invalid(&c.name, field("from"), "an email channel needs from"))?;
        if c.to.is_empty() {
            return Err(self.invalid(&c.name, field("to"), "an email channel needs at least one recipient"));
        }
        for t in std::iter::once(from).chain(&c.to) {
            if !t.value.contains('@') {
                return Err(self.invalid(
                    t,
                    field(if std::ptr::eq(t, from) { "from" } else { "to" }),
                    format!("{:?} is not an email address", t.value),
                ));
            }
        }
        let password = self.alert_secret(&c.password_file, &c.password_env, field("passwordFile"))?;
        if password.is_some() && c.username.is_none() {
            return Err(self.invalid(&c.name, field("username"), "a password needs a username"));
        }
        if password.is_some() && tls == SmtpTls::None {
            return Err(self.invalid(
                &c.name,
                field("tls"),
                "refusing to send a password without TLS (tls: none)",
            ));
        }
        Ok(EmailTarget {
            host,
            port,
            tls,
            from: from.value.trim().to_string(),
            to: c.to.iter().map(|t| t.value.trim().to_string()).collect(),
            username: c.username.as_ref().map(|t| t.value.clone()),
            password,
            ca_file: c.ca_file.as_ref().map(|t| self.path(t)),
        })
    }

    fn alert_secret(
        &self,
        file: &Option<Text>,
        env: &Option<Text>,
        field: String,
    ) -> Result<Option<SecretRef>, ConfigError> {
        match (file, env) {
            (Some(f), None) => Ok(Some(SecretRef::File(self.path(f)))),
            (None, Some(e)) => Ok(Some(SecretRef::Env(e.value.clone()))),
            (None, None) => Ok(None),
            (Some(f), Some(_)) => Err(self.invalid(f, field, "give passwordFile or passwordEnv, not both")),
        }
    }

    fn webhook(&self, c: &RawChannel, field: &dyn Fn(&str) -> String) -> Result<WebhookTarget, ConfigError> {
        let format = match c.format.as_ref().map(|t| (t, t.value.trim())) {
            None | Some((_, "generic")) => WebhookFormat::Generic,
            Some((_, "slack")) => WebhookFormat::Slack,
            Some((_, "alertmanager")) => WebhookFormat::Alertmanager,
            Some((t, other)) => {
                return Err(self.invalid(
                    t,
                    field("format"),
                    format!("unknown format {other:?} (generic|slack|alertmanager)"),
                ));
            }
        };
        let url = match (&c.url, &c.url_file) {
            (Some(u), None) => {
                let text = u.value.trim();
                if !(text.starts_with("https://") || text.starts_with("http://")) {
                    // The value is not echoed: it may be a secret pasted into the wrong field.
                    return Err(self.invalid(u, field("url"), "not an http(s) URL"));
                }
                WebhookUrl::Inline(text.to_string())
            }
            (None, Some(f)) => WebhookUrl::File(self.path(f)),
            (None, None) => {
                return Err(self.invalid(&c.name, field("url"), "a webhook channel needs url or urlFile"));
            }
            (Some(u), Some(_)) => return Err(self.invalid(u, field("url"), "give url or urlFile, not both")),
        };
        let secret = c.secret_file.as_ref().map(|t| SecretRef::File(self.path(t)));
        if secret.is_some() && format != WebhookFormat::Generic {
            return Err(self.invalid(
                &c.name,
                field("secretFile"),
                "the HMAC signature is for format: generic only",
            ));
        }
        Ok(WebhookTarget { format, url, secret, ca_file: c.ca_file.as_ref().map(|t| self.path(t)) })
    }
}
