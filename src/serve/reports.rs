//! The reports `serve` hands out over HTTP, read from the store: the latest signed run report (the
//! exact DSSE envelope bytes that were signed, so it verifies with `zoneaudit verify --key`), its
//! Markdown, and a period report built the way `zoneaudit report` builds it — from run reports that
//! verify against the keyring only; a report that does not verify counts as no evidence.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::config::Settings;
use crate::evidence::chain;
use crate::evidence::keys::{Keyring, SigningKey};
use crate::evidence::period::{self, PeriodReport};
use crate::evidence::{EvidenceError, csv, html, markdown_period, oscal, policyreport};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodFormat {
    Html,
    Md,
    Json,
    Csv,
    Oscal,
    PolicyReport,
}

impl PeriodFormat {
    pub fn parse(text: &str) -> Result<PeriodFormat, String> {
        Ok(match text {
            "html" => PeriodFormat::Html,
            "md" => PeriodFormat::Md,
            "json" => PeriodFormat::Json,
            "csv" => PeriodFormat::Csv,
            "oscal" => PeriodFormat::Oscal,
            "policyreport" => PeriodFormat::PolicyReport,
            other => {
                return Err(format!("format={other}: one of html, md, json, csv, oscal, policyreport"));
            }
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PeriodFormat::Html => "text/html; charset=utf-8",
            PeriodFormat::Md => "text/markdown; charset=utf-8",
            PeriodFormat::Json | PeriodFormat::Oscal => "application/json",
            PeriodFormat::Csv => "text/csv; charset=utf-8",
            PeriodFormat::PolicyReport => "application/yaml",
        }
    }
}

/// The newest run that has a signed report: (run id, envelope bytes).
pub fn latest_report(store: &Store) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    let Some(run) = store.runs()?.into_iter().rev().find(|r| r.report_digest.is_some()) else {
        return Ok(None);
    };
    Ok(store.report(run.id)?.map(|(_, envelope)| (run.id, envelope)))
}

pub fn latest_markdown(store: &Store) -> Result<Option<String>, StoreError> {
    match store.runs()?.into_iter().rev().find(|r| r.report_digest.is_some()) {
        Some(run) => store.report_markdown(run.id),
        None => Ok(None),
    }
}

/// The keys that verify this deployment's reports: the configured public keys and the signing
/// key's own (a deployment that only configured its private key still verifies what it signed).
pub fn keyring(settings: &Settings, key: &SigningKey) -> Result<Keyring, EvidenceError> {
    let configured = match &settings.signing {
        Some(s) if !s.public_keys.is_empty() => Keyring::load(&s.public_keys)?.keys().to_vec(),
        _ => Vec::new(),
    };
    Ok(Keyring::new(configured.into_iter().chain([key.public_key()])))
}

/// The period report over `[since, until]`, like `zoneaudit report --since`.
pub fn period_report(
    store: &Store,
    keys: &Keyring,
    settings: &Settings,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<PeriodReport, StoreError> {
    let verdicts = chain::verify_reports(store, keys)?;
    Ok(period::build(period::input::period_input(
        verdicts,
        period::input::Window {
            cluster: settings.cluster.clone(),
            since,
            until,
            generated_at: Utc::now(),
            zone_filter: None,
            zones: settings.zones.keys().cloned().collect(),
        },
    )))
}

pub fn render(
    report: &PeriodReport,
    format: PeriodFormat,
    key: &SigningKey,
) -> Result<Vec<u8>, EvidenceError> {
    Ok(match format {
        PeriodFormat::Html => html::render(report).into_bytes(),
        PeriodFormat::Md => markdown_period::render(report).into_bytes(),
        PeriodFormat::Csv => csv::render(report).into_bytes(),
        PeriodFormat::Oscal => oscal::render(report).into_bytes(),
        PeriodFormat::PolicyReport => policyreport::render(report).into_bytes(),
        PeriodFormat::Json => period::signed::sign_period(report, key)?.json,
    })
}

/// `since=30d` (a duration before `until`), a date (`2026-11-01`, UTC) or an RFC 3339 time.
pub fn parse_since(text: &str, until: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let since = if let Ok(d) = humantime::parse_duration(text) {
        Duration::from_std(d).ok().and_then(|d| until.checked_sub_signed(d))
    } else if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        Some(t.with_timezone(&Utc))
    } else if let Ok(d) = text.parse::<NaiveDate>() {
        d.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
    } else {
        return Err(format!(
            "since={text}: not a duration (30d, 12h), a date (2026-11-01) or an RFC 3339 time"
        ));
    };
    match since {
        Some(s) if s < until => Ok(s),
        Some(_) => Err(format!("since={text}: the window ends before it starts")),
        None => Err(format!("since={text}: too far back")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_duration_a_date_or_a_time() {
        let until: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("30d", until).unwrap(),
            "2026-10-28T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_since("2026-11-01", until).unwrap(),
            "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_since("2026-12-01", until).unwrap_err().contains("ends before it starts"));
        assert!(
            parse_since("last month", until).unwrap_err().starts_with("since=last month: not a duration")
        );
        assert_eq!(PeriodFormat::parse("policyreport"), Ok(PeriodFormat::PolicyReport));
        assert!(PeriodFormat::parse("pdf").unwrap_err().contains("one of html, md"));
    }
}
