//! Built-in checks: one file each, one closed set, dispatched by a static match.
//!
//! A check reads the facts through the shared [`Zoning`] and returns an [`Outcome`]:
//!
//! ```text
//!  pass  "412 routes in 6 tables, 0 leaks"     something was in scope and nothing is wrong
//!  fail  same words + findings                  each finding: subject, zone, message, evidence
//!  skip  "no routes collected"                  nothing in scope
//!  error "bgppeer x: nodeSelector ..."          it could not judge (findings it did make are kept)
//! ```
//!
//! Invariant: every finding carries at least one evidence item, the origin of a fact that shows it.
//! Adding a check = one file, one [`CheckKind`] variant, one [`CheckParams`] variant, one match arm.

pub mod approved_rule_unused;
pub mod block_affinity;
pub mod cross_zone_session;
pub mod denied_cross_zone;
pub mod evidence_gap;
pub mod firewall_silence;
pub mod foreign_origin;
pub mod global_peer;
pub mod mesh_multi_zone;
pub mod node_without_zone;
pub mod node_zone_mismatch;
pub mod route_leak;
pub mod rr_redundancy;
pub mod selector_spans_zones;
pub mod session_down;
pub mod supernet;
pub mod unapproved_flow;
pub mod zone_address_mismatch;

#[cfg(test)]
pub(crate) mod testkit;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::AuditInput;
use super::context::{TableKind, Zoning};
use super::pack::RuleDef;
use crate::model::{Finding, Origin, RuleStatus, Severity};

/// The built-in checks a rule can name in `check:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    RouteLeak,
    SupernetSpanningZones,
    ForeignOrigin,
    CrossZoneSession,
    MeshMultiZone,
    GlobalPeerIntoZone,
    SelectorSpansZones,
    BlockAffinityOutsideZone,
    NodeWithoutZone,
    NodeZoneMismatch,
    RrRedundancy,
    SessionDown,
    UnapprovedFlow,
    ZoneAddressMismatch,
    DeniedCrossZone,
    ApprovedRuleUnused,
    FirewallSilence,
    EvidenceGap,
}

impl CheckKind {
    pub const ALL: [CheckKind; 18] = [
        CheckKind::RouteLeak,
        CheckKind::SupernetSpanningZones,
        CheckKind::ForeignOrigin,
        CheckKind::CrossZoneSession,
        CheckKind::MeshMultiZone,
        CheckKind::GlobalPeerIntoZone,
        CheckKind::SelectorSpansZones,
        CheckKind::BlockAffinityOutsideZone,
        CheckKind::NodeWithoutZone,
        CheckKind::NodeZoneMismatch,
        CheckKind::RrRedundancy,
        CheckKind::SessionDown,
        CheckKind::UnapprovedFlow,
        CheckKind::ZoneAddressMismatch,
        CheckKind::DeniedCrossZone,
        CheckKind::ApprovedRuleUnused,
        CheckKind::FirewallSilence,
        CheckKind::EvidenceGap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CheckKind::RouteLeak => "route-leak",
            CheckKind::SupernetSpanningZones => "supernet-spanning-zones",
            CheckKind::ForeignOrigin => "foreign-origin",
            CheckKind::CrossZoneSession => "cross-zone-session",
            CheckKind::MeshMultiZone => "mesh-multi-zone",
            CheckKind::GlobalPeerIntoZone => "global-peer-into-zone",
            CheckKind::SelectorSpansZones => "selector-spans-zones",
            CheckKind::BlockAffinityOutsideZone => "block-affinity-outside-zone",
            CheckKind::NodeWithoutZone => "node-without-zone",
            CheckKind::NodeZoneMismatch => "node-zone-mismatch",
            CheckKind::RrRedundancy => "rr-redundancy",
            CheckKind::SessionDown => "session-down",
            CheckKind::UnapprovedFlow => "unapproved-flow",
            CheckKind::ZoneAddressMismatch => "zone-address-mismatch",
            CheckKind::DeniedCrossZone => "denied-cross-zone",
            CheckKind::ApprovedRuleUnused => "approved-rule-unused",
            CheckKind::FirewallSilence => "firewall-silence",
            CheckKind::EvidenceGap => "evidence-gap",
        }
    }

    /// The check a pack names, by its serde (kebab-case) name.
    pub fn from_name(name: &str) -> Option<CheckKind> {
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = name.into_deserializer();
        CheckKind::deserialize(de).ok()
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// For checks that take no parameters: any key is a typo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Which routing tables a route check looks at (`tables: [vrf, rr, node, other]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TableParams {
    #[serde(default = "all_tables")]
    pub tables: Vec<TableKind>,
}

