//! deploy/: the Kubernetes manifests as `kubectl apply -k` would send them, and the image recipe.
//!
//! ```text
//!  deploy/base ─┬─ overlays/bird-exec ──── overlays/example-two-zones
//!               └─ overlays/ephemeral-status
//!     │  kubectl kustomize (what `apply -k` sends)
//!     ▼
//!  rendered objects ──▶ kubernetes-validate --strict (the 1.33 schemas: every field known)
//!                   ──▶ what a security reviewer checks: RBAC verbs, exec only where asked for,
//!                       the CronJob's schedule, limits and securityContext
//!                   ──▶ the ConfigMap's zoneaudit.yaml loads as zoneaudit's Settings, and every
//!                       secret file it names is mounted from a Secret that has that key
//!  deploy/Dockerfile ─▶ static checks (no Docker engine here): COPY sources exist, non-root USER
//! ```
//!
//! The tools are never skipped: a missing `kubectl` or `kubernetes-validate` fails the test with the
//! install line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The Kubernetes version the manifests are validated against (timeZone and podFailurePolicy are
/// GA there).
const KUBERNETES: &str = "1.33";

/// Every kustomization an operator may apply.
const KUSTOMIZATIONS: [&str; 4] =
    ["base", "overlays/bird-exec", "overlays/ephemeral-status", "overlays/example-two-zones"];

/// Where the CronJob mounts things, and the Secret behind each secret mount.
const SECRET_MOUNTS: [(&str, &str); 5] = [
    ("/secrets/signing", "zoneaudit-signing"),
    ("/secrets/devices", "zoneaudit-devices"),
    ("/secrets/smtp", "zoneaudit-smtp"),
    ("/secrets/webhook", "zoneaudit-webhook"),
    ("/secrets/slack", "zoneaudit-slack"),
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(rel: &str) -> PathBuf {
    repo().join("deploy").join(rel)
}

/// One kustomization as rendered: the YAML text and its objects.
struct Rendered {
    name: &'static str,
    text: String,
    objects: Vec<Value>,
}

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one(&self, kind: &str, name: &str) -> &Value {
        self.of_kind(kind)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: no {kind} {name}", self.name))
    }

    fn cronjob(&self) -> &Value {
        self.one("CronJob", "zoneaudit")
    }

    fn config_map(&self) -> &Value {
        self.of_kind("ConfigMap")
            .into_iter()
            .find(|o| o["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("zoneaudit-config-")))
            .unwrap_or_else(|| panic!("{}: no generated ConfigMap zoneaudit-config-<hash>", self.name))
    }
}

/// Every kustomization rendered once for all tests (kubectl is the slow part).
fn rendered() -> &'static [Rendered] {
    static ALL: OnceLock<Vec<Rendered>> = OnceLock::new();
    ALL.get_or_init(|| KUSTOMIZATIONS.iter().map(|k| render(k)).collect())
}

fn rendering(name: &str) -> &'static Rendered {
    rendered().iter().find(|r| r.name == name).unwrap()
}

fn render(name: &'static str) -> Rendered {
    let dir = deploy(name);
    let out = match Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("kubectl is not installed (it renders the kustomizations): apt-get install -y kubectl")
        }
        Err(e) => panic!("kubectl: {e}"),
    };
    assert!(
        out.status.success(),
        "kubectl kustomize {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("rendered YAML is UTF-8");
    let objects: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("{name}: the rendered YAML does not parse: {e}"));
    assert!(!objects.is_empty(), "{name} rendered nothing");
    Rendered { name, text, objects }
}

/// `kubernetes-validate --strict` on one file; Err with its report when an object is rejected.
fn validate(file: &Path) -> Result<(), String> {
    let out = match Command::new("kubernetes-validate")
        .args(["-k", KUBERNETES, "--strict", "--quiet"])
        .arg(file)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "kubernetes-validate is not installed (it checks the rendered manifests against the Kubernetes \
             schemas): python3 -m pip install 'kubernetes-validate>=1.33,<2'"
        ),
        Err(e) => panic!("kubernetes-validate: {e}"),
    };
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(()) } else { Err(report) }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Every RBAC rule of every Role and ClusterRole: (kind, namespace, name, rule).
fn rbac_rules(r: &Rendered) -> Vec<(&str, &str, &str, &Value)> {
    let mut rules = Vec::new();
    for o in r.objects.iter().filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole") {
        let kind = o["kind"].as_str().unwrap();
        let namespace = o["metadata"]["namespace"].as_str().unwrap_or("");
        let name = o["metadata"]["name"].as_str().unwrap_or("");
        for rule in o["rules"].as_array().into_iter().flatten() {
            rules.push((kind, namespace, name, rule));
        }
    }
    rules
}

