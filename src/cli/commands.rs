//! What each command does, in terms of the pipeline stages. Output for people goes to stdout;
//! logs go to stderr.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{Cli, Command, Output, RunArgs, RunsCommand};
use crate::collect::replay::parse_payload;
use crate::config::{Settings, SourceKind};
use crate::evidence::keys::{Keyring, SigningKey};
use crate::model::{Finding, Severity};
use crate::pipeline::{self, ReportSink, RunOptions, RunOutcome};
use crate::rules::{self, AuditInput};
use crate::store::Store;

/// A command that could not do its job: the exit code and a message naming the place.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn operational(message: impl std::fmt::Display) -> Self {
        CliError { code: 2, message: message.to_string() }
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::operational(e)
    }
}

pub(super) type CmdResult = Result<u8, CliError>;

pub fn run(cli: Cli) -> CmdResult {
    match &cli.command {
        Command::Demo { dir, nights, smtp, webhook } => crate::demo::run(
            dir.as_deref(),
            *nights,
            crate::demo::Alerting { smtp: smtp.clone(), webhook: webhook.clone() },
        ),
        Command::Alerts { command } => super::alerts::alerts(&cli, command),
        Command::Serve(args) => super::serve::serve(&cli, args),
        Command::Doctor => super::doctor::doctor(&cli),
        Command::Simulate { scale, out, seed, nights, churn, night } => {
            simulate(*scale, out, *seed, *nights, *churn, *night)
        }
        Command::Completions { shell } => completions(*shell),
        Command::Man { out } => man(out.as_deref()),
        Command::Baseline { command } => super::alerts::baseline(&cli, command),
        Command::Diff { from, to } => super::alerts::diff(&cli, *from, *to),
        Command::Run(args) => run_job(&cli, args),
        Command::Collect { sources, record } => collect(&cli, sources, record.as_deref()),
        Command::Audit { run, output } => audit(&cli, *run, *output),
        Command::Findings { since, status, severity, output } => {
            findings(&cli, since.map(Into::into), status.as_deref(), *severity, *output)
        }
        Command::Runs { command } => runs(&cli, command),
        Command::Parse { kind, observer, files, output } => parse(kind, observer.as_deref(), files, *output),
        Command::Keygen { out } => keygen(out),
        Command::Report(args) => super::report::report(&cli, args),
        Command::Verify { files, chain: false, keys } => verify(&cli, files, keys),
        Command::Verify { chain: true, keys, .. } => super::report::verify_chain(&cli, keys),
    }
}

/// Collection is async (sources in parallel); the rest of a command is not.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
        .block_on(future)
}

pub(super) fn settings(cli: &Cli) -> Result<Settings, CliError> {
    Settings::load(&cli.config).map_err(CliError::operational)
}

fn db_path(cli: &Cli, settings: Option<&Settings>) -> Result<PathBuf, CliError> {
    cli.db.clone().or_else(|| settings.and_then(|s| s.database.clone())).ok_or_else(|| {
        CliError::operational("no database: give --db FILE (or ZONEAUDIT_DB) or set `database` in the config")
    })
}

fn open_store(cli: &Cli, settings: Option<&Settings>) -> Result<Store, CliError> {
    let path = db_path(cli, settings)?;
    Store::open(&path).map_err(CliError::operational)
}

/// Stores opened only to read must exist: a typo in --db must not create an empty database.
fn open_existing_store(cli: &Cli) -> Result<Store, CliError> {
    let settings = if cli.db.is_none() { Some(settings(cli)?) } else { None };
    open_existing_db(cli, settings.as_ref())
}

pub(super) fn open_existing_db(cli: &Cli, settings: Option<&Settings>) -> Result<Store, CliError> {
    let path = db_path(cli, settings)?;
    if !path.exists() {
        return Err(CliError::operational(format!("{}: no such database", path.display())));
    }
    Store::open(&path).map_err(CliError::operational)
}

