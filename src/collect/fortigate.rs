//! FortiGate traffic logs (FortiOS `format default`: space-separated `key=value`) → firewall events.
//!
//! ```text
//!  <189>date=2024-07-16 time=10:15:02 devname="FGT-CORE-01" ... type="traffic" ... action="close" ...
//!  └PRI┘└──────────── payload: key=value, values "quoted" when they are strings ────────────────┘
//! ```
//!
//! The default syslog format has no RFC 3164 header (the PRI is glued to `date=`); relays and the
//! `rfc5424` format add one, and [`syslog::split`] takes it off either way. Pairs are split on
//! spaces outside double quotes (a quoted value may hold spaces and `\"`); unknown keys are skipped,
//! so new FortiOS fields never break parsing. Only `type="traffic"` is read; event, UTM and other
//! log types are ignored.
//!
//! | event field | from |
//! |---|---|
//! | firewall | `devname`, else `devid`, else the syslog host |
//! | time | `date` + `time` (device local time), else the syslog timestamp |
//! | zones | `srcintf` / `dstintf` (interface or zone names, as the policy sees them) |
//! | rule | `policyname` when set, else `policyid` (`0` = implicit deny / local-in) |
//! | action | `accept`, `close`, `timeout`, `client-rst`, `server-rst` → `allow`; `deny` → `deny`; others as logged |
//! | protocol | `proto` (IP protocol number) → `tcp`, `udp`, `icmp`, ... else the number |
//! | bytes | `sentbyte` + `rcvdbyte` (either may be absent) |
//!
//! A FortiGate writes one log per session at its end by default, so every line counts once. With
//! `logtraffic-start` enabled a session is logged at its start too and would count twice.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::collect::firewall::{
    Action, EventTime, FirewallEvent, LineOutcome, Session, protocol_key, protocol_name, reason,
};
use crate::collect::syslog;

/// The keys a traffic log is read from; the rest of the line is skipped.
#[derive(Debug, Default)]
struct TrafficFields<'a> {
    date: Option<&'a str>,
    time: Option<&'a str>,
    devname: Option<&'a str>,
    devid: Option<&'a str>,
    log_type: Option<&'a str>,
    srcip: Option<&'a str>,
    dstip: Option<&'a str>,
    dstport: Option<&'a str>,
    srcintf: Option<&'a str>,
    dstintf: Option<&'a str>,
    policyid: Option<&'a str>,
    policyname: Option<&'a str>,
    action: Option<&'a str>,
    proto: Option<&'a str>,
    sentbyte: Option<&'a str>,
    rcvdbyte: Option<&'a str>,
}

impl<'a> TrafficFields<'a> {
    fn set(&mut self, key: &str, value: &'a str) {
        let slot = match key {
            "date" => &mut self.date,
            "time" => &mut self.time,
            "devname" => &mut self.devname,
            "devid" => &mut self.devid,
            "type" => &mut self.log_type,
            "srcip" => &mut self.srcip,
            "dstip" => &mut self.dstip,
            "dstport" => &mut self.dstport,
            "srcintf" => &mut self.srcintf,
            "dstintf" => &mut self.dstintf,
            "policyid" => &mut self.policyid,
            "policyname" => &mut self.policyname,
            "action" => &mut self.action,
            "proto" => &mut self.proto,
            "sentbyte" => &mut self.sentbyte,
            "rcvdbyte" => &mut self.rcvdbyte,
            _ => return,
        };
        // The first occurrence wins: a later duplicate cannot rewrite what was read.
        slot.get_or_insert(value);
    }
}

