//! BIRD CLI text: calico-node's BIRD 1.6 fork (`birdcl`) and BIRD 2 (`birdc`).
//!
//! One text may hold several command outputs back to back, each optionally introduced by a
//! `BIRD … ready.` banner and a `bird> show …` echo line. The text is read as a sequence of
//! sections; the section decides what a line means:
//!
//! ```text
//!  banner / echo ──▶ section: protocols | routes(table) | other (ignored) | unknown (sniffed)
//!  protocols:  row  `name proto table state since info`  + indented detail block (`… all`)
//!              └─▶ BgpSession for every BGP protocol (others only teach route protocol classes)
//!  routes:     `Table X:` header (BIRD 2) sets the table
//!              `net  via … [proto time from X] * (pref) [ASni]`   (first route of a net)
//!              `     via … [proto time] (pref)`                    (further routes, same net)
//!              `\tType: …` / `\tBGP.as_path: …` / `\tvia X on if`  (attributes of the route above)
//!              └─▶ Route
//! ```
//!
//! The control-socket form (`1007-…` reply codes, continuation lines starting with one space,
//! `0000` end line) is first decoded into the same lines; the line numbers and excerpts stay those
//! of the payload, so evidence quotes the bytes as stored.
//!
//! A route's `learned_from` is its `from X`, else the peer in a Calico protocol name, else (BGP
//! routes) its gateway: BIRD prints `from` exactly when the neighbour differs from the gateway.
//! A session's peer is its `Neighbor address:`, else the peer in a Calico protocol name; a plain
//! row whose name carries no address gives no session.
//!
//! Invariants: every fact carries the 1-based line of its row (protocol) or first route line, and
//! the exact payload text it was read from. Route protocol classes are resolved after the whole text
//! is read, because a `show protocols` output may follow the routes it names. When the same route or
//! protocol appears in two command outputs (`show route` then `show route all`), the more detailed
//! one is kept.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::collect::ParseError;
use crate::model::{BgpSession, Facts, Origin, Route, SessionType};

/// Evidence excerpts stay readable: a route line plus its attributes, a protocol row plus the
/// detail lines that were used.
const MAX_EXCERPT_LINES: usize = 12;
const MAX_EXCERPT_LINE_CHARS: usize = 400;

/// Parse BIRD CLI output (any mix of `show protocols [all]` and `show route [all] [table T]`).
pub fn parse(observer: &str, text: &str) -> Result<Facts, ParseError> {
    let (lines, socket_form) = logical_lines(text)?;
    let mut parser = Parser::new(observer);
    parser.bird_like = socket_form;
    for line in &lines {
        parser.feed(line)?;
    }
    parser.finish()
}

/// One line as the CLI would print it, with its place in the payload.
struct Line<'a> {
    no: usize,
    /// The payload line, byte for byte (reply code included in the socket form).
    raw: &'a str,
    /// The CLI text: `raw` without the reply code or the continuation space.
    text: &'a str,
}

/// Split the payload into CLI lines; decode the control-socket form when the text starts with a
/// reply code. Returns the lines and whether the text was in the socket form.
fn logical_lines(text: &str) -> Result<(Vec<Line<'_>>, bool), ParseError> {
    let physical = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .collect::<Vec<_>>();
    let socket_form =
        physical.iter().find(|(_, l)| !l.trim().is_empty()).is_some_and(|(_, l)| reply_code(l).is_some());
    if !socket_form {
        return Ok((physical.into_iter().map(|(no, l)| Line { no, raw: l, text: l }).collect(), false));
    }
    let mut out = Vec::new();
    // A reply is open while its last coded line said `-` (more follows); `NNNN ` closes it.
    let mut open = false;
    let mut last_no = 1;
    for (no, l) in physical {
        if l.is_empty() {
            continue;
        }
        last_no = no;
        if let Some((code, more)) = reply_code(l) {
            open = more;
            let content = l.get(5..).unwrap_or("");
            if code.starts_with('9') {
                return Err(ParseError::at_line(
                    no,
                    format!("bird replied with error {code}: {}", content.trim()),
                ));
            }
            // 8xxx are run-time answers such as `8003 No protocols match`: an empty output.
            if code.starts_with('8') {
                continue;
            }
            out.push(Line { no, raw: l, text: content });
        } else if let Some(rest) = l.strip_prefix(' ') {
            out.push(Line { no, raw: l, text: rest });
        } else {
            return Err(ParseError::at_line(
                no,
                "expected a control-socket reply line (4-digit code or a leading space)",
            ));
        }
    }
    if open {
        return Err(ParseError::at_line(
            last_no,
            "truncated: control-socket reply ends without its final line (0000)",
        ));
    }
    Ok((out, true))
}

/// `1007-…` -> ("1007", true); `0000 ` or a bare `0000` -> ("0000", false).
fn reply_code(line: &str) -> Option<(&str, bool)> {
    let code = line.get(..4)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match line.as_bytes().get(4) {
        None | Some(b' ') => Some((code, false)),
        Some(b'-') => Some((code, true)),
        Some(_) => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Section {
    /// No banner or echo told us what follows: recognise lines by their shape.
    Unknown,
    /// An echoed command we do not read (`show status`, `show interfaces`, ...).
    Other,
    Protocols {
        /// `show protocols all`: every BGP protocol must come with its detail block.
        all: bool,
        /// The column header was seen; before it, lines are messages (`No protocols match`).
        rows: bool,
    },
    Routes {
        table: String,
    },
}

struct ProtocolBlock<'a> {
    row: &'a Line<'a>,
    name: &'a str,
    class: &'a str,
    table: &'a str,
    state: &'a str,
    since: String,
    info: &'a str,
    details: Vec<&'a Line<'a>>,
    section: usize,
}

struct RouteBlock<'a> {
    first: &'a Line<'a>,
    lines: Vec<&'a str>,
    table: String,
    prefix: IpNet,
    proto: String,
    from: Option<IpAddr>,
    next_hops: Vec<IpAddr>,
    best: bool,
    /// The info column ends in a BGP origin marker (`[i]`, `[AS64602i]`).
    bgp_info: bool,
    /// From the `Type:` attribute line, as a protocol class.
    source_class: Option<String>,
    bgp_attributes: bool,
    as_path: Vec<u32>,
    attributes: usize,
    section: usize,
}

/// One route as two commands (`show route`, then `show route all`) would both print it:
/// table, net, BIRD protocol name, `from` address, next hops.
type RouteKey = (String, IpNet, String, Option<IpAddr>, Vec<IpAddr>);

struct SessionEntry {
    session: BgpSession,
    detailed: bool,
    section: usize,
}

