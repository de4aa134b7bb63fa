//! The period report as GitHub-flavoured Markdown: for a compliance officer who reads it in a
//! repository or pastes it into a ticket, without cluster access.
//!
//! ```text
//!  # title (cluster, window UTC)      verdict + headline numbers
//!  ## Zones × nights                  one row per zone, one column per night, then the window
//!  ## Rules × nights                  one row per rule, same columns; then rule details (controls)
//!  ## Findings timeline               first seen / last seen / resolved / open for / controls
//!  ## Finding evidence                per finding: message, fingerprint, evidence of its last sighting
//!  ## Evidence gaps / Drift / Runs covered (with signature and chain verdict) / How to verify
//! ```
//!
//! Cells use one symbol each (legend in the document): ✓ pass, ✗ fail (zones add the worst severity),
//! – no evidence, ~ partial, ! error, · skip. Nights are column headers: full dates for short windows,
//! `MM-DD` for windows of more than [`COMPACT_AFTER`] nights so the table stays readable.
//!
//! Everything that came from the network (zone, subject, message, source names, locators, excerpts,
//! source errors, verification details) is hostile text, handled as in the run report
//! (`markdown.rs`): inline text is backslash-escaped and kept on one line, so it can neither end a
//! table cell nor open a link, emphasis or raw HTML; excerpts go in fences longer than any backtick
//! run inside them. The output depends only on the report (no clock, no environment).

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::markdown::{short, text, text_code, write_evidence};
use super::period::{
    Cell, CoveredRun, DriftEvent, EvidenceGap, FindingPeriod, PeriodReport, RulePeriod, Sighting, ZoneCell,
    ZonePeriod,
};
use crate::model::Severity;

/// Windows with more nights than this get `MM-DD` column headers instead of full dates.
pub const COMPACT_AFTER: usize = 14;

const LEGEND: &str = "Legend: ✓ pass · ✗ fail (zones: with the worst severity that night) · – no evidence \
(no run, run not complete, or report does not verify) · ~ partial (nothing found, but a source failed) · \
! error (rule could not be evaluated) · · skip (nothing in scope)";

pub fn render(report: &PeriodReport) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, report);
    out
}

fn write_report(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    write_title(out, r)?;
    write_zone_matrix(out, r)?;
    write_rule_matrix(out, r)?;
    write_timeline(out, r)?;
    write_finding_evidence(out, r)?;
    write_gaps(out, r)?;
    write_drift(out, r)?;
    write_runs(out, r)?;
    write_how_to_verify(out)
}

fn write_title(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    let s = &r.summary;
    writeln!(
        out,
        "# zoneaudit period report — {}, {} to {} UTC\n",
        text(&r.cluster),
        day_time(r.since),
        day_time(r.until)
    )?;
    writeln!(out, "**Verdict:** {}\n", text(&s.verdict))?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| Cluster | {} |", text(&r.cluster))?;
    writeln!(out, "| Window | {} to {} |", timestamp(r.since), timestamp(r.until))?;
    let zones = r.zone_filter.as_deref().map_or("all zones".to_string(), |z| format!("{} only", text(z)));
    writeln!(out, "| Zones | {zones} |")?;
    let monitoring = r.monitoring_since.map_or("no run in the database".to_string(), timestamp);
    writeln!(out, "| Monitoring since | {monitoring} |")?;
    writeln!(out, "| Nights | {} ({} with verified evidence) |", s.nights, s.nights_with_evidence)?;
    writeln!(out, "| Runs | {} ({} with a verified report) |", s.runs, s.runs_verified)?;
    writeln!(out, "| Rules | {} ({} failed at some point) |", s.rules, s.rules_failed)?;
    writeln!(
        out,
        "| Findings | {} (worst: {}); {} open at the end, {} resolved |",
        s.findings,
        s.worst_severity.map_or("none", Severity::as_str),
        s.findings_open_at_end,
        s.findings_resolved
    )?;
    writeln!(out, "| Evidence gaps | {} |", s.gaps)?;
    writeln!(
        out,
        "| Generated | {} by {} {} |\n",
        timestamp(r.generated_at),
        text(&r.tool.name),
        text(&r.tool.version)
    )
}

