//! Vendor-neutral firewall traffic: one event type, one streaming aggregator, a line parser per
//! vendor format.
//!
//! ```text
//!  line ──syslog::split──▶ payload ──<vendor>::parse_line──▶ FirewallEvent (borrows the line)
//!                                                          | Ignored   (other log types, blank)
//!                                                          | Rejected  (one of `reason`)
//!       ──FlowAggregator──▶ FlowAggregate keyed by
//!            (firewall, from zone, to zone, src zone*, dst zone*, rule, action, protocol, dst port)
//!            * attributed from the addresses by the caller's zone model
//! ```
//!
//! What every vendor maps into [`FirewallEvent`]:
//!
//! | field | PAN-OS | FortiGate | ASA | netfilter |
//! |---|---|---|---|---|
//! | firewall | DeviceName, host, serial | `devname`, `devid`, host | syslog host | syslog host |
//! | time | Generated Time | `date` + `time` | syslog timestamp | syslog timestamp |
//! | zones | `from` / `to` | `srcintf` / `dstintf` | interface nameifs | `ZA:` prefix, else IN / OUT |
//! | rule | Rule Name | `policyname`, else `policyid` | ACL name (`""` on Built) | the whole prefix |
//!
//! Times are normalised to `YYYY-MM-DD HH:MM:SS` in the device's own clock (no time zone is
//! applied: the logs do not carry one reliably), so string order is time order within a device.
//! A syslog timestamp without a year (BSD `Jul 16 10:15:07`) keeps year `0000` unless the caller
//! sets [`FlowAggregator::assume_year`]. Actions are lower case with dashes; every allowed,
//! accepted, permitted or normally closed session is `allow`, the one value checks treat as
//! allowed.
//!
//! Sessions logged twice (ASA Built, then Teardown with the byte count) are linked by
//! [`Session`]: the opening event counts the connection, the closing one only adds bytes to the
//! aggregate the opening event went to, so no connection is counted twice and no reversed
//! "flow" is invented from a Teardown line, which does not say who initiated.
//!
//! Hot path: one reused line buffer, the parser chosen once per `ingest` (monomorphised, not a
//! call through a pointer per line), zone attribution cached per address, aggregates found by a
//! hash of the borrowed key; a line allocates only when it opens a new aggregate or becomes one of
//! its samples.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::BufRead;
use std::net::IpAddr;

use crate::collect::logfile::{ChunkParser, SegmentStart};
use crate::collect::{asa, fortigate, netfilter, panos};
use crate::config::SourceKind;
use crate::model::{Facts, FlowAggregate, Origin, Rejects};

/// Original log lines kept per aggregate as evidence.
pub const MAX_SAMPLES: usize = 3;

/// Reject reasons: stable strings, they are the keys of `Rejects::counts`.
pub mod reason {
    pub const NOT_UTF8: &str = "not utf-8";
    pub const NOT_PANOS: &str = "not a PAN-OS log";
    pub const NOT_FORTIGATE: &str = "not a FortiGate log";
    pub const NOT_ASA: &str = "not an ASA log";
    pub const NOT_NETFILTER: &str = "not a netfilter log";
    pub const FIELD_COUNT: &str = "wrong field count";
    pub const KEY_VALUE: &str = "bad key=value";
    pub const MISSING_FIELD: &str = "missing field";
    pub const MESSAGE: &str = "malformed message";
    pub const ADDRESS: &str = "bad address";
    pub const PORT: &str = "bad port";
    pub const NUMBER: &str = "bad number";
    pub const TIME: &str = "bad time";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Panos,
    Fortigate,
    Asa,
    Netfilter,
}

impl LogFormat {
    /// Whether a line is read without the lines before it. ASA Teardown lines add their bytes to
    /// the aggregate of their Built line ([`Session`]), so an ASA log is never cut in chunks.
    pub fn lines_stand_alone(self) -> bool {
        self != LogFormat::Asa
    }

    pub fn of(kind: SourceKind) -> Option<LogFormat> {
        match kind {
            SourceKind::Panos => Some(LogFormat::Panos),
            SourceKind::Fortigate => Some(LogFormat::Fortigate),
            SourceKind::Asa => Some(LogFormat::Asa),
            SourceKind::Netfilter => Some(LogFormat::Netfilter),
            _ => None,
        }
    }
}

/// An event time, `YYYY-MM-DD HH:MM:SS`, held inline: normalising every vendor's spelling must not
/// cost an allocation per line. Year `0000` means the log did not say (BSD syslog header).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventTime([u8; 19]);

impl EventTime {
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII digits and separators.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn year_known(&self) -> bool {
        self.0[..4] != *b"0000"
    }

    /// The same time in `year` (for logs that carry none).
    pub fn with_year(mut self, year: u16) -> EventTime {
        if year <= 9999 {
            let digits = [year / 1000, year / 100 % 10, year / 10 % 10, year % 10];
            for (slot, d) in self.0.iter_mut().zip(digits) {
                *slot = b'0' + d as u8;
            }
        }
        self
    }

    /// Date `YYYY-MM-DD` or `YYYY/MM/DD` and clock `HH:MM:SS` (fractional seconds dropped).
    pub fn from_date_clock(date: &str, clock: &str) -> Option<EventTime> {
        let d = date.as_bytes();
        let sep_ok = d.len() == 10 && d[4] == d[7] && matches!(d[4], b'-' | b'/');
        if !sep_ok || !all_digits(&d[..4]) || !all_digits(&d[5..7]) || !all_digits(&d[8..10]) {
            return None;
        }
        let mut out = *b"0000-00-00 00:00:00";
        out[..4].copy_from_slice(&d[..4]);
        out[5..7].copy_from_slice(&d[5..7]);
        out[8..10].copy_from_slice(&d[8..10]);
        put_clock(&mut out, clock.as_bytes())?;
        Some(EventTime(out))
    }

    /// Exactly `YYYY/MM/DD HH:MM:SS` (the PAN-OS layout, whose string order is time order): one
    /// shape check, then a copy with the separators fixed; this runs for every PAN-OS line.
    pub fn from_panos_slashed(t: &str) -> Option<EventTime> {
        let &bytes = <&[u8; 19]>::try_from(t.as_bytes()).ok()?;
        let shape_ok = bytes.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'/',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
        let mut out = bytes;
        out[4] = b'-';
        out[7] = b'-';
        shape_ok.then_some(EventTime(out))
    }

    /// PAN-OS `YYYY/MM/DD HH:MM:SS`.
    pub fn from_panos(t: &str) -> Option<EventTime> {
        if let Some(time) = Self::from_panos_slashed(t) {
            return Some(time);
        }
        let (date, clock) = t.split_once(' ')?;
        if clock.len() != 8 {
            return None;
        }
        Self::from_date_clock(date, clock)
    }