pub(super) fn signing_key(settings: &Settings) -> Result<SigningKey, CliError> {
    let signing = settings.signing.as_ref().ok_or_else(|| {
        CliError::operational(format!(
            "{}: `signing.keyFile` is required to sign reports",
            settings.file.display()
        ))
    })?;
    SigningKey::load(&signing.key_file).map_err(CliError::operational)
}

fn run_job(cli: &Cli, args: &RunArgs) -> CmdResult {
    let settings = settings(cli)?;
    let key = signing_key(&settings)?;
    let db = db_path(cli, Some(&settings))?;
    let mut store = Store::open(&db)?;
    let reports =
        args.reports.clone().unwrap_or_else(|| db.parent().unwrap_or(Path::new(".")).join("reports"));
    let sink = ReportSink { dir: reports };
    let result = block_on(pipeline::run(
        &settings,
        &mut store,
        RunOptions {
            started_at: Utc::now(),
            only_sources: &[],
            record: args.record.as_deref(),
            evaluate: Some((&key, &sink)),
        },
    ));
    if let Some(path) = &args.metrics_file {
        // Also after a failed run: the textfile then says the last run did not succeed.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::operational(format!("--metrics-file {}: {e}", dir.display())))?;
        }
        crate::serve::metrics::write_textfile(path, &store)
            .map_err(|e| CliError::operational(format!("--metrics-file {e}")))?;
    }
    let outcome = result?;
    print_outcome(&outcome);
    Ok(outcome.exit_code(cli.fail_on))
}

fn collect(cli: &Cli, sources: &[String], record: Option<&Path>) -> CmdResult {
    let settings = settings(cli)?;
    for name in sources {
        if !settings.sources.iter().any(|s| &s.name == name) {
            return Err(CliError::operational(format!(
                "{}: no source named {name:?}",
                settings.file.display()
            )));
        }
    }
    let mut store = open_store(cli, Some(&settings))?;
    let outcome = block_on(pipeline::run(
        &settings,
        &mut store,
        RunOptions { started_at: Utc::now(), only_sources: sources, record, evaluate: None },
    ))?;
    println!("run {} (snapshot only)", outcome.run_id);
    if let Some(dir) = record {
        println!("  recorded for replay: {}", dir.join("zoneaudit.yaml").display());
    }
    print_sources(&outcome.sources);
    Ok(if outcome.evidence_complete { 0 } else { 3 })
}

fn audit(cli: &Cli, run: Option<i64>, output: Output) -> CmdResult {
    let settings = settings(cli)?;
    let store = open_existing_db(cli, Some(&settings))?;
    let run = match run {
        Some(id) => store.run(id)?.ok_or_else(|| CliError::operational(format!("no run {id}")))?,
        None => store.runs()?.pop().ok_or_else(|| CliError::operational("the database has no runs"))?,
    };
    let facts = store.facts(run.id)?;
    let sources = store.source_runs(run.id)?;
    let packs = rules::load_packs(&settings.rule_packs)?;
    let evaluation = rules::evaluate(
        &packs,
        &AuditInput { settings: &settings, facts: &facts, sources: &sources, now: run.started_at },
    );
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run": run.id, "results": evaluation.results, "findings": evaluation.findings
            }))?
        ),
        Output::Table => {
            println!("run {} re-evaluated ({} rules)", run.id, evaluation.results.len());
            print_results(&evaluation.results);
            print_findings(&evaluation.findings);
        }
    }
    let worst = evaluation.findings.iter().any(|f| f.severity >= cli.fail_on);
    Ok(if worst { 1 } else { 0 })
}

