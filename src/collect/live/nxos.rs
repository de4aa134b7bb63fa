//! (being written)
use super::{FetchError, Limits, RawPayload};
use crate::config::{HttpSpec, SourceSpec};

pub async fn fetch(
    _http: &HttpSpec,
    _spec: &SourceSpec,
    _limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    Err(FetchError::permanent("the nxos client is being written"))
}
