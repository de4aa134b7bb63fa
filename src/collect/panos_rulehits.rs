//! (being written) PAN-OS `show rule-hit-count` XML.

use crate::collect::ParseError;
use crate::model::Facts;

pub fn parse(_observer: &str, _raw: &[u8]) -> Result<Facts, ParseError> {
    Err(ParseError::new("", "the PAN-OS rule-hit-count parser is being written"))
}