#[test]
fn every_kustomization_renders_and_every_object_validates_against_the_kubernetes_schemas() {
    let dir = tempfile::tempdir().unwrap();
    // The validator must be able to say no, or a pass means nothing.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec: {schedule: '0 2 * * *', concurency: Forbid}\n")
        .unwrap();
    assert!(validate(&bad).is_err(), "kubernetes-validate --strict accepted an unknown field");

    for r in rendered() {
        let file = dir.path().join(format!("{}.yaml", r.name.replace('/', "-")));
        std::fs::write(&file, &r.text).unwrap();
        if let Err(report) = validate(&file) {
            panic!("{} does not validate against Kubernetes {KUBERNETES}:\n{report}", r.name);
        }
        let kinds: BTreeSet<&str> = r.objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        for kind in [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "CronJob",
            "PersistentVolumeClaim",
            "ConfigMap",
        ] {
            assert!(kinds.contains(kind), "{} renders no {kind}: {kinds:?}", r.name);
        }
        // Placeholders must never be applied over real Secrets by `apply -k`.
        assert!(!kinds.contains("Secret"), "{} renders a Secret; Secrets are created separately", r.name);
    }
    let mut templates: Vec<PathBuf> =
        std::fs::read_dir(deploy("secrets")).unwrap().map(|e| e.unwrap().path()).collect();
    templates.sort();
    for t in &templates {
        if let Err(report) = validate(t) {
            panic!("{} does not validate:\n{report}", t.display());
        }
    }
}

#[test]
fn the_base_cluster_role_only_reads_nodes_and_the_calico_resources_zoneaudit_lists() {
    let base = rendering("base");
    let role = base.one("ClusterRole", "zoneaudit-read");
    let mut granted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in role["rules"].as_array().unwrap() {
        assert!(rule.get("nonResourceURLs").is_none(), "no non-resource URLs: {rule}");
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                granted
                    .entry((group.to_string(), resource.to_string()))
                    .or_default()
                    .extend(strings(&rule["verbs"]).iter().map(|v| v.to_string()));
            }
        }
    }
    let read: BTreeSet<String> = ["get", "list", "watch"].iter().map(|s| s.to_string()).collect();
    let mut expected: Vec<(String, String)> = vec![(String::new(), "nodes".to_string())];
    for group in ["projectcalico.org", "crd.projectcalico.org"] {
        // What src/collect/live/kube lists, in both API groups it may discover.
        for resource in ["bgppeers", "bgpconfigurations", "ippools", "blockaffinities", "caliconodestatuses"]
        {
            expected.push((group.to_string(), resource.to_string()));
        }
    }
    let got: Vec<(String, String)> = granted.keys().cloned().collect();
    expected.sort();
    assert_eq!(got, expected, "the ClusterRole grants exactly these resources");
    for (what, verbs) in &granted {
        assert_eq!(verbs, &read, "{what:?}: only get, list, watch");
    }
    let binding = base.one("ClusterRoleBinding", "zoneaudit-read");
    assert_eq!(binding["roleRef"]["name"], "zoneaudit-read");
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], "zoneaudit");
    assert_eq!(binding["subjects"][0]["namespace"], "zoneaudit");
}