fn all_tables() -> Vec<TableKind> {
    TableKind::ALL.to_vec()
}

impl Default for TableParams {
    fn default() -> Self {
        TableParams { tables: all_tables() }
    }
}

/// A rule's parameters, typed per check; the variant always matches the rule's `check`.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckParams {
    RouteLeak(TableParams),
    SupernetSpanningZones(TableParams),
    ForeignOrigin(TableParams),
    CrossZoneSession(cross_zone_session::Params),
    MeshMultiZone(NoParams),
    GlobalPeerIntoZone(NoParams),
    SelectorSpansZones(NoParams),
    BlockAffinityOutsideZone(NoParams),
    NodeWithoutZone(NoParams),
    NodeZoneMismatch(NoParams),
    RrRedundancy(rr_redundancy::Params),
    SessionDown(NoParams),
    UnapprovedFlow(NoParams),
    ZoneAddressMismatch(zone_address_mismatch::Params),
    DeniedCrossZone(denied_cross_zone::Params),
    ApprovedRuleUnused(approved_rule_unused::Params),
    FirewallSilence(firewall_silence::Params),
    EvidenceGap(evidence_gap::Params),
}

fn typed<T: DeserializeOwned + Default>(value: &serde_json::Value) -> Result<T, String> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

impl CheckParams {
    /// Parse `params` (absent = null) for `check`; the message names the offending key or value.
    pub fn parse(check: CheckKind, value: &serde_json::Value) -> Result<CheckParams, String> {
        Ok(match check {
            CheckKind::RouteLeak => CheckParams::RouteLeak(typed(value)?),
            CheckKind::SupernetSpanningZones => CheckParams::SupernetSpanningZones(typed(value)?),
            CheckKind::ForeignOrigin => CheckParams::ForeignOrigin(typed(value)?),
            CheckKind::CrossZoneSession => CheckParams::CrossZoneSession(typed(value)?),
            CheckKind::MeshMultiZone => CheckParams::MeshMultiZone(typed(value)?),
            CheckKind::GlobalPeerIntoZone => CheckParams::GlobalPeerIntoZone(typed(value)?),
            CheckKind::SelectorSpansZones => CheckParams::SelectorSpansZones(typed(value)?),
            CheckKind::BlockAffinityOutsideZone => CheckParams::BlockAffinityOutsideZone(typed(value)?),
            CheckKind::NodeWithoutZone => CheckParams::NodeWithoutZone(typed(value)?),
            CheckKind::NodeZoneMismatch => CheckParams::NodeZoneMismatch(typed(value)?),
            CheckKind::RrRedundancy => {
                let p: rr_redundancy::Params = typed(value)?;
                if p.min == 0 {
                    return Err("min must be at least 1".into());
                }
                CheckParams::RrRedundancy(p)
            }
            CheckKind::SessionDown => CheckParams::SessionDown(typed(value)?),
            CheckKind::UnapprovedFlow => CheckParams::UnapprovedFlow(typed(value)?),
            CheckKind::ZoneAddressMismatch => {
                let p: zone_address_mismatch::Params = typed(value)?;
                if !p.ingress && !p.egress {
                    return Err("ingress and egress are both off: the rule would judge nothing".into());
                }
                CheckParams::ZoneAddressMismatch(p)
            }
            CheckKind::DeniedCrossZone => {
                let p: denied_cross_zone::Params = typed(value)?;
                if p.threshold == 0 {
                    return Err("threshold must be at least 1".into());
                }
                CheckParams::DeniedCrossZone(p)
            }
            CheckKind::ApprovedRuleUnused => {
                let p: approved_rule_unused::Params = typed(value)?;
                if p.days == 0 {
                    return Err("days must be at least 1".into());
                }
                CheckParams::ApprovedRuleUnused(p)
            }
            CheckKind::FirewallSilence => {
                let p: firewall_silence::Params = typed(value)?;
                if p.min_events == 0 {
                    return Err("minEvents must be at least 1".into());
                }
                CheckParams::FirewallSilence(p)
            }
            CheckKind::EvidenceGap => CheckParams::EvidenceGap(typed(value)?),
        })
    }
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: RuleStatus,
    pub checked: String,
    pub findings: Vec<Finding>,
}

