use std::process::ExitCode;

use clap::Parser;
use zoneaudit::cli::{Cli, LogFormat};

fn main() -> ExitCode {
    // One TLS provider for kube, reqwest and lettre; without it they panic when building clients.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // A long-running server logs each run by default; one-shot commands only warn.
    let verbose = if matches!(cli.command, zoneaudit::cli::Command::Serve(_)) {
        cli.verbose.max(1)
    } else {
        cli.verbose
    };
    init_logging(cli.log_format, verbose, cli.quiet);
    match zoneaudit::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

fn init_logging(format: LogFormat, verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZONEAUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour only for a person at a terminal; pods and CronJobs get plain text (or JSON).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Plain => builder.init(),
    }
}