#[test]
fn no_rendering_grants_wildcards_and_only_the_overlays_that_ask_for_them_can_write() {
    for r in rendered() {
        for (kind, namespace, name, rule) in rbac_rules(r) {
            for field in ["apiGroups", "resources", "verbs"] {
                assert!(
                    !strings(&rule[field]).contains(&"*"),
                    "{}: {kind} {name} has a wildcard in {field}",
                    r.name
                );
            }
            let verbs = strings(&rule["verbs"]);
            let resources = strings(&rule["resources"]);
            let writes: Vec<&str> =
                verbs.iter().copied().filter(|v| !["get", "list", "watch"].contains(v)).collect();
            if writes.is_empty() {
                continue;
            }
            if resources.contains(&"pods/exec") {
                // Exec: only in bird-exec (and what builds on it), only namespaced, only in Calico's namespace.
                assert!(
                    ["overlays/bird-exec", "overlays/example-two-zones"].contains(&r.name),
                    "{}: pods/exec granted outside the bird-exec overlay ({kind} {name})",
                    r.name
                );
                assert_eq!(kind, "Role", "{}: pods/exec must be a namespaced Role, not a {kind}", r.name);
                assert_eq!(namespace, "calico-system", "{}: pods/exec only in calico-system", r.name);
                assert_eq!(resources, ["pods/exec"], "{}: the exec rule names only pods/exec", r.name);
                let mut v = verbs.clone();
                v.sort();
                assert_eq!(
                    v,
                    ["create", "get"],
                    "{}: exec needs create (get for API servers before 1.35)",
                    r.name
                );
            } else {
                assert_eq!(
                    r.name, "overlays/ephemeral-status",
                    "{}: {kind} {name} may write {resources:?}",
                    r.name
                );
                assert_eq!(
                    resources,
                    ["caliconodestatuses"],
                    "ephemeral-status writes only CalicoNodeStatus"
                );
                assert_eq!(
                    writes,
                    ["create", "delete"],
                    "ephemeral-status creates and deletes, nothing else"
                );
            }
        }
        // pods/exec appears in the text only where the Role is.
        if !["overlays/bird-exec", "overlays/example-two-zones"].contains(&r.name) {
            assert!(!r.text.contains("pods/exec"), "{} mentions pods/exec", r.name);
        }
    }
    let exec_role = rendering("overlays/bird-exec").one("Role", "zoneaudit-bird-exec");
    assert_eq!(exec_role["metadata"]["namespace"], "calico-system");
    let binding = rendering("overlays/bird-exec").one("RoleBinding", "zoneaudit-bird-exec");
    assert_eq!(binding["metadata"]["namespace"], "calico-system");
    assert_eq!(binding["subjects"][0]["name"], "zoneaudit");
    assert_eq!(
        binding["subjects"][0]["namespace"], "zoneaudit",
        "the binding names the CronJob's service account"
    );
}

