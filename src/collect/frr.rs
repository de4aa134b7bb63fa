//! (being written)

use crate::collect::ParseError;
use crate::model::Facts;

pub fn parse(_observer: &str, _raw: &[u8]) -> Result<Facts, ParseError> {
    Err(ParseError::new("", "the frr parser is being written"))
}
