//! `session-down`: a BGP session that is not established.
//!
//! Down sessions are how redundancy erodes quietly (one RR of two) and how a half-finished change
//! shows before it carries routes.

use super::{FindingSet, Outcome, count, vrf_label};
use crate::rules::AuditInput;
use crate::rules::context::Zoning;
use crate::rules::pack::RuleDef;

pub fn check(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    let sessions = &input.facts.sessions;
    if sessions.is_empty() {
        return Outcome::skip("no BGP sessions collected");
    }
    let mut findings = FindingSet::new(rule);
    for s in sessions.iter().filter(|s| !s.is_established()) {
        let vrf = vrf_label(s.vrf.as_deref());
        let since = s.since.as_deref().map(|t| format!(" since {t}")).unwrap_or_default();
        findings.add(
            format!("{}/{vrf}/{}", s.observer, s.peer_addr),
            ctx.session_placement(s).zone,
            format!(
                "BGP session from {} (VRF {vrf}) to {} is {}{since}, not Established",
                s.observer, s.peer_addr, s.state
            ),
            vec![s.origin.clone()],
        );
    }
    let observers: std::collections::BTreeSet<&str> = sessions.iter().map(|s| s.observer.as_str()).collect();
    Outcome::judged(
        format!(
            "{} on {}, {} down",
            count(sessions.len(), "session", "sessions"),
            count(observers.len(), "observer", "observers"),
            findings.len()
        ),
        findings.into_vec(),
    )
}

#[cfg(test)]
mod tests {
    use crate::model::{Facts, RuleStatus, Severity};
    use crate::rules::checks::testkit::*;

    #[test]
    fn established_sessions_pass() {
        let facts = Facts {
            sessions: vec![session("leaf1", Some("YELLOW"), "172.31.10.1", "172.31.10.5", "Established")],
            ..Default::default()
        };
        let (r, f) = eval("session-down", "", &facts);
        assert_eq!(r.status, RuleStatus::Pass);
        assert_eq!(r.checked, "1 session on 1 observer, 0 down");
        assert!(f.is_empty());
    }

    #[test]
    fn active_session_fails() {
        let facts = Facts {
            sessions: vec![
                session("leaf1", Some("YELLOW"), "172.31.10.1", "172.31.10.5", "Established"),
                session("leaf1", Some("YELLOW"), "172.31.10.1", "172.31.10.6", "Active"),
            ],
            ..Default::default()
        };
        let (r, f) = eval("session-down", "", &facts);
        assert_eq!(r.status, RuleStatus::Fail);
        assert_eq!(r.checked, "2 sessions on 1 observer, 1 down");
        assert_eq!(f[0].subject, "leaf1/YELLOW/172.31.10.6");
        assert_eq!(f[0].zone.as_deref(), Some("yellow"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].message,
            "BGP session from leaf1 (VRF YELLOW) to 172.31.10.6 is Active since 2024-07-16, not Established"
        );
        assert_eq!(f[0].evidence, vec![facts.sessions[1].origin.clone()]);
    }
}
