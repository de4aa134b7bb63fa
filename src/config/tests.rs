use super::*;

const GOOD: &str = r#"
cluster: prod-dc1
zones:
  yellow:
    prefixes: [10.10.0.0/16, 172.31.10.0/24, "fd00:10::/48"]
    nodeSelector: "zone == 'yellow'"
    routeReflectors: [172.31.10.5, 172.31.10.6]
    vrf: YELLOW
    vrfOverrides: { leaf2: Y }
    firewallZones: [trust-yellow]
  blue:
    prefixes: [10.20.0.0/16, 172.31.20.0/24]
    nodeSelector: "zone == 'blue'"
    routeReflectors: [172.31.20.5]
    vrf: BLUE
    firewallZones: [trust-blue]
shared: [0.0.0.0/0]
allowedFlows:
  - { from: yellow, to: blue, ports: [443/tcp], rule: yellow-to-blue-https }
sources:
  - { name: calico, kind: calico, files: [inputs/calico] }
  - { name: leaf1, kind: eos, files: [inputs/leaf1.json] }
rulePacks: [builtin:zone-isolation, rules/extra.yaml]
signing: { keyFile: keys/zoneaudit.key }
"#;

fn load(text: &str) -> Result<Settings, ConfigError> {
    Settings::from_yaml(text, "zoneaudit.yaml", Path::new("/etc/za"))
}

fn err(text: &str) -> String {
    load(text).expect_err("config must be rejected").to_string()
}

#[test]
fn valid_config_is_validated_into_types() {
    let s = load(GOOD).unwrap();
    assert_eq!(s.cluster, "prod-dc1");
    assert_eq!(s.zones.len(), 2);
    let y = &s.zones["yellow"];
    assert_eq!(y.prefixes.len(), 3);
    assert_eq!(y.vrf_on("leaf1"), Some("YELLOW"));
    assert_eq!(y.vrf_on("leaf2"), Some("Y"));
    assert_eq!(s.zone_of_vrf("leaf2", "Y"), Some("yellow"));
    assert_eq!(s.zone_map.zone_of_addr("10.20.1.1".parse().unwrap()), Some("blue"));
    assert_eq!(s.zone_map.zone_of_addr("fd00:10::1".parse().unwrap()), Some("yellow"));
    assert_eq!(s.zone_of_firewall_zone("trust-blue"), Some("blue"));
    assert_eq!(s.zone_of_route_reflector("172.31.10.6".parse().unwrap()), Some("yellow"));
    assert!(s.approved_flow("yellow", "blue", "tcp", 443).is_some());
    assert!(s.approved_flow("yellow", "blue", "tcp", 22).is_none());
    assert!(s.approved_flow("blue", "yellow", "tcp", 443).is_none());
    assert_eq!(s.sources[0].files()[0], Path::new("/etc/za/inputs/calico"));
    assert_eq!(s.sources[1].observer, "leaf1");
    assert_eq!(
        s.rule_packs,
        vec![
            RulePackRef::Builtin("zone-isolation".into()),
            RulePackRef::File("/etc/za/rules/extra.yaml".into())
        ]
    );
    let signing = s.signing.clone().unwrap();
    assert_eq!(signing.public_keys, vec![PathBuf::from("/etc/za/keys/zoneaudit.pub")]);
    let labels = [("zone".to_string(), "blue".to_string())].into_iter().collect();
    assert_eq!(s.zones_by_labels(&labels), vec!["blue"]);
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let e = err(&GOOD.replace("    vrf: BLUE", "    vfr: BLUE"));
    assert!(e.starts_with("zoneaudit.yaml: "), "{e}");
    assert!(e.contains("line 15"), "{e}");
    assert!(e.contains("unknown field `vfr`"), "{e}");
}

#[test]
fn invalid_cidr_names_line_and_field() {
    let e = err(&GOOD.replace("10.20.0.0/16", "10.20.0/16"));
    assert_eq!(e, "zoneaudit.yaml: line 12: zones.blue.prefixes[0]: invalid CIDR \"10.20.0/16\"");
}

#[test]
fn host_bits_are_rejected_with_a_hint() {
    let e = err(&GOOD.replace("10.20.0.0/16", "10.20.0.1/16"));
    assert!(
        e.contains(
            "line 12: zones.blue.prefixes[0]: 10.20.0.1/16 has host bits set (did you mean 10.20.0.0/16?)"
        ),
        "{e}"
    );
}

#[test]
fn undeclared_zone_in_allowed_flows_is_named() {
    let e = err(&GOOD.replace("to: blue", "to: green"));
    assert_eq!(
        e,
        "zoneaudit.yaml: line 19: allowedFlows[0].to: zone \"green\" is not declared (zones: blue, yellow)"
    );
}

#[test]
fn overlapping_zone_prefixes_name_both_places() {
    let e = err(&GOOD.replace("10.20.0.0/16, 172.31.20.0/24", "10.20.0.0/16, 10.10.128.0/17"));
    assert!(e.contains("zones.yellow.prefixes"), "{e}");
    assert!(e.contains("overlaps"), "{e}");
    assert!(e.contains("zone prefixes must be disjoint"), "{e}");
}

