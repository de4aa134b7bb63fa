//! A run report as Markdown, for people: what was collected, what was checked, what is wrong and
//! the exact bytes that show it.
//!
//! Everything that came from the network (names, subjects, messages, locators, excerpts) is treated
//! as hostile text: inline text is backslash-escaped and kept on one line (so it can neither end a
//! table cell nor start a block), and excerpts go in fences longer than any backtick run inside.

use std::fmt::Write;

use chrono::SecondsFormat;

use super::report::RunReport;
use crate::model::{Origin, SourceStatus};

pub fn render_run(report: &RunReport) -> String {
    render(report, None)
}

/// Like [`render_run`], also naming this report's own chain digest (known once signed).
pub fn render_signed_run(report: &RunReport, digest: &str) -> String {
    render(report, Some(digest))
}

fn render(r: &RunReport, digest: Option<&str>) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, r, digest);
    out
}

fn write_report(out: &mut String, r: &RunReport, digest: Option<&str>) -> std::fmt::Result {
    let s = &r.summary;
    writeln!(out, "# zoneaudit run {} — {}\n", r.run_id, text(&r.cluster))?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| Cluster | {} |", text(&r.cluster))?;
    writeln!(out, "| Run | {} |", r.run_id)?;
    writeln!(out, "| Started | {} |", r.started_at.to_rfc3339_opts(SecondsFormat::AutoSi, true))?;
    writeln!(out, "| Finished | {} |", r.finished_at.to_rfc3339_opts(SecondsFormat::AutoSi, true))?;
    writeln!(out, "| Tool | {} {} |", text(&r.tool.name), text(&r.tool.version))?;
    writeln!(out, "| Config | sha256 `{}` |", short(&r.config_digest))?;
    let packs: Vec<String> = r
        .rule_packs
        .iter()
        .map(|p| format!("{} {} (`{}`)", text(&p.name), text(&p.version), short(&p.digest)))
        .collect();
    writeln!(
        out,
        "| Rule packs | {} |",
        if packs.is_empty() { "none".to_string() } else { packs.join(", ") }
    )?;
    let incomplete = r.sources.iter().filter(|x| x.status != SourceStatus::Ok).count();
    if s.evidence_complete {
        writeln!(out, "| Evidence | complete: every source delivered |")?;
    } else {
        writeln!(
            out,
            "| Evidence | **incomplete**: {incomplete} of {} sources did not deliver in full; a passing rule proves less |",
            r.sources.len()
        )?;
    }
    let by_severity: Vec<String> =
        s.findings_by_severity.iter().map(|(k, n)| format!("{} {n}", text(k))).collect();
    writeln!(
        out,
        "| Result | {} passed, {} failed, {} error, {} skipped; findings: {} |\n",
        s.rules_passed,
        s.rules_failed,
        s.rules_error,
        s.rules_skipped,
        if by_severity.is_empty() { "none".to_string() } else { by_severity.join(", ") }
    )?;

    writeln!(out, "## Sources\n")?;
    writeln!(out, "| Source | Kind | Status | Counts | Read from | Error |\n|---|---|---|---|---|---|")?;
    for src in &r.sources {
        let mut counts: Vec<String> = src.counts.iter().map(|(k, n)| format!("{} {n}", text(k))).collect();
        if !src.rejects.is_empty() {
            counts.push(format!("rejected lines {}", src.rejects.total()));
        }
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            text(&src.name),
            text(&src.kind),
            src.status.as_str(),
            counts.join(", "),
            text(&src.notes.join("; ")),
            text(src.error.as_deref().unwrap_or(""))
        )?;
    }

    writeln!(out, "\n## Rules\n")?;
    writeln!(out, "| Rule | Severity | Status | Checked |\n|---|---|---|---|")?;
    for res in &r.results {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            text(&res.rule_id),
            res.severity,
            res.status.as_str(),
            text(&res.checked)
        )?;
    }

    writeln!(out, "\n## Findings ({})\n", r.findings.len())?;
    if r.findings.is_empty() {
        writeln!(out, "No findings.\n")?;
    }
    for (n, f) in r.findings.iter().enumerate() {
        writeln!(out, "### {}. {} · {} · {}\n", n + 1, f.severity, text(&f.rule_id), text(&f.subject))?;
        writeln!(out, "**Message:** {}\n", text(&f.message))?;
        let zone = f.zone.as_deref().map(text).unwrap_or_else(|| "none".to_string());
        writeln!(out, "Zone: {zone}. Fingerprint: `{}`.\n", text_code(&f.fingerprint))?;
        for (e, origin) in f.evidence.iter().enumerate() {
            write_evidence(out, e + 1, origin)?;
        }
    }

    writeln!(out, "## Drift\n")?;
    for (label, list) in
        [("New", &r.drift.new), ("Resolved", &r.drift.resolved), ("Persisting", &r.drift.persisting)]
    {
        let items: Vec<String> = list.iter().map(|fp| format!("`{}`", text_code(fp))).collect();
        let items = if items.is_empty() { "none".to_string() } else { items.join(", ") };
        writeln!(out, "- {label}: {items}")?;
    }

    writeln!(out, "\n## Report chain\n")?;
    match &r.previous_report {
        Some(prev) => writeln!(out, "- Previous report: `{}`", text_code(prev))?,
        None => writeln!(out, "- Previous report: none (this report starts the chain)")?,
    }
    if let Some(d) = digest {
        writeln!(out, "- This report: `{}` (SHA-256 of the signed envelope payload)", text_code(d))?;
    }
    Ok(())
}

