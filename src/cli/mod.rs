//! The command-line contract (DESIGN §10). Every flag can also come from `ZONEAUDIT_*`.
//!
//! Exit codes: 0 ok; 1 findings at or above `--fail-on` (or a verification failure);
//! 2 usage, config or operational error; 3 evidence incomplete (a source failed).

mod commands;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Severity;

pub use commands::{CliError, block_on, print_outcome, run};

#[derive(Debug, Parser)]
#[command(name = "zoneaudit", version, about = "Continuous evidence that network zones stay isolated")]
pub struct Cli {
    /// The zone model and sources.
    #[arg(long, global = true, env = "ZONEAUDIT_CONFIG", default_value = "zoneaudit.yaml")]
    pub config: PathBuf,
    /// The SQLite database (default: `database` from the config).
    #[arg(long, global = true, env = "ZONEAUDIT_DB")]
    pub db: Option<PathBuf>,
    #[arg(long, global = true, env = "ZONEAUDIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// More logging (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Exit 1 when a finding has at least this severity.
    #[arg(long, global = true, env = "ZONEAUDIT_FAIL_ON", default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the built-in three-zone example estate for three nights (no cluster needed).
    Demo {
        /// Where to write the config, inputs, keys, database and reports (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The nightly job: collect, store, evaluate, sign the report.
    Run(RunArgs),
    /// Snapshot only: collect and store, no evaluation.
    Collect {
        /// Only these sources (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
        /// Also write every payload in replay form, with a config that replays them, into DIR.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Evaluate a stored snapshot again with the current rule packs (prints; stored evidence is not changed).
    Audit {
        /// The run to evaluate (default: the latest).
        #[arg(long)]
        run: Option<i64>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Findings across runs: first seen, last seen, open or resolved.
    Findings {
        /// Only findings seen within this long before now (e.g. 30d).
        #[arg(long)]
        since: Option<humantime::Duration>,
        #[arg(long, value_parser = ["open", "resolved"])]
        status: Option<String>,
        /// Minimum severity.
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Runs in the database.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Show what zoneaudit understands of files of a source kind.
    Parse {
        /// calico | bird | eos | panos
        #[arg(long)]
        kind: String,
        /// Device or node name the output belongs to (default: the file name).
        #[arg(long)]
        observer: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Create an Ed25519 signing key pair (zoneaudit.key, zoneaudit.pub).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify signed run reports (signature, and the hash chain between the files given).
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Public keys (repeatable; default: the config's signing public keys).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where signed reports are written (default: `reports/` next to the database).
    #[arg(long, env = "ZONEAUDIT_REPORTS")]
    pub reports: Option<PathBuf>,
    /// Also write every payload in replay form, with a config that replays them, into DIR.
    #[arg(long)]
    pub record: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One line per run.
    List {
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// A run: sources, rule results, findings with evidence.
    Show {
        id: i64,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}