#[test]
fn route_reflector_outside_its_zone_is_rejected() {
    let e = err(&GOOD.replace("routeReflectors: [172.31.20.5]", "routeReflectors: [172.31.10.9]"));
    assert_eq!(
        e,
        "zoneaudit.yaml: line 14: zones.blue.routeReflectors: 172.31.10.9 is not inside the prefixes of zone blue"
    );
}

#[test]
fn bad_selector_port_kind_and_duplicate_firewall_zone() {
    assert!(
        err(&GOOD.replace("\"zone == 'blue'\"", "\"zone == \"")).contains("line 13: zones.blue.nodeSelector")
    );
    assert!(err(&GOOD.replace("443/tcp", "443/tpc")).contains("allowedFlows[0].ports[0]: invalid port"));
    assert!(
        err(&GOOD.replace("kind: eos", "kind: vyos"))
            .contains("sources[1].kind: unknown source kind \"vyos\"")
    );
    assert!(err(&GOOD.replace("[trust-blue]", "[trust-yellow]")).contains("already declared for zone"));
}

#[test]
fn missing_file_names_the_path() {
    let e = Settings::load(Path::new("/nonexistent/zoneaudit.yaml")).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/zoneaudit.yaml: "), "{e}");
}

#[test]
fn live_transports_are_validated() {
    let with =
        |source: &str| GOOD.replace("  - { name: leaf1, kind: eos, files: [inputs/leaf1.json] }", source);
    let s =
        load(&with("  - { name: leaf1, kind: eos, url: https://leaf1/command-api, passwordEnv: LEAF1_PW }"))
            .unwrap();
    match &s.sources[1].transport {
        Transport::Http(h) => {
            assert_eq!(h.password, Some(SecretRef::Env("LEAF1_PW".into())));
            assert!(!h.insecure_skip_verify, "TLS is verified unless said otherwise");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err(&with("  - { name: leaf1, kind: eos, url: https://x, files: [a.json] }"))
            .contains("sources[1]: has several transports (files, url); give exactly one")
    );
    assert!(err(&with("  - { name: leaf1, kind: eos }")).contains("needs one transport"));
    assert!(
        err(&with("  - { name: leaf1, kind: eos, socket: /run/bird.ctl }"))
            .contains("a eos source cannot use the socket transport")
    );
    assert!(err(&with("  - { name: leaf1, kind: eos, url: ftp://x }")).contains("is not an http(s) URL"));
    assert!(
        err(&with("  - { name: r, kind: bird, socket: /s, timeout: 5 parsecs }"))
            .contains("invalid duration")
    );
    let k = "  - { name: c, kind: calico, timeout: 20s, kubernetes: { nodeStatus: { strategy: ephemeral, nodes: [a], timeout: 30s } } }";
    assert!(err(&with(k)).contains(
        "sources[1].kubernetes.nodeStatus.timeout: 30s must be shorter than the source's timeout (20s)"
    ));
    let e = err(&with("  - { name: c, kind: calico, kubernetes: { nodeStatus: { strategy: ephemeral } } }"));
    assert!(e.contains("needs the nodes"), "{e}");
}

#[test]
fn retention_defaults_to_400_days_and_a_bad_duration_names_its_line() {
    assert_eq!(load(GOOD).unwrap().retention_keep, std::time::Duration::from_secs(400 * 86400));
    let s = load(&format!("{GOOD}retention: {{ keep: 90d }}\n")).unwrap();
    assert_eq!(s.retention_keep, std::time::Duration::from_secs(90 * 86400));
    let e = err(&format!("{GOOD}retention: {{ keep: forever }}\n"));
    assert!(e.starts_with("zoneaudit.yaml: line 25: retention.keep: invalid duration \"forever\""), "{e}");
}

#[test]
fn alert_channels_are_validated_with_line_and_field() {
    let channel = |body: &str| format!("{GOOD}alerts:\n  channels:\n{body}");
    let ok = load(&channel(
        "    - { name: mail, type: email, smtp: \"smtps://mail.example.com\", from: za@example.com, to: [a@example.com] }\n    - { name: hook, type: webhook, format: alertmanager, url: \"https://am.example.com/hook\", zones: [yellow] }\n",
    ))
    .unwrap();
    assert_eq!(ok.alerts.channels.len(), 2);
    match &ok.alerts.channels[0].target {
        Target::Email(e) => {
            assert_eq!((e.host.as_str(), e.port, e.tls), ("mail.example.com", 465, SmtpTls::Implicit))
        }
        other => panic!("{other:?}"),
    }
    let e =
        err(&channel("    - { name: hook, type: webhook, url: \"https://x.example/h\", zones: [purple] }\n"));
    assert!(e.contains("alerts.channels[0].zones: \"purple\" is not a declared zone"), "{e}");
    let e = err(&channel(
        "    - { name: m, type: email, smtp: \"smtp://h:25\", tls: none, from: a@b.c, to: [d@e.f], username: u, passwordEnv: P }\n",
    ));
    assert!(e.contains("refusing to send a password without TLS"), "{e}");
    let e = err(&channel("    - { name: hook, type: webhook, url: \"ftp://secret-token@x\" }\n"));
    assert!(e.contains("alerts.channels[0].url: not an http(s) URL") && !e.contains("secret-token"), "{e}");
}
