//! (being written) PAN-OS XML API `show rule-hit-count` over HTTPS.
use super::{FetchError, Limits, RawPayload};
use crate::config::{HttpSpec, SourceSpec};

pub async fn fetch(
    _http: &HttpSpec,
    _spec: &SourceSpec,
    _limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    Err(FetchError::permanent("the PAN-OS XML API client is being written"))
}