    /// A syslog header timestamp: BSD `Mmm dd [yyyy] hh:mm:ss[.fff]` (day space-padded or not,
    /// year as ASA writes it) or RFC 3339 `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]` (offset not applied).
    pub fn from_syslog(ts: &str) -> Option<EventTime> {
        if let Some((date, rest)) = ts.split_once('T') {
            let clock = rest.get(..8)?;
            return Self::from_date_clock(date, clock);
        }
        let mut parts = ts.split_ascii_whitespace();
        let month = parts.next()?;
        let day = parts.next()?;
        let (year, clock) = match (parts.next()?, parts.next()) {
            (year, Some(clock)) => (year, clock),
            (clock, None) => ("0000", clock),
        };
        let month = MONTHS.iter().position(|m| *m == month)? + 1;
        let day_digits = day.as_bytes();
        if year.len() != 4 || !all_digits(year.as_bytes()) || !(1..=2).contains(&day.len()) {
            return None;
        }
        if !all_digits(day_digits) || parts.next().is_some() {
            return None;
        }
        let mut out = *b"0000-00-00 00:00:00";
        out[..4].copy_from_slice(year.as_bytes());
        out[5] = b'0' + (month / 10) as u8;
        out[6] = b'0' + (month % 10) as u8;
        if let [d] = day_digits {
            out[9] = *d;
        } else {
            out[8..10].copy_from_slice(day_digits);
        }
        put_clock(&mut out, clock.as_bytes())?;
        Some(EventTime(out))
    }
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn all_digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

/// `hh:mm:ss` with optional `.fraction` into positions 11..19.
fn put_clock(out: &mut [u8; 19], clock: &[u8]) -> Option<()> {
    let (hms, frac) = clock.split_at_checked(8)?;
    let ok = hms[2] == b':'
        && hms[5] == b':'
        && all_digits(&hms[..2])
        && all_digits(&hms[3..5])
        && all_digits(&hms[6..]);
    let frac_ok = frac.is_empty() || (frac.len() > 1 && frac[0] == b'.' && all_digits(&frac[1..]));
    if !ok || !frac_ok {
        return None;
    }
    out[11..].copy_from_slice(hms);
    Some(())
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl PartialEq<&str> for EventTime {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What the firewall did. The strings of [`Action::key`] are what `FlowAggregate.action` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Allowed, accepted, permitted, or a session that ended after being allowed: `allow`.
    Allow,
    Deny,
    Drop,
    /// A fixed spelling (`reset-both`, `drop-icmp`, `reject`, `log`).
    Named(&'static str),
    /// Anything else, as logged; aggregated lower case with spaces as dashes.
    Other(&'a str),
}

impl<'a> Action<'a> {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Action::Allow)
    }

    /// Lower case, spaces as dashes; borrowed unless an `Other` spelling needs rewriting.
    pub fn key(&self) -> Cow<'a, str> {
        match *self {
            Action::Allow => Cow::Borrowed("allow"),
            Action::Deny => Cow::Borrowed("deny"),
            Action::Drop => Cow::Borrowed("drop"),
            Action::Named(name) => Cow::Borrowed(name),
            Action::Other(s) if is_normal_key(s) => Cow::Borrowed(s),
            Action::Other(s) => {
                let mut out = String::with_capacity(s.len());
                push_normal_key(s, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// Like [`Action::key`], writing into a reused buffer instead of allocating.
    fn key_in<'s>(&self, buf: &'s mut String) -> &'s str
    where
        'a: 's,
    {
        match *self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Drop => "drop",
            Action::Named(name) => name,
            Action::Other(s) if is_normal_key(s) => s,
            Action::Other(s) => {
                buf.clear();
                push_normal_key(s, buf);
                buf.as_str()
            }
        }
    }
}

fn is_normal_key(s: &str) -> bool {
    !s.bytes().any(|b| b.is_ascii_uppercase() || b == b' ')
}

fn push_normal_key(s: &str, out: &mut String) {
    out.extend(s.chars().map(|c| if c == ' ' { '-' } else { c.to_ascii_lowercase() }));
}

/// IANA protocol number to the lower-case name PAN-OS logs; `None` for the rest (kept as the number).
pub fn protocol_name(number: u8) -> Option<&'static str> {
    Some(match number {
        1 => "icmp",
        2 => "igmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        89 => "ospf",
        112 => "vrrp",
        132 => "sctp",
        _ => return None,
    })
}

/// A protocol as logged by name (`TCP`, `udp`, `ICMPv6`, or a number) in the lower-case spelling
/// used by every aggregate; borrowed in all common cases.
pub fn protocol_key(logged: &str) -> Cow<'_, str> {
    if let Ok(n) = logged.parse::<u8>() {
        return protocol_name(n).map_or(Cow::Borrowed(logged), Cow::Borrowed);
    }
    let known = ["tcp", "udp", "icmp", "sctp", "gre", "esp", "ah", "igmp", "udplite", "ipv6-icmp"];
    if let Some(name) = known.iter().find(|k| k.eq_ignore_ascii_case(logged)) {
        return Cow::Borrowed(name);
    }
    if logged.eq_ignore_ascii_case("icmpv6") {
        return Cow::Borrowed("ipv6-icmp");
    }
    if logged.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(logged.to_ascii_lowercase())
    } else {
        Cow::Borrowed(logged)
    }
}

/// How an event relates to other lines about the same connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session<'a> {
    /// A complete record (PAN-OS, FortiGate, an ACL hit, a logged packet): counted as it stands.
    Whole,
    /// Opens the connection with this device-local id (ASA Built): counted; later byte counts for
    /// the same id are added to the same aggregate.
    Opens(&'a str),
    /// Closes the connection with this id (ASA Teardown): only its bytes count, added to the
    /// aggregate the opening event went to; without one seen, the line is ignored.
    Closes(&'a str),
}

/// One firewall log event, borrowed from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallEvent<'a> {
    /// The device that logged it; empty when the line does not say (an ASA without device id and
    /// without a syslog host): the aggregator then uses [`FlowAggregator::name_unnamed`].
    pub firewall: &'a str,
    /// `None` when the line carries no time at all.
    pub time: Option<EventTime>,
    /// Firewall zones (or interfaces, where the vendor has no zones) as logged.
    pub from_zone: &'a str,
    pub to_zone: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub rule: &'a str,
    pub action: Action<'a>,
    /// `tcp`, `udp`, `icmp`, ... or the protocol number.
    pub protocol: Cow<'a, str>,
    /// 0 where the protocol has no ports (ICMP).
    pub dst_port: u16,
    pub bytes: u64,
    /// Connections (or hits, or packets) this line stands for: repeat count, ASA `hit-cnt`.
    pub count: u64,
    pub session: Session<'a>,
}

