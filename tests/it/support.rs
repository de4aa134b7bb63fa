//! Running the real binary, the way a user or a CronJob does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zoneaudit::demo::estate::{Calendar, Scenario};

pub fn zoneaudit() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zoneaudit"));
    cmd.env_remove("ZONEAUDIT_CONFIG").env_remove("ZONEAUDIT_DB").env("NO_COLOR", "1");
    cmd
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

pub fn run(args: &[&str]) -> Ran {
    ran(zoneaudit().args(args).output().expect("zoneaudit binary runs"))
}

pub fn ran(o: Output) -> Ran {
    Ran {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A demo estate written into `dir` (config, keys, all three nights' reports).
pub fn demo_in(dir: &Path) -> Ran {
    let out = run(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "demo failed:\n{}", out.all());
    out
}

pub fn reports(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".dsse.json"))
        .collect();
    v.sort();
    v
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// Another night of the demo estate showing `scenario`, as the next day's files would be: each
/// call is a later day after the demo's nights (which end yesterday), so the firewall log, read
/// incrementally, is new content dated that day.
pub fn night_again(dir: &Path, scenario: Scenario) {
    static LATER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let calendar = Calendar::ending_before(chrono::Utc::now().date_naive(), DEMO_NIGHTS);
    let number = DEMO_NIGHTS + LATER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    zoneaudit::demo::estate::write_inputs(dir, calendar.night(number).with_scenario(scenario)).unwrap();
}

/// Nights `zoneaudit demo` runs without `--nights`.
pub const DEMO_NIGHTS: u32 = 3;
