//! `docs/VERIFYING.md` is a contract with auditors: its ```sh scripts, taken from the document at
//! test time and run as written with `bash -euo pipefail`, accept the reports the demo signs and
//! reject a copy with one changed byte. Only openssl, coreutils and jq verify here; zoneaudit only
//! makes the reports (and, for key rotation, is checked to agree with the scripts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use zoneaudit::demo::estate::Scenario;
use zoneaudit::evidence::{Keyring, PublicKey};
use zoneaudit::store::Store;

use crate::support::{Ran, demo_in, night_again, ran, reports, run};

const SCRIPTS: [&str; 3] = ["verify-report.sh", "verify-chain.sh", "check-period.sh"];

/// The tools the document promises are enough; a missing one fails the test with what to install.
fn require_tools() {
    for (tool, arg) in [
        ("bash", "--version"),
        ("jq", "--version"),
        ("openssl", "version"),
        ("base64", "--version"),
        ("sha256sum", "--version"),
    ] {
        let found = Command::new(tool).arg(arg).output().is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` is needed to run the steps of docs/VERIFYING.md: install it (apt-get install -y jq openssl coreutils)"
        );
    }
}

/// The document's ```sh blocks, written out under the name each gives on its second line
/// (`# verify-report.sh REPORT ...`).
struct Scripts {
    dir: tempfile::TempDir,
}

impl Scripts {
    fn from_docs() -> Scripts {
        require_tools();
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/VERIFYING.md");
        let text = std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let dir = tempfile::tempdir().unwrap();
        let mut found = BTreeMap::new();
        for block in sh_blocks(&text) {
            let name = block
                .lines()
                .nth(1)
                .and_then(|l| l.strip_prefix("# "))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_else(|| panic!("a ```sh block must name itself on its second line:\n{block}"))
                .to_string();
            std::fs::write(dir.path().join(&name), block).unwrap();
            found.insert(name, ());
        }
        let names: Vec<&str> = found.keys().map(String::as_str).collect();
        let mut expected = SCRIPTS.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected, "the ```sh blocks of docs/VERIFYING.md");
        Scripts { dir }
    }

    /// `bash -euo pipefail SCRIPT ARGS...` in an empty directory.
    fn run(&self, script: &str, args: &[&Path]) -> Ran {
        let out = Command::new("bash")
            .args(["-euo", "pipefail"])
            .arg(self.dir.path().join(script))
            .args(args)
            .current_dir(self.dir.path())
            .env("LC_ALL", "C")
            .output()
            .expect("bash runs");
        ran(out)
    }
}

fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "unterminated ```sh block in docs/VERIFYING.md");
    blocks
}

fn keyid(public: &Path) -> String {
    PublicKey::load(public).unwrap().keyid().to_string()
}

