//! Linux netfilter `LOG` target lines (iptables `-j LOG`, nftables `log` without `group`; the
//! kernel's `nf_log_syslog` format) → firewall events.
//!
//! ```text
//!  Jul 16 10:15:07 gw-linux-01 kernel: [4276041.728154] ZA:DROP:DEV>PROD IN=ens4.120 OUT=ens4.110 MAC=… SRC=10.30.0.80 DST=10.20.0.71 LEN=60 … PROTO=TCP SPT=40112 DPT=5432 …
//!  └──── syslog header ──────┘ └tag──┘ └uptime─────────┘ └─prefix───────┘ └──────────────── KEY=value and bare flags ──────────────────────────────────────────┘
//! ```
//!
//! The kernel prints the rule's log prefix verbatim, directly before `IN=`, and says nothing else
//! about the rule or its verdict (`LOG` is not a terminating target). So zoneaudit reads rule,
//! verdict and zones from a prefix convention:
//!
//! ## The `ZA:` log prefix convention
//!
//! ```text
//!  ZA:<ACTION>:<FROM>><TO>␠      e.g.  iptables -A FORWARD -i ens4.120 -o ens4.110 \
//!                                          -j LOG --log-prefix "ZA:DROP:DEV>PROD "
//! ```
//!
//! * `<ACTION>` is the verdict of the rule that follows the `LOG` rule: `ACCEPT` → `allow`,
//!   `DROP` → `drop`, `REJECT` → `reject`; any other word is kept, lower case.
//! * `<FROM>><TO>` are the firewall zones the rule sits between, as the zone catalogue's
//!   `firewallZones` names them. Without a `>` (`ZA:DROP:INPUT`) or with an empty side, that side's
//!   zone is the interface (`IN=` / `OUT=`).
//! * The rule reported is the whole prefix (`ZA:DROP:DEV>PROD`), trailing space dropped.
//! * End the prefix with a space; iptables allows 29 characters, nftables 127.
//!
//! Lines without the `ZA:` prefix are still read: zones are the `IN=` / `OUT=` interfaces, the
//! rule is whatever prefix there is (possibly empty), and the action is `log` — the line proves
//! the packet was seen, not what became of it, so it never counts as allowed or denied.
//!
//! An empty `IN=` (locally generated, OUTPUT chain) or `OUT=` (delivered locally, INPUT chain)
//! stands for the gateway itself: zone `local`. Each line is one logged packet: count 1, bytes =
//! the IP `LEN=`. ICMP has no ports (port 0). The ICMP error payload that the kernel appends in
//! `[…]` is skipped, so its inner `SRC=`/`DST=` never replace the outer ones. Firewall = syslog host.

use std::net::IpAddr;

use crate::collect::firewall::{
    Action, EventTime, FirewallEvent, LineOutcome, Session, protocol_key, reason,
};
use crate::collect::syslog;

/// The prefix that marks the zoneaudit convention.
pub const ZA_PREFIX: &str = "ZA:";

/// Zone of an empty `IN=` / `OUT=`: the gateway itself.
pub const LOCAL_ZONE: &str = "local";

/// What the `ZA:` prefix says, when a line carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZaPrefix<'a> {
    pub action: Action<'a>,
    /// `None` where the prefix names no zone for that side.
    pub from_zone: Option<&'a str>,
    pub to_zone: Option<&'a str>,
}

/// Read a log prefix under the `ZA:` convention; `None` when it does not follow it.
pub fn za_prefix<'p>(prefix: &'p str) -> Option<ZaPrefix<'p>> {
    let rest = prefix.strip_prefix(ZA_PREFIX)?;
    let (verdict, zones) = rest.split_once(':').unwrap_or((rest, ""));
    if verdict.is_empty() {
        return None;
    }
    let action = if verdict.eq_ignore_ascii_case("ACCEPT") {
        Action::Allow
    } else if verdict.eq_ignore_ascii_case("DROP") {
        Action::Drop
    } else if verdict.eq_ignore_ascii_case("REJECT") {
        Action::Named("reject")
    } else {
        Action::Other(verdict)
    };
    let non_empty = |s: &'p str| Some(s).filter(|s| !s.is_empty());
    let (from_zone, to_zone) = match zones.split_once('>') {
        Some((from, to)) => (non_empty(from), non_empty(to)),
        None => (None, None),
    };
    Some(ZaPrefix { action, from_zone, to_zone })
}

