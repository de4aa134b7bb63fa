//! The period report's findings as CSV (RFC 4180), for a spreadsheet or a GRC tool import.
//!
//! One row per finding per verified run that saw it (one per [`FindingPeriod::sightings`] entry),
//! plus one `resolved` row on the run that no longer had it:
//!
//! ```text
//!  date,run_id,rule_id,severity,zone,subject,fingerprint,state,first_seen,last_seen,resolved_at,open_hours,controls,message
//!  2024-07-11,12,ZI-ROUTE-LEAK,high,yellow,leaf1/YELLOW/10.20.1.0/26,…,new,…
//!  2024-07-13,13,ZI-ROUTE-LEAK,…,open,…
//!  2024-07-14,14,ZI-ROUTE-LEAK,…,resolved,…
//! ```
//!
//! `state` is `new` on a finding's first sighting in the window when it was not already open in the
//! last verified run before the window, `open` on every other sighting, `resolved` on the resolution
//! row. `date` is the UTC day the run started; times are RFC 3339 UTC; `controls` are joined with
//! `; `. Rows are in run order (then in the order of the report's findings), so the file reads as a
//! timeline; the columns after `state` repeat the finding's window-wide facts on each row so a
//! filtered sheet still carries them.
//!
//! Format: CRLF line ends, a header row, every record ends with CRLF; a field is quoted when it holds
//! `,`, `"`, CR or LF, with quotes doubled.
//!
//! Spreadsheet formula injection: the text fields (`rule_id`, `zone`, `subject`, `controls`,
//! `message`) come from the network or from rule packs. A field of those that starts with `=`, `+`,
//! `-`, `@`, TAB or CR gets a leading `'`, as the OWASP "CSV Injection" page advises, so Excel,
//! LibreOffice and Google Sheets show it as text instead of evaluating it. Fields zoneaudit makes
//! itself (dates, numbers, hex fingerprints, states) are never altered.

use chrono::{DateTime, SecondsFormat, Utc};

use super::period::{FindingPeriod, PeriodReport, Sighting};

pub const HEADER: [&str; 14] = [
    "date",
    "run_id",
    "rule_id",
    "severity",
    "zone",
    "subject",
    "fingerprint",
    "state",
    "first_seen",
    "last_seen",
    "resolved_at",
    "open_hours",
    "controls",
    "message",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Open,
    Resolved,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Open => "open",
            State::Resolved => "resolved",
        }
    }
}

/// One finding on one run.
struct Row<'a> {
    finding: &'a FindingPeriod,
    at: &'a Sighting,
    state: State,
}

pub fn render(report: &PeriodReport) -> String {
    let mut out = String::new();
    write_record(&mut out, HEADER.iter().map(|h| h.to_string()));
    for row in rows(report) {
        write_record(&mut out, fields(&row));
    }
    out
}

/// Every sighting and resolution, in run order. The sort is stable, so the rows of one run keep the
/// report's finding order; a finding's resolution always comes after its sightings because it is
/// by definition a later run.
fn rows(report: &PeriodReport) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for finding in &report.findings {
        for (i, at) in finding.sightings.iter().enumerate() {
            let state = if i == 0 && !finding.open_before_window { State::New } else { State::Open };
            rows.push(Row { finding, at, state });
        }
        if let Some(at) = &finding.resolved {
            rows.push(Row { finding, at, state: State::Resolved });
        }
    }
    rows.sort_by_key(|r| (r.at.at, r.at.run_id));
    rows
}

fn fields(row: &Row<'_>) -> Vec<String> {
    let f = row.finding;
    vec![
        row.at.at.date_naive().to_string(),
        row.at.run_id.to_string(),
        untrusted(&f.rule_id),
        f.severity.as_str().to_string(),
        untrusted(f.zone.as_deref().unwrap_or("")),
        untrusted(&f.subject),
        f.fingerprint.clone(),
        row.state.as_str().to_string(),
        timestamp(f.first_seen.at),
        timestamp(f.last_seen.at),
        f.resolved.as_ref().map(|r| timestamp(r.at)).unwrap_or_default(),
        f.open_hours.to_string(),
        untrusted(&f.controls.join("; ")),
        untrusted(&f.message),
    ]
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text a spreadsheet must not evaluate (see the module header).
fn untrusted(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() }
}

fn write_record(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(&field));
    }
    out.push_str("\r\n");
}