fn findings(
    cli: &Cli,
    since: Option<std::time::Duration>,
    status: Option<&str>,
    severity: Option<Severity>,
    output: Output,
) -> CmdResult {
    let store = open_existing_store(cli)?;
    let cutoff = match since {
        Some(d) => Some(Utc::now() - chrono::Duration::from_std(d).map_err(CliError::operational)?),
        None => None,
    };
    let rows: Vec<_> = store
        .finding_history()?
        .into_iter()
        .filter(|h| cutoff.is_none_or(|c| h.last_seen_at >= c))
        .filter(|h| match status {
            Some("open") => h.open,
            Some("resolved") => !h.open,
            _ => true,
        })
        .filter(|h| severity.is_none_or(|s| h.severity >= s))
        .collect();
    match output {
        Output::Json => {
            let json: Vec<_> = rows
                .iter()
                .map(|h| {
                    serde_json::json!({
                        "fingerprint": h.fingerprint, "ruleId": h.rule_id, "severity": h.severity,
                        "zone": h.zone, "subject": h.subject, "message": h.message,
                        "status": if h.open { "open" } else { "resolved" },
                        "firstSeenRun": h.first_seen_run, "firstSeenAt": h.first_seen_at,
                        "lastSeenRun": h.last_seen_run, "lastSeenAt": h.last_seen_at,
                        "resolvedInRun": h.resolved_in_run,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Output::Table => {
            if rows.is_empty() {
                println!("no findings");
            }
            println!(
                "{:<9} {:<9} {:<26} {:<12} {:<12} SUBJECT",
                "STATUS", "SEVERITY", "RULE", "FIRST SEEN", "LAST SEEN"
            );
            for h in &rows {
                println!(
                    "{:<9} {:<9} {:<26} {:<12} {:<12} {}",
                    if h.open { "open" } else { "resolved" },
                    h.severity.as_str(),
                    h.rule_id,
                    h.first_seen_at.format("%Y-%m-%d").to_string(),
                    h.last_seen_at.format("%Y-%m-%d").to_string(),
                    h.subject
                );
                let resolved =
                    h.resolved_in_run.map(|r| format!("; resolved in run {r}")).unwrap_or_default();
                println!(
                    "          {} (runs {}..{}{resolved})",
                    h.message, h.first_seen_run, h.last_seen_run
                );
            }
        }
    }
    Ok(0)
}

fn runs(cli: &Cli, command: &RunsCommand) -> CmdResult {
    if let RunsCommand::Prune { keep, dry_run } = command {
        return super::prune::prune(cli, keep.map(Into::into), *dry_run);
    }
    let store = open_existing_store(cli)?;
    match command {
        RunsCommand::List { output } => {
            let runs = store.runs()?;
            match output {
                Output::Json => {
                    let json: Vec<_> = runs
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "id": r.id, "cluster": r.cluster, "startedAt": r.started_at,
                                "finishedAt": r.finished_at, "status": r.status.as_str(),
                                "evidenceComplete": r.evidence_complete, "findings": r.findings,
                                "reportDigest": r.report_digest,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&json)?);
                }
                Output::Table => {
                    println!(
                        "{:<5} {:<21} {:<11} {:<9} {:<9} REPORT",
                        "RUN", "STARTED", "STATUS", "EVIDENCE", "FINDINGS"
                    );
                    for r in &runs {
                        println!(
                            "{:<5} {:<21} {:<11} {:<9} {:<9} {}",
                            r.id,
                            r.started_at.format("%Y-%m-%d %H:%M:%SZ"),
                            r.status.as_str(),
                            match r.evidence_complete {
                                Some(true) => "complete",
                                Some(false) => "gaps",
                                None => "-",
                            },
                            r.findings,
                            r.report_digest.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
        }
        RunsCommand::Prune { .. } => unreachable!("handled before the store is opened read-only"),
        RunsCommand::Show { id, output } => {
            let run = store.run(*id)?.ok_or_else(|| CliError::operational(format!("no run {id}")))?;
            let sources = store.source_runs(*id)?;
            let results = store.rule_results(*id)?;
            let findings = store.findings(*id)?;
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "id": run.id, "cluster": run.cluster, "startedAt": run.started_at,
                        "status": run.status.as_str(), "sources": sources, "results": results,
                        "findings": findings, "reportDigest": run.report_digest,
                    }))?
                ),
                Output::Table => {
                    println!(
                        "run {} of {}: {} at {}",
                        run.id,
                        run.cluster,
                        run.status.as_str(),
                        run.started_at.format("%Y-%m-%d %H:%M:%SZ")
                    );
                    print_sources(&sources);
                    print_results(&results);
                    print_findings(&findings);
                }
            }
        }
    }
    Ok(0)
}

fn parse(kind: &str, observer: Option<&str>, files: &[PathBuf], output: Output) -> CmdResult {
    let kind: SourceKind = kind.parse().map_err(|e: String| CliError { code: 2, message: e })?;
    let mut code = 0;
    let mut docs = Vec::new();
    for file in files {
        let name = file.display().to_string();
        let observer = observer.map(str::to_string).unwrap_or_else(|| {
            file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| name.clone())
        });
        // Logs run to gigabytes: streamed through the aggregator (gzip too), never read whole.
        let parsed = match crate::collect::firewall::LogFormat::of(kind) {
            Some(format) => {
                let parser = crate::collect::firewall::FlowParser::new(format, &|_| None)
                    .name_unnamed(observer.as_str());
                let agg = crate::collect::logfile::parse_whole(file, &parser)
                    .map_err(|e| CliError::operational(format!("{name}: {e}")))?;
                let (flows, rejects) = agg.finish();
                if flows.is_empty() && rejects.total() > 0 {
                    let first = rejects.samples.first().map(|o| o.locator.clone()).unwrap_or_default();
                    let why =
                        format!("no readable {} traffic line ({} rejected)", kind.as_str(), rejects.total());
                    Err(crate::collect::ParseError::new(first, why))
                } else {
                    Ok((crate::model::Facts { flows, ..Default::default() }, rejects))
                }
            }
            None => {
                let bytes = std::fs::read(file).map_err(|e| CliError::operational(format!("{name}: {e}")))?;
                parse_payload(kind, &observer, &bytes, &|_| None)
            }
        };
        match parsed {
            Ok((facts, rejects)) => {
                if !rejects.is_empty() {
                    // Unreadable lines are counted, never fatal for a run; for `parse` they are the
                    // answer the user asked for, so the exit code says so.
                    code = 2;
                }
                match output {
                    Output::Json => docs.push(serde_json::json!({
                        "file": name, "kind": kind.as_str(), "observer": observer,
                        "counts": facts.counts(), "facts": facts, "rejects": rejects,
                    })),
                    Output::Table => print_parsed(&name, &facts, &rejects),
                }
            }
            Err(e) => {
                eprintln!("error: {}", e.in_file(name));
                code = 2;
            }
        }
    }
    if output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
    }
    Ok(code)
}