impl Outcome {
    pub fn skip(reason: impl Into<String>) -> Self {
        Outcome { status: RuleStatus::Skip, checked: reason.into(), findings: Vec::new() }
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Outcome { status: RuleStatus::Error, checked: reason.into(), findings: Vec::new() }
    }

    /// Pass when there are no findings, fail otherwise.
    pub fn judged(checked: impl Into<String>, findings: Vec<Finding>) -> Self {
        let status = if findings.is_empty() { RuleStatus::Pass } else { RuleStatus::Fail };
        Outcome { status, checked: checked.into(), findings }
    }

    /// Some inputs could not be judged: the rule is in error, but what it did find is kept.
    pub fn with_errors(mut self, errors: &[String]) -> Self {
        if !errors.is_empty() {
            self.status = RuleStatus::Error;
            self.checked = format!("{}; could not evaluate: {}", self.checked, errors.join("; "));
        }
        self
    }
}

/// Evidence items kept per finding: enough to show it, bounded for big estates.
pub const MAX_EVIDENCE: usize = 8;

/// Findings of one rule, one per subject; repeated observations of a subject add evidence.
pub struct FindingSet<'r> {
    rule: &'r RuleDef,
    by_subject: BTreeMap<String, Finding>,
}

impl<'r> FindingSet<'r> {
    pub fn new(rule: &'r RuleDef) -> Self {
        FindingSet { rule, by_subject: BTreeMap::new() }
    }

    pub fn add(&mut self, subject: String, zone: Option<&str>, message: String, evidence: Vec<Origin>) {
        self.add_with_severity(subject, zone, self.rule.severity, message, evidence);
    }

    /// The first observation of a subject names it; later ones only add evidence (and can raise
    /// the severity, e.g. a cross-zone session seen down on one side and up on the other).
    pub fn add_with_severity(
        &mut self,
        subject: String,
        zone: Option<&str>,
        severity: Severity,
        message: String,
        evidence: Vec<Origin>,
    ) {
        debug_assert!(!evidence.is_empty(), "finding {subject} of {} without evidence", self.rule.id);
        match self.by_subject.get_mut(&subject) {
            Some(f) => {
                f.severity = f.severity.max(severity);
                for e in evidence {
                    if f.evidence.len() < MAX_EVIDENCE && !f.evidence.contains(&e) {
                        f.evidence.push(e);
                    }
                }
            }
            None => {
                let mut ev: Vec<Origin> = Vec::new();
                for e in evidence {
                    if ev.len() < MAX_EVIDENCE && !ev.contains(&e) {
                        ev.push(e);
                    }
                }
                let f = Finding {
                    rule_id: self.rule.id.clone(),
                    fingerprint: Finding::fingerprint_for(&self.rule.id, &subject),
                    severity,
                    zone: zone.map(str::to_string),
                    subject: subject.clone(),
                    message,
                    evidence: ev,
                };
                self.by_subject.insert(subject, f);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_subject.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_subject.is_empty()
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.by_subject.into_values().collect()
    }
}

/// Run the rule's check.
pub fn run(input: &AuditInput, ctx: &Zoning, rule: &RuleDef) -> Outcome {
    match &rule.params {
        CheckParams::RouteLeak(p) => route_leak::check(input, ctx, rule, p),
        CheckParams::SupernetSpanningZones(p) => supernet::check(input, ctx, rule, p),
        CheckParams::ForeignOrigin(p) => foreign_origin::check(input, ctx, rule, p),
        CheckParams::CrossZoneSession(p) => cross_zone_session::check(input, ctx, rule, p),
        CheckParams::MeshMultiZone(_) => mesh_multi_zone::check(input, ctx, rule),
        CheckParams::GlobalPeerIntoZone(_) => global_peer::check(input, ctx, rule),
        CheckParams::SelectorSpansZones(_) => selector_spans_zones::check(input, ctx, rule),
        CheckParams::BlockAffinityOutsideZone(_) => block_affinity::check(input, ctx, rule),
        CheckParams::NodeWithoutZone(_) => node_without_zone::check(input, ctx, rule),
        CheckParams::NodeZoneMismatch(_) => node_zone_mismatch::check(input, ctx, rule),
        CheckParams::RrRedundancy(p) => rr_redundancy::check(input, ctx, rule, p),
        CheckParams::SessionDown(_) => session_down::check(input, ctx, rule),
        CheckParams::UnapprovedFlow(_) => unapproved_flow::check(input, ctx, rule),
        CheckParams::ZoneAddressMismatch(p) => zone_address_mismatch::check(input, ctx, rule, p),
        CheckParams::DeniedCrossZone(p) => denied_cross_zone::check(input, ctx, rule, p),
        CheckParams::ApprovedRuleUnused(p) => approved_rule_unused::check(input, ctx, rule, p),
        CheckParams::FirewallSilence(p) => firewall_silence::check(input, ctx, rule, p),
        CheckParams::EvidenceGap(p) => evidence_gap::check(input, ctx, rule, p),
    }
}

/// `4,212` — counts in `checked` texts are read by people.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 route`, `4,212 routes`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The same table/VRF reading everywhere in subjects: no VRF means the default table.
pub fn vrf_label(vrf: Option<&str>) -> &str {
    vrf.unwrap_or("default")
}

/// Route checks share the table filter and the "what was in scope" counting.
pub(crate) struct RouteScope<'a> {
    pub routes: usize,
    pub tables: std::collections::BTreeSet<(&'a str, &'a str)>,
    pub unplaced: usize,
    pub filtered: usize,
}

impl<'a> RouteScope<'a> {
    pub fn new() -> Self {
        RouteScope { routes: 0, tables: Default::default(), unplaced: 0, filtered: 0 }
    }

