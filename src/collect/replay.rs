//! The replay (file) form of every source: read recorded payloads, parse them with the source
//! kind's pure parser, and account for every byte.
//!
//! A source that fails costs that source, not the run: errors become a `failed` (nothing readable)
//! or `partial` (some files or lines unreadable) [`SourceRun`], never an early return.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::collect::firewall::{self, LogFormat};
use crate::collect::live::RawPayload;
use crate::collect::{ParseError, bird, calico, eos, frr, junos, nxos, panos_rulehits};
use crate::config::{Settings, SourceKind, SourceSpec, Transport};
use crate::evidence::canonical::sha256_hex;
use crate::model::{Facts, PayloadRef, Rejects, SourceRun, SourceStatus};

/// Recorded payloads are bounded: a runaway file must not exhaust the pod's memory.
pub const MAX_PAYLOAD_BYTES: u64 = 512 * 1024 * 1024;

/// One raw payload with its digest: what evidence points at.
#[derive(Debug, Clone)]
pub struct Payload {
    pub name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// What one source yielded in one run.
#[derive(Debug, Clone)]
pub struct Collected {
    pub run: SourceRun,
    pub facts: Facts,
    pub payloads: Vec<Payload>,
}

/// Parse one payload of a kind. `attribute` maps firewall log addresses to zones.
pub fn parse_payload(
    kind: SourceKind,
    observer: &str,
    bytes: &[u8],
    attribute: &dyn Fn(IpAddr) -> Option<String>,
) -> Result<(Facts, Rejects), ParseError> {
    match kind {
        SourceKind::Calico => calico::parse(bytes).map(|f| (f, Rejects::default())),
        SourceKind::Bird => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
                ParseError::at_line(line, "not UTF-8 text")
            })?;
            bird::parse(observer, text).map(|f| (f, Rejects::default()))
        }
        SourceKind::Eos => eos::parse(observer, bytes).map(|f| (f, Rejects::default())),
        SourceKind::Nxos => nxos::parse(observer, bytes).map(|f| (f, Rejects::default())),
        SourceKind::Junos => junos::parse(observer, bytes).map(|f| (f, Rejects::default())),
        SourceKind::Frr => frr::parse(observer, bytes).map(|f| (f, Rejects::default())),
        SourceKind::Panos | SourceKind::Fortigate | SourceKind::Asa | SourceKind::Netfilter => {
            let format = LogFormat::of(kind).expect("a firewall log kind");
            let (facts, rejects) = firewall::parse(format, bytes, attribute);
            if facts.flows.is_empty() && rejects.total() > 0 {
                let first = rejects.samples.first().map(|o| o.locator.clone()).unwrap_or_default();
                return Err(ParseError::new(
                    first,
                    format!("no readable {} traffic line ({} rejected)", kind.as_str(), rejects.total()),
                ));
            }
            Ok((facts, rejects))
        }
        SourceKind::PanosRuleHits => panos_rulehits::parse(observer, bytes).map(|f| (f, Rejects::default())),
    }
}