fn print_parsed(name: &str, facts: &crate::model::Facts, rejects: &crate::model::Rejects) {
    let counts: Vec<String> = facts.counts().iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{name}: {}", if counts.is_empty() { "nothing".to_string() } else { counts.join(", ") });
    for n in &facts.nodes {
        let rr = n.rr_cluster_id.as_deref().map(|c| format!(" rr-cluster {c}")).unwrap_or_default();
        let addr = n.bgp_ipv4.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "  node     {:<20} {:<18} asn {:<6}{rr}",
            n.name,
            addr,
            n.asn.map(|a| a.to_string()).unwrap_or("-".into())
        );
    }
    for p in &facts.bgp_peers {
        println!(
            "  bgppeer  {:<24} node {:<12} nodeSelector {:<30} peer {}",
            p.name,
            p.node.as_deref().unwrap_or("-"),
            p.node_selector.as_deref().unwrap_or("-"),
            p.peer_ip.map(|a| a.to_string()).or(p.peer_selector.clone()).unwrap_or("-".into())
        );
    }
    for c in &facts.bgp_configurations {
        println!("  bgpconfig {:<23} nodeToNodeMesh {}", c.name, c.node_to_node_mesh);
    }
    for p in &facts.ip_pools {
        println!("  ippool   {:<24} {:<20} nodeSelector {}", p.name, p.cidr.to_string(), p.node_selector);
    }
    for a in &facts.block_affinities {
        println!("  affinity {:<24} {}", a.node, a.cidr);
    }
    for s in &facts.sessions {
        println!(
            "  session  {:<12} {:<10} {:<26} asn {:<6} {:<12} {:?}",
            s.observer,
            s.vrf.as_deref().unwrap_or("default"),
            s.peer_addr.to_string(),
            s.peer_asn.map(|a| a.to_string()).unwrap_or("-".into()),
            s.state,
            s.session_type
        );
    }
    for r in &facts.routes {
        let via: Vec<String> = r.next_hops.iter().map(|h| h.to_string()).collect();
        println!(
            "  route    {:<12} {:<10} {:<20} via {:<16} {}{}",
            r.observer,
            r.table,
            r.prefix.to_string(),
            if via.is_empty() { "-".to_string() } else { via.join(",") },
            r.protocol,
            if r.best { " *" } else { "" }
        );
    }
    for f in &facts.flows {
        println!(
            "  flow     {:<12} {} -> {} {}/{} rule {} {} x{} {} bytes",
            f.firewall,
            f.from_fw_zone,
            f.to_fw_zone,
            f.protocol,
            f.dst_port,
            f.rule,
            f.action,
            f.count,
            f.bytes
        );
    }
    for (reason, n) in &rejects.counts {
        println!("  unreadable: {n} lines: {reason}");
    }
    for s in &rejects.samples {
        println!("    {}: {}", s.locator, s.excerpt);
    }
}