/// One evidence item: where it came from, then the exact excerpt in a fence it cannot close.
/// Shared with the period report.
pub(crate) fn write_evidence(out: &mut String, n: usize, o: &Origin) -> std::fmt::Result {
    writeln!(
        out,
        "Evidence {n}: source {}, payload sha256 `{}`, at {}\n",
        text(&o.source),
        text_code(short(&o.payload)),
        text(&o.locator)
    )?;
    if !o.excerpt.is_empty() {
        let fence = fence_for(&o.excerpt);
        writeln!(out, "{fence}text\n{}\n{fence}\n", o.excerpt.trim_end_matches(['\n', '\r']))?;
    }
    Ok(())
}

/// The first 12 hex digits (after any `sha256:`): enough to recognise a digest, the full one is in
/// the JSON report.
pub(crate) fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

/// A code fence longer than any backtick run in `excerpt`, so the excerpt cannot close it.
pub(crate) fn fence_for(excerpt: &str) -> String {
    let longest = excerpt.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Network text for inline Markdown: one line, every character that could open markup, close a
/// table cell or start raw HTML or an entity escaped (CommonMark allows a backslash before any ASCII
/// punctuation; GFM honours `\|` inside table cells).
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a single-backtick code span: backticks, pipes and line breaks cannot appear (GFM
/// splits table cells on a pipe even inside a code span).
pub(crate) fn text_code(s: &str) -> String {
    s.chars().map(|c| if c == '`' || c == '|' || c.is_control() { '\u{FFFD}' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::report::sample;

    #[test]
    fn renders_the_finding_with_its_evidence() {
        let md = render_run(&sample::report(42, None));
        assert!(md.starts_with("# zoneaudit run 42 — prod-eu1\n"), "{md}");
        assert!(md.contains("| Finished | 2024-07-16T02:01:10.250Z |"), "{md}");
        assert!(md.contains("| Evidence | **incomplete**: 1 of 2 sources"), "{md}");
        assert!(md.contains("| leaf2 | eos | failed |  |  | connect 10.0.0.2:443: timed out |"), "{md}");
        assert!(md.contains("| vrf-leak | high | fail | 412 routes in 6 VRFs, 1 leak |"), "{md}");
        assert!(md.contains("**Message:** GREEN prefix 10.20.1.0/26 present in VRF YELLOW"), "{md}");
        assert!(
            md.contains("Evidence 1: source leaf1, payload sha256 `2c26b46b68ff`, at /vrfs/YELLOW/routes/10.20.1.0\\~126"),
            "{md}"
        );
        assert!(md.contains("- Previous report: none (this report starts the chain)"), "{md}");
    }

    #[test]
    fn pipes_in_subjects_are_escaped() {
        let md = render_run(&sample::report(1, None));
        assert!(md.contains("### 1. high · vrf-leak · leaf1/YELLOW/10.20.1.0/26 \\| via GREEN\n"), "{md}");
        assert!(!md.contains("26 | via"), "raw pipe would split a table cell: {md}");

        let mut report = sample::report(1, None);
        report.sources[1].error = Some("reply `a|b`".into());
        let md = render_run(&report);
        assert!(md.contains("| leaf2 | eos | failed |  |  | reply \\`a\\|b\\` |\n"), "{md}");
    }

    /// The excerpt holds a run of three backticks: its fence must be longer, so the excerpt cannot
    /// close it and inject Markdown.
    #[test]
    fn excerpt_fence_is_longer_than_any_backtick_run_inside() {
        let md = render_run(&sample::report(1, None));
        assert!(md.contains("````text\n{\"routeType\":\"eBGP\",\"note\":\"```danger```\"}\n````\n"), "{md}");

        let mut report = sample::report(1, None);
        report.findings[0].evidence[0].excerpt = "a\n`````\n# injected".into();
        report.findings[0].message = "line one\n# not a heading <script>".into();
        let md = render_run(&report);
        assert!(md.contains("``````text\na\n`````\n# injected\n``````"), "{md}");
        assert!(md.contains("**Message:** line one \\# not a heading \\<script\\>"), "{md}");
    }

    #[test]
    fn chain_digests_are_shown() {
        let prev = format!("sha256:{}", "ab".repeat(32));
        let md = render_signed_run(&sample::report(2, Some(prev.clone())), "sha256:cd");
        assert!(md.contains(&format!("- Previous report: `{prev}`")), "{md}");
        assert!(md.contains("- This report: `sha256:cd`"), "{md}");
    }
}
