//! `alerts list|flush`, `baseline accept`, `diff`: the operator's view of drift and notifications.

use super::commands::{CliError, CmdResult, block_on, open_existing_db, settings};
use super::{AlertsCommand, BaselineCommand, Cli, Output};
use crate::alert::deliver::deliver_pending;
use crate::alert::drift::{compare, topology};
use crate::config::Settings;
use crate::store::{RunStatus, Store};

fn open(cli: &Cli) -> Result<(Settings, Store), CliError> {
    let settings = settings(cli)?;
    let store = open_existing_db(cli, Some(&settings))?;
    Ok((settings, store))
}

pub fn alerts(cli: &Cli, command: &AlertsCommand) -> CmdResult {
    match command {
        AlertsCommand::List { limit, output } => list(cli, *limit, *output),
        AlertsCommand::Flush => flush(cli),
    }
}

fn list(cli: &Cli, limit: u32, output: Output) -> CmdResult {
    let (_, store) = open(cli)?;
    let rows = store.alerts(limit)?;
    match output {
        Output::Json => {
            let json: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "runId": r.message.run_id, "channel": r.message.channel,
                        "state": r.state.as_str(), "attempts": r.attempts, "lastError": r.last_error,
                        "createdAt": r.created_at, "lastAttemptAt": r.last_attempt_at,
                        "deliveredAt": r.delivered_at, "idempotencyKey": r.message.idempotency_key,
                        "subject": r.message.subject_line(), "events": r.message.events,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Output::Table => {
            if rows.is_empty() {
                println!("no notifications");
            }
            println!(
                "{:>5}  {:>5}  {:<16} {:<10} {:>8}  {:<20}  SUBJECT / LAST ERROR",
                "ID", "RUN", "CHANNEL", "STATE", "ATTEMPTS", "CREATED"
            );
            for r in &rows {
                println!(
                    "{:>5}  {:>5}  {:<16} {:<10} {:>8}  {:<20}  {}",
                    r.id,
                    r.message.run_id,
                    r.message.channel,
                    r.state.as_str(),
                    r.attempts,
                    r.created_at.format("%Y-%m-%d %H:%M:%S"),
                    r.message.subject_line()
                );
                if let Some(e) =
                    r.last_error.as_deref().filter(|_| r.state == crate::store::DeliveryState::Pending)
                {
                    println!("{:>60}last error: {e}", "");
                }
            }
        }
    }
    Ok(0)
}

fn flush(cli: &Cli) -> CmdResult {
    let (settings, mut store) = open(cli)?;
    let report = block_on(deliver_pending(&mut store, &settings.alerts))?;
    println!(
        "{} delivered, {} still pending ({} attempts)",
        report.delivered, report.still_pending, report.attempts
    );
    for (id, channel, error) in &report.failures {
        println!("  alert {id} to {channel}: {error}");
    }
    Ok(if report.still_pending > 0 { 1 } else { 0 })
}

pub fn baseline(cli: &Cli, command: &BaselineCommand) -> CmdResult {
    let BaselineCommand::Accept { run } = command;
    let (settings, mut store) = open(cli)?;
    let run = match run {
        Some(id) => store.run(*id)?.ok_or_else(|| CliError::operational(format!("run {id}: no such run")))?,
        None => store
            .latest_complete_run()?
            .ok_or_else(|| CliError::operational("no complete run to accept as baseline"))?,
    };
    if run.status != RunStatus::Complete {
        return Err(CliError::operational(format!(
            "run {}: is {}, only a complete run can be the baseline",
            run.id, run.status
        )));
    }
    let items = topology(&store.facts(run.id)?, &settings);
    store.accept_baseline(run.id, chrono::Utc::now(), &items)?;
    let count = |k| items.iter().filter(|i| i.kind == k).count();
    use crate::alert::drift::TopologyKind::*;
    println!(
        "baseline: run {} ({}): {} BGP sessions, {} routing-table prefixes, {} firewall zone pairs",
        run.id,
        run.started_at.format("%Y-%m-%d %H:%M"),
        count(Session),
        count(Prefix),
        count(ZonePair)
    );
    Ok(0)
}

pub fn diff(cli: &Cli, from: Option<i64>, to: Option<i64>) -> CmdResult {
    let (settings, store) = open(cli)?;
    let complete: Vec<i64> =
        store.runs()?.into_iter().filter(|r| r.status == RunStatus::Complete).map(|r| r.id).collect();
    let to = match to {
        Some(id) => id,
        None => *complete.last().ok_or_else(|| CliError::operational("no complete run"))?,
    };
    let from =
        match from {
            Some(id) => id,
            None => *complete.iter().rev().find(|id| **id < to).ok_or_else(|| {
                CliError::operational(format!("no complete run before run {to}: give --from"))
            })?,
        };
    for id in [from, to] {
        if store.run(id)?.is_none() {
            return Err(CliError::operational(format!("run {id}: no such run")));
        }
    }
    let before = store.findings(from)?;
    let after = store.findings(to)?;
    let (new, resolved, persisting) = crate::pipeline::drift(&before, &after);
    println!("run {from} → run {to}");
    println!("findings: {} new, {} resolved, {} persisting", new.len(), resolved.len(), persisting.len());
    for (mark, list) in [("+", &new), ("-", &resolved), ("=", &persisting)] {
        for f in list.iter() {
            println!("  {mark} {:<8} {} {}", f.severity.as_str(), f.rule_id, f.subject);
        }
    }
    let drift = compare(&topology(&store.facts(from)?, &settings), &topology(&store.facts(to)?, &settings));
    println!("topology:");
    print!("{drift}");
    if let Some(baseline) = store.baseline()? {
        let against = compare(&baseline.items, &topology(&store.facts(to)?, &settings));
        let of = baseline.run_id.map_or("a pruned run".to_string(), |id| format!("run {id}"));
        println!("topology of run {to} against the baseline ({of}):");
        print!("{against}");
    }
    let changed =
        !(new.is_empty() && resolved.is_empty() && drift.appeared.is_empty() && drift.vanished.is_empty());
    Ok(if changed { 1 } else { 0 })
}