/// Parse one log line (envelope included, line terminator optional).
pub fn parse_line(line: &str) -> LineOutcome<'_> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.trim().is_empty() {
        return LineOutcome::Ignored;
    }
    let env = syslog::split(line);
    let mut fields = TrafficFields::default();
    let mut pairs = Pairs::new(env.message);
    match pairs.next() {
        Some(Ok((key, value))) => fields.set(key, value),
        _ => return LineOutcome::Rejected(reason::NOT_FORTIGATE),
    }
    for pair in pairs {
        match pair {
            Ok((key, value)) => fields.set(key, value),
            Err(why) => return LineOutcome::Rejected(why),
        }
    }
    match fields.log_type {
        Some("traffic") => {}
        Some(_) => return LineOutcome::Ignored,
        None => return LineOutcome::Rejected(reason::NOT_FORTIGATE),
    }
    match traffic_event(&fields, env.host, env.timestamp) {
        Ok(event) => LineOutcome::Event(event),
        Err(why) => LineOutcome::Rejected(why),
    }
}

fn traffic_event<'a>(
    f: &TrafficFields<'a>,
    host: Option<&'a str>,
    header_time: Option<&'a str>,
) -> Result<FirewallEvent<'a>, &'static str> {
    let required = |v: Option<&'a str>| v.ok_or(reason::MISSING_FIELD);
    let address = |v: Option<&'a str>| required(v)?.parse::<IpAddr>().map_err(|_| reason::ADDRESS);
    let number = |v: Option<&'a str>| v.map_or(Ok(0), |n| n.parse::<u64>().map_err(|_| reason::NUMBER));
    let time = match (f.date, f.time) {
        (Some(date), Some(clock)) => Some(EventTime::from_date_clock(date, clock).ok_or(reason::TIME)?),
        _ => header_time.and_then(EventTime::from_syslog),
    };
    let src = address(f.srcip)?;
    let dst = address(f.dstip)?;
    // ICMP sessions carry no ports.
    let dst_port = f.dstport.map_or(Ok(0), |p| p.parse::<u16>().map_err(|_| reason::PORT))?;
    let proto = required(f.proto)?;
    let protocol = match proto.parse::<u8>() {
        Ok(n) => Cow::Borrowed(protocol_name(n).unwrap_or(proto)),
        Err(_) => protocol_key(proto),
    };
    let rule = match (f.policyname, f.policyid) {
        (Some(name), _) if !name.is_empty() => name,
        (_, Some(id)) => id,
        _ => "",
    };
    let bytes = number(f.sentbyte)?.saturating_add(number(f.rcvdbyte)?);
    let firewall = [f.devname, f.devid, host].into_iter().flatten().find(|n| !n.is_empty()).unwrap_or("");
    Ok(FirewallEvent {
        firewall,
        time,
        from_zone: required(f.srcintf)?,
        to_zone: required(f.dstintf)?,
        src,
        dst,
        rule,
        action: action(required(f.action)?),
        protocol,
        dst_port,
        bytes,
        count: 1,
        session: Session::Whole,
    })
}

/// FortiOS traffic `action`: the session outcomes that mean the policy let it through are all
/// `allow`; `deny` is the policy (or implicit) deny; the rest (`ip-conn`, `dns`, ...) as logged.
pub fn action(logged: &str) -> Action<'_> {
    match logged {
        "accept" | "close" | "timeout" | "client-rst" | "server-rst" => Action::Allow,
        "deny" => Action::Deny,
        other => Action::Other(other),
    }
}

/// `key=value` pairs of a FortiGate payload, values without their quotes (escapes left as
/// written). Yields an error, then stops, on a token that is not `key=value` or an unterminated
/// quote.
#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    rest: &'a str,
}

impl<'a> Pairs<'a> {
    pub fn new(payload: &'a str) -> Self {
        Pairs { rest: payload }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a str, &'a str), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start_matches([' ', '\t']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let key_len = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')).count();
        let (key, after_key) = s.split_at(key_len);
        let Some(after_eq) = after_key.strip_prefix('=').filter(|_| key_len > 0) else {
            self.rest = "";
            return Some(Err(reason::KEY_VALUE));
        };
        let (value, rest) = if let Some(quoted) = after_eq.strip_prefix('"') {
            match closing_quote(quoted) {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => {
                    self.rest = "";
                    return Some(Err(reason::KEY_VALUE));
                }
            }
        } else {
            let end = after_eq.find([' ', '\t']).unwrap_or(after_eq.len());
            after_eq.split_at(end)
        };
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            // `key="a"b`: text glued after a closing quote.
            self.rest = "";
            return Some(Err(reason::KEY_VALUE));
        }
        self.rest = rest;
        Some(Ok((key, value)))
    }
}