fn keygen(out: &Path) -> CmdResult {
    let (private, public) = crate::evidence::keys::generate(out)?;
    println!("private key: {}", private.display());
    println!("public key:  {} (give this to whoever verifies reports)", public.display());
    Ok(0)
}

/// The public keys of `--key`, or of the config's `signing.publicKeys`.
pub(super) fn keyring(cli: &Cli, keys: &[PathBuf]) -> Result<Keyring, CliError> {
    let key_paths = if keys.is_empty() {
        let settings = settings(cli).map_err(|e| CliError {
            code: 2,
            message: format!("{}; give --key PUB to verify without a config", e.message),
        })?;
        settings.signing.map(|s| s.public_keys).unwrap_or_default()
    } else {
        keys.to_vec()
    };
    if key_paths.is_empty() {
        return Err(CliError::operational("no public key: give --key PUB"));
    }
    Ok(Keyring::load(&key_paths)?)
}

fn verify(cli: &Cli, files: &[PathBuf], keys: &[PathBuf]) -> CmdResult {
    let keyring = keyring(cli, keys)?;
    let verdicts = crate::evidence::verify::verify_files(files, &keyring);
    let mut failed = 0;
    for v in &verdicts {
        println!("{v}");
        if !v.ok {
            failed += 1;
        }
    }
    println!("{} verified, {} failed", verdicts.len() - failed, failed);
    Ok(if failed > 0 { 1 } else { 0 })
}

