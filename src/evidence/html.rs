//! The period report as one self-contained HTML page, for a compliance officer with a browser and a
//! printer and no cluster access.
//!
//! ```text
//!  PeriodReport ──render()──▶ <!DOCTYPE html> one file: inline <style>, inline <svg>, no script
//!    header      cluster, window (UTC), generated at, tool, zone filter
//!    verdict     summary.verdict + headline numbers
//!    calendar    zones × nights, rules × nights      (cells: colour AND a symbol, see `cell_mark`)
//!    findings    SVG timeline, table, evidence per finding (excerpt verbatim in <pre>)
//!    gaps        nights or runs without trustworthy evidence
//!    drift       new / resolved findings per run
//!    runs        each run report's signature and chain verdict (anything not verified is red)
//!    verify      how to check the signed forms without trusting this page
//! ```
//!
//! Self-contained means nothing is fetched: the page refers to nothing outside itself, and its
//! Content-Security-Policy allows inline styles only, a second fence should markup ever get
//! through. Every string that came from the report (names, subjects, messages, locators, excerpts,
//! errors) passes through [`escape`]; attribute values are always double-quoted, so the same
//! escaping is enough for them. The output is a pure function of the report: no clock, no hash map
//! order, fixed float formatting, so the same report gives the same bytes.
//!
//! Print: A4 landscape (a 30-night calendar needs the width), big sections start on a new page,
//! table headers repeat on each page and colours are printed as they are (`print-color-adjust`).
//! Colour is never the only signal: each calendar cell also carries a symbol, so a greyscale print
//! and a screen reader read the same as the screen.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};

use super::period::{Cell, Check, CoveredRun, EvidenceGap, FindingPeriod, GapKind, PeriodReport};
use crate::model::Severity;

/// The page. Pure and deterministic: same report, same bytes.
pub fn render(report: &PeriodReport) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_page(&mut out, report);
    out
}

/// HTML-escape untrusted text for element content and double-quoted attribute values.
///
/// Besides the five markup characters, control characters other than tab and line ends (parse
/// errors in HTML, and invisible) become U+FFFD, and bidirectional overrides become a visible
/// `[U+202E]`, so network text cannot make a subject read differently from what it is.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(c),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Background and text colour of a calendar cell, used nowhere else on the page, so a rendering
/// test can count exactly these pixels.
pub fn cell_colours(cell: Cell) -> (&'static str, &'static str) {
    match cell {
        Cell::Pass => ("#2f8a3c", "#ffffff"),
        Cell::Skip => ("#eef1f4", "#4a5560"),
        Cell::Partial => ("#f2c14e", "#3b2f00"),
        Cell::NoEvidence => ("#d5d8dc", "#3d4349"),
        Cell::Error => ("#6f42c1", "#ffffff"),
        Cell::Fail => ("#c0392b", "#ffffff"),
    }
}

const ALL_CELLS: [Cell; 6] =
    [Cell::Pass, Cell::Skip, Cell::Partial, Cell::NoEvidence, Cell::Error, Cell::Fail];

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#7b1c5e",
        Severity::High => "#b3261e",
        Severity::Medium => "#d9700f",
        Severity::Low => "#b58b00",
        Severity::Info => "#5f6b76",
    }
}

const ALL_SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

/// One letter per severity, shown next to ✗ so the worst severity reads without colour.
fn severity_letter(severity: Severity) -> char {
    match severity {
        Severity::Critical => 'C',
        Severity::High => 'H',
        Severity::Medium => 'M',
        Severity::Low => 'L',
        Severity::Info => 'I',
    }
}

/// The symbol of a cell; `worst` adds the severity letter to a failure.
fn cell_mark(cell: Cell, worst: Option<Severity>) -> String {
    match cell {
        Cell::Pass => "✓".into(),
        Cell::Skip => "○".into(),
        Cell::Partial => "~".into(),
        Cell::NoEvidence => "–".into(),
        Cell::Error => "!".into(),
        Cell::Fail => worst.map_or("✗".into(), |s| format!("✗{}", severity_letter(s))),
    }
}

fn cell_words(cell: Cell) -> &'static str {
    match cell {
        Cell::Pass => "pass",
        Cell::Skip => "skipped",
        Cell::Partial => "partial evidence",
        Cell::NoEvidence => "no evidence",
        Cell::Error => "error",
        Cell::Fail => "fail",
    }
}

fn cell_meaning(cell: Cell) -> &'static str {
    match cell {
        Cell::Pass => "evaluated, nothing found, complete evidence",
        Cell::Skip => "nothing in scope for the rule",
        Cell::Partial => "nothing found, but a source failed: not proven",
        Cell::NoEvidence => "no verified, complete run that night",
        Cell::Error => "the rule could not be evaluated",
        Cell::Fail => "at least one finding; letter = worst severity",
    }
}

