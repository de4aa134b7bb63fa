//! `zoneaudit demo`: the whole nightly job on a built-in three-zone estate, N nights in a row (3 by
//! default), the last of them last night (UTC), so the runs fall in `report --since 30d`.
//!
//! Night 1 is compliant; night 2 leaks a blue pod block into VRF YELLOW and peers a blue node with a
//! yellow route reflector; night 3 fixes both but the firewall lets green talk to blue on a port
//! nobody approved, and every further night is that steady state a day older. Each night is one
//! `zoneaudit run` through the real pipeline, started at 02:00 UTC that night. Everything is written
//! in the real formats, so each file can also be fed to `zoneaudit parse`.

pub mod estate;

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};

use crate::cli::CliError;
use crate::config::Settings;
use crate::evidence::keys::{self, SigningKey};
use crate::pipeline::{self, ReportSink, RunOptions};
use crate::store::Store;
use estate::Calendar;

/// Where the demo's alerts go (`demo --smtp URL --webhook URL`); none by default.
#[derive(Debug, Clone, Default)]
pub struct Alerting {
    pub smtp: Option<String>,
    pub webhook: Option<String>,
}

impl Alerting {
    /// The `alerts:` section for the demo's config, or nothing.
    fn config_yaml(&self) -> String {
        let mut y = String::new();
        if self.smtp.is_none() && self.webhook.is_none() {
            return y;
        }
        y.push_str("alerts:\n  attempts: 3\n  backoff: 500ms\n  timeout: 5s\n  channels:\n");
        if let Some(url) = &self.smtp {
            // A local test server (e.g. `python3 -m aiosmtpd -n -l 127.0.0.1:8025`) speaks plain SMTP:
            // smtp:// is sent without TLS here, smtps:// with implicit TLS.
            let tls = if url.starts_with("smtps://") { "tls" } else { "none" };
            y.push_str(&format!(
                "    - name: demo-mail\n      type: email\n      smtp: {}\n      tls: {tls}\n      from: zoneaudit@demo-dc1.example\n      to: [netops@demo-dc1.example, compliance@demo-dc1.example]\n",
                yaml_string(url)
            ));
        }
        if let Some(url) = &self.webhook {
            y.push_str(&format!(
                "    - name: demo-webhook\n      type: webhook\n      format: generic\n      url: {}\n",
                yaml_string(url)
            ));
        }
        y
    }
}

/// A YAML double-quoted scalar: a URL from the command line is data, never YAML syntax.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

pub fn run(dir: Option<&Path>, nights: u32, alerting: Alerting) -> Result<u8, CliError> {
    let dir = prepare_dir(dir)?;
    let calendar = Calendar::ending_before(day_after_last_night(Utc::now()), nights);
    println!(
        "zoneaudit demo: {nights} nights of the example estate `demo-dc1` (zones yellow, blue, green), {} to {}",
        calendar.first_night(),
        calendar.night(nights).date()
    );
    println!("directory: {}\n", dir.display());
    let config_path = dir.join("zoneaudit.yaml");
    std::fs::write(&config_path, estate::config_yaml() + &alerting.config_yaml())
        .map_err(|e| CliError::operational(format!("{}: {e}", config_path.display())))?;
    let (key_file, _public) = keys::generate(&dir.join("keys"))?;
    let key = SigningKey::load(&key_file)?;
    let sink = ReportSink { dir: dir.join("reports") };
    for night in calendar.nights(nights) {
        estate::write_inputs(&dir, night)
            .map_err(|e| CliError::operational(format!("{}: writing inputs: {e}", dir.display())))?;
        let settings = Settings::load(&config_path)?;
        let db = settings.database.clone().unwrap_or_else(|| dir.join("zoneaudit.db"));
        let mut store = Store::open(&db)?;
        let started_at = Utc.from_utc_datetime(&night.collected_at());
        println!("── night {} ({}): {}", night.number(), night.date(), night.story());
        let outcome = crate::cli::block_on(pipeline::run(
            &settings,
            &mut store,
            RunOptions { started_at, only_sources: &[], record: None, evaluate: Some((&key, &sink)) },
        ))?;
        crate::cli::print_outcome(&outcome);
        if night.number() == 1 {
            // Night 1 is the approved state: topology drift is measured against it from night 2 on.
            let items = crate::alert::drift::topology(&store.facts(outcome.run_id)?, &settings);
            store.accept_baseline(outcome.run_id, started_at, &items)?;
            println!("baseline accepted: run {} ({} topology items)", outcome.run_id, items.len());
        }
        println!();
    }
    let shown = dir.display();
    println!("Reports (signed DSSE envelopes and Markdown): {shown}/reports/");
    println!("Next:");
    println!("  zoneaudit --db {shown}/zoneaudit.db findings");
    println!("  zoneaudit --db {shown}/zoneaudit.db runs list");
    println!("  zoneaudit verify --key {shown}/keys/zoneaudit.pub {shown}/reports/*.dsse.json");
    Ok(0)
}

/// A demo writes a fresh estate; it never reuses (or clobbers) an earlier demo's database.
fn prepare_dir(dir: Option<&Path>) -> Result<PathBuf, CliError> {
    match dir {
        Some(d) => {
            if d.join("zoneaudit.db").exists() || d.join("keys").exists() {
                return Err(CliError::operational(format!(
                    "{}: already holds a demo (zoneaudit.db or keys/); choose a new directory",
                    d.display()
                )));
            }
            std::fs::create_dir_all(d).map_err(|e| CliError::operational(format!("{}: {e}", d.display())))?;
            Ok(d.to_path_buf())
        }
        None => tempfile::Builder::new()
            .prefix("zoneaudit-demo-")
            .tempdir()
            .map(|t| t.keep())
            .map_err(|e| CliError::operational(format!("creating a temporary directory: {e}"))),
    }
}

/// The demo's last night is the most recent 02:00 UTC that has passed (this morning, or yesterday
/// before 02:00), so `report --since 30d` right after `demo --nights 30` covers all thirty nights
/// and no run lies in the future.
fn day_after_last_night(now: chrono::DateTime<Utc>) -> chrono::NaiveDate {
    let today = now.date_naive();
    let two_am = today.and_hms_opt(2, 0, 0).expect("02:00 exists").and_utc();
    if now >= two_am { today + chrono::Days::new(1) } else { today }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_night_is_the_latest_two_am_that_has_passed() {
        let at = |s: &str| s.parse::<chrono::DateTime<Utc>>().unwrap();
        let calendar = |now: &str| Calendar::ending_before(day_after_last_night(at(now)), 3);
        assert_eq!(calendar("2026-11-27T18:00:00Z").night(3).date().to_string(), "2026-11-27");
        assert_eq!(calendar("2026-11-27T02:00:00Z").night(3).date().to_string(), "2026-11-27");
        assert_eq!(calendar("2026-11-27T01:59:59Z").night(3).date().to_string(), "2026-11-26");
        assert_eq!(calendar("2026-11-27T18:00:00Z").first_night().to_string(), "2026-11-25");
    }
}
