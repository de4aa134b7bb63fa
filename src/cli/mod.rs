//! The command-line contract (DESIGN §10). Every flag can also come from `ZONEAUDIT_*`.
//!
//! Exit codes: 0 ok; 1 findings at or above `--fail-on` (or a verification failure);
//! 2 usage, config or operational error; 3 evidence incomplete (a source failed).

mod alerts;
mod commands;
mod doctor;
mod prune;
mod report;
mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Severity;

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the crate version and the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ZONEAUDIT_COMMIT"), ")");

pub use commands::{CliError, block_on, print_outcome, run};

#[derive(Debug, Parser)]
#[command(name = "zoneaudit", version = VERSION, about = "Continuous evidence that network zones stay isolated")]
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

fn parse_scale(s: &str) -> Result<crate::simulate::Scale, String> {
    crate::simulate::Scale::parse(s).ok_or_else(|| format!("unknown scale {s:?} (S|M|L|XL)"))
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
        /// How many nights to run (at least 3; nights after the third keep night 3's state).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(3..=400))]
        nights: u32,
        /// Send the demo's alerts by email to this SMTP server (smtp://HOST:PORT, no TLS, for a local
        /// test server; smtps://HOST:PORT for implicit TLS).
        #[arg(long)]
        smtp: Option<String>,
        /// POST the demo's alerts to this URL (generic JSON webhook).
        #[arg(long)]
        webhook: Option<String>,
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
    /// Long-running mode: the nightly job on a cron schedule, with /metrics, /healthz and the reports over HTTP.
    Serve(ServeArgs),
    /// Write a generated estate in the real replay formats, with a config and the findings a run must produce.
    Simulate {
        /// S (3 zones, 5k routes), M (4 zones, 40k), L (8 zones, 250k routes, 2M firewall lines), XL (1M, 10M).
        #[arg(long, value_parser = parse_scale)]
        scale: crate::simulate::Scale,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Nights to write (night k in OUT/nights/k/ with its own config, one shared database).
        #[arg(long, default_value_t = 1)]
        nights: u32,
        /// Fraction of routes replaced each night.
        #[arg(long, default_value_t = 0.001)]
        churn: f64,
        /// Write only night K of the --nights series into OUT (the first call also writes the keys,
        /// expected.json and OUT/zoneaudit.yaml): generate, run and delete a long series night by
        /// night instead of holding every night's firewall logs on disk.
        #[arg(long, value_name = "K")]
        night: Option<u32>,
    },
    /// Check the config, signing key, database, every source and alert channel; print what to fix.
    Doctor,
    /// Shell completion script for SHELL on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page (roff) on stdout, or one page per command into --out DIR.
    Man {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Notifications in the outbox: list their delivery state, or deliver what is pending.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// The topology baseline that drift alerts compare against.
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// What changed between two runs: findings new / resolved / persisting, and topology drift.
    Diff {
        /// Default: the complete run before --to.
        #[arg(long)]
        from: Option<i64>,
        /// Default: the latest complete run.
        #[arg(long)]
        to: Option<i64>,
    },
    /// A period report over every run of a window, for compliance officers.
    Report(ReportArgs),
    /// Verify signed reports: the files given (signature, and the hash chain between them), or with
    /// --chain every report in the database (signature, chain, evidence digests against stored payloads).
    Verify {
        #[arg(required_unless_present = "chain", conflicts_with = "chain")]
        files: Vec<PathBuf>,
        /// Verify the whole chain of run reports in the database instead of files.
        #[arg(long)]
        chain: bool,
        /// Public keys (repeatable; default: the config's signing public keys).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start of the window: a duration before --until (30d, 12h, 2w) or a date / RFC 3339 time (UTC).
    #[arg(long)]
    pub since: String,
    /// End of the window: a date / RFC 3339 time (UTC); default now. A bare date means the end of that day.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this zone's findings and row.
    #[arg(long)]
    pub zone: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Write here instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Public keys that verify the run reports (repeatable; default: the config's signing public keys).
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file (inline CSS and SVG), printable to PDF.
    Html,
    /// Markdown.
    Md,
    /// The period report as a signed DSSE envelope (in-toto statement), linking every run report.
    Json,
    /// One row per finding per night.
    Csv,
    /// OSCAL assessment-results (1.1.x).
    Oscal,
    /// Kubernetes wgpolicyk8s.io/v1alpha2 ClusterPolicyReport (YAML).
    Policyreport,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where signed reports are written (default: `reports/` next to the database).
    #[arg(long, env = "ZONEAUDIT_REPORTS")]
    pub reports: Option<PathBuf>,
    /// Also write every payload in replay form, with a config that replays them, into DIR.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Write the run's metrics in the node-exporter textfile format (for CronJob mode).
    #[arg(long, env = "ZONEAUDIT_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where /metrics, /healthz and /reports listen.
    #[arg(long, env = "ZONEAUDIT_LISTEN", default_value = "127.0.0.1:9464")]
    pub listen: String,
    /// When to run (cron, UTC; 5 fields, or 6 with seconds first): default nightly at 02:00.
    #[arg(long, env = "ZONEAUDIT_SCHEDULE", default_value = "0 2 * * *")]
    pub schedule: String,
    /// Where signed reports are written (default: `reports/` next to the database).
    #[arg(long, env = "ZONEAUDIT_REPORTS")]
    pub reports: Option<PathBuf>,
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
    /// Delete runs older than --keep (default: `retention.keep` from the config), leaving a signed
    /// tombstone with the digests of the pruned reports so the chain stays verifiable; reclaims space.
    Prune {
        /// How long to keep runs (e.g. 400d).
        #[arg(long)]
        keep: Option<humantime::Duration>,
        /// Show what would be pruned, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// The newest notifications with their delivery state and last error.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Deliver every pending notification now (the nightly run does this too).
    Flush,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Accept a run's topology (BGP sessions, VRF prefixes, firewall zone pairs) as the baseline.
    Accept {
        /// Default: the latest complete run.
        #[arg(long)]
        run: Option<i64>,
    },
}
