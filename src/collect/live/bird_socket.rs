//! (being written)
use std::path::Path;

use super::{FetchError, Limits, RawPayload};
use crate::config::SourceSpec;

/// What zoneaudit asks BIRD.
pub const COMMANDS: &[&str] = &["show protocols all", "show route all"];

pub async fn fetch(
    _path: &Path,
    _commands: &[&str],
    _spec: &SourceSpec,
    _limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    Err(FetchError::permanent("the BIRD socket client is being written"))
}
