//! PAN-OS TRAFFIC logs (syslog, default CSV format) → firewall events, aggregated by
//! [`firewall::FlowAggregator`].
//!
//! ```text
//!  line ──syslog::split──▶ payload "1,<receive>,<serial>,TRAFFIC,<subtype>,…"  (CSV, positions fixed)
//!       ──parse_traffic──▶ TrafficEvent (every field zoneaudit reads, borrowed) | Ignored | Rejected
//!       ──parse_line─────▶ FirewallEvent (the vendor-neutral view)
//! ```
//!
//! Only the vendor default format is understood; a custom log format moves every field, so the
//! field count is checked exactly against the releases in [`FIELD_COUNTS`] (115 for 10.0–11.x,
//! 75 for 9.1, whose documented list ends at Dynamic User Group Name). Older layouts (8.x, 9.0) are
//! not in the format notes and are rejected rather than guessed. Positions read are in `col`; all
//! lie within the 9.1 layout except #103 (high-resolution time), which is absent there.
//!
//! CSV: PAN-OS quotes a field only when it contains a comma (`""` inside); Link Switches (#70)
//! may hold `{a,b}` unquoted, so commas inside a field that opens with `{` do not split. A quoted
//! field is returned as the text between its quotes, `""` left as written: the fields the audit
//! keys on (zones, rules, device names) cannot contain quotes on PAN-OS.
//!
//! Hot path (benchmarked at over a million lines a second): field offsets on the stack, every
//! field borrowed, the time normalised inline; parsing a line allocates nothing.
//!
//! Weight: a TRAFFIC entry stands for Repeat Count sessions (at least one). Actions map to the
//! shared spellings: `allow`, `deny`, `drop`, `reset-both`, `reset-client`, `reset-server`,
//! `drop-icmp`; anything else lower case with dashes.

use std::borrow::Cow;
use std::net::IpAddr;

pub use crate::collect::firewall::reason;
use crate::collect::firewall::{self, Action, EventTime, FirewallEvent, LineOutcome, LogFormat, Session};
use crate::collect::syslog;
use crate::model::{Facts, Rejects};

/// Accepted TRAFFIC field counts of the default format, with the releases that write them.
pub const FIELD_COUNTS: [(usize, &str); 2] = [(115, "PAN-OS 10.0-11.x"), (75, "PAN-OS 9.1")];

#[cfg(test)]
const MAX_FIELDS: usize = 115;

/// 0-based CSV indices of the 1-based positions in the PAN-OS field list.
mod col {
    pub const RECEIVE_TIME: usize = 1;
    pub const SERIAL: usize = 2;
    pub const TYPE: usize = 3;
    pub const SUBTYPE: usize = 4;
    pub const GENERATED_TIME: usize = 6;
    pub const SRC: usize = 7;
    pub const DST: usize = 8;
    pub const NAT_SRC: usize = 9;
    pub const NAT_DST: usize = 10;
    pub const RULE: usize = 11;
    pub const SRC_USER: usize = 12;
    pub const APP: usize = 14;
    pub const VSYS: usize = 15;
    pub const FROM_ZONE: usize = 16;
    pub const TO_ZONE: usize = 17;
    pub const INBOUND_IF: usize = 18;
    pub const OUTBOUND_IF: usize = 19;
    pub const SESSION_ID: usize = 22;
    pub const REPEAT_COUNT: usize = 23;
    pub const SRC_PORT: usize = 24;
    pub const DST_PORT: usize = 25;
    pub const PROTOCOL: usize = 29;
    pub const ACTION: usize = 30;
    pub const BYTES: usize = 31;
    pub const SESSION_END_REASON: usize = 46;
    pub const DEVICE_NAME: usize = 52;
    pub const RULE_UUID: usize = 65;
    pub const HIGH_RES_TIME: usize = 102;
}

/// One TRAFFIC log entry; text fields borrow from the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficEvent<'a> {
    /// Syslog header host, when the envelope had one.
    pub host: Option<&'a str>,
    /// Management-plane receive time, `YYYY/MM/DD HH:MM:SS`, firewall local time.
    pub receive_time: &'a str,
    pub serial: &'a str,
    /// `start`, `end`, `drop`, `deny`.
    pub subtype: &'a str,
    /// Event time, `YYYY/MM/DD HH:MM:SS`, firewall local time (checked for that shape).
    pub generated_time: &'a str,
    /// `generated_time` normalised.
    pub time: EventTime,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `0.0.0.0` when no NAT; as logged.
    pub nat_src: &'a str,
    pub nat_dst: &'a str,
    pub rule: &'a str,
    pub src_user: &'a str,
    pub app: &'a str,
    pub vsys: &'a str,
    pub from_zone: &'a str,
    pub to_zone: &'a str,
    pub inbound_if: &'a str,
    pub outbound_if: &'a str,
    pub session_id: &'a str,
    pub repeat_count: u64,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: &'a str,
    /// As logged (`allow`, `reset both`, `drop ICMP`); see [`TrafficEvent::action_key`].
    pub action: &'a str,
    pub bytes: u64,
    pub session_end_reason: &'a str,
    /// DeviceName (#53); may be empty.
    pub device_name: &'a str,
    /// Survives rule renames; empty when the device did not fill it.
    pub rule_uuid: &'a str,
    /// ISO-8601 with offset (#103), only in the 10.x+ layout and when filled.
    pub high_res_time: Option<&'a str>,
}

