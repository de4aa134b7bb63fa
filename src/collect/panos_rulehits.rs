//! PAN-OS `show rule-hit-count` (XML API answer, live or saved) → one [`RuleHit`] per rule.
//!
//! ```text
//!  <response status="success"><result><rule-hit-count>
//!    firewall:  vsys/entry@name=V / rule-base/entry@name=RB / rules/entry@name=R { hit-count, … }
//!               -> RuleHit { firewall: observer, rulebase: "V/RB", rule: R }
//!    Panorama:  device-group/entry@name=DG / pre-rulebase|post-rulebase / entry@name=RB / rules /
//!               entry@name=R / device-vsys/entry@name="SERIAL/V" { hit-count, … }
//!               -> RuleHit { firewall: SERIAL, rulebase: "V/RB", rule: R }   (one per managed device)
//!  <response status="error" code="17"><msg><line>…</line></msg></response>   -> ParseError
//! ```
//!
//! The reader streams (quick-xml) and keeps only the open elements: a stack of tag names with their
//! `name` attribute, which is also each fact's locator, an XPath-like path such as
//! `/response/result/rule-hit-count/vsys/entry[@name='vsys1']/rule-base/entry[@name='security']/rules/entry[@name='allow-web']`.
//! The excerpt is the counter entry's own XML text, bounded.
//!
//! Counter fields are epoch seconds (`0` = never) and become RFC 3339 UTC or `None`. The counters
//! are cumulative since `last-reset-timestamp`: a reader comparing two polls must compare deltas
//! only while the reset time is unchanged.

use crate::collect::ParseError;
use crate::collect::json::bounded;
use crate::model::{Facts, Origin, RuleHit};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// What a PAN-OS API answered instead of a result: `<response status="error" code="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Option<String>,
    /// Every text line of the answer's `msg`, joined with `; `.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "error {code}: {}", self.message),
            None => write!(f, "error: {}", self.message),
        }
    }
}

/// The API error in an answer, if the answer is one (`None` for a success or unreadable XML).
pub fn api_error(raw: &[u8]) -> Option<ApiError> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut reader = Reader::from_str(text);
    let mut depth = 0usize;
    let mut error: Option<ApiError> = None;
    let mut lines: Vec<String> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if depth == 0 => {
                if e.name().as_ref() != "response" || attr(&e, "status").as_deref() != Some("error") {
                    return None;
                }
                error = Some(ApiError { code: attr(&e, "code"), message: String::new() });
                depth += 1;
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                let t = t.xml10_content();
                if !t.trim().is_empty() {
                    lines.push(t.trim().to_string());
                }
            }
            Event::CData(t) => {
                let t = t.xml10_content();
                if !t.trim().is_empty() {
                    lines.push(t.trim().to_string());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut e = error?;
    e.message = if lines.is_empty() { "(no message)".to_string() } else { lines.join("; ") };
    Some(e)
}

/// One open element.
struct Frame {
    tag: String,
    name: Option<String>,
    /// Byte offset of its `<`.
    start: usize,
    /// Counter fields read from its children (only kept for `entry` elements).
    fields: Vec<(String, String, usize)>,
}

/// The counter fields a rule entry carries; anything else (`latest`, …) is ignored.
const FIELDS: [&str; 6] = [
    "hit-count",
    "last-hit-timestamp",
    "first-hit-timestamp",
    "last-reset-timestamp",
    "rule-creation-timestamp",
    "rule-modification-timestamp",
];

/// Parse a `show rule-hit-count` answer. `observer` is the firewall the source names; Panorama
/// answers name each managed device by serial instead.
pub fn parse(observer: &str, raw: &[u8]) -> Result<Facts, ParseError> {
    let text = std::str::from_utf8(raw).map_err(|e| {
        let (line, column) = line_column(raw, e.valid_up_to());
        ParseError::new(format!("line {line} column {column}"), "not UTF-8 text")
    })?;
    if let Some(e) = api_error(raw) {
        return Err(ParseError::new("/response", format!("the PAN-OS API answered {e}")));
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut facts = Facts::default();
    let mut saw_root = false;
    let mut saw_counters = false;
    // Text of the innermost element, collected across text, CDATA and entity events.
    let mut text_buf = String::new();
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position() as usize;
            let (line, column) = line_column(raw, at);
            ParseError::new(format!("line {line} column {column}"), format!("malformed XML: {e}"))
        })?;
        match event {
            Event::Start(e) => {
                if stack.is_empty() {
                    check_root(&e, raw, before, saw_root)?;
                    saw_root = true;
                }
                let tag = e.name().as_ref().to_string();
                if tag == "rule-hit-count" {
                    saw_counters = true;
                }
                stack.push(Frame { name: attr(&e, "name"), tag, start: before, fields: Vec::new() });
                text_buf.clear();
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    check_root(&e, raw, before, saw_root)?;
                    saw_root = true;
                }
                if e.name().as_ref() == "rule-hit-count" {
                    saw_counters = true;
                }
            }
            Event::Text(t) => text_buf.push_str(&t.xml10_content()),
            Event::CData(t) => text_buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text_buf.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    text_buf.push_str(s);
                }
            }
            Event::End(_) => {
                let end = reader.buffer_position() as usize;
                let Some(frame) = stack.pop() else { continue };
                if FIELDS.contains(&frame.tag.as_str())
                    && let Some(parent) = stack.last_mut()
                    && parent.tag == "entry"
                {
                    parent.fields.push((frame.tag.clone(), text_buf.trim().to_string(), frame.start));
                } else if frame.tag == "entry" {
                    if let Some(hit) = rule_hit(observer, raw, &stack, &frame, end)? {
                        facts.rule_hits.push(hit);
                    } else if stack.last().is_some_and(|p| p.tag == "rules") && frame.fields.is_empty() {
                        // A rule entry must carry its counters, or (Panorama) its devices' counters.
                        let has_devices = facts.rule_hits.last().is_some_and(|h| {
                            h.origin.locator.starts_with(&format!("{}/", locator(&stack, Some(&frame))))
                        });
                        if !has_devices {
                            return Err(ParseError::new(
                                locator(&stack, Some(&frame)),
                                "rule entry without hit-count",
                            ));
                        }
                    }
                }
                text_buf.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        let (line, column) = line_column(raw, open.start);
        return Err(ParseError::new(
            format!("line {line} column {column}"),
            format!("truncated XML: <{}> is never closed", open.tag),
        ));
    }
    if !saw_root {
        return Err(ParseError::new("line 1 column 1", "empty answer: no <response> element"));
    }
    if !saw_counters {
        return Err(ParseError::new(
            "/response/result",
            "no <rule-hit-count> element: not an answer to `show rule-hit-count`",
        ));
    }
    Ok(facts)
}