#[test]
fn the_cronjob_runs_nightly_once_at_a_time_as_non_root_with_limits() {
    for r in rendered() {
        let cj = r.cronjob();
        let spec = &cj["spec"];
        assert_eq!(cj["metadata"]["namespace"], "zoneaudit", "{}", r.name);
        assert_eq!(spec["schedule"], "0 2 * * *", "{}", r.name);
        assert_eq!(spec["timeZone"], "Etc/UTC", "{}", r.name);
        assert_eq!(spec["concurrencyPolicy"], "Forbid", "{}", r.name);
        for field in ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            assert!(spec[field].as_u64().is_some_and(|n| n > 0), "{}: {field} is set", r.name);
        }
        let job = &spec["jobTemplate"]["spec"];
        assert!(job["backoffLimit"].is_u64(), "{}: backoffLimit is set", r.name);
        assert!(
            job["activeDeadlineSeconds"].as_u64().is_some_and(|n| n > 0),
            "{}: activeDeadlineSeconds",
            r.name
        );
        // A finished run (findings: 1, evidence incomplete: 3) is not repeated for the same night.
        let fail_job = &job["podFailurePolicy"]["rules"][0];
        assert_eq!(fail_job["action"], "FailJob");
        assert_eq!(fail_job["onExitCodes"]["values"], serde_json::json!([1, 3]));

        let pod = &job["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "zoneaudit");
        assert_eq!(pod["automountServiceAccountToken"], true, "zoneaudit needs the API");
        assert_eq!(pod["restartPolicy"], "Never", "podFailurePolicy needs restartPolicy Never");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["fsGroup"], 65532, "the volume must be writable for 65532");
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");

        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1);
        let c = &containers[0];
        assert_eq!(
            strings(&c["args"]),
            [
                "--config",
                "/etc/zoneaudit/zoneaudit.yaml",
                "--log-format",
                "json",
                "run",
                "--metrics-file",
                "/var/lib/zoneaudit/metrics/zoneaudit.prom"
            ]
        );
        assert!(
            c["image"].as_str().unwrap().starts_with("registry.example.com/zoneaudit:"),
            "{}",
            c["image"]
        );
        let sc = &c["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["runAsUser"], 65532);
        assert_eq!(sc["runAsGroup"], 65532);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
        assert!(sc["capabilities"].get("add").is_none(), "no capability is added back");
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        for which in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(c["resources"][which][resource].is_string(), "{}: {which}.{resource} is set", r.name);
            }
        }

        let mounts: BTreeMap<&str, &str> = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["mountPath"].as_str().unwrap(), m["name"].as_str().unwrap()))
            .collect();
        let volumes: BTreeMap<&str, &Value> =
            pod["volumes"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v)).collect();
        let volume_at =
            |path: &str| volumes[mounts.get(path).unwrap_or_else(|| panic!("nothing mounted at {path}"))];
        assert_eq!(volume_at("/var/lib/zoneaudit")["persistentVolumeClaim"]["claimName"], "zoneaudit-data");
        assert_eq!(volume_at("/etc/zoneaudit")["configMap"]["name"], r.config_map()["metadata"]["name"]);
        assert!(
            volume_at("/tmp")["emptyDir"].is_object(),
            "/tmp is an emptyDir (the root filesystem is read-only)"
        );
        for (path, secret) in SECRET_MOUNTS {
            let v = volume_at(path);
            assert_eq!(v["secret"]["secretName"], secret, "{path}");
            // 0400: zoneaudit refuses a private key that others may read.
            assert_eq!(v["secret"]["defaultMode"], 0o400, "{path}: defaultMode 0400");
        }
        assert!(
            volume_at("/secrets/signing")["secret"].get("optional").is_none(),
            "the signing key is required"
        );
        for path in mounts.keys().filter(|p| !["/var/lib/zoneaudit", "/tmp"].contains(*p)) {
            let mount =
                c["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == *path).unwrap();
            assert_eq!(mount["readOnly"], true, "{path} is mounted read-only");
        }

        let pvc = r.one("PersistentVolumeClaim", "zoneaudit-data");
        assert_eq!(strings(&pvc["spec"]["accessModes"]), ["ReadWriteOnce"]);
        assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "5Gi");
    }
}