fn envelope(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A copy of `report` in `dir` with one character of `field`'s base64 text changed, in the middle
/// (so the text stays valid base64 and decodes to different bytes).
fn with_changed_byte(report: &Path, dir: &Path, field: &str) -> PathBuf {
    let text = std::fs::read_to_string(report).unwrap();
    let key = format!("\"{field}\": \"");
    let start = text.find(&key).unwrap_or_else(|| panic!("no {field} in {}", report.display())) + key.len();
    let len = text[start..].find('"').unwrap();
    let at = start + len / 2;
    let old = text.as_bytes()[at];
    let new = if old == b'A' { 'B' } else { 'A' };
    let mut changed = text.clone();
    changed.replace_range(at..at + 1, &new.to_string());
    let path = dir.join(format!("{field}-changed-{}", report.file_name().unwrap().to_string_lossy()));
    std::fs::write(&path, changed).unwrap();
    path
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn the_documented_steps_verify_genuine_reports_and_reject_a_changed_byte() {
    let scripts = Scripts::from_docs();
    let demo = tempfile::tempdir().unwrap();
    demo_in(demo.path());
    let key = demo.path().join("keys/zoneaudit.pub");
    let files = reports(demo.path());
    assert_eq!(files.len(), 3);

    for (night, file) in files.iter().enumerate() {
        let out = scripts.run("verify-report.sh", &[file, &key]);
        assert_eq!(out.code, 0, "night {}: {}", night + 1, out.all());
        assert!(out.stdout.contains("Signature Verified Successfully"), "{}", out.stdout);
        assert!(out.stdout.contains(&format!("run {} of \"demo-dc1\"", night + 1)), "{}", out.stdout);
        assert!(
            out.stdout.contains(&format!("OK: {} is signed by {}", file.display(), keyid(&key))),
            "{}",
            out.stdout
        );
    }
    let night2 = scripts.run("verify-report.sh", &[&files[1], &key]).stdout;
    assert!(night2.contains("finding critical ZI-ROUTE-LEAK \"leaf1/YELLOW/10.20.1.0/26\""), "{night2}");
    assert!(night2.contains("finding critical ZI-CROSS-ZONE-SESSION"), "{night2}");
    assert!(night2.contains("rules: 16 passed, 2 failed"), "{night2}");

    // One changed byte of the payload, or of the signature: the documented steps fail.
    let copies = tempfile::tempdir().unwrap();
    for field in ["payload", "sig"] {
        let changed = with_changed_byte(&files[1], copies.path(), field);
        let out = scripts.run("verify-report.sh", &[&changed, &key]);
        assert_ne!(out.code, 0, "a changed {field} must fail:\n{}", out.all());
        assert!(out.stdout.contains("Signature Verification Failure"), "{field}: {}", out.all());
        assert!(out.stderr.contains("the signature does not verify with"), "{field}: {}", out.stderr);
        assert!(!out.stdout.contains("OK:"), "{}", out.stdout);
    }

    // The chain across the three nights, and what a missing or reordered report looks like.
    let out = scripts.run("verify-chain.sh", &[&files[0], &files[1], &files[2]]);
    assert_eq!(out.code, 0, "{}", out.all());
    let digest = |v: &serde_json::Value| -> String {
        use base64::Engine;
        let payload =
            base64::engine::general_purpose::STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
        format!("sha256:{}", zoneaudit::evidence::canonical::sha256_hex(&payload))
    };
    let digests: Vec<String> = files.iter().map(|f| digest(&envelope(f))).collect();
    assert!(
        out.stdout.contains(&format!("run 1: {} is the first report of the chain", digests[0])),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&format!("run 3: {} follows run 2", digests[2])), "{}", out.stdout);
    assert!(out.stdout.ends_with("OK: 3 reports form one chain\n"), "{}", out.stdout);

    let out = scripts.run("verify-chain.sh", &[&files[0], &files[2]]);
    assert_ne!(out.code, 0, "a missing middle report must break the chain:\n{}", out.all());
    assert!(
        out.stderr.contains(&format!(
            "run 3 links to {}, but the report before it (run 1) is {}",
            digests[1], digests[0]
        )),
        "{}",
        out.stderr
    );
    let out = scripts.run("verify-chain.sh", &[&files[1], &files[0], &files[2]]);
    assert_ne!(out.code, 0, "reordered reports must fail:\n{}", out.all());
    // Starting later is not a break: the earlier reports are simply not given.
    let out = scripts.run("verify-chain.sh", &[&files[1], &files[2]]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("an earlier report not among the files given"), "{}", out.stdout);
}

/// The signed period report (`report --format json`) verifies with the same script, and names the
/// digest of every run report it covers.
#[test]
fn the_documented_steps_check_a_period_report_against_its_run_reports() {
    let scripts = Scripts::from_docs();
    let demo = tempfile::tempdir().unwrap();
    demo_in(demo.path());
    let cfg = demo.path().join("zoneaudit.yaml");
    let key = demo.path().join("keys/zoneaudit.pub");
    let period = demo.path().join("period.json");
    let out = run(&["--config", p(&cfg), "report", "--since", "30d", "--format", "json", "-o", p(&period)]);
    assert_eq!(out.code, 0, "{}", out.all());

    let out = scripts.run("verify-report.sh", &[&period, &key]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("period report of \"demo-dc1\""), "{}", out.stdout);

    let files = reports(demo.path());
    let mut args: Vec<&Path> = vec![&period];
    args.extend(files.iter().map(PathBuf::as_path));
    let out = scripts.run("check-period.sh", &args);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.matches("is the report the period report covers").count(), 3, "{}", out.stdout);

    // A changed byte in the period report fails its signature like any report.
    let copies = tempfile::tempdir().unwrap();
    let changed = with_changed_byte(&period, copies.path(), "payload");
    assert_ne!(scripts.run("verify-report.sh", &[&changed, &key]).code, 0);

    // A run the period report does not cover (it was made before that night) is named.
    night_again(demo.path(), Scenario::UnapprovedFlow);
    let night4 = run(&["--config", p(&cfg), "run"]);
    assert!(night4.code == 0 || night4.code == 1, "{}", night4.all());
    let fourth = reports(demo.path()).pop().unwrap();
    let out = scripts.run("check-period.sh", &[&period, &fourth]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("run 4 is sha256:") && out.stderr.contains("the period report has no such run"),
        "{}",
        out.stderr
    );
}