impl<'a> TrafficEvent<'a> {
    /// The firewall that logged this: DeviceName, else the syslog host, else the serial number.
    pub fn firewall(&self) -> &'a str {
        if !self.device_name.is_empty() {
            self.device_name
        } else {
            self.host.filter(|h| !h.is_empty()).unwrap_or(self.serial)
        }
    }

    /// Action lower case with spaces as dashes (`reset both` → `reset-both`), borrowed when the
    /// device already wrote it that way.
    pub fn action_key(&self) -> Cow<'a, str> {
        self.action().key()
    }

    /// Repeat count as a weight: a logged entry stands for at least one session.
    pub fn weight(&self) -> u64 {
        self.repeat_count.max(1)
    }

    /// The shared action: the fixed PAN-OS spellings without allocating.
    pub fn action(&self) -> Action<'a> {
        action_of(self.action)
    }

    /// The vendor-neutral view the aggregator keys on.
    pub fn to_event(&self) -> FirewallEvent<'a> {
        FirewallEvent {
            firewall: self.firewall(),
            time: Some(self.time),
            from_zone: self.from_zone,
            to_zone: self.to_zone,
            src: self.src,
            dst: self.dst,
            rule: self.rule,
            action: self.action(),
            protocol: Cow::Borrowed(self.protocol),
            dst_port: self.dst_port,
            bytes: self.bytes,
            count: self.weight(),
            session: Session::Whole,
        }
    }
}

/// The fixed PAN-OS action spellings, mapped without allocating.
fn action_of(logged: &str) -> Action<'_> {
    match logged {
        "allow" => Action::Allow,
        "deny" => Action::Deny,
        "drop" => Action::Drop,
        "reset both" => Action::Named("reset-both"),
        "reset client" => Action::Named("reset-client"),
        "reset server" => Action::Named("reset-server"),
        "drop ICMP" => Action::Named("drop-icmp"),
        other => Action::Other(other),
    }
}

/// Parse one log line (envelope included, line terminator optional) into the shared event.
///
/// Same outcome as `parse_traffic(line)` followed by [`TrafficEvent::to_event`], but the split
/// stops storing offsets after DeviceName and only the fields the aggregator keys on are read.
pub fn parse_line(line: &str) -> LineOutcome<'_> {
    let fields = match split_line::<{ col::DEVICE_NAME + 1 }>(line) {
        Ok(Some(fields)) => fields,
        Ok(None) => return LineOutcome::Ignored,
        Err(why) => return LineOutcome::Rejected(why),
    };
    match checked_values(&fields) {
        Ok(v) => {
            let device_name = fields.get(col::DEVICE_NAME);
            let firewall = if !device_name.is_empty() {
                device_name
            } else {
                fields.host.filter(|h| !h.is_empty()).unwrap_or_else(|| fields.get(col::SERIAL))
            };
            LineOutcome::Event(FirewallEvent {
                firewall,
                time: Some(v.time),
                from_zone: fields.get(col::FROM_ZONE),
                to_zone: fields.get(col::TO_ZONE),
                src: v.src,
                dst: v.dst,
                rule: fields.get(col::RULE),
                action: action_of(fields.get(col::ACTION)),
                protocol: Cow::Borrowed(fields.get(col::PROTOCOL)),
                dst_port: v.dst_port,
                bytes: v.bytes,
                count: v.repeat_count.max(1),
                session: Session::Whole,
            })
        }
        Err(why) => LineOutcome::Rejected(why),
    }
}

/// Parse one log line with every PAN-OS field zoneaudit reads: `Ok(None)` for another PAN-OS log
/// type (THREAT, SYSTEM, CONFIG, ...) or a blank line, `Err` with one of [`reason`].
pub fn parse_traffic(line: &str) -> Result<Option<TrafficEvent<'_>>, &'static str> {
    let Some(f) = split_line::<{ col::HIGH_RES_TIME + 1 }>(line)? else {
        return Ok(None);
    };
    let v = checked_values(&f)?;
    let high_res_time = Some(f.get(col::HIGH_RES_TIME)).filter(|t| !t.is_empty());
    Ok(Some(TrafficEvent {
        host: f.host,
        receive_time: f.get(col::RECEIVE_TIME),
        serial: f.get(col::SERIAL),
        subtype: f.get(col::SUBTYPE),
        generated_time: f.get(col::GENERATED_TIME),
        time: v.time,
        src: v.src,
        dst: v.dst,
        nat_src: f.get(col::NAT_SRC),
        nat_dst: f.get(col::NAT_DST),
        rule: f.get(col::RULE),
        src_user: f.get(col::SRC_USER),
        app: f.get(col::APP),
        vsys: f.get(col::VSYS),
        from_zone: f.get(col::FROM_ZONE),
        to_zone: f.get(col::TO_ZONE),
        inbound_if: f.get(col::INBOUND_IF),
        outbound_if: f.get(col::OUTBOUND_IF),
        session_id: f.get(col::SESSION_ID),
        repeat_count: v.repeat_count,
        src_port: v.src_port,
        dst_port: v.dst_port,
        protocol: f.get(col::PROTOCOL),
        action: f.get(col::ACTION),
        bytes: v.bytes,
        session_end_reason: f.get(col::SESSION_END_REASON),
        device_name: f.get(col::DEVICE_NAME),
        rule_uuid: f.get(col::RULE_UUID),
        high_res_time,
    }))
}

