//! `runs prune --keep D [--dry-run]`: retention. Deletes the runs that started before now - D
//! (see `store/prune.rs` for which runs may go), leaves a signed tombstone in the database and as
//! `tombstone-<first>-<last>-<time>.dsse.json` in the reports directory (next to the database, where
//! `run` writes its reports), then VACUUMs so the file shrinks.
//!
//! Order: the tombstone is signed before anything is deleted and committed in the same transaction
//! as the deletion, so a database never lacks the tombstone of runs it lost; the file is written
//! after the commit (a failure there leaves the tombstone in the database and says so).
//! Report files of pruned runs on disk are left alone: they are the user's, and still verify.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Cli;
use super::commands::{CliError, CmdResult, open_existing_db, settings, signing_key};
use crate::evidence::tombstone::{self, Retention, Tombstone};
use crate::store::{RunRow, Store};

pub fn prune(cli: &Cli, keep: Option<Duration>, dry_run: bool) -> CmdResult {
    // Signing the tombstone needs the config's key; a dry run with --db does not.
    let settings = if cli.db.is_none() || !dry_run { Some(settings(cli)?) } else { settings(cli).ok() };
    // --keep wins; otherwise the config's `retention.keep` (default 400d).
    let keep = keep.or_else(|| settings.as_ref().map(|s| s.retention_keep)).ok_or_else(|| {
        CliError::operational(
            "runs prune: give --keep DURATION (e.g. --keep 400d) or a config with retention.keep",
        )
    })?;
    let mut store = open_existing_db(cli, settings.as_ref())?;
    let now = Utc::now();
    let keep_text = keep_phrase(keep);
    let cutoff = chrono::Duration::from_std(keep)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| CliError::operational(format!("--keep {keep_text}: too long")))?;
    let plan = store.prune_plan(cutoff)?;
    let held_back = plan.held_back.as_deref().map(|r| format!(" ({r}: kept, and every run after it)"));
    if plan.is_empty() {
        println!(
            "nothing to prune: no run that may be deleted started before {} (keep {keep_text}){}",
            time(&cutoff),
            held_back.unwrap_or_default()
        );
        return Ok(0);
    }
    let reports = reports_dir(&store);
    let tombstone = Tombstone::for_runs(
        &plan.runs,
        Retention { keep: keep_text.clone(), cutoff },
        now,
        store.last_tombstone_digest()?,
    );
    let file = reports.join(tombstone.file_name());
    let range = runs_range(&plan.runs);
    if dry_run {
        println!("dry run: nothing is changed");
        println!(
            "would prune {range} (started before {}, keep {keep_text}){}",
            time(&cutoff),
            held_back.unwrap_or_default()
        );
        println!(
            "  payloads: {} no kept run references ({}) would be deleted",
            plan.payloads,
            bytes(plan.payload_bytes)
        );
        println!("  tombstone: would be written to {}", file.display());
        return Ok(0);
    }
    let settings = settings
        .ok_or_else(|| CliError::operational("runs prune: the config is needed to sign the tombstone"))?;
    let key = signing_key(&settings)?;
    let signed = tombstone::sign_tombstone(&tombstone, &key)?;
    store.checkpoint()?;
    let before = file_size(store.path())?;
    let pruned = store.prune(&plan, &signed.digest, &signed.json)?;
    let written = write_file(&reports, &file, &signed.json);
    store.vacuum()?;
    let after = file_size(store.path())?;
    println!(
        "pruned {range} (started before {}, keep {keep_text}){}",
        time(&cutoff),
        held_back.unwrap_or_default()
    );
    println!(
        "  payloads: {} deleted ({}); payloads a kept run references are kept",
        pruned.payloads,
        bytes(pruned.payload_bytes)
    );
    println!(
        "  database: {} before, {} after VACUUM ({} bytes -> {} bytes)",
        bytes(before),
        bytes(after),
        before,
        after
    );
    match &plan.last_report_digest() {
        Some(d) => println!(
            "  chain: the first kept report must name {d} (the last pruned report) as previousReport"
        ),
        None => println!("  chain: no pruned run had a report"),
    }
    written.map_err(|e| {
        CliError::operational(format!(
            "{e}; the runs are pruned and the tombstone ({}) is stored in the database",
            signed.digest
        ))
    })?;
    println!("  tombstone: {} ({})", file.display(), signed.digest);
    Ok(0)
}

/// Where `run` writes reports by default: `reports/` next to the database.
fn reports_dir(store: &Store) -> PathBuf {
    store.path().parent().unwrap_or(Path::new(".")).join("reports")
}

/// Written beside the target and renamed: a half-written tombstone is never left behind.
fn write_file(dir: &Path, file: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("{}: {e}", file.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(fail)?;
    tmp.persist(file).map_err(|e| fail(e.error))?;
    Ok(())
}

fn file_size(path: &Path) -> Result<u64, CliError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| CliError::operational(format!("{}: {e}", path.display())))
}

/// `runs 1–20 (20 runs, 2026-10-28 to 2026-11-16)`.
fn runs_range(runs: &[RunRow]) -> String {
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else { return "no runs".to_string() };
    let n = runs.len();
    let span = format!("{} to {}", first.started_at.format("%Y-%m-%d"), last.started_at.format("%Y-%m-%d"));
    if n == 1 {
        format!("run {} (1 run, {span})", first.id)
    } else {
        format!("runs {}–{} ({n} runs, {span})", first.id, last.id)
    }
}

/// `400d` as the user wrote it (humantime would say `1year 1month 4days 7h 26m 24s`).
fn keep_phrase(keep: Duration) -> String {
    const DAY: u64 = 24 * 60 * 60;
    match keep.as_secs() {
        s if s > 0 && s % DAY == 0 && keep.subsec_nanos() == 0 => format!("{}d", s / DAY),
        _ => humantime::format_duration(keep).to_string(),
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `1.2 MiB`: for people; the exact byte counts are printed beside it where they matter.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ranges_read_naturally() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(runs_range(&[]), "no runs");
        assert_eq!(keep_phrase(Duration::from_secs(400 * 86400)), "400d");
        assert_eq!(keep_phrase(Duration::from_secs(36 * 3600)), "1day 12h");
    }
}
