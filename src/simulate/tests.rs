use std::collections::BTreeMap;
use std::path::Path;

use super::*;

fn options(dir: &Path, seed: u64) -> SimulateOptions {
    SimulateOptions {
        seed,
        first_night: NaiveDate::from_ymd_opt(2026, 11, 24),
        ..SimulateOptions::new(Scale::S, dir)
    }
}

/// Every file under `dir` except the (random) keys, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == "keys" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn the_same_seed_writes_the_same_bytes_and_another_seed_other_bytes() {
    let (a, b, c) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    simulate(&options(a.path(), 7)).unwrap();
    simulate(&options(b.path(), 7)).unwrap();
    simulate(&options(c.path(), 8)).unwrap();
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(
        fa.contains_key("inputs/panos/fw-core.log") && fa.contains_key("expected.json"),
        "{:?}",
        fa.keys()
    );
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (path, bytes) in &fa {
        assert!(fb[path] == *bytes, "{path} differs between two runs with seed 7");
    }
    assert_ne!(fa["inputs/panos/fw-core.log"], fc["inputs/panos/fw-core.log"]);
    assert_ne!(fa["expected.json"], fc["expected.json"], "the anomalies are placed by the seed");
}

#[test]
fn scale_s_has_the_declared_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(&options(dir.path(), 1)).unwrap();
    assert_eq!((summary.zones, summary.nodes, summary.route_reflectors), (3, 60, 6));
    assert_eq!(summary.routes, 5_000);
    assert_eq!(summary.expected_findings, 3);

    let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
    let nodes: serde_json::Value = serde_json::from_str(&read("inputs/calico/nodes.json")).unwrap();
    assert_eq!(nodes["items"].as_array().unwrap().len(), 60);

    let log = read("inputs/panos/fw-core.log");
    assert_eq!(log.lines().count(), 20_000);
    let fields = log.lines().next().unwrap().split_once(" fw-core ").unwrap().1.split(',').count();
    assert_eq!(fields, 115, "a PAN-OS 10.x TRAFFIC line has 115 fields");

    let mut vrf_routes = 0;
    for leaf in ["leaf1", "leaf2"] {
        let doc: serde_json::Value =
            serde_json::from_str(&read(&format!("inputs/eos/{leaf}-routes.json"))).unwrap();
        for (vrf, table) in doc["result"][0]["vrfs"].as_object().unwrap() {
            if vrf != "default" {
                vrf_routes += table["routes"].as_object().unwrap().len();
            }
        }
    }
    assert_eq!(vrf_routes, 5_000);
    let birds = std::fs::read_dir(dir.path().join("inputs/bird")).unwrap().count();
    assert_eq!(birds, 6);

    let expected: Vec<serde_json::Value> = serde_json::from_str(&read("expected.json")).unwrap();
    let rules: Vec<&str> = expected.iter().map(|e| e["ruleId"].as_str().unwrap()).collect();
    assert_eq!(rules, ["ZI-CROSS-ZONE-SESSION", "ZI-ROUTE-LEAK", "ZI-UNAPPROVED-FLOW"]);
    assert!(read("zoneaudit.yaml").contains("cluster: sim-s\n"));
}

#[test]
fn later_nights_churn_routes_but_keep_the_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SimulateOptions { nights: 3, churn: 0.01, ..options(dir.path(), 3) };
    let summary = simulate(&opts).unwrap();
    assert_eq!(summary.nights, 3);
    let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
    assert!(read("zoneaudit.yaml").contains("nights/1/inputs/calico"));
    assert!(read("nights/2/zoneaudit.yaml").contains("database: ../../zoneaudit.db"));
    let (r1, r2) =
        (read("nights/1/inputs/eos/leaf1-routes.json"), read("nights/2/inputs/eos/leaf1-routes.json"));
    let prefixes = |text: &str| {
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        doc["result"][0]["vrfs"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|t| t["routes"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let (p1, p2) = (prefixes(&r1), prefixes(&r2));
    assert_eq!(p1.len(), p2.len());
    let changed = p1.difference(&p2).count();
    // 1 % of about 800 host routes in each of three VRFs.
    assert!((15..=30).contains(&changed), "{changed} routes changed");
    assert_ne!(read("nights/1/inputs/panos/fw-core.log"), read("nights/2/inputs/panos/fw-core.log"));
    let expected: Vec<serde_json::Value> = serde_json::from_str(&read("expected.json")).unwrap();
    for e in expected.iter().filter(|e| e["ruleId"] == "ZI-ROUTE-LEAK") {
        let prefix = e["subject"].as_str().unwrap().splitn(3, '/').nth(2).unwrap().to_string();
        assert!(p2.contains(&prefix), "leak {prefix} is still there on night 2");
    }
}

#[test]
fn a_directory_with_a_database_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("zoneaudit.db"), b"x").unwrap();
    assert!(matches!(simulate(&options(dir.path(), 1)), Err(SimulateError::NotEmpty(_))));
    assert_eq!(std::fs::read(dir.path().join("zoneaudit.db")).unwrap(), b"x");
}

#[test]
fn night_by_night_writes_the_same_series_as_all_at_once() {
    let (all, one) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let series = SimulateOptions { nights: 3, churn: 0.01, ..options(all.path(), 5) };
    simulate(&series).unwrap();
    for k in [1, 2, 3] {
        let opts = SimulateOptions { out: one.path().to_path_buf(), only_night: Some(k), ..series.clone() };
        simulate(&opts).unwrap();
        if k == 2 {
            // What a long series does to save disk: drop a night once it has been run.
            std::fs::remove_dir_all(one.path().join("nights/1")).unwrap();
        }
    }
    let (fa, fo) = (files(all.path()), files(one.path()));
    for (path, bytes) in &fo {
        assert!(fa.get(path) == Some(bytes), "{path} differs from the series written at once");
    }
    assert!(fo.contains_key("nights/3/inputs/eos/leaf1-routes.json") && fo.contains_key("expected.json"));
    assert!(!fo.keys().any(|p| p.starts_with("nights/1/")));
    assert_eq!(fo.len() + fa.keys().filter(|p| p.starts_with("nights/1/")).count(), fa.len());

    let stray = SimulateOptions { only_night: Some(4), ..series.clone() };
    assert!(matches!(simulate(&stray), Err(SimulateError::NightOutOfRange { night: 4, nights: 3 })));
}
