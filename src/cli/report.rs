//! `report` (a period report over the runs of a window) and `verify --chain` (the database's chain).
//!
//! The period report is built only from what the signed run reports say: each run report is read
//! from the database and verified (signature, exact form, chain link) first, and a report that does
//! not verify counts as no evidence. Exit codes: 0 written; 1 written, but a run report of the window
//! does not verify (the report says which); 2 usage, config or database error.

use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::commands::{CliError, CmdResult, keyring, open_existing_db, settings, signing_key};
use super::{Cli, ReportArgs, ReportFormat};
use crate::evidence::chain;
use crate::evidence::period;
use crate::evidence::{csv, html, markdown_period, oscal, policyreport};

pub fn report(cli: &Cli, args: &ReportArgs) -> CmdResult {
    let now = Utc::now();
    let until = match &args.until {
        Some(text) => parse_time(text, "--until", true)?,
        None => now,
    };
    let since = parse_since(&args.since, until)?;
    if since >= until {
        return Err(CliError::operational(format!(
            "--since {}: the window ends before it starts ({until})",
            args.since
        )));
    }
    // The config is optional when --db and --key are given: an auditor may only have the database.
    let settings = if cli.db.is_none() || args.keys.is_empty() || args.format == ReportFormat::Json {
        Some(settings(cli)?)
    } else {
        settings(cli).ok()
    };
    let store = open_existing_db(cli, settings.as_ref())?;
    let keys = keyring(cli, &args.keys)?;
    let verdicts = chain::verify_reports(&store, &keys)?;

    let zones: Vec<String> = settings.as_ref().map(|s| s.zones.keys().cloned().collect()).unwrap_or_default();
    let seen_zone = |z: &str| {
        verdicts
            .iter()
            .filter_map(|v| v.report.as_ref())
            .any(|r| r.findings.iter().any(|f| f.zone.as_deref() == Some(z)))
    };
    if let Some(zone) = &args.zone
        && !zones.contains(zone)
        && !seen_zone(zone)
    {
        return Err(CliError::operational(format!(
            "--zone {zone}: not a zone of the configuration ({}) and in no finding",
            zones.join(", ")
        )));
    }
    let cluster = settings
        .as_ref()
        .map(|s| s.cluster.clone())
        .or_else(|| verdicts.first().map(|v| v.run.cluster.clone()))
        .unwrap_or_default();
    let input = period::input::period_input(
        verdicts,
        period::input::Window {
            cluster,
            since,
            until,
            generated_at: now,
            zone_filter: args.zone.clone(),
            zones,
        },
    );
    let unverified: Vec<i64> = input
        .runs
        .iter()
        .filter(|r| r.run.status == "complete" && !r.run.verification.trusted())
        .map(|r| r.run.run_id)
        .collect();
    let period = period::build(input);
    let bytes = match args.format {
        ReportFormat::Html => html::render(&period).into_bytes(),
        ReportFormat::Md => markdown_period::render(&period).into_bytes(),
        ReportFormat::Csv => csv::render(&period).into_bytes(),
        ReportFormat::Oscal => oscal::render(&period).into_bytes(),
        ReportFormat::Policyreport => policyreport::render(&period).into_bytes(),
        ReportFormat::Json => {
            let settings = settings
                .as_ref()
                .ok_or_else(|| CliError::operational("--format json signs: a config is needed"))?;
            let key = signing_key(settings)?;
            period::signed::sign_period(&period, &key)?.json
        }
    };
    write_output(args.output.as_ref(), &bytes)?;
    if let Some(path) = &args.output {
        eprintln!(
            "{}: {} report of {} from {} to {}: {}",
            path.display(),
            format_name(args.format),
            period.cluster,
            period.since.format("%Y-%m-%d %H:%M"),
            period.until.format("%Y-%m-%d %H:%M"),
            period.summary.verdict
        );
    }
    if !unverified.is_empty() {
        eprintln!(
            "WARNING: the reports of run(s) {} do not verify: they are counted as no evidence (see `zoneaudit verify --chain`)",
            unverified.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}

fn format_name(format: ReportFormat) -> &'static str {
    match format {
        ReportFormat::Html => "HTML",
        ReportFormat::Md => "Markdown",
        ReportFormat::Json => "signed JSON",
        ReportFormat::Csv => "CSV",
        ReportFormat::Oscal => "OSCAL assessment-results",
        ReportFormat::Policyreport => "ClusterPolicyReport",
    }
}

fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> Result<(), CliError> {
    match path {
        Some(path) => {
            // Write next to the target and rename: a half-written evidence file is never left behind.
            let dir =
                path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| CliError::operational(format!("{}: {e}", path.display())))?;
            std::io::Write::write_all(&mut tmp, bytes)
                .map_err(|e| CliError::operational(format!("{}: {e}", path.display())))?;
            tmp.persist(path)
                .map_err(|e| CliError::operational(format!("{}: {}", path.display(), e.error)))?;
            Ok(())
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|_| out.flush())
                .map_err(|e| CliError::operational(format!("stdout: {e}")))
        }
    }
}

/// `30d`, `12h`, `2w` before `until`, or an absolute time.
fn parse_since(text: &str, until: DateTime<Utc>) -> Result<DateTime<Utc>, CliError> {
    if let Ok(d) = humantime::parse_duration(text) {
        let d = Duration::from_std(d).map_err(|e| CliError::operational(format!("--since {text}: {e}")))?;
        return until
            .checked_sub_signed(d)
            .ok_or_else(|| CliError::operational(format!("--since {text}: too far back")));
    }
    parse_time(text, "--since", false)
}

/// RFC 3339, or a date (UTC): its start, or with `end_of_day` the start of the next day.
fn parse_time(text: &str, flag: &str, end_of_day: bool) -> Result<DateTime<Utc>, CliError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = text.parse::<NaiveDate>() {
        let day = if end_of_day { d.succ_opt().unwrap_or(d) } else { d };
        if let Some(t) = day.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(CliError::operational(format!(
        "{flag} {text:?}: not a duration (30d, 12h), a date (2026-11-01) or an RFC 3339 time (2026-11-01T00:00:00Z)"
    )))
}

pub fn verify_chain(cli: &Cli, keys: &[PathBuf]) -> CmdResult {
    let settings = if cli.db.is_none() { Some(settings(cli)?) } else { None };
    let store = open_existing_db(cli, settings.as_ref())?;
    let keyring = keyring(cli, keys)?;
    let verdict = chain::verify_store(&store, &keyring)?;
    print!("{verdict}");
    Ok(if verdict.ok() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_duration_or_a_time() {
        let until: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("30d", until).unwrap(),
            "2026-10-28T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_since("2026-11-01", until).unwrap(),
            "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_time("2026-11-26", "--until", true).unwrap(),
            "2026-11-27T00:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            "a bare --until date includes that day"
        );
        let err = parse_since("last month", until).unwrap_err();
        assert!(err.message.contains("--since \"last month\": not a duration"), "{}", err.message);
    }
}