/// What one log line was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome<'a> {
    Event(FirewallEvent<'a>),
    /// Blank, or another log type of the vendor (PAN-OS THREAT, FortiGate event, other ASA ids).
    Ignored,
    /// Not usable; the reason is one of [`reason`].
    Rejected(&'static str),
}

/// Parse one log line of `format` (envelope included, line terminator optional).
pub fn parse_line(format: LogFormat, line: &str) -> LineOutcome<'_> {
    match format {
        LogFormat::Panos => panos::parse_line(line),
        LogFormat::Fortigate => fortigate::parse_line(line),
        LogFormat::Asa => asa::parse_line(line),
        LogFormat::Netfilter => netfilter::parse_line(line),
    }
}

/// Parse and aggregate a whole buffer of log lines in `format`.
pub fn parse(
    format: LogFormat,
    raw: &[u8],
    attribute: &dyn Fn(IpAddr) -> Option<String>,
) -> (Facts, Rejects) {
    let mut agg = FlowAggregator::new(format);
    // A slice never fails to read.
    let _ = agg.ingest(raw, attribute);
    let (flows, rejects) = agg.finish();
    (Facts { flows, ..Facts::default() }, rejects)
}

/// A firewall log parsed into a [`FlowAggregator`] per chunk, the chunks appended in file order
/// ([`read_incremental_chunked`](crate::collect::logfile::read_incremental_chunked),
/// [`parse_whole`](crate::collect::logfile::parse_whole)): a long plain log uses every
/// core and aggregates exactly as one pass would.
pub struct FlowParser<'a> {
    format: LogFormat,
    attribute: &'a (dyn Fn(IpAddr) -> Option<String> + Sync),
    unnamed: String,
    assumed_year: Option<u16>,
}

impl<'a> FlowParser<'a> {
    pub fn new(format: LogFormat, attribute: &'a (dyn Fn(IpAddr) -> Option<String> + Sync)) -> Self {
        FlowParser { format, attribute, unnamed: String::new(), assumed_year: None }
    }

    /// As [`FlowAggregator::name_unnamed`].
    pub fn name_unnamed(mut self, firewall: impl Into<String>) -> Self {
        self.unnamed = firewall.into();
        self
    }

    /// As [`FlowAggregator::assume_year`].
    pub fn assume_year(mut self, year: u16) -> Self {
        self.assumed_year = Some(year);
        self
    }

    fn aggregator(&self) -> FlowAggregator {
        let mut agg = FlowAggregator::new(self.format);
        agg.name_unnamed(self.unnamed.as_str());
        if let Some(year) = self.assumed_year {
            agg.assume_year(year);
        }
        agg
    }
}

impl ChunkParser for FlowParser<'_> {
    type Parsed = FlowAggregator;

    fn splits(&self) -> bool {
        self.format.lines_stand_alone()
    }

    fn parse(&self, start: &SegmentStart, reader: &mut dyn BufRead) -> std::io::Result<FlowAggregator> {
        let mut agg = self.aggregator();
        agg.ingest_from_line(reader, start.first_line, self.attribute)?;
        Ok(agg)
    }

    fn lines(&self, parsed: &FlowAggregator) -> u64 {
        parsed.lines_read()
    }

    fn append(&self, earlier: &mut FlowAggregator, later: FlowAggregator, first_line: u64) {
        earlier.append(later, first_line);
    }
}

/// Streaming aggregation of one log format into [`FlowAggregate`]s.
#[derive(Debug)]
pub struct FlowAggregator {
    format: LogFormat,
    flows: Vec<FlowAggregate>,
    /// Key hash → the latest flow with that hash; older ones are chained through `same_hash`
    /// (collisions compared field by field). A flat chain instead of a Vec per hash: one lookup
    /// and no allocation per flow.
    index: HashMap<u64, usize, FxBuild>,
    /// Per flow, the previous flow with the same key hash.
    same_hash: Vec<Option<usize>>,
    /// Hash of (firewall, connection id) → index into `flows`, for [`Session::Opens`].
    open_sessions: HashMap<u64, usize, FxBuild>,
    zones: ZoneCache,
    rejects: Rejects,
    lines_read: u64,
    events: u64,
    ignored: u64,
    action_buf: String,
    assumed_year: Option<u16>,
    unnamed: String,
}

impl FlowAggregator {
    /// Bound on connections awaiting their closing line: when full the table starts over, and the
    /// closing lines of the connections it forgot are ignored (memory must not grow with the file).
    pub const MAX_OPEN_SESSIONS: usize = 1 << 18;

    pub fn new(format: LogFormat) -> Self {
        FlowAggregator {
            format,
            flows: Vec::new(),
            index: HashMap::default(),
            same_hash: Vec::new(),
            open_sessions: HashMap::default(),
            zones: ZoneCache::default(),
            rejects: Rejects::default(),
            lines_read: 0,
            events: 0,
            ignored: 0,
            action_buf: String::new(),
            assumed_year: None,
            unnamed: String::new(),
        }
    }

    /// Year for event times whose log line has none (BSD syslog headers): typically the year of
    /// the collection, which the caller knows and a pure parser does not.
    pub fn assume_year(&mut self, year: u16) -> &mut Self {
        self.assumed_year = Some(year);
        self
    }

    /// Firewall name for lines that do not name their device (typically the source's name).
    pub fn name_unnamed(&mut self, firewall: impl Into<String>) -> &mut Self {
        self.unnamed = firewall.into();
        self
    }

    /// Streams lines from `reader` (never holds the whole input); line numbers start at 1.
    /// Unreadable lines are counted in the rejects, never fatal; only I/O errors are returned.
    pub fn ingest<R: BufRead>(
        &mut self,
        reader: R,
        attribute: &dyn Fn(IpAddr) -> Option<String>,
    ) -> std::io::Result<()> {
        self.ingest_from_line(reader, 1, attribute).map(|_| ())
    }

    /// Like [`FlowAggregator::ingest`], numbering the first line read `first_line` (to continue a
    /// file read in several parts). Returns the number of lines read by this call.
    pub fn ingest_from_line<R: BufRead>(
        &mut self,
        reader: R,
        first_line: u64,
        attribute: &dyn Fn(IpAddr) -> Option<String>,
    ) -> std::io::Result<u64> {
        // One match per call: each arm is its own loop with the parser inlined.
        match self.format {
            LogFormat::Panos => self.run(reader, first_line, attribute, panos::parse_line),
            LogFormat::Fortigate => self.run(reader, first_line, attribute, fortigate::parse_line),
            LogFormat::Asa => self.run(reader, first_line, attribute, asa::parse_line),
            LogFormat::Netfilter => self.run(reader, first_line, attribute, netfilter::parse_line),
        }
    }

