//! Topology drift: the BGP sessions, VRF prefixes and firewall zone pairs of a run, compared with an
//! accepted baseline (`zoneaudit baseline accept`).
//!
//! (being written: `topology(facts, settings)` and `compare(baseline, current)`)

use serde::{Deserialize, Serialize};

/// What kind of topology item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TopologyKind {
    /// A BGP session seen by a collector (observer and peer).
    Session,
    /// A prefix in a zone routing table (VRF on a switch, an RR's table).
    Prefix,
    /// Traffic between two zones seen by a firewall.
    ZonePair,
}

/// One item of the topology. Ordered and compared by `key`, which is stable across runs
/// (`session:leaf1:172.31.10.5`, `prefix:leaf1:YELLOW:10.20.1.0/26`, `zonePair:fw-core:green>blue`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologyItem {
    pub key: String,
    pub kind: TopologyKind,
    /// The zone the item belongs to, when known (for routing).
    pub zone: Option<String>,
    /// For people: `VRF YELLOW on leaf1: 10.20.1.0/26`.
    pub description: String,
}