struct Parser<'a> {
    observer: &'a str,
    section: Section,
    section_id: usize,
    after_echo: bool,
    bird_like: bool,
    protocol: Option<ProtocolBlock<'a>>,
    route: Option<RouteBlock<'a>>,
    /// The net of the last route line, for the following lines that leave the net column blank.
    last_prefix: Option<IpNet>,
    routes: Vec<RouteBlock<'a>>,
    sessions: Vec<SessionEntry>,
    /// protocol name -> class (`bgp`, `static`, ...) from protocol rows anywhere in the text.
    classes: HashMap<String, String>,
}

impl<'a> Parser<'a> {
    fn new(observer: &'a str) -> Self {
        Parser {
            observer,
            section: Section::Unknown,
            section_id: 0,
            after_echo: false,
            bird_like: false,
            protocol: None,
            route: None,
            last_prefix: None,
            routes: Vec::new(),
            sessions: Vec::new(),
            classes: HashMap::new(),
        }
    }

    fn feed(&mut self, line: &'a Line<'a>) -> Result<(), ParseError> {
        let text = line.text;
        let trimmed = text.trim();
        let indented = text.starts_with([' ', '\t']);
        if trimmed.is_empty() {
            self.end_blocks()?;
            // BIRD 2 separates protocols with blank lines only in `show protocols all`.
            if let Section::Protocols { all, .. } = &mut self.section {
                *all = true;
            }
            return Ok(());
        }
        if !indented && trimmed.starts_with("BIRD ") && trimmed.ends_with(" ready.") {
            self.end_blocks()?;
            self.start_section(Section::Unknown);
            return Ok(());
        }
        if let Some(command) = echo_command(text) {
            self.end_blocks()?;
            self.start_section(section_for(command));
            self.after_echo = true;
            return Ok(());
        }
        let after_echo = std::mem::replace(&mut self.after_echo, false);
        if !indented && is_protocols_header(trimmed) {
            self.end_blocks()?;
            let all = after_echo && matches!(self.section, Section::Protocols { all: true, .. });
            if after_echo {
                self.section = Section::Protocols { all, rows: true };
                self.bird_like = true;
            } else {
                self.start_section(Section::Protocols { all, rows: true });
            }
            return Ok(());
        }
        if !indented && let Some(table) = table_header(trimmed) {
            self.end_blocks()?;
            self.bird_like = true;
            self.section = Section::Routes { table: table.to_string() };
            self.last_prefix = None;
            return Ok(());
        }
        match self.section {
            Section::Other => Ok(()),
            Section::Protocols { rows: false, .. } if !is_route_line(trimmed) => Ok(()),
            Section::Protocols { .. } if !indented && !is_route_line(trimmed) => self.protocol_row(line),
            Section::Protocols { .. } if indented && self.protocol.is_some() => {
                if let Some(p) = self.protocol.as_mut() {
                    p.details.push(line);
                }
                if let Section::Protocols { all, .. } = &mut self.section {
                    *all = true;
                }
                Ok(())
            }
            Section::Protocols { .. } if indented => Ok(()),
            _ => self.route_line(line, indented),
        }
    }

    fn start_section(&mut self, section: Section) {
        self.bird_like = true;
        self.section = section;
        self.section_id += 1;
        self.last_prefix = None;
    }

    fn end_blocks(&mut self) -> Result<(), ParseError> {
        self.end_protocol()?;
        if let Some(r) = self.route.take() {
            self.routes.push(r);
        }
        Ok(())
    }

    fn protocol_row(&mut self, line: &'a Line<'a>) -> Result<(), ParseError> {
        self.end_blocks()?;
        let text = line.text;
        let toks = tokens(text);
        let [(_, name), (_, class), (_, table), (_, state), (_, since), ..] = toks.as_slice() else {
            return Err(ParseError::at_line(
                line.no,
                format!(
                    "protocol row has {} columns, expected name, proto, table, state, since \
                     (truncated output?)",
                    toks.len()
                ),
            ));
        };
        let mut since = since.to_string();
        let mut info_at = 5;
        // A `timeformat protocol iso long` puts date and time in two columns.
        if looks_like_date(&since)
            && let Some((_, t)) = toks.get(5)
            && looks_like_time(t)
        {
            since = format!("{since} {t}");
            info_at = 6;
        }
        let info = toks.get(info_at).and_then(|(at, _)| text.get(*at..)).unwrap_or("").trim_end();
        self.protocol = Some(ProtocolBlock {
            row: line,
            name,
            class,
            table,
            state,
            since,
            info,
            details: Vec::new(),
            section: self.section_id,
        });
        Ok(())
    }

    fn end_protocol(&mut self) -> Result<(), ParseError> {
        let Some(block) = self.protocol.take() else { return Ok(()) };
        let class = block.class.to_ascii_lowercase();
        self.classes.insert(block.name.to_string(), class.clone());
        if class != "bgp" {
            return Ok(());
        }
        let all = matches!(self.section, Section::Protocols { all: true, .. });
        let details = BgpDetails::read(&block.details)?;
        let peer_addr = match details.neighbor {
            Some(addr) => addr,
            // A dynamic BGP template listens for a range: no single peer to report.
            None if details.neighbor_range => return Ok(()),
            None if all || !block.details.is_empty() => {
                let at = block.details.last().map_or(block.row.no, |l| l.no);
                return Err(ParseError::at_line(
                    at,
                    format!(
                        "protocol {}: detail block ends before 'Neighbor address:' (truncated output)",
                        block.name
                    ),
                ));
            }
            None => match calico_peer(block.name) {
                Some(addr) => addr,
                None => return Ok(()),
            },
        };
        let session_type = calico_session_type(block.name).unwrap_or(details.session_type);
        let state = details
            .state
            .map(str::to_string)
            .or_else(|| block.info.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| block.state.to_string());
        let vrf = details
            .tables
            .iter()
            .copied()
            .find(|t| !is_main_table(t))
            .or_else(|| (details.tables.is_empty() && !is_main_table(block.table)).then_some(block.table))
            .map(str::to_string);
        let mut excerpt_lines = vec![block.row.raw];
        excerpt_lines.extend(details.used.iter().map(|l| l.raw));
        let session = BgpSession {
            observer: self.observer.to_string(),
            vrf,
            protocol: Some(block.name.to_string()),
            local_addr: details.source,
            peer_addr,
            peer_asn: details.neighbor_as,
            state,
            since: Some(block.since.clone()),
            session_type,
            prefixes_received: details.imported,
            origin: Origin::at_line(block.row.no, excerpt(&excerpt_lines)),
        };
        self.add_session(session, !block.details.is_empty(), block.section);
        Ok(())
    }

    fn add_session(&mut self, session: BgpSession, detailed: bool, section: usize) {
        // bird and bird6 outputs may share protocol names: the peer tells them apart.
        let earlier = self.sessions.iter().position(|e| {
            e.section != section
                && e.session.protocol == session.protocol
                && e.session.peer_addr == session.peer_addr
        });
        match earlier {
            Some(i) => {
                if let Some(e) = self.sessions.get_mut(i)
                    && (detailed || !e.detailed)
                {
                    *e = SessionEntry { session, detailed, section };
                }
            }
            None => self.sessions.push(SessionEntry { session, detailed, section }),
        }
    }

