//! Cisco ASA (and FTD, same message catalogue) syslog → firewall events.
//!
//! ```text
//!  <166>Jul 16 2024 10:15:01 fw-asa-01 : %ASA-6-302013: Built inbound TCP connection 991727 for …
//!  └──── syslog header: time, device id ┘  └tag: severity, message id┘ └──── message text ─────┘
//! ```
//!
//! Messages read, by id (severity is configurable per message, so only the id is matched):
//!
//! | id | text | event |
//! |---|---|---|
//! | 302013 / 302015 | `Built {inbound\|outbound} {TCP\|UDP} connection <id> for <if>:<ip>/<port> (<mapped>) … to <if>:<ip>/<port> (<mapped>) …` | `allow`, rule `""`, count 1, opens session `<id>` |
//! | 302014 / 302016 | `Teardown {TCP\|UDP} connection <id> for … to … duration h:mm:ss bytes <n> [reason]` | bytes only, closes session `<id>` |
//! | 106100 | `access-list <acl> {permitted\|denied\|est-allowed} <proto> <if>/<ip>(<port>) -> <if>/<ip>(<port>) hit-cnt <n> …` | rule `<acl>`, count `<n>` |
//! | 106023 | `Deny <proto> src <if>:<ip>[/<port>] dst <if>:<ip>[/<port>] … by access-group "<acl>"` | `deny`, rule `<acl>`, count 1 |
//!
//! Every other id is ignored. Zones are the interface nameifs; a multi-context prefix
//! (`v1:outside:10.0.0.1`) is dropped. Addresses are the real (untranslated) ones, not the mapped
//! ones in parentheses. ICMP carries type/code where TCP/UDP carry ports, so its port is 0.
//!
//! Direction: `for` in a Built line is always the lower-security side. On `inbound` it is the
//! initiator; on `outbound` the `to` side initiated, so source and destination swap. A Teardown
//! line does not say which, so it never makes a flow of its own: it adds its bytes to the
//! aggregate of its Built line (same device, same connection id) and is ignored when that was
//! not seen (a connection opened before the file began).
//!
//! Counting: Built counts connections; 106100 counts ACE hits (`hit-cnt`, per interval); 106023
//! counts denied packets. A connection permitted by an ACE with `log` shows in both a Built
//! (rule `""`: Built does not name the ACL) and a 106100 aggregate (rule = ACL name).

use std::net::IpAddr;

use crate::collect::firewall::{
    Action, EventTime, FirewallEvent, LineOutcome, Session, protocol_key, reason,
};
use crate::collect::syslog;

/// Parse one log line (envelope included, line terminator optional).
pub fn parse_line(line: &str) -> LineOutcome<'_> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.trim().is_empty() {
        return LineOutcome::Ignored;
    }
    let env = syslog::split(line);
    let Some((id, text)) = tag(env.message) else {
        return LineOutcome::Rejected(reason::NOT_ASA);
    };
    let head =
        Head { firewall: env.host.unwrap_or(""), time: env.timestamp.and_then(EventTime::from_syslog) };
    let parsed = match id {
        "302013" | "302015" => built(head, text),
        "302014" | "302016" => teardown(head, text),
        "106100" => acl_hit(head, text),
        "106023" => acl_deny(head, text),
        _ => return LineOutcome::Ignored,
    };
    match parsed {
        Ok(event) => LineOutcome::Event(event),
        Err(why) => LineOutcome::Rejected(why),
    }
}

/// `%ASA-<severity>-<id>: ` at the start of the payload (or `%FTD-`): (id, message text).
fn tag(payload: &str) -> Option<(&str, &str)> {
    let rest = payload.strip_prefix("%ASA-").or_else(|| payload.strip_prefix("%FTD-"))?;
    let b = rest.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_digit)
        && b.get(1) == Some(&b'-')
        && b.get(2..8).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && b.get(8) == Some(&b':');
    if !ok {
        return None;
    }
    Some((&rest[2..8], rest[9..].trim_start()))
}