    fn run<R, P>(
        &mut self,
        mut reader: R,
        first_line: u64,
        attribute: &dyn Fn(IpAddr) -> Option<String>,
        parse: P,
    ) -> std::io::Result<u64>
    where
        R: BufRead,
        P: for<'l> Fn(&'l str) -> LineOutcome<'l>,
    {
        // Lines are parsed in place inside the reader's buffer; only a line cut at the end of a
        // block is copied (into `carry`). Saves a copy of every line.
        let mut carry: Vec<u8> = Vec::new();
        let mut read = 0u64;
        loop {
            let block = match reader.fill_buf() {
                Ok(block) => block,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if block.is_empty() {
                if !carry.is_empty() {
                    self.line(&carry, first_line, &mut read, attribute, &parse);
                }
                return Ok(read);
            }
            let len = block.len();
            let mut rest = block;
            if !carry.is_empty() {
                match find_newline(rest) {
                    Some(nl) => {
                        carry.extend_from_slice(rest.get(..nl).unwrap_or_default());
                        self.line(&carry, first_line, &mut read, attribute, &parse);
                        carry.clear();
                        rest = rest.get(nl + 1..).unwrap_or_default();
                    }
                    None => {
                        carry.extend_from_slice(rest);
                        rest = &[];
                    }
                }
            }
            while let Some(nl) = find_newline(rest) {
                self.line(rest.get(..nl).unwrap_or_default(), first_line, &mut read, attribute, &parse);
                rest = rest.get(nl + 1..).unwrap_or_default();
            }
            carry.extend_from_slice(rest);
            reader.consume(len);
        }
    }

    /// One line, its terminator already cut off (`\r` may remain).
    #[inline(always)]
    fn line<P>(
        &mut self,
        raw: &[u8],
        first_line: u64,
        read: &mut u64,
        attribute: &dyn Fn(IpAddr) -> Option<String>,
        parse: &P,
    ) where
        P: for<'l> Fn(&'l str) -> LineOutcome<'l>,
    {
        let line_no = usize::try_from(first_line.saturating_add(*read)).unwrap_or(usize::MAX);
        *read += 1;
        self.lines_read += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match std::str::from_utf8(raw) {
            Ok(line) => match parse(line) {
                LineOutcome::Event(event) => self.add(&event, line_no, line, attribute),
                LineOutcome::Ignored => self.ignored += 1,
                LineOutcome::Rejected(why) => self.rejects.add(why, line_no, line),
            },
            Err(_) => self.rejects.add(reason::NOT_UTF8, line_no, &String::from_utf8_lossy(raw)),
        }
    }

    fn add(
        &mut self,
        event: &FirewallEvent<'_>,
        line_no: usize,
        line: &str,
        attribute: &dyn Fn(IpAddr) -> Option<String>,
    ) {
        let firewall = if event.firewall.is_empty() { self.unnamed.as_str() } else { event.firewall };
        let time = match (event.time, self.assumed_year) {
            (Some(t), Some(year)) if !t.year_known() => Some(t.with_year(year)),
            (t, _) => t,
        };
        if let Session::Closes(id) = event.session {
            let slot = self.open_sessions.remove(&session_hash(firewall, id));
            match slot.and_then(|i| self.flows.get_mut(i)) {
                Some(flow) => {
                    self.events += 1;
                    flow.bytes = flow.bytes.saturating_add(event.bytes);
                    record_seen(flow, time, line_no, line);
                }
                None => self.ignored += 1,
            }
            return;
        }
        self.events += 1;
        let src_zone = self.zones.zone_of(event.src, attribute);
        let dst_zone = self.zones.zone_of(event.dst, attribute);
        let mut action_buf = std::mem::take(&mut self.action_buf);
        let key = FlowKey {
            firewall,
            from_zone: event.from_zone,
            to_zone: event.to_zone,
            src_zone: self.zones.name(src_zone),
            dst_zone: self.zones.name(dst_zone),
            rule: event.rule,
            action: event.action.key_in(&mut action_buf),
            protocol: &event.protocol,
            dst_port: event.dst_port,
        };
        let hash = key.hash_value();
        let head = self.index.get(&hash).copied();
        let mut candidate = head;
        while let Some(i) = candidate {
            if self.flows.get(i).is_some_and(|f| key.matches(f)) {
                break;
            }
            candidate = self.same_hash.get(i).copied().flatten();
        }
        let slot = match candidate {
            Some(i) => i,
            None => {
                let i = self.flows.len();
                self.index.insert(hash, i);
                self.same_hash.push(head);
                self.flows.push(key.to_aggregate());
                i
            }
        };
        self.action_buf = action_buf;
        if let Some(flow) = self.flows.get_mut(slot) {
            flow.count = flow.count.saturating_add(event.count);
            flow.bytes = flow.bytes.saturating_add(event.bytes);
            record_seen(flow, time, line_no, line);
        }
        if let Session::Opens(id) = event.session {
            if self.open_sessions.len() >= Self::MAX_OPEN_SESSIONS {
                self.open_sessions.clear();
            }
            self.open_sessions.insert(session_hash(firewall, id), slot);
        }
    }

    /// Take in `later`, an aggregator of the lines right after this one's, whose lines were
    /// numbered from 1 and are really lines `first_line..`: counts and bytes add up, first and
    /// last seen widen, samples (flows' and rejects') stay the first ones in file order with their
    /// true line numbers. Only for formats whose [lines stand alone](LogFormat::lines_stand_alone):
    /// a closing line is not matched to an opening line in the other aggregator.
    pub fn append(&mut self, later: FlowAggregator, first_line: u64) {
        let shift = first_line.saturating_sub(1);
        self.lines_read += later.lines_read;
        self.events += later.events;
        self.ignored += later.ignored;
        self.append_rejects(later.rejects, shift);
        for flow in later.flows {
            self.append_flow(flow, shift);
        }
    }

    fn append_flow(&mut self, mut flow: FlowAggregate, shift: u64) {
        let key = FlowKey::of(&flow);
        let hash = key.hash_value();
        let head = self.index.get(&hash).copied();
        let mut candidate = head;
        while let Some(i) = candidate {
            if self.flows.get(i).is_some_and(|f| key.matches(f)) {
                break;
            }
            candidate = self.same_hash.get(i).copied().flatten();
        }
        let Some(mine) = candidate.and_then(|i| self.flows.get_mut(i)) else {
            for sample in &mut flow.samples {
                sample.locator = shifted_locator(&sample.locator, shift);
            }
            self.index.insert(hash, self.flows.len());
            self.same_hash.push(head);
            self.flows.push(flow);
            return;
        };
        mine.count = mine.count.saturating_add(flow.count);
        mine.bytes = mine.bytes.saturating_add(flow.bytes);
        if mine.first_seen.is_empty() || (!flow.first_seen.is_empty() && flow.first_seen < mine.first_seen) {
            mine.first_seen = flow.first_seen;
        }
        if flow.last_seen > mine.last_seen {
            mine.last_seen = flow.last_seen;
        }
        let room = MAX_SAMPLES.saturating_sub(mine.samples.len());
        mine.samples.extend(flow.samples.into_iter().take(room).map(|mut sample| {
            sample.locator = shifted_locator(&sample.locator, shift);
            sample
        }));
    }

    fn append_rejects(&mut self, later: Rejects, shift: u64) {
        let mut taken: HashMap<&str, usize, FxBuild> = HashMap::default();
        for mut sample in later.samples {
            // A sample's locator is `line N: <reason>`; the first samples of each reason are kept.
            let reason = sample.locator.split_once(": ").map(|(_, r)| r).unwrap_or_default();
            let before = self.rejects.counts.get(reason).copied().unwrap_or(0) as usize;
            let Some((reason, _)) = later.counts.get_key_value(reason) else { continue };
            let n = taken.entry(reason.as_str()).or_insert(0);
            *n += 1;
            if before + *n <= Rejects::MAX_SAMPLES_PER_REASON {
                sample.locator = shifted_locator(&sample.locator, shift);
                self.rejects.samples.push(sample);
            }
        }
        for (reason, n) in &later.counts {
            *self.rejects.counts.entry(reason.clone()).or_insert(0) += n;
        }
    }

    /// Aggregates sorted by key (deterministic output) and the rejected lines.
    pub fn finish(self) -> (Vec<FlowAggregate>, Rejects) {
        let mut flows = self.flows;
        flows.sort_by(|a, b| {
            (
                &a.firewall,
                &a.from_fw_zone,
                &a.to_fw_zone,
                &a.src_zone,
                &a.dst_zone,
                &a.rule,
                &a.action,
                &a.protocol,
                a.dst_port,
            )
                .cmp(&(
                    &b.firewall,
                    &b.from_fw_zone,
                    &b.to_fw_zone,
                    &b.src_zone,
                    &b.dst_zone,
                    &b.rule,
                    &b.action,
                    &b.protocol,
                    b.dst_port,
                ))
        });
        (flows, self.rejects)
    }

    /// Every line seen, over all `ingest` calls: `events + ignored + rejects`.
    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }

    /// Lines aggregated (log entries, not weighted by their count).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Blank lines, other log types, and closing lines whose opening line was not seen.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }
}