fn write_zone_matrix(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "## Zones × nights\n")?;
    writeln!(out, "{LEGEND}\n")?;
    if r.zones.is_empty() {
        return writeln!(out, "No zones.\n");
    }
    write_matrix_header(out, "Zone", &r.nights.iter().map(|n| n.date).collect::<Vec<_>>(), &["Findings"])?;
    for zone in &r.zones {
        let mut row = vec![text(&zone.zone)];
        row.extend(zone.nights.iter().map(zone_symbol));
        row.push(zone_symbol(&ZoneCell { status: zone.status, worst: zone_worst(zone), findings: 0 }));
        row.push(zone.findings.to_string());
        writeln!(out, "{}", table_row(&row))?;
    }
    writeln!(out)
}

fn write_rule_matrix(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "## Rules × nights\n")?;
    if r.rules.is_empty() {
        return writeln!(out, "No rule was evaluated by a verified run in this window.\n");
    }
    let dates: Vec<NaiveDate> = r.nights.iter().map(|n| n.date).collect();
    write_matrix_header(out, "Rule", &dates, &["Failed nights", "Passed nights"])?;
    for rule in &r.rules {
        let mut row = vec![text(&rule.rule_id)];
        row.extend(rule.nights.iter().map(|c| symbol(*c).to_string()));
        row.push(symbol(rule.status).to_string());
        row.push(rule.failed_nights.to_string());
        row.push(rule.passed_nights.to_string());
        writeln!(out, "{}", table_row(&row))?;
    }
    writeln!(out)?;
    write_rule_details(out, &r.rules)
}

fn write_rule_details(out: &mut String, rules: &[RulePeriod]) -> std::fmt::Result {
    writeln!(out, "| Rule | Title | Severity | Controls | Last checked |\n|---|---|---|---|---|")?;
    for rule in rules {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            text(&rule.rule_id),
            text(&rule.title),
            rule.severity,
            controls(&rule.controls),
            text(&rule.last_checked)
        )?;
    }
    writeln!(out)
}

/// The header and alignment rows of a matrix: a name column, one centred column per night, the
/// window, then `extra` columns.
fn write_matrix_header(
    out: &mut String,
    name: &str,
    dates: &[NaiveDate],
    extra: &[&str],
) -> std::fmt::Result {
    let compact = dates.len() > COMPACT_AFTER;
    let mut header = vec![name.to_string()];
    header.extend(dates.iter().map(|d| night_header(*d, compact)));
    header.push("Window".to_string());
    header.extend(extra.iter().map(|e| e.to_string()));
    let mut align = vec!["---"];
    align.extend(dates.iter().map(|_| ":-:"));
    align.push(":-:");
    align.extend(extra.iter().map(|_| "--:"));
    writeln!(out, "{}", table_row(&header))?;
    writeln!(out, "|{}|", align.join("|"))
}

/// Cells already escaped.
fn table_row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

fn night_header(date: NaiveDate, compact: bool) -> String {
    if compact { date.format("%m-%d").to_string() } else { date.format("%Y-%m-%d").to_string() }
}

fn symbol(cell: Cell) -> &'static str {
    match cell {
        Cell::Pass => "✓",
        Cell::Fail => "✗",
        Cell::NoEvidence => "–",
        Cell::Partial => "~",
        Cell::Error => "!",
        Cell::Skip => "·",
    }
}

fn zone_symbol(cell: &ZoneCell) -> String {
    match (cell.status, cell.worst) {
        (Cell::Fail, Some(worst)) => format!("✗ {worst}"),
        (status, _) => symbol(status).to_string(),
    }
}

/// The worst severity the zone had on any night of the window.
fn zone_worst(zone: &ZonePeriod) -> Option<Severity> {
    zone.nights.iter().filter_map(|c| c.worst).max()
}

fn write_timeline(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "## Findings timeline ({})\n", r.findings.len())?;
    if r.findings.is_empty() {
        return writeln!(out, "No findings in the verified runs of this window.\n");
    }
    writeln!(
        out,
        "| # | Rule | Severity | Zone | Subject | First seen | Last seen | Resolved | Open for | Controls |\n\
         |--:|---|---|---|---|---|---|---|--:|---|"
    )?;
    for (n, f) in r.findings.iter().enumerate() {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            n + 1,
            text(&f.rule_id),
            f.severity,
            zone_name(f.zone.as_deref()),
            text(&f.subject),
            first_seen(f),
            sighting(&f.last_seen),
            resolution(f),
            open_for(f),
            controls(&f.controls)
        )?;
    }
    writeln!(out)
}