/// The `KEY=value` fields read from a line; the first occurrence of each wins (UDP repeats `LEN=`,
/// ICMP repeats `ID=`).
#[derive(Debug, Default)]
struct PacketFields<'a> {
    in_if: Option<&'a str>,
    out_if: Option<&'a str>,
    src: Option<&'a str>,
    dst: Option<&'a str>,
    len: Option<&'a str>,
    proto: Option<&'a str>,
    spt: Option<&'a str>,
    dpt: Option<&'a str>,
}

/// Parse one log line (envelope included, line terminator optional).
pub fn parse_line(line: &str) -> LineOutcome<'_> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.trim().is_empty() {
        return LineOutcome::Ignored;
    }
    let env = syslog::split(line);
    let message = strip_kernel_tag(env.message);
    let Some(at) = fields_start(message) else {
        return LineOutcome::Rejected(reason::NOT_NETFILTER);
    };
    let prefix = message[..at].trim();
    let fields = packet_fields(&message[at..]);
    let time = env.timestamp.and_then(EventTime::from_syslog);
    match packet_event(env.host.unwrap_or(""), time, prefix, &fields) {
        Ok(event) => LineOutcome::Event(event),
        Err(why) => LineOutcome::Rejected(why),
    }
}

/// `kernel: [ 1234.567890] ` before the prefix, each part optional (RFC 5424 puts `kernel` in
/// APP-NAME; journald exports drop the uptime).
fn strip_kernel_tag(message: &str) -> &str {
    let s = message.strip_prefix("kernel:").map_or(message, |s| s.trim_start_matches(' '));
    if let Some(inner) = s.strip_prefix('[')
        && let Some(close) = inner.find(']')
        && inner[..close].bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b' ')
    {
        return inner[close + 1..].strip_prefix(' ').unwrap_or(&inner[close + 1..]);
    }
    s
}

/// Where `IN=<if> OUT=` starts: the prefix may run straight into it (`[WAN_OUT-2000-A]IN=eth0`),
/// so the first `IN=` followed by its value and ` OUT=` is the boundary.
fn fields_start(message: &str) -> Option<usize> {
    message.match_indices("IN=").map(|(i, _)| i).find(|&i| {
        let value_and_rest = &message[i + 3..];
        let end = value_and_rest.find(' ').unwrap_or(value_and_rest.len());
        value_and_rest[end..].starts_with(" OUT=")
    })
}