pub fn print_outcome(o: &RunOutcome) {
    let passed = o.results.iter().filter(|r| r.status == crate::model::RuleStatus::Pass).count();
    let failed = o.results.iter().filter(|r| r.status == crate::model::RuleStatus::Fail).count();
    println!(
        "run {}: {} rules: {passed} passed, {failed} failed; {} finding{} ({} new, {} resolved); evidence {}",
        o.run_id,
        o.results.len(),
        o.findings.len(),
        if o.findings.len() == 1 { "" } else { "s" },
        o.new.len(),
        o.resolved.len(),
        if o.evidence_complete { "complete" } else { "INCOMPLETE" }
    );
    for s in o.sources.iter().filter(|s| s.status != crate::model::SourceStatus::Ok) {
        println!("  source {} {}: {}", s.name, s.status.as_str(), s.error.as_deref().unwrap_or(""));
    }
    for f in &o.new {
        println!("  NEW      {}", finding_line(f));
        if let Some(e) = f.evidence.first() {
            println!("           evidence: {} {} {}", e.source, e.locator, first_line(&e.excerpt));
        }
    }
    for f in &o.persisting {
        println!("  OPEN     {}", finding_line(f));
    }
    for f in &o.resolved {
        println!("  RESOLVED {}", finding_line(f));
    }
    if let Some(p) = &o.report_file {
        println!("  report: {}", p.display());
    }
    if let Some(d) = &o.delivery {
        println!(
            "  alerts: {} queued by this run; {} delivered, {} still pending",
            o.alerts_queued, d.delivered, d.still_pending
        );
        for (id, channel, error) in &d.failures {
            println!("    alert {id} to {channel} pending: {error}");
        }
    }
}

fn finding_line(f: &Finding) -> String {
    format!("[{}] {} {}: {}", f.severity, f.rule_id, f.subject, f.message)
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(120).collect::<String>())
    } else {
        line.to_string()
    }
}

fn print_sources(sources: &[crate::model::SourceRun]) {
    for s in sources {
        let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "  source {:<14} {:<7} {:<8} {}{}",
            s.name,
            s.kind,
            s.status.as_str(),
            counts.join(", "),
            s.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default()
        );
    }
}

fn print_results(results: &[crate::model::RuleResult]) {
    for r in results {
        println!("  {:<5} {:<26} {:<9} {}", r.status.as_str(), r.rule_id, r.severity.as_str(), r.checked);
    }
}

fn print_findings(findings: &[Finding]) {
    for f in findings {
        println!("  {}", finding_line(f));
        for e in &f.evidence {
            println!("      evidence: {} sha256:{} {}", e.source, short(&e.payload), e.locator);
            println!("        {}", first_line(&e.excerpt));
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn completions(shell: clap_complete::Shell) -> CmdResult {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "zoneaudit", &mut script);
    write_stdout(&script)
}

/// Whole output at once; a reader that closed the pipe early (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> CmdResult {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::operational(format!("stdout: {e}")))
        }
        _ => Ok(0),
    }
}

/// Man pages generated from the same definition as `--help`: never out of date.
fn man(out: Option<&Path>) -> CmdResult {
    let command = <Cli as clap::CommandFactory>::command();
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            return write_stdout(&page);
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::operational(format!("{}: {e}", dir.display())))?;
            clap_mangen::generate_to(command, dir)
                .map_err(|e| CliError::operational(format!("{}: {e}", dir.display())))?;
            println!("man pages written to {}", dir.display());
        }
    }
    Ok(0)
}

fn simulate(
    scale: crate::simulate::Scale,
    out: &Path,
    seed: u64,
    nights: u32,
    churn: f64,
    only_night: Option<u32>,
) -> CmdResult {
    let opts = crate::simulate::SimulateOptions {
        seed,
        nights,
        churn,
        only_night,
        ..crate::simulate::SimulateOptions::new(scale, out)
    };
    let s = crate::simulate::simulate(&opts)?;
    println!(
        "{}: {} zones, {} nodes, {} route reflectors, {} VRF routes and {} firewall lines a night, {} night(s), {} MB",
        s.cluster,
        s.zones,
        s.nodes,
        s.route_reflectors,
        s.routes,
        s.panos_lines,
        s.nights,
        s.bytes / 1_000_000
    );
    println!("config:   {}", s.config.display());
    println!(
        "expected: {} ({} findings a run must produce, and nothing else)",
        s.expected.display(),
        s.expected_findings
    );
    Ok(0)
}