fn first_seen(f: &FindingPeriod) -> String {
    if f.open_before_window {
        format!("{} (already open before the window)", sighting(&f.first_seen))
    } else {
        sighting(&f.first_seen)
    }
}

fn resolution(f: &FindingPeriod) -> String {
    match (&f.resolved, f.open_at_end) {
        (Some(r), _) => sighting(r),
        (None, true) => "**still open** at the end".to_string(),
        (None, false) => "not resolved by a verified run".to_string(),
    }
}

/// Whole hours, with days for anything longer than a day; "at least" when the finding was open
/// before the window, since the window cannot show when it opened.
fn open_for(f: &FindingPeriod) -> String {
    let h = f.open_hours;
    let span = if h < 24 { format!("{h} h") } else { format!("{} d {} h", h / 24, h % 24) };
    if f.open_before_window { format!("≥ {span}") } else { span }
}

fn write_finding_evidence(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    if r.findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "## Finding evidence\n")?;
    for (n, f) in r.findings.iter().enumerate() {
        writeln!(out, "### {}. {} · {} · {}\n", n + 1, f.severity, text(&f.rule_id), text(&f.subject))?;
        writeln!(out, "**Message:** {}\n", text(&f.message))?;
        writeln!(
            out,
            "Zone: {}. Fingerprint: `{}`. Seen in {} verified run(s); evidence from run {}.\n",
            zone_name(f.zone.as_deref()),
            text_code(&f.fingerprint),
            f.seen_in_runs,
            f.last_seen.run_id
        )?;
        if f.evidence.is_empty() {
            writeln!(out, "No evidence recorded.\n")?;
        }
        for (e, origin) in f.evidence.iter().enumerate() {
            write_evidence(out, e + 1, origin)?;
        }
    }
    Ok(())
}

fn write_gaps(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "## Evidence gaps ({})\n", r.gaps.len())?;
    if r.gaps.is_empty() {
        return writeln!(out, "None: every night has a complete, verified run.\n");
    }
    writeln!(out, "| Night | Kind | Run | Source | Detail |\n|---|---|--:|---|---|")?;
    for run in gap_runs(&r.gaps) {
        writeln!(out, "{}", gap_row(run))?;
    }
    writeln!(out)
}

/// Consecutive nights with the same run-less gap (before monitoring began, or an outage of days)
/// as one slice, so a month before the first run is one row and not thirty identical ones.
fn gap_runs(gaps: &[EvidenceGap]) -> Vec<&[EvidenceGap]> {
    let mut out: Vec<&[EvidenceGap]> = Vec::new();
    let mut start = 0;
    for i in 1..=gaps.len() {
        let continues = gaps.get(i).is_some_and(|g| {
            let prev = &gaps[i - 1];
            g.run_id.is_none()
                && prev.run_id.is_none()
                && g.source.is_none()
                && prev.source.is_none()
                && g.kind == prev.kind
                && g.detail == prev.detail
                && prev.date.succ_opt() == Some(g.date)
        });
        if !continues {
            out.push(&gaps[start..i]);
            start = i;
        }
    }
    out
}

fn gap_row(run: &[EvidenceGap]) -> String {
    let (g, last) = (&run[0], &run[run.len() - 1]);
    let nights = if run.len() == 1 {
        g.date.to_string()
    } else {
        format!("{} to {} ({} nights)", g.date, last.date, run.len())
    };
    format!(
        "| {nights} | {} | {} | {} | {} |",
        g.kind.as_str(),
        g.run_id.map_or(String::new(), |id| id.to_string()),
        g.source.as_deref().map(text).unwrap_or_default(),
        text(&g.detail)
    )
}

fn write_drift(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "## Drift ({} runs with changes)\n", r.drift.len())?;
    if r.drift.is_empty() {
        return writeln!(out, "No finding appeared or disappeared between verified runs.\n");
    }
    let names: BTreeMap<&str, &FindingPeriod> =
        r.findings.iter().map(|f| (f.fingerprint.as_str(), f)).collect();
    writeln!(out, "| Run | Started | New | Resolved |\n|--:|---|---|---|")?;
    for d in &r.drift {
        writeln!(out, "{}", drift_row(d, &names))?;
    }
    writeln!(out)
}

