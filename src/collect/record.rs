//! `--record DIR`: write what every source fetched in exactly its replay form, plus a config that
//! replays it, so any live run can be audited again later from files.
//!
//! ```text
//! DIR/zoneaudit.yaml              the run's config with every source turned into `files:`
//! DIR/<source>/<n>-<what>.<ext>   one file per payload, byte for byte as fetched
//! ```

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::collect::replay::Collected;
use crate::config::{RulePackRef, Settings, SourceKind};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: cannot rewrite the config for replay: {message}")]
    Config { path: String, message: String },
}

/// Write the payloads and a replay config into `dir`; returns the config's path.
pub fn record(dir: &Path, settings: &Settings, collected: &[Collected]) -> Result<PathBuf, RecordError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| RecordError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut sources = Vec::new();
    for c in collected {
        let spec = settings.sources.iter().find(|s| s.name == c.run.name);
        let Some(spec) = spec else { continue };
        let sub = dir.join(slug(&spec.name));
        std::fs::create_dir_all(&sub).map_err(io(&sub))?;
        let mut files = Vec::new();
        for (i, p) in c.payloads.iter().enumerate() {
            let file = format!("{:02}-{}.{}", i + 1, slug(&p.name), extension(spec.kind));
            let path = sub.join(&file);
            std::fs::write(&path, &p.bytes).map_err(io(&path))?;
            files.push(format!("{}/{file}", slug(&spec.name)));
        }
        sources.push(json!({
            "name": spec.name, "kind": spec.kind.as_str(), "observer": spec.observer, "files": files,
        }));
    }
    let config = replay_config(settings, sources)?;
    let path = dir.join("zoneaudit.yaml");
    std::fs::write(&path, config).map_err(io(&path))?;
    Ok(path)
}

/// The original config, with sources replaced by their recordings and every other path made
/// absolute so the recording can be moved next to any database.
fn replay_config(settings: &Settings, sources: Vec<Value>) -> Result<String, RecordError> {
    let path = settings.file.display().to_string();
    let fail = |message: String| RecordError::Config { path: path.clone(), message };
    let text = std::fs::read_to_string(&settings.file).map_err(|e| fail(e.to_string()))?;
    let mut doc: Value = serde_saphyr::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let obj = doc.as_object_mut().ok_or_else(|| fail("not a mapping".into()))?;
    obj.insert("database".into(), json!("zoneaudit.db"));
    obj.insert("sources".into(), Value::Array(sources));
    obj.remove("collection");
    let packs: Vec<Value> = settings
        .rule_packs
        .iter()
        .map(|p| match p {
            RulePackRef::Builtin(name) => json!(format!("builtin:{name}")),
            RulePackRef::File(f) => json!(absolute(f)),
        })
        .collect();
    obj.insert("rulePacks".into(), Value::Array(packs));
    if let Some(s) = &settings.signing {
        let keys: Vec<Value> = s.public_keys.iter().map(|k| json!(absolute(k))).collect();
        obj.insert("signing".into(), json!({ "keyFile": absolute(&s.key_file), "publicKeys": keys }));
    }
    let body = serde_saphyr::to_string(&doc).map_err(|e| fail(e.to_string()))?;
    Ok(format!("# Replay of a live collection: `zoneaudit --config <this file> run`.\n{body}"))
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}

fn extension(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Bird => "txt",
        k if k.is_firewall_log() => "log",
        SourceKind::PanosRuleHits => "xml",
        _ => "json",
    }
}

/// A file-name-safe form of a source or command name.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    let out: String = out.chars().take(80).collect();
    if out.is_empty() { "payload".to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("show protocols all"), "show-protocols-all");
        assert_eq!(slug("GET /apis/projectcalico.org/v3/bgppeers"), "GET-apis-projectcalico.org-v3-bgppeers");
        assert_eq!(slug("/////"), "payload");
    }
}