/// The CSV fields of one TRAFFIC line, the first `N` stored.
struct Fields<'a, const N: usize> {
    host: Option<&'a str>,
    payload: &'a str,
    spans: [(u32, u32); N],
    count: usize,
}

impl<'a, const N: usize> Fields<'a, N> {
    /// Field `i`, empty when the line has fewer fields (or `i` is past the stored ones).
    #[inline]
    fn get(&self, i: usize) -> &'a str {
        match self.spans.get(i) {
            Some(&(s, e)) if i < self.count => self.payload.get(s as usize..e as usize).unwrap_or(""),
            _ => "",
        }
    }
}

/// Envelope, type and layout checks shared by both entry points: `Ok(None)` for a line that is
/// not TRAFFIC but is PAN-OS (or blank).
#[inline]
fn split_line<const N: usize>(line: &str) -> Result<Option<Fields<'_, N>>, &'static str> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.trim().is_empty() {
        return Ok(None);
    }
    let env = syslog::split(line);
    let payload = env.message;
    if !payload.starts_with("1,") {
        return Err(reason::NOT_PANOS);
    }
    let mut spans = [(0u32, 0u32); N];
    let Some(count) = split_csv(payload, &mut spans) else {
        // Offsets beyond u32: no PAN-OS line is 4 GiB long.
        return Err(reason::NOT_PANOS);
    };
    let fields = Fields { host: env.host, payload, spans, count };
    let log_type = fields.get(col::TYPE);
    if log_type != "TRAFFIC" {
        let looks_like_type =
            !log_type.is_empty() && log_type.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        return if looks_like_type { Ok(None) } else { Err(reason::NOT_PANOS) };
    }
    if !FIELD_COUNTS.iter().any(|&(n, _)| n == count) {
        return Err(reason::FIELD_COUNT);
    }
    Ok(Some(fields))
}

/// The converted fields; checked in the order that decides which reason a bad line gets.
struct Values {
    time: EventTime,
    src: IpAddr,
    dst: IpAddr,
    repeat_count: u64,
    src_port: u16,
    dst_port: u16,
    bytes: u64,
}

#[inline]
fn checked_values<const N: usize>(f: &Fields<'_, N>) -> Result<Values, &'static str> {
    let address = |i| parse_address(f.get(i)).ok_or(reason::ADDRESS);
    let number = |i| parse_u64(f.get(i)).ok_or(reason::NUMBER);
    let port = |i| parse_u64(f.get(i)).and_then(|n| u16::try_from(n).ok()).ok_or(reason::PORT);
    let generated_time = f.get(col::GENERATED_TIME);
    let time = EventTime::from_panos_slashed(generated_time).ok_or(reason::TIME)?;
    Ok(Values {
        time,
        src: address(col::SRC)?,
        dst: address(col::DST)?,
        repeat_count: number(col::REPEAT_COUNT)?,
        src_port: port(col::SRC_PORT)?,
        dst_port: port(col::DST_PORT)?,
        bytes: number(col::BYTES)?,
    })
}

/// `IpAddr::from_str` with a fast path for the canonical dotted quad (no leading zeros), which is
/// what PAN-OS writes; anything else goes to the std parser, so the accepted set is unchanged.
#[inline]
fn parse_address(s: &str) -> Option<IpAddr> {
    match dotted_quad(s.as_bytes()) {
        Some(octets) => Some(IpAddr::from(octets)),
        None => s.parse().ok(),
    }
}

fn dotted_quad(b: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut octet = 0usize;
    let mut value = 0u32;
    let mut digits = 0u32;
    let mut leading_zero = false;
    for &c in b {
        if c.is_ascii_digit() {
            leading_zero |= digits == 1 && value == 0;
            value = value * 10 + u32::from(c - b'0');
            digits += 1;
            if digits > 3 {
                return None;
            }
        } else if c == b'.' && digits > 0 && !leading_zero && value <= 255 {
            *out.get_mut(octet)? = value as u8;
            octet += 1;
            (value, digits) = (0, 0);
        } else {
            return None;
        }
    }
    // Leading zeros ("01") are left to the std parser, which rejects them.
    if octet != 3 || digits == 0 || leading_zero || value > 255 {
        return None;
    }
    *out.get_mut(3)? = value as u8;
    Some(out)
}

/// `u64::from_str` with a fast path for plain digits (up to 19, which cannot overflow); other
/// spellings (`+5`, 20 digits) go to the std parser.
#[inline]
fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if (1..=19).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
        Some(b.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')))
    } else {
        s.parse().ok()
    }
}