    fn route_line(&mut self, line: &'a Line<'a>, indented: bool) -> Result<(), ParseError> {
        let trimmed = line.text.trim();
        if !indented {
            let (net, body) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
            if !net.contains('/') {
                // Status lines, `Network not in table`, counts: nothing to read.
                return Ok(());
            }
            if !body.contains('[') {
                if matches!(self.section, Section::Routes { .. }) {
                    return Err(ParseError::at_line(
                        line.no,
                        "route line without its [protocol time] part (truncated output?)",
                    ));
                }
                return Ok(());
            }
            let prefix: IpNet = net
                .parse()
                .map_err(|_| ParseError::at_line(line.no, format!("unparseable prefix {net:?}")))?;
            self.start_route(line, prefix, body)
        } else if is_continuation_route(trimmed) {
            let Some(prefix) = self.last_prefix else {
                return Err(ParseError::at_line(line.no, "route line without a network before it"));
            };
            self.start_route(line, prefix, trimmed)
        } else {
            let looks_like_attribute =
                ["via ", "dev ", "Type:", "BGP."].iter().any(|p| trimmed.starts_with(p));
            if self.section == Section::Unknown && !looks_like_attribute {
                return Ok(());
            }
            let Some(route) = self.route.as_mut() else {
                return Err(ParseError::at_line(line.no, "route attribute line before any route"));
            };
            route.attribute(line)
        }
    }

