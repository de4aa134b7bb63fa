//! Criterion benches of the firewall log hot path (issue 4, point 6):
//!
//! - `panos_parse_line/*`: `firewall::parse_line(LogFormat::Panos, line)` on one realistic
//!   TRAFFIC line (115 fields, RFC 3164 envelope): ns per line, for the plain case, for a line
//!   with a quoted field (the slow path of the CSV split) and over a 100k-line mix.
//! - `panos_aggregate/*`: `FlowAggregator` over 100k generated lines held in memory: lines/s of
//!   parse + zone attribution + aggregation, without the file system (compare with
//!   `bench/ingest.sh`, which times the whole process on a file).
//!
//! The lines come from a small deterministic generator with the mix of `bench/gen-panos.py`: two
//! firewalls, the demo estate's three zones (10.10/16, 10.20/16, 10.30/16) plus an outside zone,
//! 12 rules, allow / deny / drop / reset, tcp and udp services, about 1% quoted source users.
//!
//! Run: `cargo bench --bench firewall` (about a minute); one group: `cargo bench --bench firewall
//! -- panos_aggregate`.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use zoneaudit::collect::firewall::{FlowAggregator, LineOutcome, LogFormat, parse_line};

const LINES: usize = 100_000;

const ZONES: [(&str, &str, [u8; 2]); 3] = [
    ("trust-yellow", "ethernet1/3.10", [10, 10]),
    ("trust-blue", "ethernet1/3.20", [10, 20]),
    ("trust-green", "ethernet1/3.30", [10, 30]),
];
/// (rule, from zone, to zone, action); `None` = any inside zone, `Some(3)` = outside.
const RULES: [(&str, Option<usize>, Option<usize>, &str); 12] = [
    ("yellow-to-blue-api", Some(0), Some(1), "allow"),
    ("blue-to-green-db", Some(1), Some(2), "allow"),
    ("green-to-yellow-ldap", Some(2), Some(0), "allow"),
    ("yellow-intra", Some(0), Some(0), "allow"),
    ("blue-intra", Some(1), Some(1), "allow"),
    ("green-intra", Some(2), Some(2), "allow"),
    ("inside-dns-ntp", None, None, "allow"),
    ("inside-egress-https", None, Some(3), "allow"),
    ("green-to-blue-block", Some(2), Some(1), "drop"),
    ("blue-to-yellow-block", Some(1), Some(0), "deny"),
    ("legacy-ssh-reset", Some(0), Some(2), "reset both"),
    ("interzone-default", None, None, "deny"),
];
const SERVICES: [(&str, u16, &str); 12] = [
    ("tcp", 443, "ssl"),
    ("tcp", 80, "web-browsing"),
    ("tcp", 8443, "ssl"),
    ("tcp", 22, "ssh"),
    ("tcp", 5432, "postgres"),
    ("tcp", 3306, "mysql"),
    ("tcp", 389, "ldap"),
    ("tcp", 9092, "kafka"),
    ("tcp", 6379, "redis"),
    ("udp", 53, "dns"),
    ("udp", 123, "ntp"),
    ("udp", 514, "syslog"),
];
const APP_TAIL: &str = ",,,encrypted-tunnel,networking,browser-based,4,used-by-malware able-to-transfer-file \
     has-known-vulnerability tunnel-other-application pervasive-use,,ssl,no,no,0";
const PLAIN_TAIL: &str = ",,,,,,,,,,,,0";

