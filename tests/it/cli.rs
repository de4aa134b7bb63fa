//! Operating habits: the version names its commit, shells complete the commands, the man page is
//! generated from the same definition as `--help`.

use crate::support::run;

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = run(&["--version"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let line = out.stdout.trim();
    assert!(line.starts_with(&format!("zoneaudit {} (commit ", env!("CARGO_PKG_VERSION"))), "{line}");
    let commit = line.rsplit("(commit ").next().unwrap().trim_end_matches(')');
    let hash = commit.trim_end_matches("-dirty");
    // A build outside a git checkout says so; inside one it is the abbreviated hash of HEAD.
    assert!(hash == "unknown" || (hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit())), "{line}");
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.all());
        for command in ["demo", "run", "report", "verify", "alerts", "baseline", "serve", "doctor", "prune"] {
            assert!(out.stdout.contains(command), "{shell} completion lacks {command}");
        }
    }
    let bad = run(&["completions", "cmd.exe"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn man_pages_are_generated_for_every_command() {
    let page = run(&["man"]);
    assert_eq!(page.code, 0, "{}", page.all());
    assert!(page.stdout.contains(".TH zoneaudit 1"), "{}", &page.stdout[..200.min(page.stdout.len())]);
    assert!(page.stdout.contains("report"), "the subcommands are listed");
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    for page in ["zoneaudit.1", "zoneaudit-report.1", "zoneaudit-verify.1", "zoneaudit-runs-prune.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".SH NAME"), "{page}");
    }
}