fn drift_row(d: &DriftEvent, names: &BTreeMap<&str, &FindingPeriod>) -> String {
    let list = |fps: &[String]| -> String {
        if fps.is_empty() {
            return "none".to_string();
        }
        let items: Vec<String> = fps.iter().map(|fp| drift_item(fp, names)).collect();
        items.join("; ")
    };
    format!("| {} | {} | {} | {} |", d.run_id, timestamp(d.at), list(&d.new), list(&d.resolved))
}

/// A fingerprint by the rule and subject it stands for, when the window shows that finding (a
/// finding resolved in the first run was only seen before the window).
fn drift_item(fp: &str, names: &BTreeMap<&str, &FindingPeriod>) -> String {
    match names.get(fp) {
        Some(f) => format!("{} {} (`{}`)", text(&f.rule_id), text(&f.subject), text_code(short(fp))),
        None => format!("`{}`", text_code(short(fp))),
    }
}

fn write_runs(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "## Runs covered ({})\n", r.runs.len())?;
    if r.runs.is_empty() {
        return writeln!(out, "No run started in this window.\n");
    }
    writeln!(
        out,
        "| Run | Started | Finished | Status | Evidence | Findings | Signature | Chain | Trusted | Report digest | Detail |\n\
         |--:|---|---|---|---|--:|---|---|---|---|---|"
    )?;
    for run in &r.runs {
        writeln!(out, "{}", run_row(run))?;
    }
    writeln!(
        out,
        "\nOnly runs that are complete and whose report is trusted (signature and chain ok) count as \
         evidence above.\n"
    )
}

fn run_row(run: &CoveredRun) -> String {
    let evidence = match run.evidence_complete {
        Some(true) => "complete",
        Some(false) => "incomplete",
        None => "unknown",
    };
    let v = &run.verification;
    let key = v.keyid.as_deref().map(|k| format!(", key `{}`", text_code(short(k)))).unwrap_or_default();
    format!(
        "| {} | {} | {} | {} | {evidence} | {} | {}{key} | {} | {} | {} | {} |",
        run.run_id,
        timestamp(run.started_at),
        run.finished_at.map_or("—".to_string(), timestamp),
        text(&run.status),
        run.findings,
        v.signature.as_str(),
        v.chain.as_str(),
        if v.trusted() { "yes" } else { "**no**" },
        run.report_digest.as_deref().map_or("none".to_string(), |d| format!("`{}`", text_code(d))),
        text(&v.detail)
    )
}

fn write_how_to_verify(out: &mut String) -> std::fmt::Result {
    writeln!(out, "## How to verify\n")?;
    writeln!(
        out,
        "This Markdown is a reading copy and is not signed. The signed form of the same period report is \
         the JSON format (`zoneaudit report --format json`, a DSSE envelope). Check it, and each run \
         report it names, with `zoneaudit verify`; without zoneaudit, verify the Ed25519 signature with \
         openssl as described step by step in docs/VERIFYING.md. The report digests in *Runs covered* \
         are the SHA-256 of each run report's signed payload and link the chain."
    )
}

fn zone_name(zone: Option<&str>) -> String {
    zone.map_or("none".to_string(), text)
}

fn controls(list: &[String]) -> String {
    if list.is_empty() {
        return "none".to_string();
    }
    let items: Vec<String> = list.iter().map(|c| text(c)).collect();
    items.join("; ")
}

