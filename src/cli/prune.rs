//! `runs prune` (being written).
use super::Cli;
use super::commands::{CliError, CmdResult};

pub fn prune(_cli: &Cli, _keep: Option<std::time::Duration>, _dry_run: bool) -> CmdResult {
    Err(CliError::operational("runs prune: not built yet"))
}