#[derive(Clone, Copy)]
struct Head<'a> {
    firewall: &'a str,
    time: Option<EventTime>,
}

/// A connection end as the ASA writes it.
struct Endpoint<'a> {
    interface: &'a str,
    addr: IpAddr,
    port: u16,
}

/// Space-separated words of a message, with parenthesised groups (mapped addresses, identity
/// users, `(type 8, code 0)`) skippable as a whole although they may hold spaces.
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Result<&'a str, &'static str> {
        let s = self.rest.trim_start_matches(' ');
        if s.is_empty() {
            return Err(reason::MESSAGE);
        }
        let end = s.find(' ').unwrap_or(s.len());
        self.rest = &s[end..];
        Ok(&s[..end])
    }

    fn expect(&mut self, word: &str) -> Result<(), &'static str> {
        if self.next()? == word { Ok(()) } else { Err(reason::MESSAGE) }
    }

    /// Skip any `( … )` groups; the next word is the first outside them.
    fn skip_groups(&mut self) {
        loop {
            let s = self.rest.trim_start_matches(' ');
            if !s.starts_with('(') {
                self.rest = s;
                return;
            }
            let mut depth = 0usize;
            let mut end = s.len();
            for (i, c) in s.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.rest = &s[end..];
        }
    }
}

/// Interface nameif without a multi-context prefix (`v1:outside` → `outside`).
fn nameif(interface: &str) -> &str {
    interface.rsplit(':').next().unwrap_or(interface)
}

/// `<if>:<ip>` (IPv6 addresses hold colons too, so the first split that leaves an address wins).
fn interface_address(s: &str) -> Result<(&str, IpAddr), &'static str> {
    for (i, _) in s.match_indices(':') {
        if i > 0
            && let Ok(addr) = s[i + 1..].parse::<IpAddr>()
        {
            return Ok((nameif(&s[..i]), addr));
        }
    }
    Err(reason::ADDRESS)
}

/// `<if>:<ip>/<port>`, the port optional when `port_required` is false.
fn colon_endpoint(word: &str, port_required: bool) -> Result<Endpoint<'_>, &'static str> {
    let (left, port) = match word.rsplit_once('/') {
        Some((left, port)) => (left, port.parse::<u16>().map_err(|_| reason::PORT)?),
        None if !port_required => (word, 0),
        None => return Err(reason::MESSAGE),
    };
    let (interface, addr) = interface_address(left)?;
    Ok(Endpoint { interface, addr, port })
}

/// 106100's `<if>/<ip>(<port>)`.
fn slash_endpoint(word: &str) -> Result<Endpoint<'_>, &'static str> {
    let (interface, rest) = word.split_once('/').ok_or(reason::MESSAGE)?;
    let (addr, port) = rest.strip_suffix(')').and_then(|r| r.split_once('(')).ok_or(reason::MESSAGE)?;
    Ok(Endpoint {
        interface: nameif(interface),
        addr: addr.parse().map_err(|_| reason::ADDRESS)?,
        port: port.parse().map_err(|_| reason::PORT)?,
    })
}

fn is_icmp(protocol: &str) -> bool {
    protocol == "icmp" || protocol == "ipv6-icmp"
}

fn event<'a>(
    head: Head<'a>,
    src: Endpoint<'a>,
    dst: Endpoint<'a>,
    protocol: &'a str,
    rule: &'a str,
    action: Action<'a>,
) -> FirewallEvent<'a> {
    let protocol = protocol_key(protocol);
    let dst_port = if is_icmp(&protocol) { 0 } else { dst.port };
    FirewallEvent {
        firewall: head.firewall,
        time: head.time,
        from_zone: src.interface,
        to_zone: dst.interface,
        src: src.addr,
        dst: dst.addr,
        rule,
        action,
        protocol,
        dst_port,
        bytes: 0,
        count: 1,
        session: Session::Whole,
    }
}