/// Position of the first `\n`, eight bytes at a time (the line split runs over every byte).
fn find_newline(b: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NEWLINES: u64 = 0x0101_0101_0101_0101 * b'\n' as u64;
    let mut words = b.chunks_exact(8);
    let mut at = 0usize;
    for word in words.by_ref() {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let x = word ^ NEWLINES;
        let found = !((((x & LOW7).wrapping_add(LOW7)) | x) | LOW7);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&c| c == b'\n').map(|p| at + p)
}

fn record_seen(flow: &mut FlowAggregate, time: Option<EventTime>, line_no: usize, line: &str) {
    if let Some(time) = time {
        let t = time.as_str();
        if flow.first_seen.is_empty() || t < flow.first_seen.as_str() {
            flow.first_seen.clear();
            flow.first_seen.push_str(t);
        }
        if t > flow.last_seen.as_str() {
            flow.last_seen.clear();
            flow.last_seen.push_str(t);
        }
    }
    if flow.samples.len() < MAX_SAMPLES {
        flow.samples.push(Origin::at_line(line_no, line));
    }
}

/// `line N…` with N moved on by `shift` (the locators [`Origin::at_line`] and
/// [`Rejects::add`] write); any other locator is left as it is.
fn shifted_locator(locator: &str, shift: u64) -> String {
    let Some(rest) = locator.strip_prefix("line ") else { return locator.to_string() };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match rest[..digits].parse::<u64>() {
        Ok(n) => format!("line {}{}", n.saturating_add(shift), &rest[digits..]),
        Err(_) => locator.to_string(),
    }
}

fn session_hash(firewall: &str, id: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(firewall.as_bytes());
    h.write_u8(0xff);
    h.write(id.as_bytes());
    h.finish()
}

/// The aggregation key, borrowed from the current line.
struct FlowKey<'k> {
    firewall: &'k str,
    from_zone: &'k str,
    to_zone: &'k str,
    src_zone: Option<&'k str>,
    dst_zone: Option<&'k str>,
    rule: &'k str,
    action: &'k str,
    protocol: &'k str,
    dst_port: u16,
}

impl<'k> FlowKey<'k> {
    /// The key of an aggregate already made (to find it in another aggregator).
    fn of(f: &'k FlowAggregate) -> Self {
        FlowKey {
            firewall: &f.firewall,
            from_zone: &f.from_fw_zone,
            to_zone: &f.to_fw_zone,
            src_zone: f.src_zone.as_deref(),
            dst_zone: f.dst_zone.as_deref(),
            rule: &f.rule,
            action: &f.action,
            protocol: &f.protocol,
            dst_port: f.dst_port,
        }
    }

    fn hash_value(&self) -> u64 {
        let mut h = FxHasher::default();
        for s in [self.firewall, self.from_zone, self.to_zone, self.rule, self.action, self.protocol] {
            h.write(s.as_bytes());
            // 0xff never occurs in UTF-8: fields cannot run into each other.
            h.write_u8(0xff);
        }
        self.src_zone.hash(&mut h);
        self.dst_zone.hash(&mut h);
        h.write_u16(self.dst_port);
        h.finish()
    }

    fn matches(&self, f: &FlowAggregate) -> bool {
        f.dst_port == self.dst_port
            && f.rule == self.rule
            && f.from_fw_zone == self.from_zone
            && f.to_fw_zone == self.to_zone
            && f.action == self.action
            && f.protocol == self.protocol
            && f.firewall == self.firewall
            && f.src_zone.as_deref() == self.src_zone
            && f.dst_zone.as_deref() == self.dst_zone
    }

    fn to_aggregate(&self) -> FlowAggregate {
        FlowAggregate {
            firewall: self.firewall.to_string(),
            from_fw_zone: self.from_zone.to_string(),
            to_fw_zone: self.to_zone.to_string(),
            src_zone: self.src_zone.map(str::to_string),
            dst_zone: self.dst_zone.map(str::to_string),
            rule: self.rule.to_string(),
            action: self.action.to_string(),
            protocol: self.protocol.to_string(),
            dst_port: self.dst_port,
            count: 0,
            bytes: 0,
            first_seen: String::new(),
            last_seen: String::new(),
            samples: Vec::new(),
        }
    }
}

/// Zone attribution per address, cached: the same few thousand addresses recur on every line,
/// and the caller's lookup returns an owned name. Zone names are interned as indices.
#[derive(Debug, Default)]
struct ZoneCache {
    by_addr: HashMap<IpAddr, Option<u32>, FxBuild>,
    names: Vec<String>,
    by_name: HashMap<String, u32, FxBuild>,
}

impl ZoneCache {
    /// Bound on cached addresses; a scan across a /8 must not grow memory without limit.
    const MAX_ADDRESSES: usize = 1 << 16;

