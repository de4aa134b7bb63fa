//! `approved-rule-unused`: an approved flow whose firewall rule nothing uses any more.
//!
//! Least privilege applies to approvals too: an `allowedFlows` entry whose rule the firewall's hit
//! counters show as never hit, or last hit more than `days` before the snapshot, keeps a door open
//! that nobody walks through. It can be withdrawn and the rule removed.
//!
//! ```text
//!  allowedFlows[i].rule ──▶ RuleHit facts of that name (any firewall: an HA pair counts on one side)
//!     none             -> finding: the approved rule is not on the firewall
//!     latest last hit within `days` of now              -> used
//!     latest last hit older, or never hit               -> finding …
//!        … unless every counter started (rule created, counters reset) less than `days` ago:
//!          then the counters cannot tell yet ("too recent to judge")
//! ```
//!
//! No RuleHit facts at all (no `panos-rulehits` source) is a skip: silence is not evidence of use.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{FindingSet, Outcome, count, thousands};
use crate::config::AllowedFlow;
use crate::model::{Origin, RuleHit};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Params {
    /// A rule last hit longer ago than this many days is unused.
    pub days: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params { days: 90 }
    }
}

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef, params: &Params) -> Outcome {
    let hits = &input.facts.rule_hits;
    if hits.is_empty() {
        return Outcome::skip("no firewall rule hit counters collected");
    }
    let settings = ctx.settings;
    // The first allowedFlows entry naming a rule stands for it; later ones only repeat the name.
    let mut approved: Vec<(usize, &AllowedFlow, &str)> = Vec::new();
    for (i, f) in settings.allowed_flows.iter().enumerate() {
        if let Some(r) = f.rule.as_deref()
            && !approved.iter().any(|(_, _, seen)| *seen == r)
        {
            approved.push((i, f, r));
        }
    }
    if approved.is_empty() {
        return Outcome::skip("no allowedFlows entry names a firewall rule");
    }
    let now = input.now;
    let limit = chrono::Duration::days(i64::from(params.days));
    let mut firewalls: Vec<&str> = hits.iter().map(|h| h.firewall.as_str()).collect();
    firewalls.sort();
    firewalls.dedup();
    let mut findings = FindingSet::new(rule);
    let mut errors: Vec<String> = Vec::new();
    let (mut used, mut too_recent) = (0usize, 0usize);
    for (i, flow, name) in &approved {
        let config = config_origin(input, *i, flow);
        let counters: Vec<&RuleHit> = hits.iter().filter(|h| h.rule == *name).collect();
        let what = format!("approved rule {name} (allowedFlows[{i}]: {} -> {})", flow.from, flow.to);
        if counters.is_empty() {
            let mut evidence = vec![config];
            evidence.extend(absent_evidence(hits, name));
            findings.add(
                format!("rule/{name}"),
                Some(&flow.to),
                format!(
                    "{what} was not found in the rule hit counters of {}: rule not found on the firewall; \
                     the approval names a rule that does not exist (renamed or removed)",
                    firewalls.join(", ")
                ),
                evidence,
            );
            continue;
        }
        let mut last_hit: Option<(DateTime<Utc>, &RuleHit)> = None;
        let mut counting_since: Option<DateTime<Utc>> = None;
        let mut since_unknown = false;
        let errors_before = errors.len();
        for h in &counters {
            match time(h.last_hit.as_deref(), h, "last hit", &mut errors) {
                Some(t) if last_hit.is_none_or(|(best, _)| t > best) => last_hit = Some((t, h)),
                _ => {}
            }
            let created = time(h.created.as_deref(), h, "created", &mut errors);
            let reset = time(h.last_reset.as_deref(), h, "last reset", &mut errors);
            match created.max(reset) {
                Some(start) => counting_since = Some(counting_since.map_or(start, |s| s.min(start))),
                None => since_unknown = true,
            }
        }
        if errors.len() > errors_before {
            // A counter that cannot be read is no evidence of disuse: the rule is in error instead.
            continue;
        }
        let mut evidence: Vec<Origin> = counters.iter().map(|h| h.origin.clone()).collect();
        evidence.push(config);
        let message = match last_hit {
            Some((t, _)) if now - t <= limit => {
                used += 1;
                continue;
            }
            Some((t, h)) => format!(
                "{what} was last hit on {} at {}, {} days before the snapshot (limit {} days): \
                 unused, the approval can be withdrawn and the rule removed",
                h.firewall,
                h.last_hit.as_deref().unwrap_or_default(),
                (now - t).num_days(),
                params.days
            ),
            None => {
                let window = if since_unknown { None } else { counting_since };
                if let Some(start) = window
                    && now - start < limit
                {
                    too_recent += 1;
                    continue;
                }
                let since = window
                    .map(|s| {
                        format!(" (counting since {})", s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    })
                    .unwrap_or_default();
                format!(
                    "{what} has never been hit on {}{since}: unused for more than {} days, the approval can be \
                     withdrawn and the rule removed",
                    counters.iter().map(|h| h.firewall.as_str()).collect::<Vec<_>>().join(", "),
                    params.days
                )
            }
        };
        findings.add(format!("rule/{name}"), Some(&flow.to), message, evidence);
    }
    errors.sort();
    errors.dedup();
    let checked = format!(
        "{} against {} on {}: {} used in the last {} days, {} unused or missing, {} too recent to judge",
        count(approved.len(), "approved rule", "approved rules"),
        count(hits.len(), "rule counter", "rule counters"),
        count(firewalls.len(), "firewall", "firewalls"),
        thousands(used),
        params.days,
        thousands(findings.len()),
        thousands(too_recent)
    );
    Outcome::judged(checked, findings.into_vec()).with_errors(&errors)
}

fn time(value: Option<&str>, h: &RuleHit, what: &str, errors: &mut Vec<String>) -> Option<DateTime<Utc>> {
    let v = value?;
    match DateTime::parse_from_rfc3339(v) {
        Ok(t) => Some(t.to_utc()),
        Err(_) => {
            errors.push(format!("rule {} on {}: {what} time {v:?} is not RFC 3339", h.rule, h.firewall));
            None
        }
    }
}

/// The approval as the config states it.
fn config_origin(input: &AuditInput, i: usize, flow: &AllowedFlow) -> Origin {
    let settings = input.settings;
    let ports: Vec<String> = flow.ports.iter().map(|p| format!("{}/{}", p.port, p.protocol)).collect();
    Origin {
        source: "config".into(),
        payload: settings.digest.as_str().into(),
        locator: format!("{}: allowedFlows[{i}]", settings.file.display()),
        excerpt: format!(
            "{{ from: {}, to: {}, ports: [{}], rule: {} }}",
            flow.from,
            flow.to,
            ports.join(", "),
            flow.rule.as_deref().unwrap_or_default()
        ),
    }
}

/// Per firewall and rule base: the counters that were read, and that the rule is not among them.
fn absent_evidence(hits: &[RuleHit], name: &str) -> Vec<Origin> {
    let mut out: Vec<Origin> = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for h in hits {
        let key = (h.firewall.as_str(), h.rulebase.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let n = hits.iter().filter(|o| (o.firewall.as_str(), o.rulebase.as_str()) == key).count();
        // The rule base's element: the counter's path without its own entry.
        let locator = h.origin.locator.rsplit_once("/entry[").map_or(h.origin.locator.as_str(), |(p, _)| p);
        out.push(Origin {
            source: h.origin.source.clone(),
            payload: h.origin.payload.clone(),
            locator: locator.to_string(),
            excerpt: format!(
                "{}: {} in {}, none named {name}",
                h.firewall,
                count(n, "rule", "rules"),
                h.rulebase
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use crate::model::{Facts, RuleHit, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;
    use crate::rules::{AuditInput, evaluate, load_pack_text};

    /// Snapshot time of these tests: 2024-07-16 12:00 UTC.
    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2024, 7, 16, 12, 0, 0).unwrap()
    }

    fn hit(rule: &str, count: u64, last: Option<&str>, created: Option<&str>) -> RuleHit {
        RuleHit {
            firewall: "fw1".into(),
            rulebase: "vsys1/security".into(),
            rule: rule.into(),
            hit_count: count,
            last_hit: last.map(str::to_string),
            first_hit: last.map(str::to_string),
            last_reset: None,
            created: created.map(str::to_string),
            origin: origin(&format!(
                "response/result/rule-hit-count/vsys/entry[@name='vsys1']/rule-base/entry[@name='security']/rules/entry[@name='{rule}']"
            )),
        }
    }

    fn run(params: &str, hits: Vec<RuleHit>) -> (crate::model::RuleResult, Vec<crate::model::Finding>) {
        let params = if params.is_empty() { String::new() } else { format!("    params: {params}\n") };
        let pack = format!(
            "apiVersion: zoneaudit.io/v1\nkind: RulePack\nmetadata: {{ name: t, version: '1' }}\nrules:\n  - id: T-1\n    \
             title: test\n    severity: medium\n    check: approved-rule-unused\n{params}"
        );
        let pack = load_pack_text(&pack, "test.yaml").unwrap();
        let settings = settings();
        let facts = Facts { rule_hits: hits, ..Default::default() };
        let mut eval =
            evaluate(&[pack], &AuditInput { settings: &settings, facts: &facts, sources: &[], now: now() });
        (eval.results.remove(0), eval.findings)
    }

    #[test]
    fn a_rule_hit_last_week_is_used() {
        let (r, f) = run("", vec![hit("yellow-to-blue-https", 4821, Some("2024-07-09T08:00:00Z"), None)]);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(
            r.checked,
            "1 approved rule against 1 rule counter on 1 firewall: 1 used in the last 90 days, 0 unused or missing, \
             0 too recent to judge"
        );
        assert!(f.is_empty());
    }

    #[test]
    fn a_rule_last_hit_in_march_is_unused() {
        let (r, f) = run("", vec![hit("yellow-to-blue-https", 12, Some("2024-03-01T00:00:00Z"), None)]);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(f[0].subject, "rule/yellow-to-blue-https");
        assert_eq!(f[0].zone.as_deref(), Some("blue"));
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(
            f[0].message,
            "approved rule yellow-to-blue-https (allowedFlows[0]: yellow -> blue) was last hit on fw1 at \
             2024-03-01T00:00:00Z, 137 days before the snapshot (limit 90 days): unused, the approval can be \
             withdrawn and the rule removed"
        );
        assert!(f[0].evidence[0].locator.ends_with("entry[@name='yellow-to-blue-https']"));
        assert_eq!(f[0].evidence[1].locator, "zoneaudit.yaml: allowedFlows[0]");
        assert_eq!(
            f[0].evidence[1].excerpt,
            "{ from: yellow, to: blue, ports: [443/tcp], rule: yellow-to-blue-https }"
        );
        // A longer window makes the same counter recent enough.
        let (r, _) =
            run("{ days: 180 }", vec![hit("yellow-to-blue-https", 12, Some("2024-03-01T00:00:00Z"), None)]);
        assert_eq!(r.status, RuleStatus::Pass);
    }

    #[test]
    fn a_rule_never_hit_is_unused_unless_it_is_too_new_to_tell() {
        let old = hit("yellow-to-blue-https", 0, None, Some("2023-08-01T00:00:00Z"));
        let (r, f) = run("", vec![old]);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(
            f[0].message,
            "approved rule yellow-to-blue-https (allowedFlows[0]: yellow -> blue) has never been hit on fw1 \
             (counting since 2023-08-01T00:00:00Z): unused for more than 90 days, the approval can be withdrawn \
             and the rule removed"
        );
        let new = hit("yellow-to-blue-https", 0, None, Some("2024-07-01T00:00:00Z"));
        let (r, f) = run("", vec![new]);
        assert_eq!(r.status, RuleStatus::Pass);
        assert!(r.checked.ends_with("1 too recent to judge"), "{}", r.checked);
        assert!(f.is_empty());
        // Counters reset last week cannot show 90 days of silence either.
        let mut reset = hit("yellow-to-blue-https", 0, None, Some("2023-08-01T00:00:00Z"));
        reset.last_reset = Some("2024-07-10T00:00:00Z".into());
        assert_eq!(run("", vec![reset]).0.status, RuleStatus::Pass);
    }

    #[test]
    fn an_approved_rule_missing_from_the_counters_is_a_finding() {
        let (r, f) = run("", vec![hit("prod-egress-https", 5, Some("2024-07-15T00:00:00Z"), None)]);
        assert_eq!(r.status, RuleStatus::Fail);
        assert!(
            f[0].message.starts_with(
                "approved rule yellow-to-blue-https (allowedFlows[0]: yellow -> blue) was not found in the rule hit \
                 counters of fw1: rule not found on the firewall"
            ),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].evidence[0].locator, "zoneaudit.yaml: allowedFlows[0]");
        assert_eq!(
            f[0].evidence[1].locator,
            "/response/result/rule-hit-count/vsys/entry[@name='vsys1']/rule-base/entry[@name='security']/rules"
        );
        assert_eq!(
            f[0].evidence[1].excerpt,
            "fw1: 1 rule in vsys1/security, none named yellow-to-blue-https"
        );
    }

    #[test]
    fn the_most_recent_hit_of_an_ha_pair_counts() {
        let mut passive = hit("yellow-to-blue-https", 0, None, Some("2023-08-01T00:00:00Z"));
        passive.firewall = "fw2".into();
        let active = hit("yellow-to-blue-https", 99, Some("2024-07-16T11:00:00Z"), None);
        assert_eq!(run("", vec![passive, active]).0.status, RuleStatus::Pass);
    }

    #[test]
    fn no_counters_is_a_skip_and_bad_times_are_an_error() {
        let (r, _) = run("", vec![]);
        assert_eq!(
            (r.status, r.checked.as_str()),
            (RuleStatus::Skip, "no firewall rule hit counters collected")
        );
        let (r, f) = run("", vec![hit("yellow-to-blue-https", 1, Some("yesterday"), None)]);
        assert_eq!(r.status, RuleStatus::Error);
        assert!(f.is_empty(), "an unreadable counter is not a finding");
        assert!(
            r.checked
                .contains("rule yellow-to-blue-https on fw1: last hit time \"yesterday\" is not RFC 3339"),
            "{}",
            r.checked
        );
    }
}