/// `for <endpoint> [(…)…] to <endpoint> [(…)…]`, shared by Built and Teardown.
fn for_to<'a>(words: &mut Words<'a>) -> Result<(Endpoint<'a>, Endpoint<'a>), &'static str> {
    words.expect("for")?;
    let first = colon_endpoint(words.next()?, true)?;
    words.skip_groups();
    words.expect("to")?;
    let second = colon_endpoint(words.next()?, true)?;
    words.skip_groups();
    Ok((first, second))
}

fn built<'a>(head: Head<'a>, text: &'a str) -> Result<FirewallEvent<'a>, &'static str> {
    let mut words = Words { rest: text };
    words.expect("Built")?;
    let direction = words.next()?;
    let protocol = words.next()?;
    words.expect("connection")?;
    let id = words.next()?;
    let (for_side, to_side) = for_to(&mut words)?;
    let (src, dst) = match direction {
        "inbound" => (for_side, to_side),
        "outbound" => (to_side, for_side),
        _ => return Err(reason::MESSAGE),
    };
    Ok(FirewallEvent { session: Session::Opens(id), ..event(head, src, dst, protocol, "", Action::Allow) })
}

fn teardown<'a>(head: Head<'a>, text: &'a str) -> Result<FirewallEvent<'a>, &'static str> {
    let mut words = Words { rest: text };
    words.expect("Teardown")?;
    let protocol = words.next()?;
    words.expect("connection")?;
    let id = words.next()?;
    let (first, second) = for_to(&mut words)?;
    words.expect("duration")?;
    words.next()?;
    words.expect("bytes")?;
    let bytes = words.next()?.parse::<u64>().map_err(|_| reason::NUMBER)?;
    Ok(FirewallEvent {
        bytes,
        count: 0,
        session: Session::Closes(id),
        ..event(head, first, second, protocol, "", Action::Allow)
    })
}

fn acl_hit<'a>(head: Head<'a>, text: &'a str) -> Result<FirewallEvent<'a>, &'static str> {
    let mut words = Words { rest: text };
    words.expect("access-list")?;
    let acl = words.next()?;
    let action = match words.next()? {
        "permitted" | "est-allowed" => Action::Allow,
        "denied" => Action::Deny,
        other => Action::Other(other),
    };
    let protocol = words.next()?;
    let src = slash_endpoint(words.next()?)?;
    words.skip_groups();
    words.expect("->")?;
    let dst = slash_endpoint(words.next()?)?;
    words.skip_groups();
    words.expect("hit-cnt")?;
    let count = words.next()?.parse::<u64>().map_err(|_| reason::NUMBER)?;
    Ok(FirewallEvent { count, ..event(head, src, dst, protocol, acl, action) })
}

