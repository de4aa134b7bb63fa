//! Collection: one module per source kind. Each has a pure `parse*` over the real vendor format
//! (what the device or API returns, byte for byte) and, in the replay form, reads recorded files.

pub mod asa;
pub mod bird;
pub mod calico;
pub mod eos;
#[cfg(test)]
mod equivalence;
pub mod firewall;
pub mod fortigate;
pub mod frr;
pub mod gather;
pub mod json;
pub mod junos;
pub mod live;
pub mod logfile;
pub mod netfilter;
pub mod nxos;
pub mod panos;
pub mod panos_rulehits;
pub mod record;
pub mod replay;
pub mod syslog;

use std::fmt;

/// Unreadable input: names the place (`line 12`, a JSON pointer) and what was wrong.
/// The file or source name is added by the caller that knows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub file: Option<String>,
    pub locator: String,
    pub message: String,
}

impl ParseError {
    pub fn new(locator: impl Into<String>, message: impl Into<String>) -> Self {
        ParseError { file: None, locator: locator.into(), message: message.into() }
    }

    pub fn at_line(line: usize, message: impl Into<String>) -> Self {
        Self::new(format!("line {line}"), message)
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: {}: {}", self.locator, self.message),
            None => write!(f, "{}: {}", self.locator, self.message),
        }
    }
}