    /// The route's table zone, when the route is in scope; counts it either way.
    pub fn place(
        &mut self,
        ctx: &Zoning<'a>,
        params: &TableParams,
        r: &'a crate::model::Route,
    ) -> Option<&'a str> {
        let p = ctx.route_placement(r);
        if !params.tables.contains(&p.kind) {
            self.filtered += 1;
            return None;
        }
        match p.zone {
            Some(z) => {
                self.routes += 1;
                self.tables.insert((r.observer.as_str(), r.table.as_str()));
                Some(z)
            }
            None => {
                self.unplaced += 1;
                None
            }
        }
    }

    /// `"412 routes in 6 tables, 0 leaks"` plus what was left out and why.
    pub fn describe(&self, found: usize, what_one: &str, what_many: &str) -> String {
        let mut s = format!(
            "{} in {}, {}",
            count(self.routes, "route", "routes"),
            count(self.tables.len(), "zone table", "zone tables"),
            count(found, what_one, what_many)
        );
        if self.unplaced > 0 {
            s.push_str(&format!(
                "; {} in tables of no known zone not judged",
                count(self.unplaced, "route", "routes")
            ));
        }
        if self.filtered > 0 {
            s.push_str(&format!(
                "; {} in table kinds this rule excludes",
                count(self.filtered, "route", "routes")
            ));
        }
        s
    }

    /// Skip when no route was in scope.
    pub fn skip_reason(&self, total: usize) -> Option<String> {
        if total == 0 {
            Some("no routes collected".into())
        } else if self.routes == 0 {
            Some(format!("{} collected, none in a table of a known zone", count(total, "route", "routes")))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_round_trip_through_serde() {
        for k in CheckKind::ALL {
            assert_eq!(CheckKind::from_name(k.name()), Some(k), "{k}");
        }
        assert_eq!(CheckKind::from_name("RouteLeak"), None);
    }

    #[test]
    fn counts_read_like_a_person_wrote_them() {
        assert_eq!(thousands(4212), "4,212");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(count(1, "route", "routes"), "1 route");
        assert_eq!(count(4212, "route", "routes"), "4,212 routes");
    }
}
