//! Syslog envelopes: find the payload (MSG) a device wrote inside whatever header the transport added.
//!
//! ```text
//!  [len SP]  <PRI>  1 SP TS SP HOST SP APP SP PROCID SP MSGID SP SD [SP MSG]   Rfc5424
//!  [len SP]  <PRI>  Mmm dd [yyyy] hh:mm:ss[.fff][:] [HOST[ :]] MSG             Rfc3164 (BSD)
//!  [len SP]  <PRI>  2024-07-16T10:15:02Z HOST MSG                               Rfc3164 (rsyslog
//!                                                                              high-precision relay)
//!                   Mmm dd hh:mm:ss HOST MSG                                    Bare (PRI lost on a relay)
//!            <PRI>  MSG                                                         Bare (FortiGate: no header)
//!                   anything else                                               Bare, the whole line
//! ```
//!
//! The payload is what the rest of `collect` dispatches on (PAN-OS CSV, FortiGate key=value, ASA
//! `%ASA-`), so the split never fails: a shape it does not know comes back as `Bare` with the whole
//! line (after a valid PRI, if any) as message. Everything borrows from the line: this runs once per
//! log line on the hot path.
//!
//! BSD MSG is kept as is after the host: PAN-OS puts its CSV right there (no TAG), other daemons put
//! `TAG[PID]: ` first and that stays part of the message. The one exception is ASA's `host : %ASA-…`
//! (and `hh:mm:ss: %ASA-…` without a device id), whose stray colon is not part of any payload.
//! The leading length of RFC 6587 octet-counted framing is skipped when a line still carries it.

/// Which header the line had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    Rfc3164,
    Rfc5424,
    /// No recognisable syslog header with PRI: a relayed line whose PRI was stripped
    /// (`Nov 30 16:09:08 PA-220 1,...`), a PRI followed directly by the payload, or no header at all.
    Bare,
}

/// One line split into header parts and payload; every part borrows from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub kind: EnvelopeKind,
    /// Facility * 8 + severity, when the line had a valid `<PRI>`.
    pub pri: Option<u8>,
    /// Header timestamp exactly as written (BSD `Jul 16 10:15:02`, RFC 3339 otherwise).
    pub timestamp: Option<&'a str>,
    pub host: Option<&'a str>,
    pub message: &'a str,
}

/// Split a syslog line (without its line terminator; a trailing CR/LF is ignored) into envelope
/// and payload. Never fails.
pub fn split(line: &str) -> Envelope<'_> {
    let line = line.trim_end_matches(['\n', '\r']);
    let framed = skip_octet_count(line);
    let Some((pri, after_pri)) = take_pri(framed) else {
        return match bsd_or_iso_header(line) {
            Some((timestamp, host, message)) => {
                Envelope { kind: EnvelopeKind::Bare, pri: None, timestamp: Some(timestamp), host, message }
            }
            None => bare(None, line),
        };
    };
    if let Some(env) = rfc5424(pri, after_pri) {
        return env;
    }
    match bsd_or_iso_header(after_pri) {
        Some((timestamp, host, message)) => Envelope {
            kind: EnvelopeKind::Rfc3164,
            pri: Some(pri),
            timestamp: Some(timestamp),
            host,
            message,
        },
        None => bare(Some(pri), after_pri),
    }
}

fn bare(pri: Option<u8>, message: &str) -> Envelope<'_> {
    Envelope { kind: EnvelopeKind::Bare, pri, timestamp: None, host: None, message }
}

/// RFC 6587 octet counting: `123 <14>...`. Only skipped when a PRI follows, so a payload that
/// happens to start with a number is left alone.
fn skip_octet_count(line: &str) -> &str {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(' ')
            && rest.starts_with('<')
        {
            return rest;
        }
    }
    line
}

/// `<PRI>` with 1-3 digits and a value of at most 191 (facility 23, severity 7).
fn take_pri(s: &str) -> Option<(u8, &str)> {
    let rest = s.strip_prefix('<')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=3).contains(&digits) || rest.as_bytes().get(digits) != Some(&b'>') {
        return None;
    }
    let value: u16 = rest[..digits].parse().ok()?;
    if value > 191 {
        return None;
    }
    Some((value as u8, &rest[digits + 1..]))
}

/// Next space-delimited token and what follows the single separating space.
fn token(s: &str) -> Option<(&str, &str)> {
    let end = s.find(' ')?;
    Some((&s[..end], &s[end + 1..]))
}

