//! (being written)
use super::{FetchError, Limits, RawPayload};
use crate::config::{ExecSpec, KubernetesSpec, SourceSpec};

pub async fn fetch_calico(
    _k: &KubernetesSpec,
    _spec: &SourceSpec,
    _limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    Err(FetchError::permanent("the Kubernetes client is being written"))
}

pub async fn exec_fetch(
    _e: &ExecSpec,
    _commands: &[&str],
    _spec: &SourceSpec,
    _limits: Limits,
) -> Result<Vec<RawPayload>, FetchError> {
    Err(FetchError::permanent("the exec transport is being written"))
}