/// Every `...File` / `publicKeys` path in a zoneaudit.yaml, with where it is.
fn file_references(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}.{k}");
                if k.ends_with("File") || k == "publicKeys" {
                    match child {
                        Value::String(s) => out.push((here, s.clone())),
                        Value::Array(items) => out.extend(
                            items.iter().filter_map(Value::as_str).map(|s| (here.clone(), s.to_string())),
                        ),
                        _ => {}
                    }
                } else {
                    file_references(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                file_references(child, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The keys of each Secret template, by Secret name.
fn secret_template_keys() -> BTreeMap<String, BTreeSet<String>> {
    let mut keys = BTreeMap::new();
    for entry in std::fs::read_dir(deploy("secrets")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let secret: Value = serde_saphyr::from_str(&text).unwrap();
        let name = secret["metadata"]["name"].as_str().unwrap().to_string();
        keys.insert(name, secret["stringData"].as_object().unwrap().keys().cloned().collect());
    }
    keys
}

#[test]
fn the_configmap_config_loads_as_zoneaudit_settings_and_its_secret_files_are_mounted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secrets = secret_template_keys();
    for r in rendered() {
        let data = r.config_map()["data"].as_object().unwrap();
        let keys: Vec<&String> = data.keys().collect();
        assert_eq!(keys, ["zone-isolation.yaml", "zoneaudit.yaml"], "{}: the ConfigMap's files", r.name);
        // The ConfigMap as the pod sees it: its keys as files in one directory.
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in data {
            std::fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
        }
        let settings = zoneaudit::config::Settings::load(&dir.path().join("zoneaudit.yaml"))
            .unwrap_or_else(|e| panic!("{}: zoneaudit.yaml does not load: {e}", r.name));
        assert!(
            settings.database.as_ref().unwrap().starts_with("/var/lib/zoneaudit"),
            "{}: the database is on the volume",
            r.name
        );
        let signing =
            settings.signing.as_ref().unwrap_or_else(|| panic!("{}: reports must be signed", r.name));
        assert_eq!(signing.key_file, Path::new("/secrets/signing/zoneaudit.key"));
        let calico = settings.sources.iter().find(|s| s.name == "calico").expect("a calico source");
        assert!(
            matches!(calico.transport, zoneaudit::config::Transport::Kubernetes(_)),
            "{}: Calico through the API",
            r.name
        );
        // The rule pack named in the config is the shipped one, found next to the config.
        let packs = zoneaudit::rules::load_packs(&settings.rule_packs)
            .unwrap_or_else(|e| panic!("{}: the rule packs do not load: {e}", r.name));
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].pack.name, "zone-isolation");
        assert_eq!(
            packs[0].pack.rules.len(),
            zoneaudit::rules::load_packs(&[zoneaudit::config::RulePackRef::Builtin("zone-isolation".into())])
                .unwrap()[0]
                .pack
                .rules
                .len()
        );

        // Every secret file the config names is in a mounted Secret that has that key.
        let raw: Value = serde_saphyr::from_str(data["zoneaudit.yaml"].as_str().unwrap()).unwrap();
        let mut refs = Vec::new();
        file_references(&raw, "", &mut refs);
        assert!(refs.iter().any(|(_, p)| p == "/secrets/signing/zoneaudit.key"), "{refs:?}");
        for (at, path) in &refs {
            let (mount, secret) = SECRET_MOUNTS
                .iter()
                .find(|(m, _)| path.starts_with(&format!("{m}/")))
                .unwrap_or_else(|| panic!("{}: {at} = {path} is not under a mounted Secret", r.name));
            let key = &path[mount.len() + 1..];
            assert!(
                secrets.get(*secret).is_some_and(|k| k.contains(key)),
                "{}: {at} = {path}: Secret {secret} (deploy/secrets/) has no key {key}",
                r.name
            );
        }
    }
    let two =
        rendering("overlays/example-two-zones").config_map()["data"]["zoneaudit.yaml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("zoneaudit.yaml"), two).unwrap();
    let settings = zoneaudit::config::Settings::load(&dir.path().join("zoneaudit.yaml")).unwrap();
    let zones: Vec<&str> = settings.zones.keys().map(String::as_str).collect();
    assert_eq!(zones, ["blue", "yellow"]);
    for z in settings.zones.values() {
        assert!(
            !z.prefixes.is_empty() && !z.route_reflectors.is_empty() && z.vrf.is_some(),
            "zone {} is complete",
            z.name
        );
    }
    assert!(
        settings.sources.iter().any(|s| matches!(s.transport, zoneaudit::config::Transport::Exec(_))),
        "the example reads BIRD by exec, which is why it builds on bird-exec"
    );
}

#[test]
fn the_shipped_rule_pack_copy_is_byte_identical_to_rules() {
    let shipped = std::fs::read(repo().join("rules/zone-isolation.yaml")).unwrap();
    let copy = std::fs::read(deploy("base/zone-isolation.yaml")).unwrap();
    assert!(
        shipped == copy,
        "deploy/base/zone-isolation.yaml differs from rules/zone-isolation.yaml: \
         cp rules/zone-isolation.yaml deploy/base/"
    );
}

#[test]
fn secret_templates_hold_placeholders_only() {
    for entry in std::fs::read_dir(deploy("secrets")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let secret: Value = serde_saphyr::from_str(&text).unwrap();
        let shown = path.display();
        assert_eq!(secret["kind"], "Secret", "{shown}");
        assert_eq!(secret["metadata"]["namespace"], "zoneaudit", "{shown}");
        assert!(secret.get("data").is_none(), "{shown}: stringData, not base64 data");
        let values = secret["stringData"].as_object().unwrap_or_else(|| panic!("{shown}: stringData"));
        assert!(!values.is_empty());
        for (key, value) in values {
            assert!(
                value.as_str().unwrap().contains("REPLACE_ME"),
                "{shown}: {key} is not a REPLACE_ME placeholder"
            );
        }
        assert!(!text.contains("PRIVATE KEY-----\n    M"), "{shown}: a real key in a template");
    }
    let names: BTreeSet<String> = secret_template_keys().into_keys().collect();
    let mounted: BTreeSet<String> = SECRET_MOUNTS.iter().map(|(_, s)| s.to_string()).collect();
    assert_eq!(names, mounted, "a template for every Secret the CronJob mounts, and no other");
}

/// The Dockerfile's instructions, continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let (word, rest) = pending.split_once(' ').unwrap_or((&pending, ""));
        out.push((word.to_uppercase(), rest.trim().to_string()));
        pending.clear();
    }
    out
}

