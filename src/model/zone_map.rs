//! Zone attribution: which zone owns an address or a prefix.
//!
//! Two longest-prefix-match tries (IPv4, IPv6) map every declared zone prefix and every `shared`
//! prefix to its owner. A prefix is attributed by
//!
//! ```text
//!   covering entry (LPM)      ─┐
//!   entries it contains       ─┴─▶  Zone(z) | Shared | SpansZones([z1, z2, ..]) | Unknown
//! ```
//!
//! A route for `10.0.0.0/8` when yellow owns `10.10.0.0/16` and blue `10.20.0.0/16` is a supernet
//! that *spans zones*: whoever carries it can reach both. Shared prefixes (a default route, the
//! firewall transit) never span: they are allowed everywhere by definition.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Zone(String),
    Shared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "zones", rename_all = "kebab-case")]
pub enum Attribution {
    /// Inside exactly one zone's space.
    Zone(String),
    /// A declared shared prefix (or inside one) and no zone below it.
    Shared,
    /// Covers the space of several zones (a supernet), or of one zone and more.
    SpansZones(Vec<String>),
    /// Outside every declared prefix.
    Unknown,
}

impl Attribution {
    pub fn zone(&self) -> Option<&str> {
        match self {
            Attribution::Zone(z) => Some(z),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ZoneMap {
    v4: PrefixMap<Ipv4Net, Owner>,
    v6: PrefixMap<Ipv6Net, Owner>,
}

impl ZoneMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Later inserts of the same prefix replace earlier ones; config validation rejects overlaps
    /// between zones before we get here.
    pub fn insert_zone(&mut self, prefix: IpNet, zone: &str) {
        self.insert(prefix, Owner::Zone(zone.to_string()));
    }

    pub fn insert_shared(&mut self, prefix: IpNet) {
        self.insert(prefix, Owner::Shared);
    }

    fn insert(&mut self, prefix: IpNet, owner: Owner) {
        match prefix.trunc() {
            IpNet::V4(p) => {
                self.v4.insert(p, owner);
            }
            IpNet::V6(p) => {
                self.v6.insert(p, owner);
            }
        }
    }

    /// Zone of a single address (longest match). Shared space has no zone.
    pub fn zone_of_addr(&self, addr: IpAddr) -> Option<&str> {
        let owner = match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, o)| o),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, o)| o),
        };
        match owner {
            Some(Owner::Zone(z)) => Some(z.as_str()),
            _ => None,
        }
    }

    /// A prefix declared in `shared` is allowed everywhere, even when it covers zones (0.0.0.0/0).
    fn is_declared_shared(&self, prefix: &IpNet) -> bool {
        let owner = match prefix {
            IpNet::V4(p) => self.v4.get(p),
            IpNet::V6(p) => self.v6.get(p),
        };
        owner == Some(&Owner::Shared)
    }

    /// Attribute a prefix: its covering owner plus every zone whose prefixes it contains.
    pub fn attribute(&self, prefix: &IpNet) -> Attribution {
        let prefix = prefix.trunc();
        if self.is_declared_shared(&prefix) {
            return Attribution::Shared;
        }
        let (cover, inside): (Option<&Owner>, Vec<&Owner>) = match prefix {
            IpNet::V4(p) => (
                self.v4.get_lpm(&p).map(|(_, o)| o),
                self.v4.children(&p).filter(|(k, _)| *k != p).map(|(_, o)| o).collect(),
            ),
            IpNet::V6(p) => (
                self.v6.get_lpm(&p).map(|(_, o)| o),
                self.v6.children(&p).filter(|(k, _)| *k != p).map(|(_, o)| o).collect(),
            ),
        };
        let mut zones: BTreeSet<&str> = BTreeSet::new();
        if let Some(Owner::Zone(z)) = cover {
            zones.insert(z);
        }
        for owner in &inside {
            if let Owner::Zone(z) = owner {
                zones.insert(z);
            }
        }
        match (cover, zones.len()) {
            (_, 0) if cover.is_some() => Attribution::Shared,
            (_, 0) => Attribution::Unknown,
            (Some(Owner::Zone(z)), 1) => Attribution::Zone(z.clone()),
            // A shared or unknown supernet that contains one zone's space still reaches into that
            // zone and beyond it.
            _ => Attribution::SpansZones(zones.into_iter().map(str::to_string).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ZoneMap {
        let mut m = ZoneMap::new();
        m.insert_zone("10.10.0.0/16".parse().unwrap(), "yellow");
        m.insert_zone("10.20.0.0/16".parse().unwrap(), "blue");
        m.insert_zone("fd00:10::/32".parse().unwrap(), "yellow");
        m.insert_shared("0.0.0.0/0".parse().unwrap());
        m.insert_shared("172.31.255.0/24".parse().unwrap());
        m
    }

    #[test]
    fn address_longest_match() {
        let m = map();
        assert_eq!(m.zone_of_addr("10.10.3.4".parse().unwrap()), Some("yellow"));
        assert_eq!(m.zone_of_addr("10.20.0.1".parse().unwrap()), Some("blue"));
        assert_eq!(m.zone_of_addr("8.8.8.8".parse().unwrap()), None);
        assert_eq!(m.zone_of_addr("fd00:10::5".parse().unwrap()), Some("yellow"));
        assert_eq!(m.zone_of_addr("fd00:99::5".parse().unwrap()), None);
    }

    #[test]
    fn prefix_attribution() {
        let m = map();
        let a = |s: &str| m.attribute(&s.parse().unwrap());
        assert_eq!(a("10.10.1.0/24"), Attribution::Zone("yellow".into()));
        assert_eq!(a("10.10.0.0/16"), Attribution::Zone("yellow".into()));
        assert_eq!(a("0.0.0.0/0"), Attribution::Shared);
        assert_eq!(a("172.31.255.0/30"), Attribution::Shared);
        assert_eq!(a("10.0.0.0/8"), Attribution::SpansZones(vec!["blue".into(), "yellow".into()]));
        assert_eq!(a("10.10.0.0/15"), Attribution::SpansZones(vec!["yellow".into()]));
        assert_eq!(a("fd00:10:1::/48"), Attribution::Zone("yellow".into()));
        assert_eq!(a("2001:db8::/32"), Attribution::Unknown);
    }
}