fn sighting(s: &Sighting) -> String {
    format!("{} (run {})", timestamp(s.at), s.run_id)
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2024-07-10 00:00` for the title, where seconds are noise.
fn day_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::period::sample::{self, FLOW_SUBJECT, HOSTILE_EXCERPT};

    /// The rows of the table whose header row starts with `| {first} |`, split into trimmed cells
    /// on unescaped pipes; the header first, the alignment row dropped.
    fn table(md: &str, first: &str) -> Vec<Vec<String>> {
        let start = format!("| {first} |");
        let mut lines = md.lines().skip_while(|l| !l.starts_with(&start));
        let header = lines.next().unwrap_or_else(|| panic!("no table {first:?} in:\n{md}"));
        let mut rows = vec![cells(header)];
        rows.extend(lines.skip(1).take_while(|l| l.starts_with('|')).map(cells));
        rows
    }

    fn cells(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cell = String::new();
        let mut chars = line.trim().trim_start_matches('|').chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    cell.push(c);
                    if let Some(n) = chars.next() {
                        cell.push(n);
                    }
                }
                '|' => out.push(std::mem::take(&mut cell).trim().to_string()),
                c => cell.push(c),
            }
        }
        assert!(cell.trim().is_empty(), "row does not end with a pipe: {line}");
        out
    }

    /// The Markdown with every fenced code block removed, and the contents of those blocks. Follows
    /// CommonMark: a fence closes only on a backtick run at least as long as the one that opened it.
    fn split_code(md: &str) -> (String, Vec<String>) {
        let mut prose = String::new();
        let mut blocks = Vec::new();
        let mut open: Option<(usize, String)> = None;
        for line in md.lines() {
            let ticks = line.len() - line.trim_start_matches('`').len();
            match &mut open {
                None if ticks >= 3 => open = Some((ticks, String::new())),
                None => {
                    prose.push_str(line);
                    prose.push('\n');
                }
                Some((n, _)) if ticks >= *n && line.trim_start_matches('`').trim().is_empty() => {
                    blocks.push(open.take().map(|(_, b)| b).unwrap_or_default());
                }
                Some((_, body)) => {
                    if !body.is_empty() {
                        body.push('\n');
                    }
                    body.push_str(line);
                }
            }
        }
        assert!(open.is_none(), "unclosed code block swallows the rest of the document");
        (prose, blocks)
    }

    #[test]
    fn title_and_headline_numbers() {
        let md = render(&sample::period());
        assert!(
            md.starts_with(
                "# zoneaudit period report — prod-eu1, 2024-07-10 00:00 to 2024-07-16 00:00 UTC\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("**Verdict:** Zone isolation was broken at some point: 2 finding(s), worst high"),
            "{md}"
        );
        assert!(md.contains("| Nights | 6 (4 with verified evidence) |"), "{md}");
        assert!(md.contains("| Runs | 5 (4 with a verified report) |"), "{md}");
        assert!(md.contains("| Findings | 2 (worst: high); 1 open at the end, 1 resolved |"), "{md}");
        assert!(md.contains("`zoneaudit verify`") && md.contains("docs/VERIFYING.md"), "{md}");
    }

    #[test]
    fn zone_matrix_has_a_row_per_zone_and_a_column_per_night() {
        let md = render(&sample::period());
        let t = table(&md, "Zone");
        assert_eq!(
            t[0],
            [
                "Zone",
                "2024-07-10",
                "2024-07-11",
                "2024-07-12",
                "2024-07-13",
                "2024-07-14",
                "2024-07-15",
                "Window",
                "Findings"
            ]
        );
        assert_eq!(t[1], ["yellow", "✓", "✗ high", "–", "✗ high", "✓", "–", "✗ high", "1"]);
        assert_eq!(t[2], ["blue", "✓", "✓", "–", "~", "✓", "–", "–", "0"]);
        assert_eq!(t[3], ["green", "✓", "✓", "–", "~", "✗ medium", "–", "✗ medium", "1"]);
        assert_eq!(t.len(), 4, "three zones");
    }

    #[test]
    fn rule_matrix_shows_fail_partial_and_the_night_without_a_run() {
        let md = render(&sample::period());
        let t = table(&md, "Rule");
        assert_eq!(
            t[0][1..7],
            ["2024-07-10", "2024-07-11", "2024-07-12", "2024-07-13", "2024-07-14", "2024-07-15"]
        );
        assert_eq!(t[1], ["ZI-ROUTE-LEAK", "✓", "✗", "–", "✗", "✓", "–", "✗", "2", "2"]);
        assert_eq!(t[2], ["ZI-UNAPPROVED-FLOW", "✓", "✓", "–", "~", "✗", "–", "✗", "1", "2"]);
        // 2024-07-12 had no run at all: no evidence, in every row of both matrices.
        assert!(t[1..].iter().all(|row| row[3] == "–"), "{t:?}");
        assert!(md.contains("| ZI-ROUTE-LEAK | No route of one zone in another zone's VRF | high | NIST-800-53 SC-7; PCI-DSS-4.0 1.3.1 |"), "{md}");
        assert!(md.contains("– no evidence") && md.contains("~ partial") && md.contains("· skip"), "{md}");
    }

    #[test]
    fn nights_before_monitoring_are_one_gap_row() {
        let mut input = sample::input();
        input.since = "2024-06-25T00:00:00Z".parse().unwrap();
        input.monitoring_since = Some("2024-07-10T02:00:00Z".parse().unwrap());
        let md = render(&crate::evidence::period::build(input));
        let gaps = table(&md, "Night");
        assert_eq!(
            gaps[1],
            [
                "2024-06-25 to 2024-07-09 (15 nights)",
                "notMonitored",
                "",
                "",
                "no run: before the first run in the database"
            ]
        );
        assert_eq!(gaps[2][..2], ["2024-07-12", "noRun"]);
        assert_eq!(gaps.len(), 5, "{gaps:?}");
        assert!(md.contains("| Nights | 21 (4 with verified evidence) |"), "{md}");
        let header = &table(&md, "Zone")[0];
        assert_eq!((header[1].as_str(), header.len()), ("06-25", 21 + 3), "21 nights: compact headers");
    }

    #[test]
    fn long_windows_get_compact_night_headers() {
        let mut p = sample::period();
        let first = p.nights[0].clone();
        p.nights = (0..30)
            .map(|i| super::super::period::Night { date: first.date + chrono::Days::new(i), ..first.clone() })
            .collect();
        for rule in &mut p.rules {
            rule.nights = vec![Cell::Pass; 30];
        }
        for zone in &mut p.zones {
            zone.nights = vec![ZoneCell { status: Cell::Pass, worst: None, findings: 0 }; 30];
        }
        let md = render(&p);
        let header = &table(&md, "Rule")[0];
        assert_eq!(header.len(), 30 + 4);
        assert_eq!((header[1].as_str(), header[22].as_str()), ("07-10", "07-31"));
        assert!(table(&md, "Rule")[1..].iter().all(|row| row.len() == header.len()));
    }

    #[test]
    fn findings_timeline_rows() {
        let md = render(&sample::period());
        let t = table(&md, "#");
        assert_eq!(
            t[0],
            [
                "#",
                "Rule",
                "Severity",
                "Zone",
                "Subject",
                "First seen",
                "Last seen",
                "Resolved",
                "Open for",
                "Controls"
            ]
        );
        assert_eq!(
            t[1],
            [
                "1",
                "ZI-ROUTE-LEAK",
                "high",
                "yellow",
                "leaf1/YELLOW/10.20.1.0/26",
                "2024-07-11T02:00:00Z (run 12)",
                "2024-07-13T02:00:00Z (run 13)",
                "2024-07-14T02:00:00Z (run 14)",
                "3 d 0 h",
                "NIST-800-53 SC-7; PCI-DSS-4.0 1.3.1"
            ]
        );
        assert_eq!(t[2][4], "fw-core/green-\\>blue/tcp/8080/green-to-blue-temp");
        assert_eq!((t[2][7].as_str(), t[2][8].as_str()), ("**still open** at the end", "1 d 22 h"));
    }

    #[test]
    fn runs_show_their_verification() {
        let md = render(&sample::period());
        let t = table(&md, "Run | Started | Finished");
        let run15 = t.iter().find(|row| row[0] == "15").expect("run 15 listed");
        assert_eq!((run15[6].as_str(), run15[7].as_str(), run15[8].as_str()), ("failed", "failed", "**no**"));
        let run11 = t.iter().find(|row| row[0] == "11").expect("run 11 listed");
        assert_eq!((run11[6].as_str(), run11[8].as_str()), ("ok, key `7f7f7f7f7f7f`", "yes"));
        let gaps = table(&md, "Night");
        assert_eq!(gaps.len(), 4, "{gaps:?}");
        assert_eq!(gaps[1][..3], ["2024-07-12", "noRun", ""]);
        assert_eq!(gaps[2][3], "leaf2");
    }

    #[test]
    fn hostile_excerpt_stays_inside_its_code_block() {
        let md = render(&sample::period());
        let (prose, blocks) = split_code(&md);
        assert!(blocks.contains(&HOSTILE_EXCERPT.to_string()), "excerpt not intact in one block: {blocks:?}");
        assert!(!prose.contains("<script>"), "raw script tag outside a code block:\n{prose}");
        assert_no_raw_html(&prose);

        // An excerpt that tries to close the fence and start its own Markdown.
        let mut p = sample::period();
        let hostile = "a\n`````\n# injected <script>x</script>\n``";
        p.findings[0].evidence[0].excerpt = hostile.into();
        p.findings[0].message = "line one\n# not a heading <img src=x onerror=alert(1)>".into();
        let md = render(&p);
        let (prose, blocks) = split_code(&md);
        assert!(blocks.contains(&hostile.to_string()), "excerpt not intact in one block: {blocks:?}");
        assert!(!prose.contains("# injected"), "{prose}");
        assert!(
            prose.contains("**Message:** line one \\# not a heading \\<img src=x onerror=alert(1)\\>\n"),
            "{prose}"
        );
        assert_no_raw_html(&prose);
    }

    /// Outside code, every `<` is escaped, so no tag (and no autolink) can form.
    fn assert_no_raw_html(prose: &str) {
        let mut prev = ' ';
        for (i, c) in prose.char_indices() {
            assert!(!(c == '<' && prev != '\\'), "unescaped < at {i}: {}", &prose[i.saturating_sub(40)..]);
            prev = c;
        }
    }

    #[test]
    fn pipes_and_newlines_in_network_text_do_not_break_table_rows() {
        let mut p = sample::period();
        p.findings[1].subject = "fw|core\n| 9 | injected |".into();
        p.findings[1].zone = Some("gr|een".into());
        p.gaps[1].detail = "reply `a|b`\r\nnext".into();
        p.runs[4].verification.detail = "bad | sig".into();
        let md = render(&p);
        for first in
            ["Zone", "Rule", "Rule | Title", "#", "Night", "Run | Started | New", "Run | Started | Finished"]
        {
            let t = table(&md, first);
            let width = t[0].len();
            assert!(t.iter().all(|row| row.len() == width), "{first}: {t:?}");
        }
        let t = table(&md, "#");
        assert_eq!(t.len(), 3, "one row per finding: {t:?}");
        assert_eq!(t[2][4], "fw\\|core \\| 9 \\| injected \\|");
        assert!(
            md.contains("### 2. medium · ZI-UNAPPROVED-FLOW · fw\\|core \\| 9 \\| injected \\|\n"),
            "{md}"
        );
        assert!(!md.contains(FLOW_SUBJECT));
    }

    #[test]
    fn markup_in_names_is_text() {
        let mut p = sample::period();
        p.findings[0].subject = "[click](javascript:alert(1)) *bold* _it_ &amp; ![img](x)".into();
        let md = render(&p);
        let (prose, _) = split_code(&md);
        assert!(
            prose.contains("\\[click\\](javascript:alert(1)) \\*bold\\* \\_it\\_ \\&amp; \\!\\[img\\](x)"),
            "{prose}"
        );
        assert!(!prose.contains("[click]("), "a link would form: {prose}");
    }

    #[test]
    fn a_window_without_nights_keeps_its_tables_aligned() {
        let mut p = sample::period();
        p.nights.clear();
        for rule in &mut p.rules {
            rule.nights.clear();
        }
        for zone in &mut p.zones {
            zone.nights.clear();
        }
        let md = render(&p);
        assert_eq!(table(&md, "Zone")[1], ["yellow", "✗", "1"]);
        assert_eq!(table(&md, "Rule")[2], ["ZI-UNAPPROVED-FLOW", "✗", "1", "2"]);
    }

    #[test]
    fn deterministic() {
        let p = sample::period();
        assert_eq!(render(&p), render(&p.clone()));
        assert_eq!(render(&p), render(&sample::period()));
    }

    #[test]
    fn an_empty_window_says_so() {
        let mut p = sample::period();
        p.findings.clear();
        p.drift.clear();
        p.gaps.clear();
        let md = render(&p);
        assert!(md.contains("No findings in the verified runs of this window."), "{md}");
        assert!(md.contains("None: every night has a complete, verified run."), "{md}");
        assert!(!md.contains("## Finding evidence"), "{md}");
    }
}