/// Index of the quote that closes a value, skipping `\"` and `\\`.
fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::firewall::{self, FlowAggregator, LogFormat};
    use crate::model::Origin;

    const SAMPLES: &str = include_str!("../../tests/fixtures/fortigate/fortigate-traffic.log");
    const MIXED: &str = include_str!("../../tests/fixtures/fortigate/traffic-mixed-stream.log");

    fn zones(addr: IpAddr) -> Option<String> {
        match addr {
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 20] => Some("prod".into()),
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 30] => Some("dev".into()),
            _ => None,
        }
    }

    fn event(line: &str) -> FirewallEvent<'_> {
        match parse_line(line) {
            LineOutcome::Event(e) => e,
            other => panic!("expected a traffic event, got {other:?} for {line}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn every_sample_line_is_understood() {
        let events: Vec<_> = SAMPLES.lines().map(event).collect();
        assert_eq!(events.len(), 4);

        let close = &events[0];
        assert_eq!(close.firewall, "FGT-CORE-01");
        assert_eq!(close.time.map(|t| t.to_string()).as_deref(), Some("2024-07-16 10:15:02"));
        assert_eq!((close.from_zone, close.to_zone), ("zone-prod", "zone-dev"));
        assert_eq!((close.src, close.dst), (ip("10.20.0.71"), ip("10.30.0.75")));
        assert_eq!((close.rule, close.action), ("prod-to-dev-api", Action::Allow));
        assert_eq!((close.protocol.as_ref(), close.dst_port), ("tcp", 8443));
        assert_eq!((close.bytes, close.count), (2228 + 5084, 1));

        let deny = &events[1];
        assert_eq!((deny.rule, deny.action), ("0", Action::Deny));
        assert_eq!((deny.from_zone, deny.to_zone, deny.dst_port), ("zone-dev", "zone-prod", 5432));
        assert_eq!(deny.bytes, 0);

        let snat = &events[2];
        assert_eq!((snat.to_zone, snat.rule, snat.dst), ("wan1", "prod-egress-https", ip("192.0.2.10")));
        assert_eq!((snat.action, snat.dst_port, snat.bytes), (Action::Allow, 443, 1188 + 1224));

        let local = &events[3];
        assert_eq!((local.from_zone, local.to_zone, local.rule), ("zone-dev", "root", "0"));
        assert_eq!((local.action, local.bytes), (Action::Allow, 1247 + 1719));
        assert_eq!(local.time.map(|t| t.to_string()).as_deref(), Some("2024-07-16 10:17:51"));
    }

    #[test]
    fn pairs_split_outside_quotes_and_keep_unknown_keys_out_of_the_way() {
        let pairs: Vec<_> = Pairs::new(r#"a=1 msg="two words" esc="say \"hi\"" empty= z="""#)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            pairs,
            [("a", "1"), ("msg", "two words"), ("esc", r#"say \"hi\""#), ("empty", ""), ("z", "")]
        );
        assert_eq!(Pairs::new(r#"a="open"#).next(), Some(Err(reason::KEY_VALUE)));
        assert_eq!(Pairs::new("novalue").next(), Some(Err(reason::KEY_VALUE)));
        assert_eq!(Pairs::new(r#"a="x"y b=2"#).next(), Some(Err(reason::KEY_VALUE)));
    }

    #[test]
    fn mixed_stream_counts_ignores_and_rejects_with_line_numbers() {
        let mut agg = FlowAggregator::new(LogFormat::Fortigate);
        agg.ingest(MIXED.as_bytes(), &zones).expect("in-memory read");
        assert_eq!(agg.lines_read(), 10);
        // Line 3: an event log; line 6: blank.
        assert_eq!(agg.ignored(), 2);
        assert_eq!(agg.events(), 4);
        let (flows, rejects) = agg.finish();
        let locators: Vec<_> = rejects.samples.iter().map(|o| o.locator.as_str()).collect();
        assert_eq!(
            locators,
            [
                "line 4: bad address",
                "line 5: bad key=value",
                "line 8: missing field",
                "line 10: not a FortiGate log"
            ]
        );
        assert_eq!(rejects.total(), 4);

        // Lines 1 and 2 (the second relayed with an RFC 3164 header) share one key.
        let api = flows.iter().find(|f| f.rule == "prod-to-dev-api").expect("prod-to-dev-api flow");
        assert_eq!((api.firewall.as_str(), api.count, api.bytes), ("FGT-CORE-01", 2, 7312 + 1000));
        assert_eq!((api.src_zone.as_deref(), api.dst_zone.as_deref()), (Some("prod"), Some("dev")));
        assert_eq!(
            (api.first_seen.as_str(), api.last_seen.as_str()),
            ("2024-07-16 10:15:02", "2024-07-16 10:21:40")
        );
        assert_eq!(api.samples.iter().map(|s| s.locator.as_str()).collect::<Vec<_>>(), ["line 1", "line 2"]);

        // Line 7: UDP by protocol number 17, action timeout = an allowed session that aged out,
        // named by devid (no devname), rule by id (no policyname).
        let dns = flows.iter().find(|f| f.protocol == "udp").expect("udp flow");
        assert_eq!(
            (dns.firewall.as_str(), dns.rule.as_str(), dns.action.as_str(), dns.dst_port),
            ("FG100FTK21000002", "31", "allow", 53)
        );
        // Line 9: ICMP (proto 1) has no ports; action ip-conn kept as logged.
        let icmp = flows.iter().find(|f| f.protocol == "icmp").expect("icmp flow");
        assert_eq!((icmp.action.as_str(), icmp.dst_port), ("ip-conn", 0));
        assert_eq!(icmp.samples, vec![Origin::at_line(9, MIXED.lines().nth(8).unwrap_or_default())]);
    }

    #[test]
    fn whole_buffer_parse_gives_sorted_flows() {
        let (facts, rejects) = firewall::parse(LogFormat::Fortigate, SAMPLES.as_bytes(), &zones);
        assert!(rejects.is_empty(), "{rejects:?}");
        let keys: Vec<_> = facts
            .flows
            .iter()
            .map(|f| (f.from_fw_zone.as_str(), f.to_fw_zone.as_str(), f.action.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("zone-dev", "root", "allow"),
                ("zone-dev", "zone-prod", "deny"),
                ("zone-prod", "wan1", "allow"),
                ("zone-prod", "zone-dev", "allow")
            ]
        );
    }

    #[test]
    fn other_vendors_are_not_fortigate() {
        let panos = include_str!("../../tests/fixtures/panos/panos-traffic.log");
        let asa = include_str!("../../tests/fixtures/asa/asa.log");
        for line in panos.lines().chain(asa.lines()) {
            assert_eq!(parse_line(line), LineOutcome::Rejected(reason::NOT_FORTIGATE), "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(line in r#"(<189>)?(date=2024-07-16 )?[a-z0-9_="\\ .:-]{0,300}"#) {
            let _ = parse_line(&line);
        }

        #[test]
        fn mutated_samples_never_panic(cut in 0usize..900, byte in proptest::prelude::any::<u8>()) {
            let mut raw = SAMPLES.lines().next().unwrap_or_default().as_bytes().to_vec();
            if cut < raw.len() { raw[cut] = byte; }
            let _ = firewall::parse(LogFormat::Fortigate, &raw, &zones);
            raw.truncate(cut);
            let _ = firewall::parse(LogFormat::Fortigate, &raw, &zones);
        }
    }
}
