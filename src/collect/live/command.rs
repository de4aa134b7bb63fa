//! (being written)
use super::{FetchError, Limits, RawPayload};
use crate::config::SourceSpec;

pub async fn fetch(
    _argv: &[String],
    _commands: &[&str],
    _spec: &SourceSpec,
    _limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    Err(FetchError::permanent("the command transport is being written"))
}