    fn zone_of(&mut self, addr: IpAddr, attribute: &dyn Fn(IpAddr) -> Option<String>) -> Option<u32> {
        if let Some(&z) = self.by_addr.get(&addr) {
            return z;
        }
        let zone = attribute(addr).map(|name| match self.by_name.get(&name) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                self.by_name.insert(name.clone(), id);
                self.names.push(name);
                id
            }
        });
        if self.by_addr.len() >= Self::MAX_ADDRESSES {
            self.by_addr.clear();
        }
        self.by_addr.insert(addr, zone);
        zone
    }

    fn name(&self, id: Option<u32>) -> Option<&str> {
        id.and_then(|i| self.names.get(i as usize)).map(String::as_str)
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// Multiply-rotate hash (the rustc "Fx" scheme): keys here are short and not attacker-chosen in
/// any way that matters (a slow log file is the worst case), so SipHash's cost buys nothing.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply only carries entropy upwards, and the table picks buckets by the low bits:
        // without folding the high half down, addresses differing in their last octet collide.
        let h = self.0 ^ (self.0 >> 33);
        let h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PANOS: &str = include_str!("../../tests/fixtures/panos/panos-traffic.log");
    const FORTIGATE: &str = include_str!("../../tests/fixtures/fortigate/fortigate-traffic.log");
    const ASA: &str = include_str!("../../tests/fixtures/asa/asa.log");
    const NETFILTER: &str = include_str!("../../tests/fixtures/netfilter/iptables.log");

    fn zones(addr: IpAddr) -> Option<String> {
        match addr {
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 20] => Some("prod".into()),
            IpAddr::V4(v4) if v4.octets()[..2] == [10, 30] => Some("dev".into()),
            _ => None,
        }
    }

    fn parse_all(format: LogFormat, text: &str) -> Vec<FlowAggregate> {
        let (facts, rejects) = parse(format, text.as_bytes(), &zones);
        assert!(rejects.is_empty(), "{format:?}: {rejects:?}");
        facts.flows
    }

    /// The samples describe the same traffic on four firewalls: prod→dev 8443 allowed, dev→prod
    /// 5432 refused. Every vendor must tell the same story in the shared vocabulary.
    #[test]
    fn four_vendors_agree_on_the_same_traffic() {
        for (format, text, firewall) in [
            (LogFormat::Panos, PANOS, "fw-core-01"),
            (LogFormat::Fortigate, FORTIGATE, "FGT-CORE-01"),
            (LogFormat::Asa, ASA, "fw-asa-01"),
            (LogFormat::Netfilter, NETFILTER, "gw-linux-01"),
        ] {
            let flows = parse_all(format, text);
            let allowed = flows
                .iter()
                .find(|f| f.is_allowed() && f.dst_port == 8443)
                .unwrap_or_else(|| panic!("{format:?}: no allowed 8443 flow"));
            assert_eq!(allowed.firewall, firewall, "{format:?}");
            assert_eq!(
                (allowed.src_zone.as_deref(), allowed.dst_zone.as_deref(), allowed.protocol.as_str()),
                (Some("prod"), Some("dev"), "tcp"),
                "{format:?}"
            );
            let refused = flows
                .iter()
                .find(|f| f.dst_port == 5432)
                .unwrap_or_else(|| panic!("{format:?}: no 5432 flow"));
            assert!(!refused.is_allowed(), "{format:?}");
            assert!(["deny", "drop"].contains(&refused.action.as_str()), "{format:?}: {}", refused.action);
            assert_eq!(
                (refused.src_zone.as_deref(), refused.dst_zone.as_deref()),
                (Some("dev"), Some("prod"))
            );
            // Times in one shape whatever the vendor wrote.
            assert_eq!(
                allowed.first_seen.get(4..16),
                Some("-07-16 10:15"),
                "{format:?}: {}",
                allowed.first_seen
            );
        }
    }

    #[test]
    fn sample_times_normalise_per_vendor() {
        let first = |format, text| {
            parse_all(format, text).iter().map(|f| f.first_seen.clone()).min().unwrap_or_default()
        };
        assert_eq!(first(LogFormat::Panos, PANOS), "2024-07-16 10:15:01");
        assert_eq!(first(LogFormat::Fortigate, FORTIGATE), "2024-07-16 10:15:02");
        assert_eq!(first(LogFormat::Asa, ASA), "2024-07-16 10:15:01");
        // BSD syslog headers carry no year.
        assert_eq!(first(LogFormat::Netfilter, NETFILTER), "0000-07-16 10:15:07");
    }

    #[test]
    fn parse_line_dispatches_on_the_format() {
        let line = FORTIGATE.lines().next().unwrap_or_default();
        assert!(matches!(parse_line(LogFormat::Fortigate, line), LineOutcome::Event(_)));
        assert_eq!(parse_line(LogFormat::Panos, line), LineOutcome::Rejected(reason::NOT_PANOS));
        assert_eq!(parse_line(LogFormat::Asa, line), LineOutcome::Rejected(reason::NOT_ASA));
        assert_eq!(parse_line(LogFormat::Netfilter, line), LineOutcome::Rejected(reason::NOT_NETFILTER));
        assert_eq!(parse_line(LogFormat::Asa, "  "), LineOutcome::Ignored);
    }

    #[test]
    fn event_times_from_every_spelling() {
        let t = |s: Option<EventTime>| s.map(|t| t.to_string());
        assert_eq!(t(EventTime::from_panos("2024/07/16 10:15:01")).as_deref(), Some("2024-07-16 10:15:01"));
        assert_eq!(
            t(EventTime::from_date_clock("2024-07-16", "10:15:02")).as_deref(),
            Some("2024-07-16 10:15:02")
        );
        assert_eq!(t(EventTime::from_syslog("Jul 16 2024 10:15:01")).as_deref(), Some("2024-07-16 10:15:01"));
        assert_eq!(t(EventTime::from_syslog("Jan  5 01:02:03.250")).as_deref(), Some("0000-01-05 01:02:03"));
        assert_eq!(t(EventTime::from_syslog("Oct 4 22:14:15")).as_deref(), Some("0000-10-04 22:14:15"));
        assert_eq!(
            t(EventTime::from_syslog("2019-09-26T11:55:18-04:00")).as_deref(),
            Some("2019-09-26 11:55:18")
        );
        assert_eq!(
            t(EventTime::from_syslog("2024-07-16T10:15:20.118Z")).as_deref(),
            Some("2024-07-16 10:15:20")
        );
        for bad in
            ["", "Jul 16", "Foo 16 10:15:01", "Jul 16 24 10:15:01", "2024-07-16T10:15", "Jul 16 10:15:0x"]
        {
            assert_eq!(EventTime::from_syslog(bad), None, "{bad}");
        }
        assert_eq!(EventTime::from_panos("2024/07/16 10:15"), None);
        assert_eq!(EventTime::from_date_clock("2024-07/16", "10:15:02"), None);
        let yearless = EventTime::from_syslog("Jul 16 10:15:07").expect("bsd time");
        assert!(!yearless.year_known());
        assert_eq!(yearless.with_year(2024).to_string(), "2024-07-16 10:15:07");
    }

    #[test]
    fn actions_and_protocols_share_one_spelling() {
        assert_eq!(Action::Other("Reset Both").key(), "reset-both");
        assert_eq!(Action::Named("drop-icmp").key(), "drop-icmp");
        assert!(Action::Allow.is_allowed() && !Action::Other("allow-ish").is_allowed());
        assert_eq!(protocol_key("TCP"), "tcp");
        assert_eq!(protocol_key("6"), "tcp");
        assert_eq!(protocol_key("ICMPv6"), "ipv6-icmp");
        assert_eq!(protocol_key("253"), "253");
        assert_eq!(protocol_key("L2TP"), "l2tp");
    }

    #[test]
    fn line_numbers_continue_across_calls() {
        let mut agg = FlowAggregator::new(LogFormat::Fortigate);
        let first = agg.ingest_from_line(FORTIGATE.as_bytes(), 1, &zones).expect("read");
        assert_eq!(first, 4);
        let second = agg.ingest_from_line(&b"garbage\n\xff\n"[..], first + 1, &zones).expect("read");
        assert_eq!(second, 2);
        assert_eq!((agg.lines_read(), agg.events()), (6, 4));
        let (_, rejects) = agg.finish();
        let locators: Vec<_> = rejects.samples.iter().map(|o| o.locator.as_str()).collect();
        assert_eq!(locators, ["line 5: not a FortiGate log", "line 6: not utf-8"]);
    }

    #[test]
    fn lines_cut_across_read_blocks_aggregate_as_one_buffer_does() {
        // Blank line, CRLF line and a last line without terminator, read 7 bytes at a time.
        let first = PANOS.lines().next().unwrap_or_default();
        let second = PANOS.lines().nth(1).unwrap_or_default();
        let mut text = format!("{PANOS}\n{first}\r\nnot-text\n{second}").into_bytes();
        let bad = text.len() - second.len() - "not-text\n".len();
        text.insert(bad, 0xff);
        let whole = {
            let mut agg = FlowAggregator::new(LogFormat::Panos);
            agg.ingest(&text[..], &zones).expect("read");
            (agg.lines_read(), agg.events(), agg.ignored(), agg.finish())
        };
        let mut agg = FlowAggregator::new(LogFormat::Panos);
        agg.ingest(std::io::BufReader::with_capacity(7, &text[..]), &zones).expect("read");
        let small = (agg.lines_read(), agg.events(), agg.ignored(), agg.finish());
        assert_eq!(small, whole);
        assert_eq!((whole.0, whole.1, whole.2), (8, 6, 1));
        assert_eq!(whole.3.1.samples[0].locator, "line 7: not utf-8");
    }

    proptest::proptest! {
        #[test]
        fn newline_search_finds_the_first_newline(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            proptest::prop_assert_eq!(find_newline(&b), b.iter().position(|&c| c == b'\n'));
        }
    }

    #[test]
    fn closing_lines_add_bytes_to_their_opening_aggregate_only() {
        let built = "<166>Jul 16 2024 10:16:30 fw-asa-01 : %ASA-6-302013: Built outbound TCP connection 7 for \
                     outside:192.0.2.10/443 (192.0.2.10/443) to zone-prod:10.20.0.64/60222 (198.51.100.7/31045)";
        let teardown = "<166>Jul 16 2024 10:16:40 fw-asa-01 : %ASA-6-302014: Teardown TCP connection 7 for \
                        outside:192.0.2.10/443 to zone-prod:10.20.0.64/60222 duration 0:00:10 bytes 2412 TCP FINs";
        // Same id on another firewall: a different connection.
        let elsewhere = teardown.replace("fw-asa-01", "fw-asa-02");
        let text = format!("{built}\n{teardown}\n{teardown}\n{elsewhere}\n");
        let mut agg = FlowAggregator::new(LogFormat::Asa);
        agg.ingest(text.as_bytes(), &zones).expect("read");
        // The second teardown finds the connection already closed.
        assert_eq!((agg.events(), agg.ignored()), (2, 2));
        let (flows, _) = agg.finish();
        assert_eq!(flows.len(), 1);
        let f = &flows[0];
        assert_eq!(
            (f.from_fw_zone.as_str(), f.to_fw_zone.as_str(), f.dst_port),
            ("zone-prod", "outside", 443)
        );
        assert_eq!((f.count, f.bytes, f.last_seen.as_str()), (1, 2412, "2024-07-16 10:16:40"));
    }

    #[test]
    fn unnamed_devices_and_assumed_years_come_from_the_caller() {
        let line = "<164>Jul 16 10:17:44: %ASA-4-106023: Deny udp src zone-dev:10.30.0.91/53011 \
                    dst zone-prod:10.20.0.12/53 by access-group \"zone-dev_access_in\" [0x0, 0x0]";
        let (facts, _) = parse(LogFormat::Asa, line.as_bytes(), &zones);
        assert_eq!(
            (facts.flows[0].firewall.as_str(), facts.flows[0].first_seen.as_str()),
            ("", "0000-07-16 10:17:44")
        );
        let mut agg = FlowAggregator::new(LogFormat::Asa);
        agg.name_unnamed("asa-dc1").assume_year(2024);
        agg.ingest(line.as_bytes(), &zones).expect("read");
        let (flows, _) = agg.finish();
        assert_eq!(
            (flows[0].firewall.as_str(), flows[0].first_seen.as_str()),
            ("asa-dc1", "2024-07-16 10:17:44")
        );
    }

    proptest::proptest! {
        #[test]
        fn no_format_panics_on_arbitrary_bytes(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            for format in [LogFormat::Panos, LogFormat::Fortigate, LogFormat::Asa, LogFormat::Netfilter] {
                let mut agg = FlowAggregator::new(format);
                agg.ingest(&raw[..], &zones).expect("slice read");
                let lines = agg.lines_read();
                let (events, ignored) = (agg.events(), agg.ignored());
                let (flows, rejects) = agg.finish();
                proptest::prop_assert_eq!(events + ignored + rejects.total(), lines);
                proptest::prop_assert!(flows.len() as u64 <= events);
            }
        }

        #[test]
        fn syslog_times_never_panic(ts in "[A-Za-z0-9 :.T+-]{0,30}") {
            let _ = EventTime::from_syslog(&ts);
            let _ = EventTime::from_panos(&ts);
        }
    }

    /// PAN-OS TRAFFIC lines from the fixture's first line, varied per line: two firewalls, three
    /// zone pairs, rules, ports, actions and times; a quoted source user with commas; rejects
    /// (not PAN-OS, not UTF-8, wrong field count), blank lines, CRLF endings, lines far longer than
    /// a small chunk, and a last line without its newline.
    fn panos_night(lines: u32) -> Vec<u8> {
        let template: Vec<&str> = PANOS.lines().next().unwrap_or_default().split(',').collect();
        let (header, _) = template[0].rsplit_once(' ').unwrap_or_default();
        let mut out = Vec::new();
        for i in 0..lines {
            match i % 97 {
                17 => out.extend_from_slice(format!("garbage line {i}\n").as_bytes()),
                23 => out.extend_from_slice(b"\xff\xfe not text\n"),
                41 => out.extend_from_slice(b"\n"),
                59 => out.extend_from_slice(
                    format!(
                        "<14>Jul 16 10:15:02 fw 1,2024/07/16 10:15:02,0132,TRAFFIC,end,{}\n",
                        "z,".repeat(700)
                    )
                    .as_bytes(),
                ),
                _ => {
                    let mut f: Vec<String> = template.iter().map(|s| s.to_string()).collect();
                    let firewall = ["fw-core-01", "fw-core-02"][(i % 2) as usize];
                    f[0] = format!("{header} 1");
                    let (h, m, sec) = (10 + (i / 3600) % 10, (i / 60) % 60, i % 60);
                    f[6] = format!("2024/07/16 {h:02}:{m:02}:{sec:02}");
                    // Out of order now and then, as logs from two devices interleave.
                    if i % 11 == 3 {
                        f[6] = format!("2024/07/16 09:{m:02}:{sec:02}");
                    }
                    f[7] = format!("10.20.{}.{}", i % 7, i % 200);
                    f[8] = format!("10.30.{}.{}", i % 5, i % 100);
                    f[11] = ["prod-to-dev-api", "dev-db", "allow-dns", "interzone-default"][(i % 4) as usize]
                        .into();
                    if i % 13 == 0 {
                        f[12] = format!("\"CN=user {i},OU=ops,DC=example\"");
                    }
                    if i % 89 == 5 {
                        f[12] = format!("\"CN={},OU=long\"", "w".repeat(2500));
                    }
                    f[16] = ["ZONE-PROD", "ZONE-DEV", "ZONE-OPS"][(i % 3) as usize].into();
                    f[25] = ["8443", "5432", "53"][(i / 7 % 3) as usize].into();
                    f[30] = if i % 5 == 0 { "deny" } else { "allow" }.into();
                    f[31] = (i * 7 % 10_000).to_string();
                    out.extend_from_slice(f.join(",").replace("fw-core-01", firewall).as_bytes());
                    out.extend_from_slice(if i % 31 == 0 { b"\r\n" } else { b"\n" });
                }
            }
        }
        // The last line without its newline (a sealed file's last line).
        if out.last() == Some(&b'\n') {
            out.pop();
        }
        out
    }

    type Outcome = (u64, u64, u64, (Vec<FlowAggregate>, Rejects));

    fn one_pass(format: LogFormat, text: &[u8], first_line: u64) -> Outcome {
        let mut agg = FlowParser::new(format, &zones).name_unnamed("fw-x").assume_year(2024).aggregator();
        agg.ingest_from_line(text, first_line, &zones).expect("read");
        (agg.lines_read(), agg.events(), agg.ignored(), agg.finish())
    }

    fn in_chunks(
        format: LogFormat,
        path: &std::path::Path,
        from: u64,
        first_line: u64,
        threads: usize,
        chunk_len: u64,
    ) -> Outcome {
        let parser = FlowParser::new(format, &zones).name_unnamed("fw-x").assume_year(2024);
        let len = std::fs::metadata(path).expect("stat").len();
        let agg = crate::collect::logfile::parse_range_in_chunks(
            path,
            from..len,
            first_line,
            &parser,
            threads,
            chunk_len,
        )
        .expect("read");
        (agg.lines_read(), agg.events(), agg.ignored(), agg.finish())
    }

    #[test]
    fn a_log_parsed_in_chunks_aggregates_exactly_as_one_pass() {
        let text = panos_night(3000);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fw.log");
        std::fs::write(&path, &text).expect("write");
        let one = one_pass(LogFormat::Panos, &text, 1);
        // The input exercises what the merge must get right.
        let (lines, events, ignored, (flows, rejects)) = &one;
        assert_eq!(*lines, 3000);
        assert!(*events > 2500 && *ignored > 0, "{events} {ignored}");
        assert!(flows.iter().any(|f| f.count > 3) && flows.len() > 50, "{}", flows.len());
        assert_eq!(rejects.counts.len(), 3, "{:?}", rejects.counts);
        assert!(rejects.total() > 3 * Rejects::MAX_SAMPLES_PER_REASON as u64);
        for (threads, chunk_len) in [(2, 1), (2, 700), (2, 4096), (3, 50_000), (2, 10_000_000), (1, 4096)] {
            let chunked = in_chunks(LogFormat::Panos, &path, 0, 1, threads, chunk_len);
            assert_eq!(chunked, one, "{threads} threads, chunks of {chunk_len} bytes");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn chunk_cuts_never_change_the_aggregates(chunk_len in 1u64..60_000, threads in 2usize..4, skip in 0usize..300) {
            let text = panos_night(400);
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("fw.log");
            std::fs::write(&path, &text).expect("write");
            // From a cursor `skip` lines in: samples and rejects keep the file's line numbers.
            let from: usize = text.split_inclusive(|b| *b == b'\n').take(skip).map(<[u8]>::len).sum();
            let one = one_pass(LogFormat::Panos, &text[from..], skip as u64 + 1);
            let chunked = in_chunks(LogFormat::Panos, &path, from as u64, skip as u64 + 1, threads, chunk_len);
            proptest::prop_assert_eq!(chunked, one);
        }
    }

    #[test]
    fn appended_samples_keep_the_first_lines_and_their_numbers() {
        let mut earlier = FlowAggregator::new(LogFormat::Fortigate);
        earlier.ingest(FORTIGATE.as_bytes(), &zones).expect("read");
        let mut later = FlowAggregator::new(LogFormat::Fortigate);
        later.ingest(format!("{FORTIGATE}junk\n").as_bytes(), &zones).expect("read");
        earlier.append(later, 5);
        assert_eq!((earlier.lines_read(), earlier.events()), (9, 8));
        let (flows, rejects) = earlier.finish();
        let first = FORTIGATE.lines().next().unwrap_or_default();
        let flow = flows.iter().find(|f| f.samples[0].excerpt == first).expect("first line's flow");
        assert_eq!(flow.count, 2);
        let at: Vec<&str> = flow.samples.iter().map(|o| o.locator.as_str()).collect();
        assert_eq!(at, ["line 1", "line 5"]);
        assert_eq!(rejects.samples[0].locator, "line 9: not a FortiGate log");
        assert_eq!(shifted_locator("line 12: bad port", 100), "line 112: bad port");
        assert_eq!(shifted_locator("/spec/nodes/0", 100), "/spec/nodes/0");
    }

    #[test]
    fn only_asa_logs_stay_in_one_piece() {
        let kinds = [LogFormat::Panos, LogFormat::Fortigate, LogFormat::Asa, LogFormat::Netfilter];
        let split: Vec<bool> = kinds.iter().map(|f| FlowParser::new(*f, &zones).splits()).collect();
        assert_eq!(split, [true, true, false, true], "a Teardown needs the Built line before it");
    }
}