fn check_root(e: &BytesStart<'_>, raw: &[u8], at: usize, seen: bool) -> Result<(), ParseError> {
    let (line, column) = line_column(raw, at);
    if seen {
        return Err(ParseError::new(
            format!("line {line} column {column}"),
            "a second top-level element after </response>",
        ));
    }
    let tag = e.name().as_ref().to_string();
    if tag != "response" {
        return Err(ParseError::new(
            format!("line {line} column {column}"),
            format!("expected a PAN-OS API <response>, found <{tag}>"),
        ));
    }
    match attr(e, "status").as_deref() {
        Some("success") | None => Ok(()),
        Some(other) => Err(ParseError::new("/response", format!("unexpected response status {other:?}"))),
    }
}

/// The counters of a closed `entry`, when it holds a `hit-count`.
fn rule_hit(
    observer: &str,
    raw: &[u8],
    stack: &[Frame],
    entry: &Frame,
    end: usize,
) -> Result<Option<RuleHit>, ParseError> {
    let Some((_, hits, hits_at)) = entry.fields.iter().find(|(k, _, _)| k == "hit-count") else {
        return Ok(None);
    };
    let here = locator(stack, Some(entry));
    let field_error = |field: &str, value: &str, at: usize, what: &str| {
        let (line, column) = line_column(raw, at);
        ParseError::new(
            format!("{here} (line {line} column {column})"),
            format!("{field}: {value:?} is not {what}"),
        )
    };
    let hit_count: u64 = hits.parse().map_err(|_| field_error("hit-count", hits, *hits_at, "a hit count"))?;
    let time = |field: &str| -> Result<Option<String>, ParseError> {
        let Some((_, v, at)) = entry.fields.iter().find(|(k, _, _)| k == field) else { return Ok(None) };
        let secs: i64 = v.parse().map_err(|_| field_error(field, v, *at, "epoch seconds"))?;
        if secs == 0 {
            return Ok(None);
        }
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
            .ok_or_else(|| field_error(field, v, *at, "a time in range"))
    };
    // The rule is the entry right under `rules`; the rule base the entry under `rule-base` (or the
    // Panorama pre/post rule base); the vsys the entry under `vsys`, or the device-vsys name.
    let named_under = |parent: &str| -> Option<&str> {
        stack
            .windows(2)
            .find(|w| w[0].tag == parent && w[1].tag == "entry")
            .and_then(|w| w[1].name.as_deref())
    };
    let parent = stack.last().map(|f| f.tag.as_str());
    let (firewall, vsys, rule) = if parent == Some("device-vsys") {
        let device = entry.name.as_deref().unwrap_or("");
        let (serial, vsys) = device.split_once('/').unwrap_or((device, "vsys1"));
        (serial.to_string(), vsys.to_string(), named_under("rules"))
    } else {
        (observer.to_string(), named_under("vsys").unwrap_or("vsys1").to_string(), entry.name.as_deref())
    };
    let Some(rule) = rule else {
        return Err(ParseError::new(here, "counter entry without a rule name"));
    };
    let rulebase = named_under("rule-base")
        .or_else(|| named_under("pre-rulebase"))
        .or_else(|| named_under("post-rulebase"))
        .unwrap_or("security");
    let xml = raw.get(entry.start..end).map(String::from_utf8_lossy).unwrap_or_default();
    Ok(Some(RuleHit {
        firewall,
        rulebase: format!("{vsys}/{rulebase}"),
        rule: rule.to_string(),
        hit_count,
        last_hit: time("last-hit-timestamp")?,
        first_hit: time("first-hit-timestamp")?,
        last_reset: time("last-reset-timestamp")?,
        created: time("rule-creation-timestamp")?,
        origin: Origin::at_pointer(here, bounded(&xml)),
    }))
}