fn gap_words(kind: GapKind) -> &'static str {
    match kind {
        GapKind::NotMonitored => "not monitored yet",
        GapKind::NoRun => "no run",
        GapKind::RunNotComplete => "run not complete",
        GapKind::ReportUnverified => "report does not verify",
        GapKind::SourceFailed => "source failed",
    }
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `open_hours` in the units an auditor counts: days and hours.
fn duration(hours: i64) -> String {
    match (hours / 24, hours % 24) {
        (0, h) => format!("{h} h"),
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

fn trusted(run: &CoveredRun) -> bool {
    run.verification.trusted() && run.status == "complete"
}

fn write_page(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    let title = format!(
        "Zone-isolation period report — {}, {} to {}",
        r.cluster,
        day(r.since.date_naive()),
        utc(r.until)
    );
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
    )?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(
        out,
        "<meta name=\"generator\" content=\"{} {}\">",
        escape(&r.tool.name),
        escape(&r.tool.version)
    )?;
    writeln!(out, "<title>{}</title>", escape(&title))?;
    writeln!(out, "<style>\n{}</style>\n</head>\n<body>", stylesheet())?;
    write_header(out, r)?;
    write_verdict(out, r)?;
    write_contents(out)?;
    write_calendar(out, r)?;
    write_findings(out, r)?;
    write_gaps(out, r)?;
    write_drift(out, r)?;
    write_runs(out, r)?;
    write_how_to_verify(out, r)?;
    writeln!(
        out,
        "<footer>{} {} · period report of {} · generated {}</footer>",
        escape(&r.tool.name),
        escape(&r.tool.version),
        escape(&r.cluster),
        utc(r.generated_at)
    )?;
    writeln!(out, "</body>\n</html>")
}

fn stylesheet() -> String {
    let mut css = String::from(STYLE);
    for cell in ALL_CELLS {
        let (bg, fg) = cell_colours(cell);
        let _ = writeln!(css, ".c-{} {{ background: {bg}; color: {fg}; }}", cell.as_str());
    }
    for severity in ALL_SEVERITIES {
        let _ = writeln!(css, ".s-{} {{ background: {}; }}", severity.as_str(), severity_colour(severity));
    }
    css
}

const STYLE: &str = r#"html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #1d2329;
  margin: 24px auto; max-width: 1320px; padding: 0 20px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #1d2329; }
h3 { font-size: 16px; margin: 22px 0 6px; }
p { margin: 6px 0; }
code, pre, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; font-size: 12px; }
.mono { overflow-wrap: anywhere; }
.muted { color: #5a6570; }
header.title .window { font-size: 17px; margin: 2px 0 10px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 13px; }
dl.meta dt { color: #5a6570; }
dl.meta dd { margin: 0; }
.verdict { margin: 18px 0; padding: 14px 18px; border: 2px solid; border-left-width: 10px; border-radius: 4px; }
.verdict.v-fail { border-color: #b3261e; background: #fdf0ef; }
.verdict.v-warn { border-color: #c98a00; background: #fff8e6; }
.verdict.v-pass { border-color: #25702f; background: #eef8f0; }
.verdict .sentence { font-size: 20px; font-weight: bold; margin: 0 0 12px; }
.tiles { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; margin: 0; padding: 0; }
.tiles li { background: #fff; border: 1px solid #c5ccd3; border-radius: 4px; padding: 6px 12px; min-width: 110px; }
.tiles .n { display: block; font-size: 22px; font-weight: bold; }
.tiles .l { font-size: 12px; color: #5a6570; }
.tiles li.bad { border-color: #b3261e; }
.tiles li.bad .n { color: #b3261e; }
nav.contents { font-size: 13px; }
nav.contents a { margin-right: 14px; color: #1d4f91; }
table { border-collapse: collapse; margin: 8px 0 14px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #c5ccd3; padding: 4px 6px; vertical-align: top; text-align: left; }
thead th { background: #eef1f4; font-size: 12px; }
table.list { width: 100%; font-size: 12.5px; }
table.list tbody tr:nth-child(even) { background: #f7f9fa; }
.nowrap { white-space: nowrap; }
table.list td.subject { min-width: 190px; }
table.list td.hex { font-size: 11px; min-width: 150px; }
table.matrix { font-size: 12px; }
table.matrix th.date { padding: 4px 0; vertical-align: bottom; text-align: center; width: 26px; }
table.matrix th.date span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  font-family: "DejaVu Sans Mono", monospace; font-weight: normal; }
table.matrix th.row { width: 330px; min-width: 330px; max-width: 330px; font-weight: normal; }
table.matrix th.row strong { font-size: 13px; }
table.matrix .rtitle { display: block; }
table.matrix .ctl { display: block; color: #5a6570; font-size: 11px; }
td.cell, td.total { text-align: center; vertical-align: middle; font-weight: bold; padding: 0;
  height: 28px; min-width: 26px; border: 1px solid #fff; }
td.total { min-width: 44px; border-left: 3px solid #1d2329; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 14px; display: flex; flex-wrap: wrap; gap: 6px 18px;
  font-size: 12px; }
.swatch { display: inline-block; width: 24px; height: 20px; line-height: 20px; text-align: center;
  font-weight: bold; margin-right: 6px; border-radius: 2px; }
.sev { display: inline-block; color: #fff; border-radius: 3px; padding: 0 6px; font-size: 11px;
  font-weight: bold; text-transform: uppercase; letter-spacing: .03em; }
.badge { display: inline-block; border-radius: 3px; padding: 0 6px; font-size: 11px; font-weight: bold; }
.badge.ok { background: #25702f; color: #fff; }
.badge.bad { background: #b3261e; color: #fff; }
.badge.open { background: #b3261e; color: #fff; }
tr.untrusted td { background: #fdecea !important; }
tr.untrusted td:first-child { border-left: 6px solid #b3261e; }
svg.timeline { width: 100%; height: auto; border: 1px solid #c5ccd3; background: #fff; }
svg.timeline text { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11px; fill: #1d2329; }
svg.timeline .grid { stroke: #e1e5e9; stroke-width: 1; }
svg.timeline .axis { stroke: #5a6570; stroke-width: 1; }
svg.timeline .dot { fill: #fff; stroke: #1d2329; stroke-width: 1; }
article.finding { border: 1px solid #c5ccd3; border-left: 6px solid #5f6b76; border-radius: 4px;
  padding: 8px 14px; margin: 12px 0; }
article.finding h3 { margin: 2px 0 4px; overflow-wrap: anywhere; }
.evidence { border-top: 1px dashed #c5ccd3; margin-top: 8px; padding-top: 6px; }
.evidence dl { display: grid; grid-template-columns: max-content 1fr; gap: 1px 12px; margin: 0 0 4px;
  font-size: 12.5px; }
.evidence dt { color: #5a6570; }
.evidence dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f3f5f7; border: 1px solid #c5ccd3; padding: 8px; margin: 4px 0;
  white-space: pre-wrap; overflow-wrap: anywhere; }
section.how h2 { margin-top: 10px; }
section.how { background: #f3f5f7; border: 1px solid #c5ccd3; padding: 4px 16px 10px; margin-top: 28px; }
footer { margin-top: 28px; font-size: 11px; color: #5a6570; border-top: 1px solid #c5ccd3; padding-top: 6px; }
@page { size: A4 landscape; margin: 12mm 10mm 14mm;
  @bottom-right { content: "page " counter(page) " of " counter(pages); font: 9pt "DejaVu Sans", Arial, sans-serif;
    color: #5a6570; } }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10pt; }
  nav.contents { display: none; }
  .newpage { break-before: page; }
  h2 { margin-top: 0; }
  h2, h3, caption { break-after: avoid; }
  thead { display: table-header-group; }
  tr, .tiles li, .evidence, ul.legend, svg.timeline, table.matrix { break-inside: avoid; }
  .tiles li { min-width: 0; padding: 4px 10px; }
  .tiles .n { font-size: 18px; }
  table.matrix th.row { width: 360px; min-width: 360px; max-width: 360px; }
  article.finding { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

fn write_header(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "<header class=\"title\">")?;
    writeln!(out, "<h1>Zone-isolation period report: {}</h1>", escape(&r.cluster))?;
    writeln!(out, "<p class=\"window\">{} to {}</p>", utc(r.since), utc(r.until))?;
    writeln!(out, "<dl class=\"meta\">")?;
    writeln!(out, "<dt>Cluster</dt><dd>{}</dd>", escape(&r.cluster))?;
    writeln!(out, "<dt>Since</dt><dd>{}</dd>", utc(r.since))?;
    writeln!(out, "<dt>Until</dt><dd>{}</dd>", utc(r.until))?;
    writeln!(out, "<dt>Generated at</dt><dd>{}</dd>", utc(r.generated_at))?;
    writeln!(out, "<dt>Tool</dt><dd>{} {}</dd>", escape(&r.tool.name), escape(&r.tool.version))?;
    if let Some(zone) = &r.zone_filter {
        writeln!(
            out,
            "<dt>Zone filter</dt><dd><strong>{}</strong> (findings and zone rows of this zone only)</dd>",
            escape(zone)
        )?;
    }
    let monitoring = r.monitoring_since.map_or("no run in the database".to_string(), utc);
    writeln!(out, "<dt>Monitored since</dt><dd>{monitoring}</dd>")?;
    writeln!(out, "</dl>\n</header>")
}

fn write_verdict(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    let s = &r.summary;
    let tone = if s.findings > 0 {
        "v-fail"
    } else if s.nights_with_evidence < s.nights || s.gaps > 0 {
        "v-warn"
    } else {
        "v-pass"
    };
    writeln!(out, "<section class=\"verdict {tone}\" aria-label=\"Verdict\">")?;
    writeln!(out, "<p class=\"sentence\">{}</p>", escape(&s.verdict))?;
    writeln!(out, "<ul class=\"tiles\">")?;
    let worst = s.worst_severity.map_or("none", Severity::as_str);
    let mut night_notes = Vec::new();
    if s.nights_partial > 0 {
        night_notes.push(format!("{} partial", s.nights_partial));
    }
    if s.nights_not_monitored > 0 {
        night_notes.push(format!("{} before monitoring began", s.nights_not_monitored));
    }
    let nights_label = if night_notes.is_empty() {
        "nights with evidence".to_string()
    } else {
        format!("nights with evidence<br>{}", night_notes.join(", "))
    };
    let tiles: [(String, String, bool); 8] = [
        (
            format!("{} / {}", s.nights_with_evidence, s.nights),
            nights_label,
            s.nights_with_evidence < s.nights || s.nights_partial > 0,
        ),
        (format!("{} / {}", s.runs_verified, s.runs), "runs verified".into(), s.runs_verified < s.runs),
        (s.findings.to_string(), "findings".into(), s.findings > 0),
        (s.findings_open_at_end.to_string(), "open at end".into(), s.findings_open_at_end > 0),
        (s.findings_resolved.to_string(), "resolved".into(), false),
        (worst.to_string(), "worst severity".into(), s.worst_severity.is_some()),
        (format!("{} / {}", s.rules_failed, s.rules), "rules failed".into(), s.rules_failed > 0),
        (s.gaps.to_string(), "evidence gaps".into(), s.gaps > 0),
    ];
    for (number, label, bad) in tiles {
        let class = if bad { " class=\"bad\"" } else { "" };
        writeln!(out, "<li{class}><span class=\"n\">{number}</span><span class=\"l\">{label}</span></li>")?;
    }
    writeln!(out, "</ul>\n</section>")
}

fn write_contents(out: &mut String) -> std::fmt::Result {
    writeln!(
        out,
        "<nav class=\"contents\" aria-label=\"Contents\"><a href=\"#calendar\">Calendar</a><a href=\"#findings\">Findings</a>\
         <a href=\"#gaps\">Evidence gaps</a><a href=\"#drift\">Drift</a><a href=\"#runs\">Runs and verification</a>\
         <a href=\"#verify\">How to verify</a></nav>"
    )
}

/// One row of a calendar: a label, one cell per night, the window's cell.
struct CalendarRow {
    label: String,
    /// Already-escaped text that names the row in cell descriptions.
    name: String,
    nights: Vec<(Cell, Option<Severity>, String)>,
    window: (Cell, Option<Severity>),
}

fn write_calendar(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "<section id=\"calendar\">\n<h2>Calendar: every night of the window</h2>")?;
    writeln!(
        out,
        "<p>One column per night (UTC calendar day). A cell is the worst status of any run that night; \
         only runs whose signed report verified count. The last column is the whole window.</p>"
    )?;
    write_legend(out)?;
    if r.nights.is_empty() {
        return writeln!(out, "<p><strong>The window has no night.</strong></p>\n</section>");
    }
    let dates: Vec<String> = r.nights.iter().map(|n| day(n.date)).collect();
    let zones: Vec<CalendarRow> = r
        .zones
        .iter()
        .map(|z| CalendarRow {
            label: format!(
                "<strong>{}</strong> <span class=\"muted\">{} finding(s)</span>",
                escape(&z.zone),
                z.findings
            ),
            name: escape(&z.zone),
            nights: z
                .nights
                .iter()
                .map(|c| {
                    let more = match c.worst {
                        Some(w) => format!(", worst {}, {} finding(s)", w.as_str(), c.findings),
                        None => String::new(),
                    };
                    (c.status, c.worst, more)
                })
                .collect(),
            window: (z.status, z.nights.iter().filter_map(|c| c.worst).max()),
        })
        .collect();
    write_matrix(out, "Zones × nights", "Zone", &dates, &zones)?;
    let rules: Vec<CalendarRow> = r
        .rules
        .iter()
        .map(|rule| CalendarRow {
            label: format!(
                "<strong>{}</strong> <span class=\"sev s-{sev}\">{sev}</span>\
                 <span class=\"rtitle\">{}</span><span class=\"ctl\">{}</span>",
                escape(&rule.rule_id),
                escape(&rule.title),
                escape(&rule.controls.join(" · ")),
                sev = rule.severity.as_str(),
            ),
            name: escape(&rule.rule_id),
            nights: rule
                .nights
                .iter()
                .map(|c| (*c, (*c == Cell::Fail).then_some(rule.severity), String::new()))
                .collect(),
            window: (rule.status, (rule.status == Cell::Fail).then_some(rule.severity)),
        })
        .collect();
    if rules.is_empty() {
        writeln!(out, "<p><strong>No rule results: no verified run in the window.</strong></p>")?;
    } else {
        write_matrix(out, "Rules × nights", "Rule", &dates, &rules)?;
    }
    writeln!(out, "</section>")
}

fn write_legend(out: &mut String) -> std::fmt::Result {
    writeln!(out, "<ul class=\"legend\" aria-label=\"Legend\">")?;
    for cell in [Cell::Pass, Cell::Fail, Cell::Partial, Cell::NoEvidence, Cell::Skip, Cell::Error] {
        let mark = if cell == Cell::Fail { "✗H".to_string() } else { cell_mark(cell, None) };
        writeln!(
            out,
            "<li><span class=\"swatch c-{}\" aria-hidden=\"true\">{mark}</span><strong>{}</strong>: {}</li>",
            cell.as_str(),
            cell_words(cell),
            cell_meaning(cell)
        )?;
    }
    writeln!(out, "<li>Severity letters: C critical, H high, M medium, L low, I info</li>\n</ul>")
}

fn write_matrix(
    out: &mut String,
    caption: &str,
    corner: &str,
    dates: &[String],
    rows: &[CalendarRow],
) -> std::fmt::Result {
    writeln!(
        out,
        "<table class=\"matrix\">\n<caption>{caption}</caption>\n<thead><tr><th scope=\"col\">{corner}</th>"
    )?;
    for date in dates {
        writeln!(out, "<th scope=\"col\" class=\"date\"><span>{date}</span></th>")?;
    }
    writeln!(out, "<th scope=\"col\" class=\"date\"><span>window</span></th></tr></thead>\n<tbody>")?;
    for row in rows {
        write!(out, "<tr><th scope=\"row\" class=\"row\">{}</th>", row.label)?;
        for (date, (cell, worst, more)) in dates.iter().zip(&row.nights) {
            write!(
                out,
                "<td class=\"cell c-{}\" title=\"{} on {date}: {}{more}\"><span aria-hidden=\"true\">{}</span>\
                 <span class=\"sr\">{}</span></td>",
                cell.as_str(),
                row.name,
                cell_words(*cell),
                cell_mark(*cell, *worst),
                cell_words(*cell)
            )?;
        }
        let (cell, worst) = row.window;
        writeln!(
            out,
            "<td class=\"total c-{}\" title=\"{} over the window: {}\"><span aria-hidden=\"true\">{}</span>\
             <span class=\"sr\">window: {}</span></td></tr>",
            cell.as_str(),
            row.name,
            cell_words(cell),
            cell_mark(cell, worst),
            cell_words(cell)
        )?;
    }
    writeln!(out, "</tbody>\n</table>")
}

fn write_findings(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "<section id=\"findings\" class=\"newpage\">\n<h2>Findings ({})</h2>", r.findings.len())?;
    if r.findings.is_empty() {
        let note = if r.summary.nights_with_evidence == 0 {
            "No finding, but no night of the window has verified evidence either."
        } else {
            "No finding in any verified run of the window."
        };
        return writeln!(out, "<p><strong>{note}</strong></p>\n</section>");
    }
    writeln!(
        out,
        "<p>Each bar runs from the run that first saw the finding to the run that no longer had it, or to the end \
         of the window while still open. Dots are the verified runs that saw it.</p>"
    )?;
    write_timeline(out, r)?;
    write_findings_table(out, r)?;
    writeln!(out, "<h3 class=\"newpage\">Evidence per finding</h3>")?;
    writeln!(
        out,
        "<p>The evidence of the last run that saw each finding: the source, the SHA-256 of the raw payload it \
         sent, where in that payload, and the exact excerpt.</p>"
    )?;
    for (i, f) in r.findings.iter().enumerate() {
        write_finding_evidence(out, i, f)?;
    }
    writeln!(out, "</section>")
}

/// Geometry of the timeline: a label column, then the window mapped onto a fixed width.
struct Timeline {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl Timeline {
    const WIDTH: f64 = 1000.0;
    const PLOT_LEFT: f64 = 360.0;
    const PLOT_RIGHT: f64 = 985.0;
    const ROW: f64 = 24.0;
    const TOP: f64 = 34.0;

    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.until - self.since).num_seconds().max(1) as f64;
        let at =
            (t - self.since).num_seconds().clamp(0, (self.until - self.since).num_seconds().max(1)) as f64;
        Self::PLOT_LEFT + at / span * (Self::PLOT_RIGHT - Self::PLOT_LEFT)
    }
}

/// Shorten text for an SVG label (SVG text does not wrap); the table has it in full.
fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(chars.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

fn write_timeline(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    let t = Timeline { since: r.since, until: r.until };
    let height = Timeline::TOP + Timeline::ROW * r.findings.len() as f64 + 10.0;
    writeln!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {w} {height:.0}\" role=\"img\" aria-labelledby=\"timeline-title\">\n\
         <title id=\"timeline-title\">Findings over the window, from first seen to resolved or end of window</title>",
        w = Timeline::WIDTH
    )?;
    // Night boundaries with a date label every few nights, so labels never overlap.
    let per_night = (Timeline::PLOT_RIGHT - Timeline::PLOT_LEFT) / r.nights.len().max(1) as f64;
    let every = (80.0 / per_night).ceil().max(1.0) as usize;
    let bottom = height - 6.0;
    for (i, night) in r.nights.iter().enumerate() {
        let Some(midnight) = night.date.and_hms_opt(0, 0, 0).map(|m| m.and_utc()) else { continue };
        let x = t.x(midnight.max(r.since));
        writeln!(out, "<line class=\"grid\" x1=\"{x:.1}\" y1=\"24\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>")?;
        // A date label is about 70 units wide: none that would run off the right edge.
        if i % every == 0 && x + 72.0 <= Timeline::WIDTH {
            writeln!(out, "<text x=\"{:.1}\" y=\"18\">{}</text>", x + 2.0, day(night.date))?;
        }
    }
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"24\" x2=\"{r}\" y2=\"24\"/>\n<text x=\"4\" y=\"18\">finding</text>",
        l = Timeline::PLOT_LEFT,
        r = Timeline::PLOT_RIGHT
    )?;
    // An open episode runs to the end of what the report could know.
    let horizon = r.until.min(r.generated_at);
    for (i, f) in r.findings.iter().enumerate() {
        write_timeline_row(out, &t, Timeline::TOP + Timeline::ROW * i as f64, f, horizon)?;
    }
    writeln!(out, "</svg>")
}

/// The stretches a finding was open: from a sighting to the resolution after it; the last one is
/// open (`None`) when the finding was seen again after its last resolution.
fn episodes(f: &FindingPeriod) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut out = Vec::new();
    let mut start = Some(f.first_seen.at);
    for resolution in &f.resolutions {
        if let Some(from) = start.take() {
            out.push((from, Some(resolution.at)));
        }
        start = f.sightings.iter().map(|s| s.at).find(|at| *at > resolution.at);
    }
    if let Some(from) = start {
        out.push((from, None));
    }
    out
}

fn write_timeline_row(
    out: &mut String,
    t: &Timeline,
    y: f64,
    f: &FindingPeriod,
    horizon: DateTime<Utc>,
) -> std::fmt::Result {
    let colour = severity_colour(f.severity);
    let state = match (&f.resolved, f.open_at_end) {
        (Some(s), _) => format!("resolved {}", utc(s.at)),
        (None, true) => "open at the end of the window".to_string(),
        (None, false) => format!("last seen {}", utc(f.last_seen.at)),
    };
    writeln!(
        out,
        "<g><title>{} {} — first seen {}, {state}</title>",
        escape(&f.rule_id),
        escape(&f.subject),
        utc(f.first_seen.at)
    )?;
    writeln!(
        out,
        "<text x=\"4\" y=\"{:.1}\">{}</text>",
        y + 12.0,
        escape(&clip(&format!("{} {}", f.rule_id, f.subject), 56))
    )?;
    for (from, to) in episodes(f) {
        let start = t.x(from);
        let end = t.x(to.unwrap_or(horizon)).max(start + 3.0);
        writeln!(
            out,
            "<rect x=\"{start:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" rx=\"2\" fill=\"{colour}\"/>",
            y + 2.0,
            end - start
        )?;
        if to.is_none() && f.open_at_end {
            // Still open: the bar ends in an arrow.
            writeln!(out, "<path d=\"M{end:.1} {:.1} l8 7 l-8 7 z\" fill=\"{colour}\"/>", y + 2.0)?;
        }
    }
    if f.open_before_window {
        // Carried into the window: an arrow out of its left edge.
        writeln!(
            out,
            "<path d=\"M{:.1} {:.1} l-8 7 l8 7 z\" fill=\"{colour}\"/>",
            Timeline::PLOT_LEFT,
            y + 2.0
        )?;
    }
    for s in &f.sightings {
        writeln!(out, "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>", t.x(s.at), y + 9.0)?;
    }
    writeln!(out, "</g>")
}

fn sighting_text(at: DateTime<Utc>, run_id: i64) -> String {
    format!(
        "<span class=\"nowrap\">{}</span><br><span class=\"nowrap\">{}</span><br><span class=\"muted\">run {run_id}</span>",
        at.format("%Y-%m-%d"),
        at.format("%H:%M UTC")
    )
}

fn write_findings_table(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(
        out,
        "<table class=\"list\">\n<thead><tr><th>Rule</th><th>Severity</th><th>Zone</th><th>Subject</th>\
         <th>Message</th><th>First seen</th><th>Last seen</th><th>Resolved</th><th>Open for</th>\
         <th>Controls</th></tr></thead>\n<tbody>"
    )?;
    for (i, f) in r.findings.iter().enumerate() {
        let resolved = match (&f.resolved, f.open_at_end) {
            (Some(s), _) => sighting_text(s.at, s.run_id),
            (None, true) => "<span class=\"badge open\">open at end</span>".to_string(),
            (None, false) => "not resolved in a verified run".to_string(),
        };
        let came_back = f.resolutions.len() - usize::from(f.resolved.is_some());
        let resolved = if came_back > 0 {
            format!("{resolved}<br><span class=\"muted\">came back after {came_back} resolution(s)</span>")
        } else {
            resolved
        };
        let open_for = if f.resolved.is_none() {
            format!("≥ {}", duration(f.open_hours))
        } else {
            duration(f.open_hours)
        };
        let carried = if f.open_before_window {
            "<br><span class=\"muted\">(open before the window)</span>"
        } else {
            ""
        };
        writeln!(
            out,
            "<tr><td class=\"mono nowrap\">{}</td><td><span class=\"sev s-{sev}\">{sev}</span></td><td>{}</td>\
             <td class=\"mono subject\"><a href=\"#finding-{i}\">{}</a></td><td>{}</td><td>{}{carried}</td><td>{}</td>\
             <td>{resolved}</td><td>{open_for}<br><span class=\"muted\">{} h</span></td><td>{}</td></tr>",
            escape(&f.rule_id),
            escape(f.zone.as_deref().unwrap_or("—")),
            escape(&f.subject),
            escape(&f.message),
            sighting_text(f.first_seen.at, f.first_seen.run_id),
            sighting_text(f.last_seen.at, f.last_seen.run_id),
            f.open_hours,
            controls(&f.controls),
            sev = f.severity.as_str(),
        )?;
    }
    writeln!(out, "</tbody>\n</table>")
}

fn controls(list: &[String]) -> String {
    list.iter()
        .map(|c| format!("<span class=\"nowrap\">{}</span>", escape(c)))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn write_finding_evidence(out: &mut String, index: usize, f: &FindingPeriod) -> std::fmt::Result {
    writeln!(
        out,
        "<article class=\"finding\" id=\"finding-{index}\" style=\"border-left-color: {}\">",
        severity_colour(f.severity)
    )?;
    writeln!(
        out,
        "<h3><span class=\"sev s-{sev}\">{sev}</span> {} <span class=\"mono\">{}</span></h3>",
        escape(&f.rule_id),
        escape(&f.subject),
        sev = f.severity.as_str()
    )?;
    writeln!(out, "<p>{}</p>", escape(&f.message))?;
    writeln!(
        out,
        "<p class=\"muted\">Fingerprint <span class=\"mono\">{}</span> · seen in {} verified run(s)</p>",
        escape(&f.fingerprint),
        f.seen_in_runs
    )?;
    if f.evidence.is_empty() {
        writeln!(out, "<p><strong>The run report holds no evidence item for this finding.</strong></p>")?;
    }
    for e in &f.evidence {
        writeln!(out, "<div class=\"evidence\">\n<dl>")?;
        writeln!(out, "<dt>Source</dt><dd><strong>{}</strong></dd>", escape(&e.source))?;
        writeln!(out, "<dt>Payload</dt><dd class=\"mono\">sha256:{}</dd>", escape(&e.payload))?;
        writeln!(out, "<dt>Locator</dt><dd class=\"mono\">{}</dd>", escape(&e.locator))?;
        writeln!(out, "</dl>\n<pre>{}</pre>\n</div>", escape(&e.excerpt))?;
    }
    writeln!(out, "</article>")
}

fn write_gaps(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "<section id=\"gaps\">\n<h2>Evidence gaps ({})</h2>", r.gaps.len())?;
    if r.gaps.is_empty() {
        return writeln!(
            out,
            "<p>None: every night has a verified, complete run in which every source delivered.</p>\n</section>"
        );
    }
    writeln!(
        out,
        "<p>Nights and runs for which there is no complete, trustworthy evidence. A gap is never counted as a \
         pass.</p>"
    )?;
    writeln!(
        out,
        "<table class=\"list\">\n<thead><tr><th>Night</th><th>Gap</th><th>Run</th><th>Source</th><th>Detail</th>\
         </tr></thead>\n<tbody>"
    )?;
    for range in gap_ranges(&r.gaps) {
        write_gap(out, &range)?;
    }
    writeln!(out, "</tbody>\n</table>\n</section>")
}

/// Gaps of consecutive nights that say the same thing (a month before monitoring started, a week
/// without runs) as one row, so the rows that differ are not lost in a list of identical ones.
struct GapRange<'a> {
    gap: &'a EvidenceGap,
    last: NaiveDate,
    nights: u32,
}

fn gap_ranges(gaps: &[EvidenceGap]) -> Vec<GapRange<'_>> {
    let mut ranges: Vec<GapRange> = Vec::new();
    for gap in gaps {
        if let Some(range) = ranges.last_mut()
            && gap.run_id.is_none()
            && range.gap.run_id.is_none()
            && gap.kind == range.gap.kind
            && gap.source == range.gap.source
            && gap.detail == range.gap.detail
            && range.last.succ_opt() == Some(gap.date)
        {
            range.last = gap.date;
            range.nights += 1;
            continue;
        }
        ranges.push(GapRange { gap, last: gap.date, nights: 1 });
    }
    ranges
}

fn write_gap(out: &mut String, range: &GapRange) -> std::fmt::Result {
    let g = range.gap;
    let nights = if range.nights == 1 {
        day(g.date)
    } else {
        format!(
            "{} to {}<br><span class=\"muted\">{} nights</span>",
            day(g.date),
            day(range.last),
            range.nights
        )
    };
    writeln!(
        out,
        "<tr><td class=\"nowrap\">{nights}</td><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td></tr>",
        gap_words(g.kind),
        g.run_id.map_or("—".to_string(), |id| id.to_string()),
        escape(g.source.as_deref().unwrap_or("—")),
        escape(&g.detail)
    )
}

fn write_drift(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "<section id=\"drift\">\n<h2>Drift ({} event(s))</h2>", r.drift.len())?;
    if r.drift.is_empty() {
        return writeln!(out, "<p>No change in findings from one verified run to the next.</p>\n</section>");
    }
    writeln!(
        out,
        "<table class=\"list\">\n<thead><tr><th>Run</th><th>Started</th><th>New findings</th>\
         <th>Resolved findings</th></tr></thead>\n<tbody>"
    )?;
    for event in &r.drift {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            event.run_id,
            utc(event.at),
            drift_list(r, &event.new),
            drift_list(r, &event.resolved)
        )?;
    }
    writeln!(out, "</tbody>\n</table>\n</section>")
}

/// Fingerprints named by rule and subject when the window knows them (a finding resolved in the
/// first run was only seen before the window: its fingerprint is all there is).
fn drift_list(r: &PeriodReport, fingerprints: &[String]) -> String {
    if fingerprints.is_empty() {
        return "—".to_string();
    }
    fingerprints
        .iter()
        .map(|fp| match r.findings.iter().find(|f| &f.fingerprint == fp) {
            Some(f) => format!("{} <span class=\"mono\">{}</span>", escape(&f.rule_id), escape(&f.subject)),
            None => format!("<span class=\"mono\">{}</span>", escape(fp)),
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn check_badge(check: Check) -> String {
    let class = if check == Check::Ok { "ok" } else { "bad" };
    format!("<span class=\"badge {class}\">{}</span>", check.as_str())
}

fn write_runs(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    let bad = r.runs.iter().filter(|run| !trusted(run)).count();
    writeln!(
        out,
        "<section id=\"runs\" class=\"newpage\">\n<h2>Runs and their verification ({})</h2>",
        r.runs.len()
    )?;
    if bad > 0 {
        writeln!(
            out,
            "<p><span class=\"badge bad\">{bad} run(s) not verified</span> Rows marked in red did not complete or \
             their signed report does not verify: nothing they say is counted above.</p>"
        )?;
    } else if !r.runs.is_empty() {
        writeln!(out, "<p>Every run in the window completed and its signed report verified.</p>")?;
    }
    if r.runs.is_empty() {
        return writeln!(out, "<p><strong>No run started in the window.</strong></p>\n</section>");
    }
    writeln!(
        out,
        "<table class=\"list\">\n<thead><tr><th>Run</th><th>Started</th><th>Finished</th><th>Status</th>\
         <th>Findings</th><th>Evidence complete</th><th>Signature</th><th>Chain</th><th>Key id</th>\
         <th>Report digest</th><th>Detail</th></tr></thead>\n<tbody>"
    )?;
    for run in &r.runs {
        let row = if trusted(run) { "" } else { " class=\"untrusted\"" };
        let verdict = if trusted(run) {
            String::new()
        } else {
            "<br><span class=\"badge bad\">NOT VERIFIED</span>".to_string()
        };
        let complete = match run.evidence_complete {
            Some(true) => "yes",
            Some(false) => "<strong>no</strong>",
            None => "—",
        };
        writeln!(
            out,
            "<tr{row}><td><strong>{}</strong>{verdict}</td><td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td>{complete}</td>\
             <td>{}</td><td>{}</td><td class=\"mono hex\">{}</td><td class=\"mono hex\">{}</td><td>{}</td></tr>",
            run.run_id,
            utc(run.started_at),
            run.finished_at.map_or("—".to_string(), utc),
            escape(&run.status),
            run.findings,
            check_badge(run.verification.signature),
            check_badge(run.verification.chain),
            escape(run.verification.keyid.as_deref().unwrap_or("—")),
            escape(run.report_digest.as_deref().unwrap_or("—")),
            escape(&run.verification.detail)
        )?;
    }
    writeln!(out, "</tbody>\n</table>\n</section>")
}

fn write_how_to_verify(out: &mut String, r: &PeriodReport) -> std::fmt::Result {
    writeln!(out, "<section id=\"verify\" class=\"how\">\n<h2>How to verify</h2>")?;
    writeln!(
        out,
        "<p>This page is a rendering for reading and printing; it is not itself signed. The signed form of this \
         report is its JSON form (<code>zoneaudit report --since … --format json</code>, a DSSE envelope signed \
         with Ed25519), and every run above has its own signed run report, whose digest is the report digest \
         listed. Check them with <code>zoneaudit verify FILE…</code> (signature and hash chain), or without \
         zoneaudit with <code>openssl</code> as documented in <code>docs/VERIFYING.md</code>.</p>"
    )?;
    writeln!(
        out,
        "<p class=\"muted\">Window {} to {}, cluster {}, generated {} by {} {}.</p>\n</section>",
        utc(r.since),
        utc(r.until),
        escape(&r.cluster),
        utc(r.generated_at),
        escape(&r.tool.name),
        escape(&r.tool.version)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::period::sample::{self, FLOW_SUBJECT, HOSTILE_EXCERPT, LEAK_SUBJECT};

    fn page() -> String {
        render(&sample::period())
    }

    /// The `<tr>` of the calendar whose row header holds `label`.
    fn matrix_row<'a>(html: &'a str, label: &str) -> &'a str {
        let start = html
            .find(&format!("<tr><th scope=\"row\" class=\"row\"><strong>{label}</strong>"))
            .unwrap_or_else(|| panic!("no calendar row for {label}"));
        let end = start + html[start..].find("</tr>").expect("row ends");
        &html[start..end]
    }

    fn night_cells(row: &str) -> Vec<&str> {
        row.split("<td class=\"cell c-").skip(1).map(|c| c.split('"').next().unwrap()).collect()
    }

    #[test]
    fn escape_covers_the_five_markup_characters_and_controls() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape("a\u{0}b\u{1b}[31m"), "a\u{fffd}b\u{fffd}[31m");
        assert_eq!(escape("leaf1\u{202e}1fael"), "leaf1[U+202E]1fael");
        assert_eq!(escape("line 1\r\nline 2\tx"), "line 1\r\nline 2\tx");
    }

    #[test]
    fn hostile_excerpt_appears_only_escaped() {
        let html = page();
        assert!(!html.contains("<script"), "a script tag made it into the page");
        assert!(!html.contains("alert('x')"), "the excerpt is not escaped");
        assert!(!html.contains("<b>leak</b>"));
        assert!(html.contains(&escape(HOSTILE_EXCERPT)), "the excerpt is not shown in full");
        assert!(
            html.contains(
                "<pre>{&quot;description&quot;:&quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
            )
        );
    }

    #[test]
    fn nothing_is_fetched_from_anywhere() {
        let html = page();
        for reference in
            ["http://", "https://", "src=", "url(", "@import", "<link", "<img", "<iframe", "<object"]
        {
            assert!(
                !html.to_lowercase().contains(reference),
                "the page refers to something outside: {reference}"
            );
        }
        assert!(html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        ));
    }

    #[test]
    fn matrix_has_one_row_per_zone_and_rule_with_one_cell_per_night() {
        let report = sample::period();
        let html = render(&report);
        assert_eq!(report.nights.len(), 6);
        for night in &report.nights {
            assert!(
                html.contains(&format!("<th scope=\"col\" class=\"date\"><span>{}</span>", day(night.date)))
            );
        }
        for zone in ["yellow", "blue", "green"] {
            assert_eq!(html.matches(&format!("class=\"row\"><strong>{zone}</strong>")).count(), 1, "{zone}");
        }
        for rule in ["ZI-ROUTE-LEAK", "ZI-UNAPPROVED-FLOW"] {
            assert_eq!(html.matches(&format!("class=\"row\"><strong>{rule}</strong>")).count(), 1, "{rule}");
        }
        assert_eq!(html.matches("<th scope=\"row\" class=\"row\">").count(), 5);
        // yellow: pass, leak (high), no run, leak with leaf2 failed, resolved, unverified report.
        let yellow = matrix_row(&html, "yellow");
        assert_eq!(night_cells(yellow), ["pass", "fail", "noEvidence", "fail", "pass", "noEvidence"]);
        assert!(yellow.contains("<span aria-hidden=\"true\">✗H</span>"), "fail shows its worst severity");
        assert!(yellow.contains("title=\"yellow on 2024-07-11: fail, worst high, 1 finding(s)\""));
        let green = matrix_row(&html, "green");
        assert_eq!(night_cells(green), ["pass", "pass", "noEvidence", "partial", "fail", "noEvidence"]);
        let leak = matrix_row(&html, "ZI-ROUTE-LEAK");
        assert_eq!(night_cells(leak).len(), 6);
        assert!(leak.contains("No route of one zone in another zone&#39;s VRF"));
        assert!(leak.contains("NIST-800-53 SC-7 · PCI-DSS-4.0 1.3.1"));
        assert!(leak.contains("<span class=\"sev s-high\">high</span>"));
    }

    #[test]
    fn cells_read_without_colour() {
        let html = page();
        for (cell, mark) in [(Cell::Pass, "✓"), (Cell::Partial, "~"), (Cell::NoEvidence, "–")] {
            let start = format!("<td class=\"cell c-{}\"", cell.as_str());
            let at = html.find(&start).unwrap_or_else(|| panic!("no {} cell", cell.as_str()));
            assert!(html[at..].starts_with(&start));
            let cell_html = &html[at..at + html[at..].find("</td>").unwrap()];
            assert!(cell_html.contains(&format!("<span aria-hidden=\"true\">{mark}</span>")), "{cell_html}");
            assert!(cell_html.contains(&format!("<span class=\"sr\">{}</span>", cell_words(cell))));
        }
        assert!(html.contains("class=\"legend\""));
    }

    #[test]
    fn finding_shows_subject_and_evidence() {
        let html = page();
        assert!(html.contains(LEAK_SUBJECT));
        assert!(html.contains(&escape(FLOW_SUBJECT)), "the flow subject is escaped (->)");
        assert!(html.contains(
            "<dt>Locator</dt><dd class=\"mono\">/result/1/vrfs/YELLOW/bgpRouteEntries/10.20.1.0~126</dd>"
        ));
        assert!(html.contains("<dt>Source</dt><dd><strong>leaf1</strong></dd>"));
        assert!(html.contains("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"));
        // The leak: first seen run 12, resolved by run 14, 3 days; the flow is still open.
        assert!(html.contains("2024-07-11</span><br><span class=\"nowrap\">02:00 UTC</span><br><span class=\"muted\">run 12</span>"));
        assert!(html.contains("2024-07-14</span><br><span class=\"nowrap\">02:00 UTC</span><br><span class=\"muted\">run 14</span>"));
        assert!(html.contains("<td>3 d<br><span class=\"muted\">72 h</span></td>"));
        assert!(html.contains("<span class=\"badge open\">open at end</span>"));
        assert_eq!(html.matches("<rect ").count(), 2, "one timeline bar per finding");
    }

    #[test]
    fn unverified_run_15_stands_out() {
        let html = page();
        let start =
            html.find("<tr class=\"untrusted\"><td><strong>15</strong>").expect("run 15 is marked untrusted");
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(row.contains("NOT VERIFIED"));
        assert!(row.contains("<span class=\"badge bad\">failed</span>"));
        assert!(row.contains("signature by 7f7f… does not verify"));
        assert_eq!(html.matches("<tr class=\"untrusted\">").count(), 1, "only run 15 is untrusted");
        assert!(html.contains("1 run(s) not verified"));
        assert!(html.contains("<strong>report does not verify</strong>"), "it is an evidence gap too");
    }

    #[test]
    fn header_verdict_and_how_to_verify() {
        let report = sample::period();
        let html = render(&report);
        assert!(html.contains("<h1>Zone-isolation period report: prod-eu1</h1>"));
        assert!(html.contains("2024-07-10 00:00 UTC to 2024-07-16 00:00 UTC"));
        assert!(html.contains(&format!("<p class=\"sentence\">{}</p>", escape(&report.summary.verdict))));
        assert!(html.contains("<span class=\"n\">4 / 5</span><span class=\"l\">runs verified</span>"));
        assert!(html.contains("zoneaudit verify") && html.contains("docs/VERIFYING.md"));
        assert!(!html.contains("Zone filter"));
        let mut filtered = report.clone();
        filtered.zone_filter = Some("yellow<".into());
        assert!(render(&filtered).contains("<dt>Zone filter</dt><dd><strong>yellow&lt;</strong>"));
    }

    #[test]
    fn a_finding_that_came_back_has_one_bar_per_episode() {
        let mut report = sample::period();
        let leak = report.findings.iter_mut().find(|f| f.subject == LEAK_SUBJECT).unwrap();
        // Seen by run 12, gone in run 13, back in run 14 and still there at the end.
        let run = |id: i64, date: &str| crate::evidence::period::Sighting {
            run_id: id,
            at: format!("{date}T02:00:00Z").parse().unwrap(),
        };
        leak.sightings = vec![run(12, "2024-07-11"), run(14, "2024-07-14")];
        leak.last_seen = run(14, "2024-07-14");
        leak.resolutions = vec![run(13, "2024-07-13")];
        leak.resolved = None;
        leak.open_at_end = true;
        let html = render(&report);
        let start = html.find("<g><title>ZI-ROUTE-LEAK").expect("the leak's timeline row");
        let row = &html[start..start + html[start..].find("</g>").unwrap()];
        assert_eq!(row.matches("<rect ").count(), 2, "two episodes: {row}");
        assert_eq!(row.matches("<path ").count(), 1, "the second is open at the end: {row}");
        assert!(html.contains("came back after 1 resolution(s)"));
    }

    #[test]
    fn same_report_same_bytes() {
        assert_eq!(page(), page());
        assert_eq!(render(&sample::period()), render(&sample::period().clone()));
    }
}