/// Key rotation: three nights signed with key A, then the config signs with a new key B and lists
/// both public keys. Both zoneaudit and the documented steps verify every report while both keys are
/// given, and name the unknown keyid (and the known ones) when the retired key is not.
#[test]
fn reports_of_a_retired_key_verify_after_rotation_and_unknown_keys_are_named() {
    let scripts = Scripts::from_docs();
    let demo = tempfile::tempdir().unwrap();
    let d = demo.path();
    demo_in(d);
    let keygen = run(&["keygen", "--out", p(&d.join("keys2"))]);
    assert_eq!(keygen.code, 0, "{}", keygen.all());
    let (old, new) = (d.join("keys/zoneaudit.pub"), d.join("keys2/zoneaudit.pub"));
    let (old_id, new_id) = (keyid(&old), keyid(&new));

    let cfg = d.join("zoneaudit.yaml");
    let yaml = std::fs::read_to_string(&cfg).unwrap();
    let demo_signing = "signing: { keyFile: keys/zoneaudit.key }";
    assert!(yaml.contains(demo_signing), "the demo config's signing section changed:\n{yaml}");
    let rotated =
        "signing:\n  keyFile: keys2/zoneaudit.key\n  publicKeys: [keys/zoneaudit.pub, keys2/zoneaudit.pub]";
    std::fs::write(&cfg, yaml.replace(demo_signing, rotated)).unwrap();

    night_again(d, Scenario::UnapprovedFlow);
    let night4 = run(&["--config", p(&cfg), "run"]);
    assert!(night4.code == 0 || night4.code == 1, "{}", night4.all());
    let files = reports(d);
    assert_eq!(files.len(), 4);
    assert_eq!(envelope(&files[3])["signatures"][0]["keyid"], new_id.as_str());
    assert_eq!(envelope(&files[0])["signatures"][0]["keyid"], old_id.as_str());

    // The library verdict over the database, independent of how the CLI prints it.
    let keyring = Keyring::load(&[old.clone(), new.clone()]).unwrap();
    let verdict =
        zoneaudit::evidence::chain::verify_store(&Store::open(&d.join("zoneaudit.db")).unwrap(), &keyring)
            .unwrap();
    assert!(verdict.ok(), "{verdict}");
    assert_eq!(verdict.totals.keys, vec![(old_id.clone(), vec![1, 2, 3]), (new_id.clone(), vec![4])]);
    assert!(verdict.runs.iter().all(|l| l.evidence.is_some_and(|e| e.checked > 0)), "{verdict}");

    // `verify --chain` over the database: every report, both keys.
    let out = run(&["--config", p(&cfg), "verify", "--chain"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("chain OK: 4 runs, 4 reports verified, 0 failed"), "{}", out.stdout);
    assert!(last.ends_with(&format!("keys: {old_id} (runs 1-3), {new_id} (run 4)")), "{}", out.stdout);
    assert!(out.stdout.contains(&new_id[..19]) && out.stdout.contains(&old_id[..19]), "{}", out.stdout);

    // Only the new key: the old reports fail by keyid, naming the key that is known.
    let mut args = vec!["verify", "--key", p(&new)];
    args.extend(files.iter().map(|f| p(f)));
    let out = run(&args);
    assert_eq!(out.code, 1, "{}", out.all());
    let unknown = format!("unknown keyid \"{old_id}\" (keyring has: {new_id})");
    assert_eq!(out.stdout.matches(&unknown).count(), 3, "{}", out.stdout);
    assert!(out.stdout.contains("1 verified, 3 failed"), "{}", out.stdout);

    let mut args = vec!["verify", "--key", p(&old), "--key", p(&new)];
    args.extend(files.iter().map(|f| p(f)));
    let out = run(&args);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("4 verified, 0 failed"), "{}", out.stdout);

    // The documented steps agree: the retired key's report needs its key, and the chain runs
    // across the rotation.
    let out = scripts.run("verify-report.sh", &[&files[0], &new]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains(&format!("signed by unknown keyid {old_id} (the keys given are: {new_id})")),
        "{}",
        out.stderr
    );
    for file in &files {
        let out = scripts.run("verify-report.sh", &[file, &old, &new]);
        assert_eq!(out.code, 0, "{}: {}", file.display(), out.all());
    }
    let out = scripts.run("verify-chain.sh", &files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("run 4: sha256:") && out.stdout.contains("follows run 3"), "{}", out.stdout);
}