    fn start_route(&mut self, line: &'a Line<'a>, prefix: IpNet, body: &str) -> Result<(), ParseError> {
        self.end_blocks()?;
        let head = RouteHead::parse(body).map_err(|m| ParseError::at_line(line.no, m))?;
        let table = match &self.section {
            Section::Routes { table } => table.clone(),
            _ => {
                self.section = Section::Routes { table: "master".to_string() };
                "master".to_string()
            }
        };
        self.bird_like = true;
        self.last_prefix = Some(prefix);
        self.route = Some(RouteBlock {
            first: line,
            lines: vec![line.raw],
            table,
            prefix,
            proto: head.proto,
            from: head.from,
            next_hops: head.via.into_iter().collect(),
            best: head.best,
            bgp_info: head.bgp_info,
            source_class: None,
            bgp_attributes: false,
            as_path: Vec::new(),
            attributes: 0,
            section: self.section_id,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<Facts, ParseError> {
        self.end_blocks()?;
        if !self.bird_like {
            return Err(ParseError::at_line(
                1,
                "no BIRD output found (expected a 'BIRD … ready.' banner, a protocols header or route lines)",
            ));
        }
        let mut kept: Vec<RouteBlock<'a>> = Vec::new();
        let mut seen: HashMap<RouteKey, usize> = HashMap::new();
        for r in self.routes {
            let key = (r.table.clone(), r.prefix, r.proto.clone(), r.from, r.next_hops.clone());
            match seen.get(&key).and_then(|&i| kept.get_mut(i)) {
                Some(old) if old.section != r.section => {
                    if r.attributes > old.attributes {
                        *old = r;
                    }
                }
                _ => {
                    seen.insert(key, kept.len());
                    kept.push(r);
                }
            }
        }
        Ok(Facts {
            sessions: self.sessions.into_iter().map(|e| e.session).collect(),
            routes: kept.into_iter().map(|r| route_fact(self.observer, &self.classes, r)).collect(),
            ..Facts::default()
        })
    }
}

fn route_fact(observer: &str, classes: &HashMap<String, String>, r: RouteBlock<'_>) -> Route {
    let protocol = if r.bgp_attributes {
        "bgp".to_string()
    } else if let Some(c) = r.source_class {
        c
    } else if let Some(c) = classes.get(&r.proto) {
        c.clone()
    } else if r.bgp_info || calico_peer(&r.proto).is_some() {
        "bgp".to_string()
    } else {
        class_from_name(&r.proto)
    };
    // BIRD prints `from X` only when the neighbour differs from the gateway, so a BGP route
    // without it was learned from its gateway.
    let learned_from = r.from.or_else(|| calico_peer(&r.proto)).or_else(|| {
        if protocol == "bgp" && r.next_hops.len() == 1 { r.next_hops.first().copied() } else { None }
    });
    Route {
        observer: observer.into(),
        table: r.table.into(),
        prefix: r.prefix,
        next_hops: r.next_hops,
        protocol: protocol.into(),
        learned_from,
        as_path: r.as_path,
        best: r.best,
        origin: Origin::at_line(r.first.no, excerpt(&r.lines)),
    }
}

impl<'a> RouteBlock<'a> {
    fn attribute(&mut self, line: &'a Line<'a>) -> Result<(), ParseError> {
        let t = line.text.trim();
        self.attributes += 1;
        if self.lines.len() < MAX_EXCERPT_LINES {
            self.lines.push(line.raw);
        }
        if let Some(rest) = t.strip_prefix("via ") {
            let gw = rest.split_whitespace().next().unwrap_or("");
            let addr = parse_addr(gw)
                .ok_or_else(|| ParseError::at_line(line.no, format!("unparseable next hop {gw:?}")))?;
            self.next_hops.push(addr);
        } else if let Some(rest) = t.strip_prefix("Type:") {
            self.source_class = rest.split_whitespace().next().map(source_class);
        } else if let Some(rest) = t.strip_prefix("BGP.") {
            self.bgp_attributes = true;
            if let Some(path) = rest.strip_prefix("as_path:") {
                self.as_path = path
                    .split_whitespace()
                    .filter_map(|a| a.trim_matches(|c| matches!(c, '{' | '}' | '(' | ')')).parse().ok())
                    .collect();
            }
        }
        Ok(())
    }
}

/// What the part of a route line after the net says.
struct RouteHead {
    via: Option<IpAddr>,
    proto: String,
    from: Option<IpAddr>,
    best: bool,
    bgp_info: bool,
}

impl RouteHead {
    /// `via 10.10.1.22 on ens192 [Node_10_10_1_11 08:14:05 from 10.10.1.11] * (100/0) [i]`
    /// or BIRD 2 `unicast [rr_a_2 08:16:41.020 from 10.10.1.12] (100) [AS64602i]`.
    fn parse(body: &str) -> Result<RouteHead, String> {
        let (before, rest) = body.split_once('[').ok_or("route line without '[protocol time]'")?;
        let (inside, after) =
            rest.split_once(']').ok_or("route line without closing ']' (truncated output?)")?;
        let mut words = before.split_whitespace();
        let via = match (words.next(), words.next()) {
            (Some("via"), Some(gw)) => {
                Some(parse_addr(gw).ok_or_else(|| format!("unparseable next hop {gw:?}"))?)
            }
            _ => None,
        };
        let inner = inside.split_whitespace().collect::<Vec<_>>();
        let proto = inner.first().ok_or("route line with an empty [protocol time] part")?.to_string();
        let from = match inner.iter().position(|w| *w == "from") {
            Some(i) => {
                let a = inner.get(i + 1).copied().unwrap_or("");
                Some(parse_addr(a).ok_or_else(|| format!("unparseable 'from' address {a:?}"))?)
            }
            None => None,
        };
        let after = after.trim_start();
        // `!` marks the primary route whose kernel sync failed: still the selected one.
        let best = after.starts_with('*') || after.starts_with('!');
        let bgp_info = after.rsplit_once('[').and_then(|(_, m)| m.split_once(']')).is_some_and(|(m, _)| {
            matches!(m, "i" | "e" | "?") || (m.starts_with("AS") && m.ends_with(['i', 'e', '?']))
        });
        Ok(RouteHead { via, proto, from, best, bgp_info })
    }
}

/// What a BGP protocol's detail block says (both BIRD 1.6 and BIRD 2 layouts).
struct BgpDetails<'l, 'a> {
    state: Option<&'a str>,
    neighbor: Option<IpAddr>,
    neighbor_range: bool,
    neighbor_as: Option<u32>,
    source: Option<IpAddr>,
    session_type: SessionType,
    tables: Vec<&'a str>,
    imported: Option<u64>,
    used: Vec<&'l Line<'a>>,
}

impl<'l, 'a> BgpDetails<'l, 'a> {
    fn read(lines: &'l [&'a Line<'a>]) -> Result<Self, ParseError> {
        let mut d = BgpDetails {
            state: None,
            neighbor: None,
            neighbor_range: false,
            neighbor_as: None,
            source: None,
            session_type: SessionType::Unknown,
            tables: Vec::new(),
            imported: None,
            used: Vec::new(),
        };
        for &line in lines {
            let Some((key, value)) = line.text.trim().split_once(':') else { continue };
            let value = value.trim();
            let bad = |what: &str| ParseError::at_line(line.no, format!("unparseable {what} {value:?}"));
            match key.trim_end() {
                "BGP state" => d.state = Some(value).filter(|v| !v.is_empty()),
                "Neighbor address" => {
                    d.neighbor = Some(parse_addr(value).ok_or_else(|| bad("neighbor address"))?)
                }
                "Neighbor range" => d.neighbor_range = true,
                "Neighbor AS" => d.neighbor_as = Some(value.parse().map_err(|_| bad("neighbor AS"))?),
                "Source address" => d.source = Some(parse_addr(value).ok_or_else(|| bad("source address"))?),
                "Session" => d.session_type = session_type_from_flags(value),
                "Table" => d.tables.push(value),
                "Routes" => {
                    let n = value
                        .split(',')
                        .find_map(|part| part.trim().strip_suffix(" imported"))
                        .and_then(|n| n.trim().parse::<u64>().ok());
                    if let Some(n) = n {
                        d.imported = Some(d.imported.unwrap_or(0) + n);
                    }
                }
                _ => continue,
            }
            d.used.push(line);
        }
        Ok(d)
    }
}

/// `Session:` words: `route-reflector` means this side reflects to the neighbour (its client).
fn session_type_from_flags(flags: &str) -> SessionType {
    let words = flags.split_whitespace().collect::<Vec<_>>();
    if words.contains(&"route-reflector") {
        SessionType::RrClient
    } else if words.contains(&"internal") {
        SessionType::Ibgp
    } else if words.contains(&"external") {
        SessionType::Ebgp
    } else {
        SessionType::Unknown
    }
}

fn calico_session_type(name: &str) -> Option<SessionType> {
    if name.starts_with("Mesh_") {
        Some(SessionType::Mesh)
    } else if name.starts_with("Node_") {
        Some(SessionType::Node)
    } else if name.starts_with("Global_") {
        Some(SessionType::Global)
    } else {
        None
    }
}

/// Calico names its BGP protocols after the peer: `Node_10_10_1_21`, `Mesh_fd80_24e2__2`,
/// `Global_10_0_0_1_port_1790` (`.`/`:` written as `_`).
fn calico_peer(name: &str) -> Option<IpAddr> {
    let rest = ["Mesh_", "Node_", "Global_", "Local_Workload_"].iter().find_map(|p| name.strip_prefix(p))?;
    let rest = match rest.rsplit_once("_port_") {
        Some((addr, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => addr,
        _ => rest,
    };
    if let Ok(v4) = rest.replace('_', ".").parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    rest.replace('_', ":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// `Type:` source names (`rta_src_names`) as protocol classes.
fn source_class(word: &str) -> String {
    let w = word.to_ascii_lowercase();
    match w.as_str() {
        "inherit" => "kernel".to_string(),
        "device" => "direct".to_string(),
        "static-device" => "static".to_string(),
        w if w.starts_with("ospf") => "ospf".to_string(),
        _ => w,
    }
}

/// Without a protocols table, the usual instance names (`kernel1`, `static1`, `direct1`) still
/// give the class.
fn class_from_name(name: &str) -> String {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit()).to_ascii_lowercase();
    match base.as_str() {
        "kernel" | "static" | "device" | "direct" | "pipe" | "ospf" | "rip" | "babel" | "bgp" => base,
        _ => "unknown".to_string(),
    }
}

fn is_main_table(t: &str) -> bool {
    matches!(t, "master" | "master4" | "master6" | "---" | "")
}

/// Addresses may carry an interface scope (`fe80::1%eth0`).
fn parse_addr(s: &str) -> Option<IpAddr> {
    s.split('%').next().unwrap_or(s).parse().ok()
}

fn echo_command(text: &str) -> Option<&str> {
    let (prompt, rest) = text.split_once('>')?;
    let is_prompt = prompt.strip_prefix("bird").is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphanumeric()));
    is_prompt.then(|| rest.trim())
}

/// The CLI accepts unambiguous abbreviations (`sh pro all`, `sh ro table yellow`).
fn section_for(command: &str) -> Section {
    let words = command.split_whitespace().collect::<Vec<_>>();
    let abbrev =
        |w: Option<&&str>, full: &str, min: usize| w.is_some_and(|w| w.len() >= min && full.starts_with(*w));
    if command.is_empty() {
        return Section::Unknown;
    }
    if !abbrev(words.first(), "show", 1) {
        return Section::Other;
    }
    if abbrev(words.get(1), "protocols", 1) {
        return Section::Protocols { all: abbrev(words.get(2), "all", 1), rows: false };
    }
    if abbrev(words.get(1), "route", 2) {
        let table = words
            .iter()
            .position(|w| *w == "table")
            .and_then(|i| words.get(i + 1))
            .filter(|t| **t != "all")
            .map_or("master", |t| t);
        return Section::Routes { table: table.to_string() };
    }
    Section::Other
}

fn is_protocols_header(trimmed: &str) -> bool {
    let words = trimmed.split_whitespace().map(str::to_ascii_lowercase).collect::<Vec<_>>();
    words.len() >= 5 && words.iter().take(3).eq(["name", "proto", "table"].iter())
}

fn table_header(trimmed: &str) -> Option<&str> {
    let name = trimmed.strip_prefix("Table ")?.strip_suffix(':')?.trim();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

fn is_route_line(trimmed: &str) -> bool {
    trimmed.split_whitespace().next().is_some_and(|n| n.contains('/')) && trimmed.contains('[')
}

/// A further route for the same net: the net column is blank, the rest is a route line.
fn is_continuation_route(trimmed: &str) -> bool {
    let first = trimmed.split_whitespace().next().unwrap_or("");
    matches!(first, "via" | "dev" | "unicast" | "blackhole" | "unreachable" | "prohibited" | "multipath")
        && trimmed.contains('[')
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-')
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8 && b.get(2) == Some(&b':') && b.get(5) == Some(&b':')
}

/// Whitespace-separated words with their byte offsets.
fn tokens(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            if let Some(b) = start.take()
                && let Some(w) = s.get(b..i)
            {
                out.push((b, w));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(b) = start
        && let Some(w) = s.get(b..)
    {
        out.push((b, w));
    }
    out
}

fn excerpt(lines: &[&str]) -> String {
    lines
        .iter()
        .take(MAX_EXCERPT_LINES)
        .map(|l| {
            if l.chars().count() > MAX_EXCERPT_LINE_CHARS {
                let mut s: String = l.chars().take(MAX_EXCERPT_LINE_CHARS).collect();
                s.push('…');
                s
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/bird/", $name))
        };
    }

    fn ok(text: &str) -> Facts {
        parse("rr1", text).unwrap_or_else(|e| panic!("parse failed: {e}"))
    }

    fn err(text: &str) -> ParseError {
        match parse("rr1", text) {
            Ok(f) => {
                panic!("expected an error, got {} sessions / {} routes", f.sessions.len(), f.routes.len())
            }
            Err(e) => e,
        }
    }

    fn session<'f>(facts: &'f Facts, protocol: &str) -> &'f BgpSession {
        facts
            .sessions
            .iter()
            .find(|s| s.protocol.as_deref() == Some(protocol))
            .unwrap_or_else(|| panic!("no session {protocol}"))
    }

    fn routes_for<'f>(facts: &'f Facts, table: &str, prefix: &str) -> Vec<&'f Route> {
        facts.routes.iter().filter(|r| r.table == table && r.prefix.to_string() == prefix).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Lines of a fixture up to and including line `n` (1-based).
    fn head(text: &str, n: usize) -> String {
        text.lines().take(n).map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn calico_worker_protocols_give_one_session_per_bgp_peer() {
        let f = ok(fixture!("birdcl-show-protocols.txt"));
        assert_eq!(f.sessions.len(), 2, "static1, kernel1, device1, direct1 are not sessions");
        let s = session(&f, "Node_10_10_1_11");
        assert_eq!(s.observer, "rr1");
        assert_eq!(s.peer_addr, ip("10.10.1.11"));
        assert_eq!(s.session_type, SessionType::Node);
        assert_eq!(s.state, "Established");
        assert_eq!(s.since.as_deref(), Some("08:14:03"));
        assert_eq!(s.vrf, None, "table master is the default table");
        assert_eq!(s.peer_asn, None);
        assert_eq!(s.origin.locator, "line 7");
        assert_eq!(s.origin.excerpt, "Node_10_10_1_11 BGP      master   up     08:14:03    Established   ");
    }

    #[test]
    fn calico_rr_protocols_report_the_failed_client() {
        let f = ok(fixture!("birdcl-show-protocols-rr.txt"));
        assert_eq!(f.sessions.len(), 5);
        let failed = session(&f, "Node_10_10_1_23");
        assert_eq!(failed.state, "Active", "the BGP state, not its error text");
        assert!(!failed.is_established());
        assert_eq!(failed.peer_addr, ip("10.10.1.23"));
        assert_eq!(f.sessions.iter().filter(|s| s.is_established()).count(), 4);
    }

    #[test]
    fn calico_protocols_all_reads_the_detail_block() {
        let f = ok(fixture!("birdcl-show-protocols-all-rr.txt"));
        assert_eq!(f.sessions.len(), 3);
        let client = session(&f, "Node_10_10_1_21");
        assert_eq!(client.peer_addr, ip("10.10.1.21"));
        assert_eq!(client.local_addr, Some(ip("10.10.1.11")));
        assert_eq!(client.peer_asn, Some(64601));
        assert_eq!(client.prefixes_received, Some(1));
        assert_eq!(client.session_type, SessionType::Node, "the Calico name decides before Session:");
        assert_eq!(client.origin.locator, "line 4");
        assert!(client.origin.excerpt.starts_with("Node_10_10_1_21 BGP"));
        assert!(client.origin.excerpt.contains("    Neighbor address: 10.10.1.21"));
        let leaf = session(&f, "Node_10_10_1_1");
        assert_eq!(leaf.peer_asn, Some(65101));
        assert_eq!(leaf.prefixes_received, Some(3));
        let down = session(&f, "Node_10_10_1_23");
        assert_eq!(down.state, "Active");
        assert_eq!(down.local_addr, None, "no Source address while the session is down");
        assert_eq!(down.prefixes_received, Some(0));
        assert_eq!(down.origin.locator, "line 50");
    }

    #[test]
    fn bird2_protocols_all_reads_session_flags_and_channel() {
        let f = ok(fixture!("bird2-show-protocols-all.txt"));
        assert_eq!(f.sessions.len(), 1);
        let s = session(&f, "wk_a_1");
        assert_eq!(s.session_type, SessionType::RrClient);
        assert_eq!(s.peer_addr, ip("10.10.1.21"));
        assert_eq!(s.local_addr, Some(ip("10.10.1.11")));
        assert_eq!(s.peer_asn, Some(64601));
        assert_eq!(s.since.as_deref(), Some("08:14:03.217"));
        assert_eq!(s.prefixes_received, Some(1));
        assert_eq!(s.vrf, None, "channel table master4 is the default table");
    }

    #[test]
    fn bird2_plain_protocols_without_calico_names_are_skipped_not_failed() {
        let f = ok(fixture!("bird2-show-protocols.txt"));
        assert!(f.sessions.is_empty(), "names like wk_a_1 carry no address");
        assert!(f.routes.is_empty());
    }

    #[test]
    fn calico_show_route_reads_every_route_line() {
        let f = ok(fixture!("birdcl-show-route.txt"));
        assert_eq!(f.routes.len(), 11);
        assert!(f.routes.iter().all(|r| r.table == "master" && r.observer == "rr1"));
        let default = &routes_for(&f, "master", "0.0.0.0/0")[0];
        assert_eq!(default.protocol, "kernel");
        assert_eq!(default.next_hops, vec![ip("10.10.1.1")]);
        assert_eq!(default.learned_from, None);
        let block = &routes_for(&f, "master", "192.168.10.0/26")[0];
        assert_eq!(block.protocol, "static");
        assert!(block.next_hops.is_empty(), "blackhole");
        assert_eq!(routes_for(&f, "master", "10.10.1.0/24")[0].protocol, "direct");
        let reflected = routes_for(&f, "master", "192.168.20.0/26");
        assert_eq!(reflected.len(), 2, "the second route leaves the net column blank");
        assert!(reflected.iter().all(|r| r.protocol == "bgp" && r.next_hops == vec![ip("10.10.1.1")]));
        assert_eq!(reflected[0].learned_from, Some(ip("10.10.1.11")));
        assert!(reflected[0].best);
        assert_eq!(reflected[1].learned_from, Some(ip("10.10.1.12")));
        assert!(!reflected[1].best);
        assert_eq!(reflected[1].origin.locator, "line 9");
        assert!(
            reflected[1].origin.excerpt.trim_start().starts_with("via 10.10.1.1 on ens192 [Node_10_10_1_12")
        );
    }

    #[test]
    fn calico_show_route_all_reads_as_path_and_quotes_attributes() {
        let f = ok(fixture!("birdcl-show-route-all.txt"));
        assert_eq!(f.routes.len(), 4);
        let r = &routes_for(&f, "master", "192.168.20.0/26")[0];
        assert_eq!(r.as_path, vec![65101, 65000, 65102, 64602]);
        assert_eq!(r.protocol, "bgp");
        assert_eq!(r.origin.locator, "line 18");
        let own = &routes_for(&f, "master", "192.168.10.64/26")[0];
        assert!(own.as_path.is_empty(), "`BGP.as_path: ` is the empty path");
        let lines = own.origin.excerpt.lines().collect::<Vec<_>>();
        assert_eq!(lines.len(), 8, "route line and its seven attribute lines");
        assert_eq!(lines[7], "\tBGP.cluster_list: 244.0.1.1");
    }

    #[test]
    fn bird2_show_route_all_takes_next_hops_from_their_own_lines() {
        let f = ok(fixture!("bird2-show-route-all.txt"));
        assert_eq!(f.routes.len(), 4);
        assert!(f.routes.iter().all(|r| r.table == "master4"));
        let paths = routes_for(&f, "master4", "192.168.20.0/26");
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0].next_hops, vec![ip("10.10.1.1")]);
        assert_eq!(paths[0].learned_from, Some(ip("10.10.1.1")), "no `from`: learned from the gateway");
        assert_eq!(paths[1].learned_from, Some(ip("10.10.1.12")));
        assert!(paths[0].best && !paths[1].best);
        let connected = &routes_for(&f, "master4", "10.10.1.0/24")[0];
        assert_eq!(connected.protocol, "direct");
        assert!(connected.next_hops.is_empty());
    }

    #[test]
    fn control_socket_form_gives_the_same_facts_as_birdcl() {
        let raw = ok(fixture!("bird-ctl-raw-show-protocols.txt"));
        let cli = ok(fixture!("birdcl-show-protocols.txt"));
        let key = |f: &Facts| {
            f.sessions.iter().map(|s| (s.peer_addr, s.state.clone(), s.session_type)).collect::<Vec<_>>()
        };
        assert_eq!(key(&raw), key(&cli));
        let s = session(&raw, "Node_10_10_1_12");
        assert_eq!(s.origin.locator, "line 8");
        assert_eq!(s.origin.excerpt, " Node_10_10_1_12 BGP      master   up     08:14:04    Established   ");

        let raw = ok(fixture!("bird-ctl-raw-show-route.txt"));
        let cli = ok(fixture!("birdcl-show-route.txt"));
        let key = |f: &Facts| {
            f.routes
                .iter()
                .map(|r| (r.prefix, r.next_hops.clone(), r.protocol.clone(), r.learned_from, r.best))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&raw), key(&cli));
        assert_eq!(
            raw.routes[0].origin.excerpt,
            "1007-0.0.0.0/0          via 10.10.1.1 on ens192 [kernel1 08:13:58] * (10)"
        );
    }

    #[test]
    fn show_status_is_bird_output_without_facts() {
        for text in [fixture!("birdcl-show-status.txt"), fixture!("bird-ctl-raw-show-status.txt")] {
            assert_eq!(ok(text), Facts::default());
        }
    }

    #[test]
    fn concatenated_outputs_keep_the_detailed_copy_once() {
        let text = format!(
            "{}{}{}",
            fixture!("birdcl-show-route.txt"),
            fixture!("birdcl-show-route-all.txt"),
            fixture!("birdcl-show-protocols-all-rr.txt")
        );
        let f = ok(&text);
        assert_eq!(f.routes.len(), 11, "show route all repeats four routes of show route");
        let r = &routes_for(&f, "master", "192.168.20.0/26")[0];
        assert_eq!(r.as_path, vec![65101, 65000, 65102, 64602], "the `all` copy wins");
        assert_eq!(f.sessions.len(), 3);

        let text = format!(
            "{}{}",
            fixture!("birdcl-show-protocols-rr.txt"),
            fixture!("birdcl-show-protocols-all-rr.txt")
        );
        let f = ok(&text);
        assert_eq!(f.sessions.len(), 5);
        assert_eq!(
            session(&f, "Node_10_10_1_21").peer_asn,
            Some(64601),
            "the detailed copy replaces the row"
        );
        assert_eq!(session(&f, "Node_10_10_1_22").peer_asn, None);
    }

    #[test]
    fn protocols_table_in_the_same_text_names_route_classes() {
        let text = format!(
            "{}{}",
            fixture!("lab-leak-pipe/birdc-show-route-table-blue.txt"),
            fixture!("lab-leak-pipe/birdc-show-protocols-leaf.txt")
        );
        let f = ok(&text);
        assert_eq!(routes_for(&f, "blue", "198.51.100.0/24")[0].protocol, "static", "ext_blue is Static");
        let alone = ok(fixture!("lab-leak-pipe/birdc-show-route-table-blue.txt"));
        assert_eq!(routes_for(&alone, "blue", "198.51.100.0/24")[0].protocol, "unknown");
    }

    #[test]
    fn echoed_commands_set_the_table() {
        let text = "BIRD v0.3.3+birdv1.6.8 ready.\n\
                    bird> show route table yellow\n\
                    10.20.0.0/26       via 172.31.101.1 on yellow0 [rr_yellow 08:14:05] * (100/0) [AS64512i]\n\
                    bird> show route\n\
                    10.10.0.0/26       blackhole [static1 08:13:58] * (200)\n\
                    bird> show status\n\
                    BIRD v0.3.3+birdv1.6.8\n";
        let f = ok(text);
        assert_eq!(f.routes.len(), 2);
        let leaked = &routes_for(&f, "yellow", "10.20.0.0/26")[0];
        assert_eq!(leaked.protocol, "bgp", "the [AS64512i] origin marker is BGP's");
        assert_eq!(leaked.learned_from, Some(ip("172.31.101.1")));
        assert_eq!(leaked.origin.locator, "line 3");
        assert_eq!(routes_for(&f, "master", "10.10.0.0/26")[0].protocol, "static");
    }

    #[test]
    fn calico_names_decode_ipv6_ports_and_peer_kinds() {
        let text = "BIRD v0.3.3+birdv1.6.8 ready.\n\
                    name     proto    table    state  since       info\n\
                    Mesh_fd80_24e2_f998_72d7__2 BGP      master   up     2026-08-20  Established   \n\
                    Global_10_0_0_1_port_1790 BGP      master   start  08:20:11    Connect       \n\
                    Node_not_an_address BGP      master   up     08:20:11    Established   \n\
                    peer_x   BGP      master   down   08:20:11    \n";
        let f = ok(text);
        assert_eq!(f.sessions.len(), 2, "undecodable names without details are skipped");
        let mesh = session(&f, "Mesh_fd80_24e2_f998_72d7__2");
        assert_eq!(mesh.peer_addr, ip("fd80:24e2:f998:72d7::2"));
        assert_eq!(mesh.session_type, SessionType::Mesh);
        assert_eq!(mesh.since.as_deref(), Some("2026-08-20"));
        let global = session(&f, "Global_10_0_0_1_port_1790");
        assert_eq!(global.peer_addr, ip("10.0.0.1"));
        assert_eq!(global.session_type, SessionType::Global);
        assert_eq!(global.state, "Connect");
    }

    #[test]
    fn empty_command_outputs_are_fine() {
        let f = ok("BIRD 2.0.12 ready.\nbird> show route\nbird> show protocols all\n\n");
        assert_eq!(f, Facts::default());
        assert_eq!(ok("0001 BIRD 2.0.12 ready.\n8003 No protocols match\n"), Facts::default());
        assert_eq!(
            ok("BIRD 2.0.12 ready.\nbird> show protocols all y_rr\nNo protocols match\n"),
            Facts::default()
        );
    }

    // ---- the lab: real BIRD 2 outputs of two zones and a leaf with tables yellow and blue ----

    macro_rules! lab {
        ($dir:literal, $name:literal) => {
            include_str!(concat!("../../tests/fixtures/bird/lab-", $dir, "/birdc-", $name, ".txt"))
        };
    }

    macro_rules! every_lab_capture {
        ($($name:literal),* $(,)?) => {
            [$(
                (concat!("baseline/", $name), lab!("baseline", $name)),
                (concat!("leak-pipe/", $name), lab!("leak-pipe", $name)),
                (concat!("leak-peer/", $name), lab!("leak-peer", $name)),
            )*]
        };
    }

    #[test]
    fn every_lab_capture_parses() {
        let captures = every_lab_capture![
            "show-protocols-all-b-rr",
            "show-protocols-all-leaf",
            "show-protocols-all-y-rr",
            "show-protocols-b-node1",
            "show-protocols-b-node2",
            "show-protocols-b-rr",
            "show-protocols-leaf",
            "show-protocols-y-node1",
            "show-protocols-y-node2",
            "show-protocols-y-rr",
            "show-route-all-b-node1",
            "show-route-all-b-node2",
            "show-route-all-b-rr",
            "show-route-all-table-blue",
            "show-route-all-table-yellow",
            "show-route-all-y-node1",
            "show-route-all-y-node2",
            "show-route-all-y-rr",
            "show-route-b-node1",
            "show-route-b-node2",
            "show-route-b-rr",
            "show-route-table-blue",
            "show-route-table-yellow",
            "show-route-y-node1",
            "show-route-y-node2",
            "show-route-y-rr",
        ];
        for (name, text) in captures {
            let f = parse("lab", text).unwrap_or_else(|e| panic!("{name}: {e}"));
            if name.contains("show-route") {
                assert!(!f.routes.is_empty(), "{name}: no routes");
                assert!(f.routes.iter().all(|r| r.best), "{name}: the lab has one path per prefix");
            }
            if name.contains("protocols-all") {
                assert!(f.sessions.iter().all(|s| s.is_established()), "{name}");
                assert!(f.sessions.len() >= 2, "{name}");
            }
        }
    }

    #[test]
    fn lab_leaf_sessions_sit_in_their_vrf_tables() {
        let f = ok(lab!("leak-pipe", "show-protocols-all-leaf"));
        assert_eq!(f.sessions.len(), 2, "the pipe and the static protocols are not sessions");
        let y = session(&f, "rr_yellow");
        assert_eq!(y.vrf.as_deref(), Some("yellow"));
        assert_eq!(y.peer_addr, ip("172.31.101.1"));
        assert_eq!(y.local_addr, Some(ip("172.31.101.2")));
        assert_eq!(y.peer_asn, Some(64512));
        assert_eq!(y.session_type, SessionType::Ebgp);
        let b = session(&f, "rr_blue");
        assert_eq!(b.vrf.as_deref(), Some("blue"));
        assert_eq!(b.peer_addr, ip("172.31.102.1"));
        let plain = ok(lab!("leak-pipe", "show-protocols-leaf"));
        assert!(
            plain.sessions.is_empty(),
            "BIRD 2 rows show no table for BGP and the names carry no address"
        );
    }

    #[test]
    fn lab_pipe_leak_puts_yellow_prefixes_into_table_blue_on_the_leaf_only() {
        let yellow_in_blue = |f: &Facts| {
            f.routes
                .iter()
                .filter(|r| r.table == "blue" && r.prefix.to_string().starts_with("10.10."))
                .map(|r| (r.prefix.to_string(), r.learned_from, r.protocol.to_string()))
                .collect::<Vec<_>>()
        };
        for text in
            [lab!("leak-pipe", "show-route-table-blue"), lab!("leak-pipe", "show-route-all-table-blue")]
        {
            let mut leaked = yellow_in_blue(&ok(text));
            leaked.sort();
            assert_eq!(
                leaked,
                vec![
                    ("10.10.0.0/26".to_string(), Some(ip("172.31.101.1")), "bgp".to_string()),
                    ("10.10.0.64/26".to_string(), Some(ip("172.31.101.1")), "bgp".to_string()),
                ],
                "learned from the yellow RR, now in blue"
            );
        }
        assert!(yellow_in_blue(&ok(lab!("baseline", "show-route-table-blue"))).is_empty());
        assert!(yellow_in_blue(&ok(lab!("baseline", "show-route-all-table-blue"))).is_empty());
        let leaked = ok(lab!("leak-pipe", "show-route-all-table-blue"));
        assert_eq!(routes_for(&leaked, "blue", "10.10.0.0/26")[0].as_path, vec![64512]);
        // b-rr drops the re-advertised routes (AS path loop): blue nodes never see them.
        for text in [lab!("leak-pipe", "show-route-all-b-rr"), lab!("leak-pipe", "show-route-all-b-node1")] {
            assert!(ok(text).routes.iter().all(|r| !r.prefix.to_string().starts_with("10.10.")));
        }
    }

    #[test]
    fn lab_peer_leak_shows_a_blue_node_as_client_of_the_yellow_rr() {
        let f = ok(lab!("leak-peer", "show-protocols-all-y-rr"));
        let wrong = session(&f, "b_node1");
        assert_eq!(wrong.peer_addr, ip("172.31.0.21"), "b-node1's address");
        assert_eq!(wrong.session_type, SessionType::RrClient);
        assert!(wrong.is_established());
        assert_eq!(wrong.origin.locator, "line 125");
        let base = ok(lab!("baseline", "show-protocols-all-y-rr"));
        assert!(base.sessions.iter().all(|s| s.peer_addr != ip("172.31.0.21")));

        // b-node1 learns yellow routes from the yellow RR over its extra session.
        let node = ok(lab!("leak-peer", "show-route-all-b-node1"));
        let yellow = routes_for(&node, "master4", "10.10.0.0/26");
        assert_eq!(yellow.len(), 1);
        assert_eq!(yellow[0].learned_from, Some(ip("172.31.0.10")));
        assert_eq!(yellow[0].next_hops, vec![ip("172.31.0.11")]);
        assert_eq!(routes_for(&node, "master4", "192.0.2.0/24")[0].learned_from, Some(ip("172.31.0.10")));
        assert!(
            routes_for(&ok(lab!("baseline", "show-route-all-b-node1")), "master4", "10.10.0.0/26").is_empty()
        );

        // The blue prefix reaches the leaf's yellow table.
        let leaf = ok(lab!("leak-peer", "show-route-table-yellow"));
        assert_eq!(routes_for(&leaf, "yellow", "10.20.0.0/26").len(), 1);
        assert!(
            routes_for(&ok(lab!("baseline", "show-route-table-yellow")), "yellow", "10.20.0.0/26").is_empty()
        );

        // b-node1's own `show protocols` names the session y_rr_wrong: no address without details.
        assert!(ok(lab!("leak-peer", "show-protocols-b-node1")).sessions.is_empty());
    }

    // ---- errors ----

    #[test]
    fn text_without_bird_output_is_rejected() {
        let e = err("Error from server (NotFound): pods \"calico-node-x\" not found\n");
        assert_eq!(e.locator, "line 1");
        assert!(e.message.contains("no BIRD output"), "{e}");
        assert_eq!(err("").locator, "line 1");
    }

    #[test]
    fn attribute_line_before_any_route_is_rejected() {
        let e = err("BIRD 2.0.12 ready.\nTable master4:\n\tvia 10.0.0.1 on eth0\n");
        assert_eq!(e.to_string(), "line 3: route attribute line before any route");
    }

    #[test]
    fn truncated_protocol_details_are_rejected() {
        let full = fixture!("birdcl-show-protocols-all-rr.txt");
        assert_eq!(full.lines().nth(14), Some("  BGP state:          Established"));
        let e = err(&head(full, 15));
        assert_eq!(e.locator, "line 15");
        assert!(e.message.contains("Node_10_10_1_21") && e.message.contains("truncated"), "{e}");

        // Cut right after the row of `show protocols all`: the echo says details must follow.
        let e = err(&head(full, 4));
        assert_eq!(e.locator, "line 4");
        assert!(e.message.contains("truncated"), "{e}");

        let bird2 = lab!("leak-peer", "show-protocols-all-y-rr");
        let e = err(&head(bird2, 5));
        assert!(e.message.contains("y_node1") && e.message.contains("truncated"), "{e}");
    }

    #[test]
    fn control_socket_reply_without_end_line_is_truncated() {
        let full = fixture!("bird-ctl-raw-show-route.txt");
        let e = err(&head(full, 12));
        assert_eq!(e.locator, "line 12");
        assert!(e.message.contains("truncated") && e.message.contains("0000"), "{e}");
        let e = err("0001 BIRD 2.0.12 ready.\n9001 syntax error, unexpected CF_SYM_UNDEFINED\n");
        assert_eq!(
            e.to_string(),
            "line 2: bird replied with error 9001: syntax error, unexpected CF_SYM_UNDEFINED"
        );
        let e = err("0001 BIRD 2.0.12 ready.\n1007-10.0.0.0/8 blackhole [s 08:00:00] * (200)\nhello\n0000\n");
        assert_eq!(e.locator, "line 3");
    }

    #[test]
    fn unparseable_prefix_is_rejected() {
        let e = err("BIRD v0.3.3+birdv1.6.8 ready.\n\
                     10.0.0.0/8         blackhole [static1 08:13:58] * (200)\n\
                     10.0.0.300/24      via 10.0.0.1 on eth0 [static1 08:13:58] * (200)\n");
        assert_eq!(e.to_string(), "line 3: unparseable prefix \"10.0.0.300/24\"");
    }

    #[test]
    fn truncated_route_and_protocol_rows_are_rejected() {
        let e = err("BIRD 2.0.12 ready.\nTable master4:\n10.0.0.0/8           unicast [b_rr 14:15\n");
        assert_eq!(e.locator, "line 3");
        let e = err(
            "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\nb_rr       BGP\n",
        );
        assert_eq!(e.locator, "line 3");
        assert!(e.message.contains("truncated"), "{e}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SAMPLES: [&str; 6] = [
            fixture!("birdcl-show-protocols-all-rr.txt"),
            fixture!("birdcl-show-route-all.txt"),
            fixture!("bird2-show-route-all.txt"),
            fixture!("bird-ctl-raw-show-route.txt"),
            fixture!("bird-ctl-raw-show-protocols.txt"),
            lab!("leak-pipe", "show-protocols-all-leaf"),
        ];

        proptest! {
            #[test]
            fn never_panics_on_any_text(text in "\\PC*") {
                let _ = parse("x", &text);
            }

            #[test]
            fn never_panics_on_bird_shaped_lines(lines in proptest::collection::vec(
                prop_oneof![
                    Just("BIRD 2.0.12 ready.".to_string()),
                    Just("bird> show protocols all".to_string()),
                    Just("Table master4:".to_string()),
                    Just("name proto table state since info".to_string()),
                    Just("0000 ".to_string()),
                    "[0-9 ]{0,6}[-a-zA-Z0-9_./: \\t\\[\\]*()%]{0,60}",
                ],
                0..30,
            )) {
                let _ = parse("x", &lines.join("\n"));
            }

            #[test]
            fn never_panics_on_cut_or_edited_samples(which in 0usize..6, cut in 0usize..6000, drop in 0usize..80) {
                let text = SAMPLES[which % SAMPLES.len()];
                let cut_at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                let _ = parse("x", &text[..cut_at]);
                let edited = text.lines().enumerate().filter(|(i, _)| *i != drop).map(|(_, l)| l).collect::<Vec<_>>();
                let _ = parse("x", &edited.join("\n"));
            }
        }
    }
}