/// RFC 4180 §2.6–2.7: quote a field holding a separator, a quote or a line break; double quotes.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::period::sample::{self, LEAK_SUBJECT};

    /// A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes. Panics on anything
    /// else (a bare quote in an unquoted field, a lone LF between records, text after a closing quote).
    fn read(csv: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut field = String::new();
        let mut chars = csv.chars().peekable();
        let mut quoted_field = false;
        while let Some(c) = chars.next() {
            match c {
                '"' if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    loop {
                        match chars.next().expect("unterminated quoted field") {
                            '"' if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            '"' => break,
                            c => field.push(c),
                        }
                    }
                    assert!(
                        matches!(chars.peek(), Some(',') | Some('\r') | None),
                        "text after closing quote"
                    );
                }
                '"' => panic!("bare quote in an unquoted field: {field:?}"),
                ',' => {
                    record.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                '\r' => {
                    assert_eq!(chars.next(), Some('\n'), "CR without LF ends a record");
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                    quoted_field = false;
                }
                '\n' => panic!("LF without CR outside a quoted field"),
                c => field.push(c),
            }
        }
        assert!(field.is_empty() && record.is_empty(), "last record does not end with CRLF");
        records
    }

    fn column(records: &[Vec<String>], name: &str) -> Vec<String> {
        let i = HEADER.iter().position(|h| *h == name).expect("known column");
        records[1..].iter().map(|r| r[i].clone()).collect()
    }

    #[test]
    fn header_is_exact() {
        let csv = render(&sample::period());
        assert!(
            csv.starts_with(
                "date,run_id,rule_id,severity,zone,subject,fingerprint,state,first_seen,last_seen,\
                 resolved_at,open_hours,controls,message\r\n"
            ),
            "{csv}"
        );
    }

    #[test]
    fn one_row_per_sighting_plus_one_per_resolution() {
        let p = sample::period();
        let sightings: usize = p.findings.iter().map(|f| f.sightings.len()).sum();
        let resolutions = p.findings.iter().filter(|f| f.resolved.is_some()).count();
        assert_eq!((sightings, resolutions), (3, 1), "the sample: leak on runs 12, 13, flow on 14");
        let records = read(&render(&p));
        assert_eq!(records.len(), 1 + sightings + resolutions);
        assert!(records.iter().all(|r| r.len() == HEADER.len()), "{records:?}");
        let timeline: Vec<(String, String, String, String)> =
            records[1..].iter().map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[7].clone())).collect();
        let row =
            |d: &str, run: &str, rule: &str, state: &str| (d.into(), run.into(), rule.into(), state.into());
        assert_eq!(
            timeline,
            [
                row("2024-07-11", "12", "ZI-ROUTE-LEAK", "new"),
                row("2024-07-13", "13", "ZI-ROUTE-LEAK", "open"),
                row("2024-07-14", "14", "ZI-ROUTE-LEAK", "resolved"),
                row("2024-07-14", "14", "ZI-UNAPPROVED-FLOW", "new"),
            ]
        );
        assert_eq!(
            records[1][8..],
            [
                "2024-07-11T02:00:00Z",
                "2024-07-13T02:00:00Z",
                "2024-07-14T02:00:00Z",
                "72",
                "NIST-800-53 SC-7; PCI-DSS-4.0 1.3.1",
                "VRF YELLOW on leaf1 carries 10.20.1.0/26 of zone blue"
            ]
        );
        assert_eq!(column(&records, "resolved_at")[3], "", "the flow is still open");
    }

    #[test]
    fn carried_into_the_window_is_open_not_new() {
        let mut p = sample::period();
        p.findings[0].open_before_window = true;
        let states = column(&read(&render(&p)), "state");
        assert_eq!(states, ["open", "open", "resolved", "new"]);
    }

    #[test]
    fn fields_round_trip_through_an_rfc4180_reader() {
        let mut p = sample::period();
        let subject = format!("{LEAK_SUBJECT}, via \"GREEN\"\r\nline two");
        p.findings[0].subject = subject.clone();
        p.findings[0].message = "a \"quoted\" message, with a comma".into();
        let csv = render(&p);
        assert!(csv.contains("\"leaf1/YELLOW/10.20.1.0/26, via \"\"GREEN\"\"\r\nline two\""), "{csv}");
        let records = read(&csv);
        assert_eq!(records.len(), 5);
        assert_eq!(column(&records, "subject")[..2], [subject.clone(), subject]);
        assert_eq!(column(&records, "message")[0], "a \"quoted\" message, with a comma");
        assert_eq!(column(&records, "fingerprint")[0], p.findings[0].fingerprint);
    }

    #[test]
    fn formula_injection_is_neutralised() {
        let mut p = sample::period();
        p.findings[0].subject = "=HYPERLINK(\"http://evil.example\",\"click\")".into();
        p.findings[0].zone = Some("@SUM(A1:A9)".into());
        p.findings[0].message = "+1+cmd|' /C calc'!A0".into();
        p.findings[1].subject = "-2+3".into();
        p.findings[1].message = "\tTAB".into();
        p.findings[1].controls = vec!["\r=1".into()];
        let records = read(&render(&p));
        let leak = &records[1];
        assert_eq!(leak[5], "'=HYPERLINK(\"http://evil.example\",\"click\")");
        assert_eq!(leak[4], "'@SUM(A1:A9)");
        assert_eq!(leak[13], "'+1+cmd|' /C calc'!A0");
        let flow = &records[4];
        assert_eq!((flow[5].as_str(), flow[13].as_str(), flow[12].as_str()), ("'-2+3", "'\tTAB", "'\r=1"));
        // Every field a spreadsheet could evaluate starts with the quote.
        for r in &records[1..] {
            for (i, field) in r.iter().enumerate() {
                let generated = ["date", "run_id", "fingerprint", "first_seen", "last_seen", "open_hours"];
                if !generated.contains(&HEADER[i]) {
                    assert!(!field.starts_with(['=', '+', '-', '@', '\t', '\r']), "{}: {field:?}", HEADER[i]);
                }
            }
        }
    }

    #[test]
    fn no_findings_is_just_the_header() {
        let mut p = sample::period();
        p.findings.clear();
        assert_eq!(read(&render(&p)), [HEADER.map(String::from).to_vec()]);
    }

    #[test]
    fn deterministic() {
        assert_eq!(render(&sample::period()), render(&sample::period()));
    }
}
