//! Running the real binary, the way a user or a CronJob does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// Night `night` of the demo again, as another day's files: firewall logs are read incrementally,
/// so the same bytes twice would be "nothing new". Leading blank lines (ignored by every parser),
/// a different number each call, make the log a new file with the same traffic, as the next day's
/// log would be.
pub fn night_again(dir: &Path, night: zoneaudit::demo::estate::Night) {
    static DAY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    zoneaudit::demo::estate::write_inputs(dir, night).unwrap();
    let log = dir.join("inputs/panos/fw-core.log");
    let text = std::fs::read(&log).unwrap();
    let mut fresh = vec![b'\n'; DAY.fetch_add(1, std::sync::atomic::Ordering::SeqCst)];
    fresh.extend(text);
    std::fs::write(&log, fresh).unwrap();
}