/// Split the CSV payload into field byte ranges (the first `N` are stored) and return the total
/// field count. `None` when offsets do not fit u32.
///
/// This is most of the parse cost, so it reads eight bytes at a time and takes every comma of a
/// word from one bit mask. Quoting and braces only mean something at the first byte of a field,
/// so a word without any `"` or `{` needs no per-comma test; a word with one is walked comma by
/// comma, and a field that opens with one is handed to a helper. Past the `N` stored fields the
/// commas are only counted: the layout check needs the exact total.
fn split_csv<const N: usize>(payload: &str, spans: &mut [(u32, u32); N]) -> Option<usize> {
    let b = payload.as_bytes();
    u32::try_from(b.len()).ok()?;
    let mut count = 0usize;
    let mut start = 0usize;
    let mut pos = 0usize;
    'scan: loop {
        if pos == start && matches!(b.get(start), Some(b'"' | b'{')) {
            let (field_start, field_end, comma) =
                if b.get(start) == Some(&b'"') { quoted_field(b, start) } else { braced_field(b, start) };
            if let Some(slot) = spans.get_mut(count) {
                *slot = (field_start as u32, field_end as u32);
            }
            count += 1;
            match comma {
                Some(comma) => {
                    start = comma + 1;
                    pos = start;
                    continue 'scan;
                }
                None => return Some(count),
            }
        }
        let rest = b.get(pos..).unwrap_or_default();
        let (word, width) = match rest.first_chunk::<8>() {
            Some(chunk) => (u64::from_le_bytes(*chunk), 8),
            None => {
                if rest.is_empty() {
                    if let Some(slot) = spans.get_mut(count) {
                        *slot = (start as u32, b.len() as u32);
                    }
                    return Some(count + 1);
                }
                // Tail: pad with zero bytes, which are neither commas nor quotes.
                let mut word = [0u8; 8];
                for (dst, src) in word.iter_mut().zip(rest) {
                    *dst = *src;
                }
                (u64::from_le_bytes(word), rest.len())
            }
        };
        let mut commas = byte_mask(word, b',');
        if commas == 0 {
            pos += width;
            continue;
        }
        let special = byte_mask(word, b'"') | byte_mask(word, b'{');
        if special == 0 {
            if count >= N {
                count += commas.count_ones() as usize;
                start = pos + (63 - commas.leading_zeros() as usize) / 8 + 1;
            } else {
                while commas != 0 {
                    let at = pos + (commas.trailing_zeros() / 8) as usize;
                    if let Some(slot) = spans.get_mut(count) {
                        *slot = (start as u32, at as u32);
                    }
                    count += 1;
                    start = at + 1;
                    commas &= commas - 1;
                }
            }
            pos += width;
            continue;
        }
        while commas != 0 {
            let at = pos + (commas.trailing_zeros() / 8) as usize;
            if let Some(slot) = spans.get_mut(count) {
                *slot = (start as u32, at as u32);
            }
            count += 1;
            start = at + 1;
            commas &= commas - 1;
            if matches!(b.get(start), Some(b'"' | b'{')) {
                pos = start;
                continue 'scan;
            }
        }
        pos += width;
    }
}

/// High bit set in each byte of `word` equal to `byte` (exact for every byte, unlike the cheaper
/// zero-byte test whose borrow flags a false match after a true one).
fn byte_mask(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (0x0101_0101_0101_0101 * byte as u64);
    let nonzero = ((x & LOW7).wrapping_add(LOW7)) | x;
    !(nonzero | LOW7)
}

fn next_comma(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..).and_then(|s| s.iter().position(|&c| c == b',')).map(|p| from + p)
}

/// `{a,b}` (Link Switches): commas inside the braces belong to the field; without a closing brace
/// it is an ordinary field. Returns (start, end, comma after it).
fn braced_field(b: &[u8], open: usize) -> (usize, usize, Option<usize>) {
    let close = b.get(open..).and_then(|s| s.iter().position(|&c| c == b'}')).map_or(open, |p| open + p);
    let comma = next_comma(b, close);
    (open, comma.unwrap_or(b.len()), comma)
}

/// A field opening with `"` at `open`: (content start, content end, comma after it). A quote that
/// closes early (`"ab"cd,`) is treated leniently: the raw text up to the next comma is the field.
fn quoted_field(b: &[u8], open: usize) -> (usize, usize, Option<usize>) {
    let mut j = open + 1;
    loop {
        match b.get(j) {
            None => return (open + 1, b.len(), None),
            Some(b'"') if b.get(j + 1) == Some(&b'"') => j += 2,
            Some(b'"') => {
                return match b.get(j + 1) {
                    None => (open + 1, j, None),
                    Some(b',') => (open + 1, j, Some(j + 1)),
                    Some(_) => {
                        let comma = next_comma(b, j + 1);
                        (open, comma.unwrap_or(b.len()), comma)
                    }
                };
            }
            Some(_) => j += 1,
        }
    }
}