/// `/response/result/…/entry[@name='allow-web']` for the open elements, plus `last` if given.
fn locator(stack: &[Frame], last: Option<&Frame>) -> String {
    let mut out = String::new();
    for f in stack.iter().chain(last) {
        out.push('/');
        out.push_str(&f.tag);
        if let Some(n) = &f.name {
            let q = if n.contains('\'') { '"' } else { '\'' };
            out.push_str(&format!("[@name={q}{n}{q}]"));
        }
    }
    out
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.try_get_attribute(key)
        .ok()
        .flatten()
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(raw: &[u8], at: usize) -> (usize, usize) {
    let before = raw.get(..at.min(raw.len())).unwrap_or_default();
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default()).chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/fixtures/panos-rulehits/panos-rule-hit-count.xml");
    const PANORAMA: &str = include_str!("../../tests/fixtures/panos-rulehits/panorama-rule-hit-count.xml");
    const ERROR: &str = include_str!("../../tests/fixtures/panos-rulehits/panos-error-response.xml");

    #[test]
    fn the_firewall_answer_gives_one_counter_per_rule() {
        let facts = parse("fw-core-01", SAMPLE.as_bytes()).unwrap();
        let names: Vec<&str> = facts.rule_hits.iter().map(|h| h.rule.as_str()).collect();
        assert_eq!(
            names,
            [
                "prod-to-dev-api",
                "prod-egress-https",
                "dev-to-prod-block",
                "legacy-dev-db-any",
                "intrazone-default",
                "interzone-default"
            ]
        );
        let api = &facts.rule_hits[0];
        assert_eq!(api.firewall, "fw-core-01");
        assert_eq!(api.rulebase, "vsys1/security");
        assert_eq!(api.hit_count, 19135);
        assert_eq!(api.last_hit.as_deref(), Some("2024-07-16T10:15:01Z"));
        assert_eq!(api.first_hit.as_deref(), Some("2024-06-10T06:31:03Z"));
        assert_eq!(api.last_reset, None, "0 means never reset");
        assert_eq!(api.created.as_deref(), Some("2024-06-09T17:03:17Z"));
        assert_eq!(
            api.origin.locator,
            "/response/result/rule-hit-count/vsys/entry[@name='vsys1']/rule-base/entry[@name='security']/rules/entry[@name='prod-to-dev-api']"
        );
        assert!(api.origin.excerpt.starts_with("<entry name=\"prod-to-dev-api\">"), "{}", api.origin.excerpt);
        assert!(api.origin.excerpt.ends_with("</entry>"), "{}", api.origin.excerpt);
        assert!(api.origin.excerpt.contains("<hit-count>19135</hit-count>"));
        let unused = &facts.rule_hits[3];
        assert_eq!((unused.hit_count, unused.last_hit.as_deref()), (0, None));
    }

    #[test]
    fn panorama_counters_are_per_managed_device() {
        let facts = parse("panorama", PANORAMA.as_bytes()).unwrap();
        let seen: Vec<(&str, &str, &str, u64)> = facts
            .rule_hits
            .iter()
            .map(|h| (h.firewall.as_str(), h.rulebase.as_str(), h.rule.as_str(), h.hit_count))
            .collect();
        assert_eq!(
            seen,
            [
                ("013201028945", "vsys1/security", "yellow-to-blue-https", 4821),
                ("013201028946", "vsys1/security", "yellow-to-blue-https", 0),
                ("013201028945", "vsys1/security", "legacy-any", 0),
            ]
        );
        assert_eq!(
            facts.rule_hits[0].origin.locator,
            "/response/result/rule-hit-count/device-group/entry[@name='dg-core']/pre-rulebase/entry[@name='security']/rules/entry[@name='yellow-to-blue-https']/device-vsys/entry[@name='013201028945/vsys1']"
        );
        assert_eq!(facts.rule_hits[1].last_hit, None);
    }

    #[test]
    fn an_error_answer_quotes_code_and_message() {
        let e = parse("fw1", ERROR.as_bytes()).unwrap_err();
        assert_eq!(e.locator, "/response");
        assert_eq!(
            e.message,
            "the PAN-OS API answered error 17: show -> rule-hit-count -> vsys -> vsys-name -> vsys9 is not a valid reference"
        );
        assert_eq!(api_error(SAMPLE.as_bytes()), None);
    }

    #[test]
    fn malformed_xml_names_line_and_column() {
        // Line 11 of the sample loses the closing `>` of its end tag.
        let broken = SAMPLE.replacen("</hit-count>", "</hit-count", 1);
        let e = parse("fw1", broken.as_bytes()).unwrap_err();
        assert!(e.locator.starts_with("line 11 column "), "{e}");
        assert!(e.message.starts_with("malformed XML: "), "{e}");

        let mismatched = SAMPLE.replacen("</latest>", "</lates>", 1);
        let e = parse("fw1", mismatched.as_bytes()).unwrap_err();
        assert!(e.locator.starts_with("line 10 column "), "{e}");

        let cut: String = SAMPLE.lines().take(14).map(|l| format!("{l}\n")).collect();
        let e = parse("fw1", cut.as_bytes()).unwrap_err();
        assert!(e.message.contains("is never closed"), "{e}");
    }

    #[test]
    fn bad_counter_values_name_the_rule_and_the_line() {
        let bad = SAMPLE.replacen("<hit-count>482211</hit-count>", "<hit-count>lots</hit-count>", 1);
        let e = parse("fw1", bad.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/response/result/rule-hit-count/vsys/entry[@name='vsys1']/rule-base/entry[@name='security']/rules/entry[@name='prod-egress-https'] (line 20 column 10): hit-count: \"lots\" is not a hit count"
        );
        let bad = SAMPLE.replacen("<last-hit-timestamp>1721124990<", "<last-hit-timestamp>yesterday<", 1);
        let e = parse("fw1", bad.as_bytes()).unwrap_err();
        assert!(e.message.starts_with("last-hit-timestamp: \"yesterday\" is not epoch seconds"), "{e}");
    }

    #[test]
    fn other_documents_are_rejected_with_the_reason() {
        let e = parse("fw1", b"<html><body>login</body></html>").unwrap_err();
        assert_eq!(e.to_string(), "line 1 column 1: expected a PAN-OS API <response>, found <html>");
        let e = parse("fw1", b"<response status=\"success\"><result/></response>").unwrap_err();
        assert_eq!(e.locator, "/response/result");
        let e = parse("fw1", b"").unwrap_err();
        assert!(e.message.contains("no <response>"), "{e}");
        let e = parse("fw1", b"<response>\n  \xff</response>").unwrap_err();
        assert_eq!(e.to_string(), "line 2 column 3: not UTF-8 text");
    }

    #[test]
    fn no_input_panics() {
        for cut in 0..SAMPLE.len() {
            let _ = parse("fw1", &SAMPLE.as_bytes()[..cut]);
        }
        for cut in 0..PANORAMA.len() {
            let _ = parse("fw1", &PANORAMA.as_bytes()[..cut]);
        }
    }
}