fn packet_fields(s: &str) -> PacketFields<'_> {
    let mut f = PacketFields::default();
    for token in s.split(' ') {
        if token.starts_with('[') {
            // The packet an ICMP error quotes; everything after belongs to it.
            break;
        }
        let Some((key, value)) = token.split_once('=') else { continue };
        let slot = match key {
            "IN" => &mut f.in_if,
            "OUT" => &mut f.out_if,
            "SRC" => &mut f.src,
            "DST" => &mut f.dst,
            "LEN" => &mut f.len,
            "PROTO" => &mut f.proto,
            "SPT" => &mut f.spt,
            "DPT" => &mut f.dpt,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    f
}

fn packet_event<'a>(
    firewall: &'a str,
    time: Option<EventTime>,
    prefix: &'a str,
    f: &PacketFields<'a>,
) -> Result<FirewallEvent<'a>, &'static str> {
    let address =
        |v: Option<&str>| v.ok_or(reason::MISSING_FIELD)?.parse::<IpAddr>().map_err(|_| reason::ADDRESS);
    let src = address(f.src)?;
    let dst = address(f.dst)?;
    let protocol = protocol_key(f.proto.ok_or(reason::MISSING_FIELD)?);
    let dst_port = match f.dpt {
        Some(p) => p.parse::<u16>().map_err(|_| reason::PORT)?,
        None => 0,
    };
    if let Some(p) = f.spt {
        p.parse::<u16>().map_err(|_| reason::PORT)?;
    }
    let bytes = match f.len {
        Some(n) => n.parse::<u64>().map_err(|_| reason::NUMBER)?,
        None => 0,
    };
    let interface_zone = |v: Option<&'a str>| v.filter(|s| !s.is_empty()).unwrap_or(LOCAL_ZONE);
    let za = za_prefix(prefix);
    let (action, from_zone, to_zone) = match za {
        Some(za) => (
            za.action,
            za.from_zone.unwrap_or_else(|| interface_zone(f.in_if)),
            za.to_zone.unwrap_or_else(|| interface_zone(f.out_if)),
        ),
        None => (Action::Named("log"), interface_zone(f.in_if), interface_zone(f.out_if)),
    };
    Ok(FirewallEvent {
        firewall,
        time,
        from_zone,
        to_zone,
        src,
        dst,
        rule: prefix,
        action,
        protocol,
        dst_port,
        bytes,
        count: 1,
        session: Session::Whole,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::firewall::{self, FlowAggregator, LogFormat};

    const SAMPLES: &str = include_str!("../../tests/fixtures/netfilter/iptables.log");
    const ENVELOPES: &str = include_str!("../../tests/fixtures/netfilter/syslog-envelopes.log");
    const MIXED: &str = include_str!("../../tests/fixtures/netfilter/packets-mixed-stream.log");

    fn zones(addr: IpAddr) -> Option<String> {
        match addr {
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 20] => Some("prod".into()),
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 30] => Some("dev".into()),
            IpAddr::V6(v6) if v6.segments()[..2] == [0xfd00, 0x20] => Some("prod".into()),
            IpAddr::V6(v6) if v6.segments()[..2] == [0xfd00, 0x30] => Some("dev".into()),
            _ => None,
        }
    }

    fn event_of(line: &str) -> FirewallEvent<'_> {
        match parse_line(line) {
            LineOutcome::Event(e) => e,
            other => panic!("expected an event, got {other:?} for {line}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn time(e: &FirewallEvent<'_>) -> String {
        e.time.map(|t| t.to_string()).unwrap_or_default()
    }

    #[test]
    fn every_sample_line_is_understood() {
        let e: Vec<_> = SAMPLES.lines().map(event_of).collect();
        assert_eq!(e.len(), 5);

        let drop = &e[0];
        assert_eq!((drop.firewall, time(drop).as_str()), ("gw-linux-01", "0000-07-16 10:15:07"));
        assert_eq!((drop.rule, drop.action), ("ZA:DROP:DEV>PROD", Action::Drop));
        assert_eq!((drop.from_zone, drop.to_zone), ("DEV", "PROD"));
        assert_eq!((drop.src, drop.dst, drop.dst_port), (ip("10.30.0.80"), ip("10.20.0.71"), 5432));
        assert_eq!((drop.protocol.as_ref(), drop.bytes, drop.count), ("tcp", 60, 1));

        let accept = &e[1];
        assert_eq!((accept.rule, accept.action), ("ZA:ACCEPT:PROD>DEV", Action::Allow));
        assert_eq!((accept.from_zone, accept.to_zone, accept.dst_port), ("PROD", "DEV", 8443));

        // UDP repeats LEN=: the IP length (61) is the first.
        let udp = &e[2];
        assert_eq!((udp.protocol.as_ref(), udp.dst_port, udp.bytes), ("udp", 53, 61));

        // RFC 3339 relay header; ZA:DROP:INPUT names no zones: IN= interface and the gateway.
        let input = &e[3];
        assert_eq!((input.firewall, time(input).as_str()), ("gw-linux-01", "2024-07-16 10:15:20"));
        assert_eq!((input.from_zone, input.to_zone, input.rule), ("ens4.120", LOCAL_ZONE, "ZA:DROP:INPUT"));
        assert_eq!((input.protocol.as_ref(), input.dst_port, input.dst), ("icmp", 0, ip("10.30.0.1")));

        let v6 = &e[4];
        assert_eq!((v6.src, v6.dst, v6.dst_port), (ip("fd00:30::91"), ip("fd00:20::12"), 443));
        assert_eq!((v6.from_zone, v6.to_zone, v6.bytes), ("DEV", "PROD", 80));
    }

    #[test]
    fn envelope_samples_bsd_with_pri_and_rfc5424() {
        let lines: Vec<_> = ENVELOPES.lines().filter(|l| l.contains(" IN=")).collect();
        assert_eq!(lines.len(), 2);
        let bsd = event_of(lines[0]);
        assert_eq!((bsd.firewall, bsd.rule, bsd.dst_port), ("gw-linux-01", "ZA:DROP:DEV>PROD", 5432));
        let ietf = event_of(lines[1]);
        assert_eq!(
            (ietf.firewall, ietf.rule, time(&ietf).as_str()),
            ("gw-linux-01", "ZA:DROP:INPUT", "2024-07-16 10:15:20")
        );
        for other in ENVELOPES.lines().filter(|l| !l.contains(" IN=")) {
            assert_eq!(parse_line(other), LineOutcome::Rejected(reason::NOT_NETFILTER), "{other}");
        }
    }

    #[test]
    fn za_prefix_convention() {
        let za = za_prefix("ZA:REJECT:DMZ>PROD").expect("ZA prefix");
        assert_eq!(
            (za.action, za.from_zone, za.to_zone),
            (Action::Named("reject"), Some("DMZ"), Some("PROD"))
        );
        let za = za_prefix("ZA:accept:>PROD").expect("ZA prefix");
        assert_eq!((za.action, za.from_zone, za.to_zone), (Action::Allow, None, Some("PROD")));
        assert_eq!(za_prefix("ZA:MARK").map(|z| z.action), Some(Action::Other("MARK")));
        assert_eq!(za_prefix("ZA::DEV>PROD"), None);
        assert_eq!(za_prefix("[WAN_OUT-2000-A]"), None);
    }

    #[test]
    fn mixed_stream_prefixes_and_rejects_with_line_numbers() {
        let mut agg = FlowAggregator::new(LogFormat::Netfilter);
        agg.assume_year(2024);
        agg.ingest(MIXED.as_bytes(), &zones).expect("in-memory read");
        assert_eq!((agg.lines_read(), agg.events(), agg.ignored()), (10, 5, 1));
        let (flows, rejects) = agg.finish();
        let locators: Vec<_> = rejects.samples.iter().map(|o| o.locator.as_str()).collect();
        assert_eq!(
            locators,
            [
                "line 3: bad address",
                "line 5: missing field",
                "line 7: bad port",
                "line 9: not a netfilter log"
            ]
        );

        // Lines 1 and 2: same ZA rule, two packets, the year assumed for BSD headers.
        let accept = flows.iter().find(|f| f.rule == "ZA:ACCEPT:PROD>DEV").expect("accept flow");
        assert_eq!((accept.action.as_str(), accept.count, accept.bytes), ("allow", 2, 60 + 52));
        assert_eq!((accept.src_zone.as_deref(), accept.dst_zone.as_deref()), (Some("prod"), Some("dev")));
        assert_eq!(
            (accept.first_seen.as_str(), accept.last_seen.as_str()),
            ("2024-07-16 10:30:01", "2024-07-16 10:30:02")
        );
        // Line 4: EdgeOS-style prefix glued to IN=: no convention, interfaces and `log`.
        let edge = flows.iter().find(|f| f.rule == "[WAN_OUT-2000-A]").expect("edgeos flow");
        assert_eq!(
            (edge.from_fw_zone.as_str(), edge.to_fw_zone.as_str(), edge.action.as_str()),
            ("eth0", "eth1", "log")
        );
        // Line 6: ICMP error quoting the original packet: outer addresses kept; no prefix at all.
        let icmp = flows.iter().find(|f| f.protocol == "icmp").expect("icmp flow");
        assert_eq!((icmp.rule.as_str(), icmp.action.as_str(), icmp.dst_port), ("", "log", 0));
        assert_eq!((icmp.src_zone.as_deref(), icmp.dst_zone.as_deref()), (Some("prod"), Some("dev")));
        // Line 8: OUTPUT chain (IN= empty) with a REJECT verdict, from the gateway itself.
        let out = flows.iter().find(|f| f.action == "reject").expect("reject flow");
        assert_eq!(
            (out.from_fw_zone.as_str(), out.to_fw_zone.as_str(), out.dst_port),
            (LOCAL_ZONE, "PROD", 22)
        );
    }

    #[test]
    fn other_vendors_are_not_netfilter() {
        let asa = include_str!("../../tests/fixtures/asa/asa.log");
        let forti = include_str!("../../tests/fixtures/fortigate/fortigate-traffic.log");
        for line in asa.lines().chain(forti.lines()) {
            assert_eq!(parse_line(line), LineOutcome::Rejected(reason::NOT_NETFILTER), "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(line in r"(Jul 16 10:15:07 gw kernel: )?(\[[0-9. ]{0,12}\] )?(ZA:[A-Z:>]{0,12} )?IN=[a-z0-9.]{0,6} OUT=[A-Za-z0-9=.:\[\] ]{0,200}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn mutated_samples_never_panic(which in 0usize..5, cut in 0usize..300, byte in proptest::prelude::any::<u8>()) {
            let mut raw = SAMPLES.lines().nth(which).unwrap_or_default().as_bytes().to_vec();
            if cut < raw.len() { raw[cut] = byte; }
            let _ = firewall::parse(LogFormat::Netfilter, &raw, &zones);
            raw.truncate(cut);
            let _ = firewall::parse(LogFormat::Netfilter, &raw, &zones);
        }
    }
}
