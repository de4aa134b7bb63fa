//! (being written) Vendor-neutral firewall traffic: one event type, one aggregator, a parser per
//! vendor format.

use std::net::IpAddr;

use crate::config::SourceKind;
use crate::model::{Facts, Rejects};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Panos,
    Fortigate,
    Asa,
    Netfilter,
}

impl LogFormat {
    pub fn of(kind: SourceKind) -> Option<LogFormat> {
        match kind {
            SourceKind::Panos => Some(LogFormat::Panos),
            SourceKind::Fortigate => Some(LogFormat::Fortigate),
            SourceKind::Asa => Some(LogFormat::Asa),
            SourceKind::Netfilter => Some(LogFormat::Netfilter),
            _ => None,
        }
    }
}

/// Parse and aggregate a whole buffer of log lines in `format`.
pub fn parse(
    format: LogFormat,
    raw: &[u8],
    attribute: &dyn Fn(IpAddr) -> Option<String>,
) -> (Facts, Rejects) {
    match format {
        LogFormat::Panos => crate::collect::panos::parse(raw, attribute),
        _ => {
            let mut rejects = Rejects::default();
            rejects.add("format not yet supported", 1, "");
            (Facts::default(), rejects)
        }
    }
}