#[test]
fn the_dockerfile_copies_what_the_repository_has_and_runs_as_non_root() {
    let steps = dockerfile();
    let from: Vec<&str> = steps.iter().filter(|(w, _)| w == "FROM").map(|(_, r)| r.as_str()).collect();
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap();
    assert_eq!(
        from,
        [format!("rust:{rust_version}-bookworm AS build").as_str(), "gcr.io/distroless/cc-debian12:nonroot"]
    );
    assert!(!steps.iter().any(|(w, _)| w == "ADD"), "ADD fetches URLs and unpacks archives; COPY only");
    assert!(
        steps.iter().any(|(w, r)| w == "RUN" && r.contains("cargo build --release --locked")),
        "the binary is built from Cargo.lock"
    );
    let ignore = std::fs::read_to_string(deploy("Dockerfile.dockerignore")).unwrap();
    let runtime_at = steps.iter().rposition(|(w, _)| w == "FROM").unwrap();
    for (i, (word, rest)) in steps.iter().enumerate() {
        if word != "COPY" || rest.starts_with("--from=") {
            continue;
        }
        let mut parts: Vec<&str> = rest.split_whitespace().filter(|p| !p.starts_with("--")).collect();
        parts.pop(); // the destination
        for source in parts {
            let path = repo().join(source);
            assert!(path.exists(), "COPY {source}: not in the repository");
            let top = source.trim_end_matches('/');
            assert!(
                ignore.lines().any(|l| l.trim() == format!("!{top}") || l.trim() == format!("!{top}/")),
                "COPY {source}: excluded from the build context by Dockerfile.dockerignore"
            );
            if i > runtime_at {
                assert_eq!(top, "rules", "the runtime image gets the binary and rules/ only");
            }
        }
    }
    let runtime_copies: Vec<&str> =
        steps[runtime_at..].iter().filter(|(w, _)| w == "COPY").map(|(_, r)| r.as_str()).collect();
    assert_eq!(runtime_copies.len(), 2, "the binary and rules/: {runtime_copies:?}");
    let user = steps.iter().rev().find(|(w, _)| w == "USER").map(|(_, r)| r.as_str()).expect("a USER");
    assert_eq!(user, "65532:65532", "the uid/gid the manifests run as");
    assert!(steps.iter().any(|(w, r)| w == "ENTRYPOINT" && r.contains("zoneaudit")));
}

#[test]
fn the_kubernetes_objects_in_the_deploy_guide_validate() {
    let guide = std::fs::read_to_string(repo().join("docs/DEPLOY.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some(String::new()),
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
    let objects: Vec<&String> = blocks.iter().filter(|b| b.contains("apiVersion:")).collect();
    assert!(!objects.is_empty(), "the guide shows the inspect pod");
    let dir = tempfile::tempdir().unwrap();
    for (i, block) in objects.iter().enumerate() {
        let file = dir.path().join(format!("guide-{i}.yaml"));
        std::fs::write(&file, block).unwrap();
        if let Err(report) = validate(&file) {
            panic!("docs/DEPLOY.md yaml block {i} does not validate:\n{report}\n{block}");
        }
        // What the guide applies must pass the namespace's `restricted` Pod Security level too.
        let pod: Value = serde_saphyr::from_str(block).unwrap();
        if pod["kind"] == "Pod" {
            assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
            for c in pod["spec"]["containers"].as_array().unwrap() {
                assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
                assert_eq!(strings(&c["securityContext"]["capabilities"]["drop"]), ["ALL"]);
            }
        }
    }
}