/// Every regular file a source names, directories expanded (sorted, not recursive).
pub fn expand_files(files: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(f)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

fn read_payload(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "{}: {} bytes is over the {} byte limit",
            path.display(),
            meta.len(),
            MAX_PAYLOAD_BYTES
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The recorded payloads of a replay source, named by their file, and the files that could not be read.
pub fn read_files(files: &[PathBuf]) -> (Vec<RawPayload>, Vec<String>) {
    let mut payloads = Vec::new();
    let mut errors = Vec::new();
    match expand_files(files) {
        Err(e) => errors.push(format!("listing files: {e}")),
        Ok(files) if files.is_empty() => errors.push("no input files found".to_string()),
        Ok(files) => {
            for path in files {
                match read_payload(&path) {
                    Ok(bytes) => payloads.push(RawPayload::new(path.display().to_string(), bytes)),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    (payloads, errors)
}

/// Collect one source from its recorded files.
pub fn collect_source(spec: &SourceSpec, settings: &Settings) -> Collected {
    let started_at = Utc::now();
    let (payloads, errors) = read_files(spec.files());
    assemble(spec, settings, started_at, payloads, errors)
}

/// Parse fetched or recorded payloads into a source run: facts stamped with their payload digest,
/// status from what could be read (`failed` when nothing could, `partial` when some could not).
pub fn assemble(
    spec: &SourceSpec,
    settings: &Settings,
    started_at: DateTime<Utc>,
    raw: Vec<RawPayload>,
    mut errors: Vec<String>,
) -> Collected {
    let attribute = |a: IpAddr| settings.zone_map.zone_of_addr(a).map(str::to_string);
    let mut facts = Facts::default();
    let mut rejects = Rejects::default();
    let mut payloads = Vec::new();
    let mut parsed_ok = 0usize;
    for RawPayload { name, bytes } in raw {
        let sha256 = sha256_hex(&bytes);
        match parse_payload(spec.kind, &spec.observer, &bytes, &attribute) {
            Ok((mut f, r)) => {
                f.stamp(&spec.name, &sha256);
                facts.extend(f);
                merge_rejects(&mut rejects, r, &name);
                parsed_ok += 1;
            }
            Err(e) => errors.push(e.in_file(name.clone()).to_string()),
        }
        payloads.push(Payload { name, sha256, bytes });
    }
    let status = if parsed_ok == 0 {
        SourceStatus::Failed
    } else if !errors.is_empty() || !rejects.is_empty() {
        SourceStatus::Partial
    } else {
        SourceStatus::Ok
    };
    if !rejects.is_empty() && errors.is_empty() {
        errors.push(format!("{} unreadable lines", rejects.total()));
    }
    let mut counts: std::collections::BTreeMap<String, u64> =
        facts.counts().into_iter().map(|(k, v)| (k.to_string(), v as u64)).collect();
    counts.insert("payloads".into(), payloads.len() as u64);
    let run = SourceRun {
        name: spec.name.clone(),
        kind: spec.kind.as_str().to_string(),
        status,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        started_at,
        finished_at: Utc::now(),
        counts,
        payloads: payloads
            .iter()
            .map(|p| PayloadRef {
                name: p.name.clone(),
                sha256: p.sha256.clone(),
                size: p.bytes.len() as u64,
            })
            .collect(),
        rejects,
        notes: transport_notes(spec),
    };
    Collected { run, facts, payloads }
}

/// What a reader of the evidence should know about how the source was read.
fn transport_notes(spec: &SourceSpec) -> Vec<String> {
    let mut notes = Vec::new();
    match &spec.transport {
        Transport::Files(_) => notes.push("replay: recorded files".to_string()),
        Transport::BirdSocket(p) => notes.push(format!("live: BIRD control socket {}", p.display())),
        Transport::Command(argv) => notes.push(format!("live: command {}", argv.join(" "))),
        Transport::Exec(e) => notes.push(format!(
            "live: exec {} in the pod on node {} ({} in namespace {})",
            e.command.join(" "),
            e.node,
            e.label_selector,
            e.namespace
        )),
        Transport::Http(h) => {
            notes.push(format!("live: {}", h.url));
            if h.insecure_skip_verify {
                notes.push("TLS certificate verification DISABLED (insecureSkipVerify)".to_string());
            }
        }
        Transport::Kubernetes(k) => notes.push(format!(
            "live: Kubernetes API ({})",
            k.api_group.group_version().unwrap_or("Calico API group by discovery")
        )),
    }
    notes
}

/// Rejected-line samples keep the file they came from, so a reader can find them.
fn merge_rejects(into: &mut Rejects, from: Rejects, file: &str) {
    for (reason, n) in from.counts {
        *into.counts.entry(reason).or_insert(0) += n;
    }
    into.samples.extend(from.samples.into_iter().map(|mut o| {
        o.locator = format!("{file}: {}", o.locator);
        o
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(source: &str) -> Settings {
        let yaml = format!("cluster: c\nzones:\n  y: {{ prefixes: [10.10.0.0/16] }}\nsources:\n{source}");
        Settings::from_yaml(&yaml, "zoneaudit.yaml", Path::new("/etc/za")).unwrap()
    }

    #[test]
    fn a_source_without_tls_verification_says_so_in_its_run() {
        let s = settings(
            "  - { name: leaf1, kind: eos, url: https://leaf1/command-api, insecureSkipVerify: true }\n",
        );
        let c = assemble(&s.sources[0], &s, Utc::now(), Vec::new(), vec!["leaf1 (url): refused".into()]);
        assert_eq!(c.run.status, SourceStatus::Failed);
        assert_eq!(
            c.run.notes,
            ["live: https://leaf1/command-api", "TLS certificate verification DISABLED (insecureSkipVerify)"]
        );
        let verified = settings("  - { name: leaf1, kind: eos, url: https://leaf1/command-api }\n");
        let c = assemble(&verified.sources[0], &verified, Utc::now(), Vec::new(), Vec::new());
        assert_eq!(c.run.notes, ["live: https://leaf1/command-api"]);
    }

    #[test]
    fn unreadable_payloads_make_a_partial_source_and_name_the_place() {
        let s = settings("  - { name: leaf1, kind: eos, files: [x.json] }\n");
        let good = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/eos/eos-show-ip-route-vrf-all.json"
        ))
        .unwrap();
        let raw =
            vec![RawPayload::new("good.json", good), RawPayload::new("bad.json", b"{\"vrfs\": ".to_vec())];
        let c = assemble(&s.sources[0], &s, Utc::now(), raw, Vec::new());
        assert_eq!(c.run.status, SourceStatus::Partial);
        let error = c.run.error.unwrap();
        assert!(error.starts_with("bad.json: line 1 column"), "{error}");
        assert_eq!(c.run.payloads.len(), 2, "the unreadable payload is kept as evidence too");
        assert!(
            c.facts
                .routes
                .iter()
                .all(|r| r.origin.source == "leaf1" && r.origin.payload == c.payloads[0].sha256)
        );
    }
}