/// Convenience for small payloads: parse + aggregate a whole buffer.
pub fn parse(raw: &[u8], attribute: &dyn Fn(IpAddr) -> Option<String>) -> (Facts, Rejects) {
    firewall::parse(LogFormat::Panos, raw, attribute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::firewall::FlowAggregator;
    use crate::model::Origin;
    use std::io::Cursor;

    const TRAFFIC: &str = include_str!("../../tests/fixtures/panos/panos-traffic.log");
    const MIXED: &str = include_str!("../../tests/fixtures/panos/traffic-mixed-stream.log");
    const ENVELOPES: &str = include_str!("../../tests/fixtures/panos/syslog-envelopes.log");

    /// The zone model of the samples: 10.20/16 prod, 10.30/16 dev, the rest unknown.
    fn zones(addr: IpAddr) -> Option<String> {
        match addr {
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 20] => Some("prod".into()),
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 30] => Some("dev".into()),
            _ => None,
        }
    }

    fn traffic(line: &str) -> TrafficEvent<'_> {
        match parse_traffic(line) {
            Ok(Some(ev)) => ev,
            other => panic!("expected a TRAFFIC event, got {other:?} for {line}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn every_sample_line_is_understood() {
        let events: Vec<_> = TRAFFIC.lines().map(traffic).collect();
        assert_eq!(events.len(), 4);
        let e = &events[0];
        assert_eq!(e.host, Some("fw-core-01"));
        assert_eq!(e.receive_time, "2024/07/16 10:15:02");
        assert_eq!(e.serial, "013201028945");
        assert_eq!(e.subtype, "end");
        assert_eq!(e.generated_time, "2024/07/16 10:15:01");
        assert_eq!(e.time, "2024-07-16 10:15:01");
        assert_eq!((e.src, e.dst), (ip("10.20.0.71"), ip("10.30.0.75")));
        assert_eq!(e.rule, "prod-to-dev-api");
        assert_eq!(e.app, "ssl");
        assert_eq!((e.from_zone, e.to_zone), ("ZONE-PROD", "ZONE-DEV"));
        assert_eq!((e.inbound_if, e.outbound_if), ("ethernet1/3.110", "ethernet1/4.120"));
        assert_eq!(e.session_id, "384212");
        assert_eq!((e.src_port, e.dst_port), (51544, 8443));
        assert_eq!((e.protocol, e.action), ("tcp", "allow"));
        assert_eq!(e.bytes, 7312);
        assert_eq!(e.repeat_count, 1);
        assert_eq!(e.session_end_reason, "tcp-fin");
        assert_eq!(e.device_name, "fw-core-01");
        assert_eq!(e.rule_uuid, "6a1e0c2b-3f5d-4c61-9f0e-2d4f7a9b1c01");
        assert_eq!(e.high_res_time, Some("2024-07-16T10:15:01.512+00:00"));

        let deny = &events[1];
        assert_eq!((deny.subtype, deny.rule, deny.action), ("deny", "interzone-default", "deny"));
        assert_eq!((deny.from_zone, deny.to_zone, deny.dst_port), ("ZONE-DEV", "ZONE-PROD", 5432));
        assert_eq!(deny.session_end_reason, "policy-deny");

        let ietf = &events[2];
        assert_eq!(ietf.host, Some("fw-core-01"));
        assert_eq!((ietf.subtype, ietf.rule, ietf.to_zone), ("start", "prod-egress-https", "OUTSIDE"));
        assert_eq!((ietf.nat_src, ietf.dst_port, ietf.bytes), ("198.51.100.7", 443, 590));

        let drop = &events[3];
        assert_eq!(
            (drop.subtype, drop.rule, drop.action, drop.dst_port),
            ("drop", "dev-to-prod-block", "drop", 22)
        );
    }

    #[test]
    fn sample_aggregates_carry_zones_rule_action_port_and_bytes() {
        let (facts, rejects) = parse(TRAFFIC.as_bytes(), &zones);
        assert!(rejects.is_empty(), "{rejects:?}");
        let flows = &facts.flows;
        assert_eq!(flows.len(), 4);
        // Sorted by key: firewall, from zone, to zone, ...
        let keys: Vec<_> = flows
            .iter()
            .map(|f| (f.from_fw_zone.as_str(), f.to_fw_zone.as_str(), f.rule.as_str(), f.action.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("ZONE-DEV", "ZONE-PROD", "dev-to-prod-block", "drop"),
                ("ZONE-DEV", "ZONE-PROD", "interzone-default", "deny"),
                ("ZONE-PROD", "OUTSIDE", "prod-egress-https", "allow"),
                ("ZONE-PROD", "ZONE-DEV", "prod-to-dev-api", "allow"),
            ]
        );
        let api = &flows[3];
        assert_eq!(api.firewall, "fw-core-01");
        assert_eq!((api.src_zone.as_deref(), api.dst_zone.as_deref()), (Some("prod"), Some("dev")));
        assert_eq!((api.protocol.as_str(), api.dst_port, api.count, api.bytes), ("tcp", 8443, 1, 7312));
        assert_eq!(
            (api.first_seen.as_str(), api.last_seen.as_str()),
            ("2024-07-16 10:15:01", "2024-07-16 10:15:01")
        );
        assert_eq!(api.samples, vec![Origin::at_line(1, TRAFFIC.lines().next().unwrap_or_default())]);
        let egress = &flows[2];
        assert_eq!((egress.src_zone.as_deref(), egress.dst_zone.as_deref()), (Some("prod"), None));
        assert_eq!(egress.samples[0].locator, "line 3");
    }

    #[test]
    fn mixed_stream_aggregates_repeats_and_rejects_with_line_numbers() {
        let mut agg = FlowAggregator::new(LogFormat::Panos);
        agg.ingest(Cursor::new(MIXED), &zones).expect("in-memory read");
        assert_eq!(agg.lines_read(), 9);
        assert_eq!(agg.events(), 6);
        // THREAT line and the blank line.
        assert_eq!(agg.ignored(), 2);
        let (flows, rejects) = agg.finish();

        assert_eq!(rejects.counts.get(reason::FIELD_COUNT), Some(&1));
        assert_eq!(rejects.total(), 1);
        assert_eq!(rejects.samples[0].locator, "line 5: wrong field count");
        assert!(
            rejects.samples[0].excerpt.starts_with("<14>Jul 16 10:15:07 fw-core-01 1,2024/07/16 10:15:07,")
        );

        let api: Vec<_> = flows.iter().filter(|f| f.rule == "prod-to-dev-api").collect();
        assert_eq!(api.len(), 1, "lines 1, 2, 3 and the 9.1 line 9 share one key");
        let api = api[0];
        // Repeat count 3 on line 2.
        assert_eq!(api.count, 1 + 3 + 1 + 1);
        assert_eq!(api.bytes, 7312 + 1000 + 88 + 500);
        assert_eq!(api.first_seen, "2024-07-16 10:14:50");
        assert_eq!(api.last_seen, "2024-07-16 10:23:00");
        let sample_lines: Vec<_> = api.samples.iter().map(|s| s.locator.as_str()).collect();
        assert_eq!(sample_lines, ["line 1", "line 2", "line 3"]);

        // Line 6: relayed without PRI, quoted user with a comma, Link Switches in braces.
        let reset = flows.iter().find(|f| f.action == "reset-both").expect("reset both flow");
        assert_eq!((reset.firewall.as_str(), reset.rule.as_str()), ("fw-core-01", "dev-to-prod-block"));
        assert_eq!((reset.from_fw_zone.as_str(), reset.to_fw_zone.as_str()), ("ZONE-DEV", "ZONE-PROD"));
        assert_eq!((reset.dst_port, reset.bytes), (22, 148));
        assert_eq!(reset.samples[0].locator, "line 6");

        // Line 8: DeviceName empty, so the IETF header host names the firewall.
        let edge = flows.iter().find(|f| f.firewall == "fw-edge-02").expect("flow named after syslog host");
        assert_eq!(
            (edge.protocol.as_str(), edge.dst_port, edge.rule.as_str()),
            ("udp", 53, "interzone-default")
        );
        assert_eq!((edge.src_zone.as_deref(), edge.dst_zone.as_deref()), (Some("dev"), Some("prod")));
    }

    #[test]
    fn quoted_fields_with_commas_keep_later_positions() {
        let line = MIXED.lines().nth(5).expect("line 6");
        let e = traffic(line);
        assert_eq!(e.host, Some("fw-core-01"));
        assert_eq!(e.src_user, "cn=svc-backup,ou=svc");
        assert_eq!((e.from_zone, e.to_zone), ("ZONE-DEV", "ZONE-PROD"));
        assert_eq!(e.action, "reset both");
        assert_eq!(e.action_key(), "reset-both");
        assert_eq!(e.device_name, "fw-core-01");
        assert_eq!(e.rule_uuid, "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
        assert_eq!(e.high_res_time, Some("2024-07-16T10:17:44.870+00:00"));

        let base = TRAFFIC.lines().next().unwrap_or_default();
        let escaped = base.replacen(",prod-to-dev-api,,,", ",prod-to-dev-api,\"say \"\"hi\"\", ok\",,", 1);
        let e = traffic(&escaped);
        assert_eq!(e.src_user, "say \"\"hi\"\", ok");
        assert_eq!((e.app, e.from_zone, e.dst_port), ("ssl", "ZONE-PROD", 8443));
    }

    fn csv_fields(payload: &str) -> Vec<&str> {
        let mut spans = [(0u32, 0u32); MAX_FIELDS];
        let count = split_csv(payload, &mut spans).expect("small payload");
        spans[..count.min(MAX_FIELDS)].iter().map(|&(s, e)| &payload[s as usize..e as usize]).collect()
    }

    #[test]
    fn csv_splitter_edge_cases() {
        // `,-` right after a comma, fields straddling 8-byte words, empty fields, trailing comma.
        assert_eq!(
            csv_fields("1,-,--x,,10.0.0.0-10.255.255.255,abcdefghijklmnop,"),
            ["1", "-", "--x", "", "10.0.0.0-10.255.255.255", "abcdefghijklmnop", ""]
        );
        assert_eq!(csv_fields("\"a,b\",{c,d},\"e\"\"f\",g"), ["a,b", "{c,d}", "e\"\"f", "g"]);
        // A quote that closes early keeps the raw text up to the next comma; an unclosed brace
        // is an ordinary field; an unterminated quote takes the rest of the line.
        assert_eq!(csv_fields("\"ab\"cd,{x,y"), ["\"ab\"cd", "{x", "y"]);
        assert_eq!(csv_fields("1,\"open,to,the end"), ["1", "open,to,the end"]);
        assert_eq!(csv_fields(""), [""]);
        let many = ",".repeat(200);
        let mut spans = [(0u32, 0u32); MAX_FIELDS];
        assert_eq!(split_csv(&many, &mut spans), Some(201));
    }

    #[test]
    fn other_log_types_and_blank_lines_are_ignored() {
        let threat = MIXED.lines().nth(3).expect("line 4");
        assert!(threat.contains(",THREAT,vulnerability,"));
        assert_eq!(parse_line(threat), LineOutcome::Ignored);
        assert_eq!(parse_line(""), LineOutcome::Ignored);
        assert_eq!(parse_line("   \r"), LineOutcome::Ignored);
        assert_eq!(
            parse_line("<14>Jul 16 10:15:02 fw-core-01 1,2024/07/16 10:15:02,0132,SYSTEM,general,0"),
            LineOutcome::Ignored
        );
    }

    #[test]
    fn envelopes_bsd_ietf_and_without_pri() {
        let bsd = traffic(ENVELOPES.lines().next().unwrap_or_default());
        assert_eq!((bsd.host, bsd.firewall()), (Some("fw-core-01"), "fw-core-01"));
        let ietf = traffic(ENVELOPES.lines().nth(1).unwrap_or_default());
        assert_eq!((ietf.host, ietf.subtype), (Some("fw-core-01"), "start"));
        let base = TRAFFIC.lines().next().unwrap_or_default();
        let payload = &base[base.find(" 1,").map_or(0, |i| i + 1)..];
        let relayed = format!(
            "Nov 30 16:09:08 PA-220 {}",
            payload.replace(",fw-core-01,from-policy,", ",,from-policy,")
        );
        let e = traffic(&relayed);
        assert_eq!((e.host, e.firewall()), (Some("PA-220"), "PA-220"));
        // No envelope at all (an export): the serial is all that names the device.
        let headless = payload.replace(",fw-core-01,from-policy,", ",,from-policy,");
        assert_eq!(traffic(&headless).firewall(), "013201028945");
    }

    #[test]
    fn other_vendors_on_a_panos_source_are_rejected() {
        for line in ENVELOPES.lines().skip(2) {
            assert_eq!(parse_line(line), LineOutcome::Rejected(reason::NOT_PANOS), "{line}");
        }
    }

    #[test]
    fn bad_values_are_rejected_with_a_stable_reason() {
        let base = TRAFFIC.lines().next().unwrap_or_default();
        let cases = [
            (base.replacen("10.20.0.71", "10.20.0.271", 1), reason::ADDRESS),
            (base.replacen(",51544,8443,", ",51544,84430,", 1), reason::PORT),
            (base.replacen(",tcp,allow,7312,", ",tcp,allow,-7,", 1), reason::NUMBER),
            (base.replacen(",2024/07/16 10:15:01,10.20", ",16/07/2024 10:15,10.20", 1), reason::TIME),
            (format!("{base},extra"), reason::FIELD_COUNT),
            (base.replacen(" 1,2024", " 2,2024", 1), reason::NOT_PANOS),
            (base.replacen(",TRAFFIC,", ",traffic,", 1), reason::NOT_PANOS),
        ];
        for (line, why) in &cases {
            assert_eq!(parse_line(line), LineOutcome::Rejected(why), "{why}");
        }
    }

    #[test]
    fn invalid_utf8_and_crlf_lines() {
        let good = TRAFFIC.lines().next().unwrap_or_default();
        let mut raw = Vec::new();
        raw.extend_from_slice(good.as_bytes());
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(b"<14>Jul 16 10:15:02 fw-core-01 1,\xff\xfe broken\r\n");
        raw.extend_from_slice(good.as_bytes());
        let (facts, rejects) = parse(&raw, &zones);
        assert_eq!(rejects.counts.get(reason::NOT_UTF8), Some(&1));
        assert_eq!(rejects.samples[0].locator, "line 2: not utf-8");
        assert_eq!(facts.flows.len(), 1);
        assert_eq!(facts.flows[0].count, 2);
        // CR stripped from the kept evidence line.
        assert_eq!(facts.flows[0].samples[0].excerpt, good);
        assert_eq!(facts.flows[0].samples[1].locator, "line 3");
    }

    #[test]
    fn line_numbers_restart_per_ingest_call_and_counters_add_up() {
        let mut agg = FlowAggregator::new(LogFormat::Panos);
        agg.ingest(Cursor::new(TRAFFIC), &zones).expect("read");
        agg.ingest(Cursor::new("garbage\n"), &zones).expect("read");
        assert_eq!(agg.lines_read(), 5);
        assert_eq!(agg.events(), 4);
        let (flows, rejects) = agg.finish();
        assert_eq!(rejects.samples[0].locator, "line 1: not a PAN-OS log");
        assert_eq!(flows.iter().map(|f| f.count).sum::<u64>(), 4);
    }

    #[test]
    fn panos_9_1_layout_is_accepted() {
        let line = MIXED.lines().nth(8).expect("line 9");
        let e = traffic(line);
        assert_eq!((e.device_name, e.rule_uuid), ("fw-core-01", "6a1e0c2b-3f5d-4c61-9f0e-2d4f7a9b1c01"));
        assert_eq!(e.high_res_time, None);
    }

    #[test]
    fn ipv6_addresses_and_action_spelling() {
        let base = TRAFFIC.lines().next().unwrap_or_default();
        let line = base.replacen("10.20.0.71,10.30.0.75", "2001:db8:20::71,2001:db8:30::75", 1).replacen(
            ",tcp,allow,",
            ",icmp,drop ICMP,",
            1,
        );
        let e = traffic(&line);
        assert_eq!(e.src, ip("2001:db8:20::71"));
        assert_eq!(e.action_key(), "drop-icmp");
        let (facts, _) = parse(line.as_bytes(), &zones);
        assert_eq!(facts.flows[0].action, "drop-icmp");
        assert_eq!(facts.flows[0].src_zone, None);
    }

    /// The lean `parse_line` path must give what the full `parse_traffic` gives.
    fn full_outcome(line: &str) -> LineOutcome<'_> {
        match parse_traffic(line) {
            Ok(Some(traffic)) => LineOutcome::Event(traffic.to_event()),
            Ok(None) => LineOutcome::Ignored,
            Err(why) => LineOutcome::Rejected(why),
        }
    }

    #[test]
    fn lean_line_parse_matches_the_full_parse_on_every_fixture_line() {
        for line in TRAFFIC.lines().chain(MIXED.lines()).chain(ENVELOPES.lines()) {
            assert_eq!(parse_line(line), full_outcome(line), "{line}");
        }
    }

    #[test]
    fn fast_address_and_number_paths_agree_with_std() {
        for s in [
            "10.20.0.71",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            "1..2.3",
            "1.2.3.04",
            "1.2.3.0",
            "1000.1.1.1",
            "::1",
            "2001:db8::7",
            "",
            "1.2.3.4 ",
            "+1.2.3.4",
        ] {
            assert_eq!(parse_address(s), s.parse::<IpAddr>().ok(), "{s:?}");
        }
        for s in [
            "0",
            "007",
            "+5",
            "-1",
            "",
            "18446744073709551615",
            "18446744073709551616",
            "9999999999999999999",
            "1a",
        ] {
            assert_eq!(parse_u64(s), s.parse::<u64>().ok(), "{s:?}");
        }
    }

    #[test]
    fn commas_past_the_stored_fields_are_counted_exactly() {
        let line = TRAFFIC.lines().next().unwrap_or_default();
        let payload = syslog::split(line).message;
        let mut all = [(0u32, 0u32); MAX_FIELDS];
        let mut few = [(0u32, 0u32); 3];
        assert_eq!(split_csv(payload, &mut all), Some(115));
        assert_eq!(split_csv(payload, &mut few), Some(115));
        assert_eq!(few[..], all[..3]);
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_agree_with_std_on_any_short_text(s in "[0-9.+:a-f]{0,20}") {
            proptest::prop_assert_eq!(parse_address(&s), s.parse::<IpAddr>().ok());
            proptest::prop_assert_eq!(parse_u64(&s), s.parse::<u64>().ok());
        }

        #[test]
        fn split_counts_the_same_whatever_it_stores(payload in "[a-z0-9,\"{} ]{0,120}") {
            let mut all = [(0u32, 0u32); 200];
            let mut few = [(0u32, 0u32); 4];
            let total = split_csv(&payload, &mut all);
            proptest::prop_assert_eq!(split_csv(&payload, &mut few), total);
            let stored = total.unwrap_or(0).min(4);
            proptest::prop_assert_eq!(&few[..stored], &all[..stored]);
        }

        #[test]
        fn lean_parse_matches_full_parse_on_mutated_lines(cut in 0usize..1200, byte in proptest::prelude::any::<u8>()) {
            for line in [TRAFFIC.lines().next().unwrap_or_default(), MIXED.lines().nth(8).unwrap_or_default()] {
                let mut raw = line.as_bytes().to_vec();
                if cut < raw.len() { raw[cut] = byte; }
                let text = String::from_utf8_lossy(&raw);
                proptest::prop_assert_eq!(parse_line(&text), full_outcome(&text));
            }
        }

        #[test]
        fn parse_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let (facts, rejects) = parse(&raw, &zones);
            proptest::prop_assert!(facts.flows.len() as u64 <= rejects.total() + raw.len() as u64 + 1);
        }

        #[test]
        fn parse_line_never_panics_on_csv_like_input(line in "(<14>)?(Jul 16 10:15:02 fw )?1,[-0-9a-zA-Z,\"{} ./:]{0,300}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn mutated_sample_lines_never_panic(cut in 0usize..1200, byte in proptest::prelude::any::<u8>()) {
            let base = TRAFFIC.lines().next().unwrap_or_default().as_bytes().to_vec();
            let mut raw = base.clone();
            if cut < raw.len() { raw[cut] = byte; }
            let _ = parse(&raw, &zones);
            let _ = parse(&base[..cut.min(base.len())], &zones);
        }
    }
}