fn acl_deny<'a>(head: Head<'a>, text: &'a str) -> Result<FirewallEvent<'a>, &'static str> {
    let mut words = Words { rest: text };
    words.expect("Deny")?;
    let protocol = match words.next()? {
        // `Deny protocol 47 src …` for protocols without a name.
        "protocol" => words.next()?,
        name => name,
    };
    words.expect("src")?;
    let src = colon_endpoint(words.next()?, false)?;
    words.skip_groups();
    words.expect("dst")?;
    let dst = colon_endpoint(words.next()?, false)?;
    words.skip_groups();
    words.expect("by")?;
    words.expect("access-group")?;
    let acl = words.next()?;
    let acl = acl.strip_prefix('"').and_then(|a| a.strip_suffix('"')).unwrap_or(acl);
    Ok(event(head, src, dst, protocol, acl, Action::Deny))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::firewall::{self, FlowAggregator, LogFormat};

    const SAMPLES: &str = include_str!("../../tests/fixtures/asa/asa.log");
    const MIXED: &str = include_str!("../../tests/fixtures/asa/connections-mixed-stream.log");

    fn zones(addr: IpAddr) -> Option<String> {
        match addr {
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 20] => Some("prod".into()),
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 30] => Some("dev".into()),
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
        assert_eq!(e.len(), 7);

        let built = &e[0];
        assert_eq!((built.firewall, time(built).as_str()), ("fw-asa-01", "2024-07-16 10:15:01"));
        assert_eq!((built.from_zone, built.to_zone), ("zone-prod", "zone-dev"));
        assert_eq!((built.src, built.dst, built.dst_port), (ip("10.20.0.71"), ip("10.30.0.75"), 8443));
        assert_eq!((built.rule, built.action, built.protocol.as_ref()), ("", Action::Allow, "tcp"));
        assert_eq!((built.count, built.bytes, built.session), (1, 0, Session::Opens("991727")));

        let teardown = &e[1];
        assert_eq!((teardown.count, teardown.bytes), (0, 7312));
        assert_eq!(teardown.session, Session::Closes("991727"));
        assert_eq!(time(teardown), "2024-07-16 10:15:17");

        let permitted = &e[2];
        assert_eq!(
            (permitted.rule, permitted.action, permitted.count),
            ("zone-prod_access_in", Action::Allow, 1)
        );
        assert_eq!(
            (permitted.from_zone, permitted.to_zone, permitted.dst_port),
            ("zone-prod", "zone-dev", 8443)
        );
        assert_eq!(permitted.src, ip("10.20.0.71"));

        let deny = &e[3];
        assert_eq!((deny.rule, deny.action, deny.count), ("zone-dev_access_in", Action::Deny, 1));
        assert_eq!((deny.from_zone, deny.to_zone), ("zone-dev", "zone-prod"));
        assert_eq!((deny.src, deny.dst, deny.dst_port), (ip("10.30.0.80"), ip("10.20.0.71"), 5432));

        let denied_interval = &e[4];
        assert_eq!((denied_interval.action, denied_interval.count), (Action::Deny, 3));
        assert_eq!(time(denied_interval), "2024-07-16 10:20:07");

        // Outbound: the `to` side (zone-prod) initiated towards outside:443.
        let outbound = &e[5];
        assert_eq!((outbound.from_zone, outbound.to_zone), ("zone-prod", "outside"));
        assert_eq!((outbound.src, outbound.dst), (ip("10.20.0.64"), ip("192.0.2.10")));
        assert_eq!(outbound.dst_port, 443);

        // No device id: no firewall name in the line.
        let anonymous = &e[6];
        assert_eq!((anonymous.firewall, anonymous.protocol.as_ref(), anonymous.dst_port), ("", "udp", 53));
        assert_eq!(time(anonymous), "2024-07-16 10:17:44");
    }

    #[test]
    fn samples_aggregate_built_with_teardown_bytes_and_acl_hits() {
        let mut agg = FlowAggregator::new(LogFormat::Asa);
        agg.name_unnamed("asa-source");
        agg.ingest(SAMPLES.as_bytes(), &zones).expect("in-memory read");
        assert_eq!((agg.events(), agg.ignored()), (7, 0));
        let (flows, rejects) = agg.finish();
        assert!(rejects.is_empty(), "{rejects:?}");
        let connection = flows.iter().find(|f| f.rule.is_empty() && f.dst_port == 8443).expect("built flow");
        assert_eq!((connection.count, connection.bytes), (1, 7312));
        assert_eq!(
            (connection.src_zone.as_deref(), connection.dst_zone.as_deref()),
            (Some("prod"), Some("dev"))
        );
        assert_eq!(
            (connection.first_seen.as_str(), connection.last_seen.as_str()),
            ("2024-07-16 10:15:01", "2024-07-16 10:15:17")
        );
        let lines: Vec<_> = connection.samples.iter().map(|s| s.locator.as_str()).collect();
        assert_eq!(lines, ["line 1", "line 2"]);
        // The teardown made no flow of its own.
        assert_eq!(flows.iter().filter(|f| f.count == 0).count(), 0);

        let denied: Vec<_> = flows.iter().filter(|f| f.rule == "zone-dev_access_in").collect();
        // Sorted by firewall: the line without a device id went to the name the caller gave.
        assert_eq!(
            denied.iter().map(|f| (f.protocol.as_str(), f.count)).collect::<Vec<_>>(),
            [("udp", 1), ("tcp", 4)]
        );
        assert_eq!((denied[0].firewall.as_str(), denied[1].firewall.as_str()), ("asa-source", "fw-asa-01"));
    }

    #[test]
    fn mixed_stream_directions_contexts_and_rejects_with_line_numbers() {
        let mut agg = FlowAggregator::new(LogFormat::Asa);
        agg.ingest(MIXED.as_bytes(), &zones).expect("in-memory read");
        assert_eq!(agg.lines_read(), 12);
        // Line 3 (teardown without its Built) and line 10 (another message id).
        assert_eq!((agg.events(), agg.ignored()), (6, 2));
        let (flows, rejects) = agg.finish();
        let locators: Vec<_> = rejects.samples.iter().map(|o| o.locator.as_str()).collect();
        assert_eq!(
            locators,
            [
                "line 5: bad address",
                "line 6: malformed message",
                "line 9: bad port",
                "line 12: not an ASA log"
            ]
        );

        // Lines 1-2: outbound UDP, Built then Teardown; bytes join the Built aggregate.
        let dns = flows.iter().find(|f| f.protocol == "udp" && f.rule.is_empty()).expect("udp connection");
        assert_eq!((dns.from_fw_zone.as_str(), dns.to_fw_zone.as_str()), ("inside", "outside"));
        assert_eq!((dns.dst_port, dns.count, dns.bytes), (53, 1, 142));
        // Line 3: teardown of a connection built before the file: no flow, counted as ignored.
        assert!(flows.iter().all(|f| f.dst_port != 3389));
        // Line 4: 106023 with a context prefix and ICMP (no port).
        let icmp = flows.iter().find(|f| f.protocol == "icmp").expect("icmp deny");
        assert_eq!(
            (icmp.from_fw_zone.as_str(), icmp.to_fw_zone.as_str(), icmp.dst_port),
            ("outside", "inside", 0)
        );
        assert_eq!(icmp.rule, "outside_access_in");
        // Line 7: IPv6 Built inbound with an identity user.
        let v6 = flows.iter().find(|f| f.dst_port == 443 && f.rule.is_empty()).expect("ipv6 flow");
        assert_eq!((v6.from_fw_zone.as_str(), v6.to_fw_zone.as_str()), ("outside", "dmz"));
        // Line 8: 106100 est-allowed with identity groups is an allowed hit.
        let est = flows.iter().find(|f| f.rule == "inside_access_in").expect("est-allowed");
        assert_eq!((est.action.as_str(), est.count), ("allow", 12));
        // Line 10: other ids ignored; line 11: FTD, deny by protocol number.
        let gre = flows.iter().find(|f| f.protocol == "gre").expect("gre deny");
        assert_eq!((gre.firewall.as_str(), gre.action.as_str()), ("ftd-01", "deny"));
    }

    #[test]
    fn other_vendors_are_not_asa() {
        let forti = include_str!("../../tests/fixtures/fortigate/fortigate-traffic.log");
        for line in forti.lines() {
            assert_eq!(parse_line(line), LineOutcome::Rejected(reason::NOT_ASA));
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(line in r#"(<166>Jul 16 2024 10:15:01 fw : )?%ASA-6-(302013|302014|106100|106023): [A-Za-z0-9 :/()."_,>-]{0,200}"#) {
            let _ = parse_line(&line);
        }

        #[test]
        fn mutated_samples_never_panic(which in 0usize..7, cut in 0usize..220, byte in proptest::prelude::any::<u8>()) {
            let mut raw = SAMPLES.lines().nth(which).unwrap_or_default().as_bytes().to_vec();
            if cut < raw.len() { raw[cut] = byte; }
            let _ = firewall::parse(LogFormat::Asa, &raw, &zones);
            raw.truncate(cut);
            let _ = firewall::parse(LogFormat::Asa, &raw, &zones);
        }
    }
}