fn rfc5424(pri: u8, s: &str) -> Option<Envelope<'_>> {
    let (version, rest) = token(s)?;
    if version.is_empty()
        || version.len() > 2
        || version.starts_with('0')
        || !version.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (timestamp, rest) = token(rest)?;
    let (host, rest) = token(rest)?;
    let (_app, rest) = token(rest)?;
    let (_procid, rest) = token(rest)?;
    let (_msgid, rest) = token(rest)?;
    if timestamp.is_empty() || host.is_empty() {
        return None;
    }
    let after_sd = skip_structured_data(rest)?;
    let message = if after_sd.is_empty() {
        after_sd
    } else {
        let msg = after_sd.strip_prefix(' ')?;
        msg.strip_prefix('\u{feff}').unwrap_or(msg)
    };
    Some(Envelope {
        kind: EnvelopeKind::Rfc5424,
        pri: Some(pri),
        timestamp: nil(timestamp),
        host: nil(host),
        message,
    })
}

/// RFC 5424 NILVALUE.
fn nil(v: &str) -> Option<&str> {
    if v == "-" { None } else { Some(v) }
}

/// STRUCTURED-DATA is `-` or one or more `[id param="value" ...]` elements. Inside a value `\"`,
/// `\\` and `\]` are escapes; a bare `]` inside quotes is tolerated (some senders do not escape it).
fn skip_structured_data(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some(rest);
    }
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let mut i = 0;
    while bytes.get(i) == Some(&b'[') {
        i += 1;
        let mut in_quotes = false;
        loop {
            match *bytes.get(i)? {
                b'\\' if in_quotes => i += 2,
                b'"' => {
                    in_quotes = !in_quotes;
                    i += 1;
                }
                b']' if !in_quotes => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    s.get(i..)
}

const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Header of a BSD line (`Mmm dd ...`) or an RFC 3339 relay line: (timestamp, host, message).
fn bsd_or_iso_header(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let ts_len = bsd_timestamp_len(s.as_bytes()).or_else(|| iso_timestamp_len(s.as_bytes()))?;
    let timestamp = &s[..ts_len];
    let rest = &s[ts_len..];
    // ASA without device id: `Jul 16 2024 10:17:44: %ASA-...`.
    if let Some(msg) = rest.strip_prefix(':') {
        return Some((timestamp, None, msg.strip_prefix(' ').unwrap_or(msg)));
    }
    let rest = rest.strip_prefix(' ')?;
    let (host, message) = match token(rest) {
        Some(split) => split,
        None => (rest, ""),
    };
    if host.is_empty() || host.ends_with(':') {
        // No host: the first token is already the TAG (`su:`), part of the message.
        return Some((timestamp, None, rest));
    }
    // ASA with device id: `fw-asa-01 : %ASA-...`.
    let message = message.strip_prefix(": ").unwrap_or(message);
    Some((timestamp, Some(host), message))
}

/// `Mmm dd hh:mm:ss`, day space-padded or not (`Jul  6`, `Oct 4`), optionally with ASA's year
/// (`Jul 16 2024 10:15:01`) and fractional seconds. Returns the byte length.
fn bsd_timestamp_len(b: &[u8]) -> Option<usize> {
    let month = b.get(..3)?;
    if !MONTHS.iter().any(|m| m.as_slice() == month) || b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_digits = count_digits(b, i);
    if !(1..=2).contains(&day_digits) || b.get(i + day_digits) != Some(&b' ') {
        return None;
    }
    i += day_digits + 1;
    if count_digits(b, i) == 4 && b.get(i + 4) == Some(&b' ') {
        i += 5;
    }
    i = clock_len(b, i)?;
    Some(i)
}

/// `YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm]`. Returns the byte length.
fn iso_timestamp_len(b: &[u8]) -> Option<usize> {
    let date_ok = count_digits(b, 0) == 4
        && b.get(4) == Some(&b'-')
        && count_digits(b, 5) == 2
        && b.get(7) == Some(&b'-')
        && count_digits(b, 8) == 2
        && b.get(10) == Some(&b'T');
    if !date_ok {
        return None;
    }
    let mut i = clock_len(b, 11)?;
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(b'+' | b'-') => {
            if count_digits(b, i + 1) == 2 && b.get(i + 3) == Some(&b':') && count_digits(b, i + 4) == 2 {
                i += 6;
            } else {
                return None;
            }
        }
        _ => {}
    }
    Some(i)
}

/// `hh:mm:ss[.frac]` starting at `i`; returns the end index.
fn clock_len(b: &[u8], i: usize) -> Option<usize> {
    let ok = count_digits(b, i) == 2
        && b.get(i + 2) == Some(&b':')
        && count_digits(b, i + 3) == 2
        && b.get(i + 5) == Some(&b':')
        && count_digits(b, i + 6) == 2;
    if !ok {
        return None;
    }
    let mut end = i + 8;
    if b.get(end) == Some(&b'.') {
        let frac = count_digits(b, end + 1);
        if frac > 0 {
            end += 1 + frac;
        }
    }
    Some(end)
}

fn count_digits(b: &[u8], from: usize) -> usize {
    b.get(from..).map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPES: &str = include_str!("../../tests/fixtures/panos/syslog-envelopes.log");

    fn sample(n: usize) -> &'static str {
        ENVELOPES.lines().nth(n - 1).expect("fixture line")
    }

    #[test]
    fn panos_bsd_envelope_gives_csv_after_host() {
        let env = split(sample(1));
        assert_eq!(env.kind, EnvelopeKind::Rfc3164);
        assert_eq!(env.pri, Some(14));
        assert_eq!(env.timestamp, Some("Jul 16 10:15:02"));
        assert_eq!(env.host, Some("fw-core-01"));
        assert!(
            env.message.starts_with("1,2024/07/16 10:15:02,013201028945,TRAFFIC,end,"),
            "{}",
            env.message
        );
    }

    #[test]
    fn panos_ietf_envelope_with_nil_fields() {
        let env = split(sample(2));
        assert_eq!(env.kind, EnvelopeKind::Rfc5424);
        assert_eq!(env.pri, Some(14));
        assert_eq!(env.timestamp, Some("2024-07-16T10:16:30+00:00"));
        assert_eq!(env.host, Some("fw-core-01"));
        assert!(env.message.starts_with("1,2024/07/16 10:16:30,013201028945,TRAFFIC,start,"));
    }

    #[test]
    fn fortigate_pri_without_header_is_bare_with_pri() {
        let env = split(sample(3));
        assert_eq!(env.kind, EnvelopeKind::Bare);
        assert_eq!(env.pri, Some(189));
        assert_eq!(env.host, None);
        assert!(env.message.starts_with("date=2024-07-16 time=10:15:02 devname="));
    }

    #[test]
    fn asa_year_in_timestamp_and_space_colon_after_host() {
        let env = split(sample(4));
        assert_eq!(env.kind, EnvelopeKind::Rfc3164);
        assert_eq!(env.pri, Some(166));
        assert_eq!(env.timestamp, Some("Jul 16 2024 10:15:01"));
        assert_eq!(env.host, Some("fw-asa-01"));
        assert!(env.message.starts_with("%ASA-6-302013: Built inbound TCP"));
    }

    #[test]
    fn asa_without_device_id_has_no_host() {
        let env = split(sample(5));
        assert_eq!(env.kind, EnvelopeKind::Rfc3164);
        assert_eq!(env.pri, Some(164));
        assert_eq!(env.timestamp, Some("Jul 16 2024 10:17:44"));
        assert_eq!(env.host, None);
        assert!(env.message.starts_with("%ASA-4-106023: Deny udp"));
    }

    #[test]
    fn bsd_tag_stays_in_message() {
        let env = split(sample(6));
        assert_eq!(env.host, Some("gw-linux-01"));
        assert!(env.message.starts_with("kernel: [4276041.728154] ZA:DROP:DEV>PROD IN=ens4.120"));
        let env = split(sample(10));
        assert_eq!(env.kind, EnvelopeKind::Rfc3164);
        assert_eq!(env.pri, Some(34));
        assert_eq!(env.host, Some("mymachine"));
        assert_eq!(env.message, "su: 'su root' failed for lonvick on /dev/pts/8");
    }

    #[test]
    fn rfc5424_message_after_nil_and_present_header_fields() {
        let env = split(sample(7));
        assert_eq!(env.kind, EnvelopeKind::Rfc5424);
        assert_eq!(env.pri, Some(4));
        assert_eq!(env.host, Some("gw-linux-01"));
        assert!(env.message.starts_with("ZA:DROP:INPUT IN=ens4.120 OUT= MAC="));
        let env = split(sample(8));
        assert_eq!(env.host, Some("mymachine.example.com"));
        assert_eq!(env.timestamp, Some("2003-10-11T22:14:15.003Z"));
        assert_eq!(env.message, "'su root' failed for lonvick on /dev/pts/8");
    }

    #[test]
    fn rfc5424_structured_data_is_skipped() {
        let env = split(sample(9));
        assert_eq!(env.kind, EnvelopeKind::Rfc5424);
        assert_eq!(env.pri, Some(165));
        assert_eq!(env.message, "An application event log entry...");
    }

    #[test]
    fn rfc5424_structured_data_with_escapes_and_several_elements() {
        let line = r#"<14>1 2024-07-16T10:16:30Z fw - - - [a@1 x="q\"]u\\"][b@2 y="]"] hello ] there"#;
        let env = split(line);
        assert_eq!(env.kind, EnvelopeKind::Rfc5424);
        assert_eq!(env.message, "hello ] there");
        let without_msg = split("<14>1 2024-07-16T10:16:30Z fw app 12 ID1 [a@1 x=\"1\"]");
        assert_eq!(without_msg.kind, EnvelopeKind::Rfc5424);
        assert_eq!(without_msg.message, "");
        let bom = split("<14>1 - fw - - - - \u{feff}1,2024/07/16");
        assert_eq!(bom.timestamp, None);
        assert_eq!(bom.message, "1,2024/07/16");
    }

    #[test]
    fn relayed_line_without_pri_keeps_host() {
        let env = split("Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end");
        assert_eq!(env.kind, EnvelopeKind::Bare);
        assert_eq!(env.pri, None);
        assert_eq!(env.timestamp, Some("Nov 30 16:09:08"));
        assert_eq!(env.host, Some("PA-220"));
        assert_eq!(env.message, "1,2018/11/30 16:09:07,012801096514,TRAFFIC,end");
        // Unpadded single-digit day, as some relays write it.
        let env = split("Oct 4 18:54:26 panmgt01p 1,2023/10/04 18:54:26");
        assert_eq!(env.host, Some("panmgt01p"));
        assert_eq!(env.message, "1,2023/10/04 18:54:26");
        // Space-padded day.
        let env = split("<14>Jul  6 01:02:03 fw-core-01 1,2024/07/06 01:02:03");
        assert_eq!(env.kind, EnvelopeKind::Rfc3164);
        assert_eq!(env.timestamp, Some("Jul  6 01:02:03"));
        assert_eq!(env.host, Some("fw-core-01"));
    }

    #[test]
    fn rfc3339_relay_header_gives_host() {
        let env = split("<6>2021-03-12T14:10:18Z host kernel: IN=eth0");
        assert_eq!(env.kind, EnvelopeKind::Rfc3164);
        assert_eq!(env.pri, Some(6));
        assert_eq!(env.timestamp, Some("2021-03-12T14:10:18Z"));
        assert_eq!(env.host, Some("host"));
        assert_eq!(env.message, "kernel: IN=eth0");
        let env = split("2019-09-26T11:55:18-04:00 ch3-core-fw01 : %ASA-6-106100: access-list");
        assert_eq!(env.kind, EnvelopeKind::Bare);
        assert_eq!(env.host, Some("ch3-core-fw01"));
        assert_eq!(env.message, "%ASA-6-106100: access-list");
    }

    #[test]
    fn octet_counted_frame_and_crlf() {
        let env = split("57 <14>1 2024-07-16T10:16:30Z fw-core-01 - - - - 1,2024/07/16\r\n");
        assert_eq!(env.kind, EnvelopeKind::Rfc5424);
        assert_eq!(env.host, Some("fw-core-01"));
        assert_eq!(env.message, "1,2024/07/16");
    }

    #[test]
    fn unknown_shapes_are_bare_whole_line() {
        for line in
            ["1,2024/07/16 10:15:02,013201028945,TRAFFIC", "", "<999>x", "<14", "Jul 16 10:15", "hello world"]
        {
            let env = split(line);
            assert_eq!(env.kind, EnvelopeKind::Bare, "{line:?}");
            assert_eq!(env.pri, None, "{line:?}");
            assert_eq!(env.message, line, "{line:?}");
        }
        // A valid PRI with a truncated RFC 5424 header: the payload after the PRI.
        let env = split("<14>1 2024-07-16T10:16:30Z fw-core-01 -");
        assert_eq!(env.kind, EnvelopeKind::Bare);
        assert_eq!(env.pri, Some(14));
        assert_eq!(env.message, "1 2024-07-16T10:16:30Z fw-core-01 -");
    }

    proptest::proptest! {
        #[test]
        fn split_never_panics_and_message_is_a_suffix(line in "\\PC{0,120}") {
            let env = split(&line);
            proptest::prop_assert!(line.trim_end_matches(['\r', '\n']).ends_with(env.message));
        }

        #[test]
        fn split_never_panics_on_syslog_like_input(line in "(<[0-9]{1,3}>)?(1 )?[-A-Za-z0-9:\\[\\]\"\\\\ .T+]{0,80}") {
            let _ = split(&line);
        }
    }
}