#[cfg(test)]
mod replay {
    use std::path::Path;

    use crate::collect::replay::collect_source;
    use crate::config::Settings;
    use crate::model::SourceStatus;

    /// The replay form of a rule-hit source, as an operator writes it.
    #[test]
    fn a_saved_answer_replays_as_a_panos_rulehits_source() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/panos-rulehits");
        let yaml = format!(
            "cluster: c\nzones:\n  yellow: {{ prefixes: [10.10.0.0/16], firewallZones: [trust-yellow] }}\n\
             sources:\n  - {{ name: fw-core-01-rulehits, kind: panos-rulehits, observer: fw-core-01, \
             files: [{dir}/panos-rule-hit-count.xml] }}\n"
        );
        let settings = Settings::from_yaml(&yaml, "zoneaudit.yaml", Path::new("/")).unwrap();
        let c = collect_source(&settings.sources[0], &settings);
        assert_eq!(c.run.status, SourceStatus::Ok, "{:?}", c.run.error);
        assert_eq!(c.run.kind, "panos-rulehits");
        assert_eq!(c.run.counts.get("ruleHits"), Some(&6));
        let hit = &c.facts.rule_hits[0];
        assert_eq!(hit.firewall, "fw-core-01");
        assert_eq!(hit.origin.source, "fw-core-01-rulehits");
        assert_eq!(hit.origin.payload, c.run.payloads[0].sha256);
    }
}