/// SplitMix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Line `n` of the generated log; `quoted` forces an LDAP DN (commas inside quotes) as source user.
fn traffic_line(rng: &mut Rng, n: usize, quoted: bool) -> String {
    let r = rng.next();
    let pick = |shift: u32, len: usize| ((r >> shift) as usize) % len;
    let (fw, serial) =
        if r & 1 == 0 { ("fw-core-01", "013201028945") } else { ("fw-core-02", "013201028946") };
    let (rule, from, to, action) = RULES[pick(1, RULES.len())];
    let from = from.unwrap_or(pick(5, 3));
    let to = to.unwrap_or(pick(7, 3));
    let (proto, dport, app) = SERVICES[pick(9, SERVICES.len())];
    let host = |z: [u8; 2], shift: u32| {
        format!("{}.{}.{}.{}", z[0], z[1], pick(shift, 32), 1 + pick(shift + 5, 254))
    };
    let (from_zone, in_if, prefix) = ZONES[from];
    let src = host(prefix, 13);
    let (to_zone, out_if, dst, nat_src) = match ZONES.get(to) {
        Some(&(zone, ifname, prefix)) => (zone, ifname, host(prefix, 23), "0.0.0.0"),
        None => ("untrust", "ethernet1/1", format!("203.0.113.{}", 1 + pick(23, 254)), "198.51.100.7"),
    };
    let allowed = action == "allow";
    let subtype = match action {
        "allow" if (r >> 33) & 1 == 0 => "start",
        "allow" => "end",
        "drop" => "drop",
        _ => "deny",
    };
    let end_reason = match (subtype, proto) {
        ("start", _) => "n/a",
        ("end", "udp") => "aged-out",
        ("end", _) => "tcp-fin",
        _ => "policy-deny",
    };
    let (sent, recv) = if allowed { (74 + (r >> 40) % 20_000, (r >> 50) % 60_000) } else { (74, 0) };
    let log_app = if allowed { app } else { "incomplete" };
    let tail = if allowed && app == "ssl" { APP_TAIL } else { PLAIN_TAIL };
    let user = if quoted { "\"cn=svc-backup,ou=service,dc=corp,dc=example\"" } else { "" };
    let secs = n / 20;
    let clock = format!("{:02}:{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let stamp = format!("2024/07/16 {clock}");
    let sport = 1024 + (r >> 37) % 64_000;
    format!(
        "<14>Jul 16 {clock} {fw} 1,{stamp},{serial},TRAFFIC,{subtype},2561,{stamp},{src},{dst},{nat_src},0.0.0.0,\
         {rule},{user},,{log_app},vsys1,{from_zone},{to_zone},{in_if},{out_if},fwd-to-siem,{stamp},{session},1,\
         {sport},{dport},0,0,0x400019,{proto},{action},{bytes},{sent},{recv},{pkts},{stamp},0,any,,{seqno},\
         0x8000000000000000,10.0.0.0-10.255.255.255,10.0.0.0-10.255.255.255,,1,0,{end_reason},0,0,0,0,,{fw},\
         from-policy,,,0,,0,,N/A,0,0,0,0,6a1e0c2b-3f5d-4c61-9f0e-2d4f7a9b{rule_id:04x},0,0,,0,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\
         2024-07-16T{clock}.{ms:03}+00:00{tail}",
        session = 384_000 + n,
        bytes = sent + recv,
        pkts = 1 + (sent + recv) / 600,
        seqno = 7_253_419_119_627_000_000u64 + n as u64,
        rule_id = pick(1, RULES.len()),
        ms = n * 37 % 1000,
    )
}

/// `LINES` newline-terminated lines, about 1% with a quoted field.
fn generated_log() -> Vec<u8> {
    let mut rng = Rng(4);
    let mut out = Vec::with_capacity(LINES * 700);
    for n in 0..LINES {
        let quoted = n % 100 == 37;
        out.extend_from_slice(traffic_line(&mut rng, n, quoted).as_bytes());
        out.push(b'\n');
    }
    out
}

/// The demo estate's zone model by address prefix (a stand-in for the pipeline's prefix trie; the
/// aggregator caches one answer per address anyway).
fn attribute(addr: IpAddr) -> Option<String> {
    let IpAddr::V4(v4) = addr else { return None };
    let [a, b, ..] = v4.octets();
    match (a, b) {
        (10, 10) => Some("yellow".to_string()),
        (10, 20) => Some("blue".to_string()),
        (10, 30) => Some("green".to_string()),
        _ => None,
    }
}

fn assert_parses(line: &str) {
    match parse_line(LogFormat::Panos, line) {
        LineOutcome::Event(_) => {}
        other => panic!("generated line not understood ({other:?}): {line}"),
    }
}

fn bench_parse_line(c: &mut Criterion) {
    let mut rng = Rng(4);
    let plain = traffic_line(&mut rng, 0, false);
    let quoted = traffic_line(&mut rng, 1, true);
    assert_parses(&plain);
    assert_parses(&quoted);
    let log = generated_log();
    let text = std::str::from_utf8(&log).expect("generated log is ASCII");
    let lines: Vec<&str> = text.lines().collect();

    let mut group = c.benchmark_group("panos_parse_line");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    group.bench_function("plain_115_fields", |b| {
        b.iter(|| black_box(parse_line(LogFormat::Panos, black_box(&plain))))
    });
    group.bench_function("quoted_src_user", |b| {
        b.iter(|| black_box(parse_line(LogFormat::Panos, black_box(&quoted))))
    });
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20).sampling_mode(SamplingMode::Flat);
    group.bench_function("mix_100k_lines", |b| {
        b.iter(|| {
            let mut events = 0usize;
            for line in &lines {
                if let LineOutcome::Event(e) = parse_line(LogFormat::Panos, line) {
                    events += black_box(e).dst_port as usize & 1;
                }
            }
            events
        })
    });
    group.finish();
}

fn bench_aggregate(c: &mut Criterion) {
    let log = generated_log();
    let mut check = FlowAggregator::new(LogFormat::Panos);
    check.ingest(log.as_slice(), &attribute).expect("in-memory read");
    assert_eq!(check.events(), LINES as u64, "every generated line is a TRAFFIC event");

    let mut group = c.benchmark_group("panos_aggregate");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    group.sample_size(20).sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("100k_lines_zone_attributed", |b| {
        b.iter(|| {
            let mut agg = FlowAggregator::new(LogFormat::Panos);
            agg.ingest(black_box(log.as_slice()), &attribute).expect("in-memory read");
            agg.finish()
        })
    });
    group.bench_function("100k_lines_unattributed", |b| {
        b.iter(|| {
            let mut agg = FlowAggregator::new(LogFormat::Panos);
            agg.ingest(black_box(log.as_slice()), &|_| None).expect("in-memory read");
            agg.finish()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse_line, bench_aggregate);
criterion_main!(benches);
