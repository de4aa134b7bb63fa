//! Facts stored once per span of runs, not once per run: an unchanged fact costs nothing the next
//! night.
//!
//! ```text
//!  fact_rows(id, source, kind, payload_pos, hash, data, first_run, ended_run)
//!
//!  run ids:        1   2   3   4   5
//!  row a           [───────────)         first_run 1, ended_run 4: seen by runs 1, 2, 3
//!  row b                   [──────────   first_run 3, ended_run NULL: alive
//!
//!  visible in run R  ⇔  first_run <= R < coalesce(ended_run, ∞)
//!                       and R recorded the row's source with facts (status ok or partial)
//! ```
//!
//! Recording source S in run R compares R's facts with S's alive rows by identity hash, as
//! multisets (a source may report the same fact twice): a match is left as it is, a new fact is
//! inserted with `first_run = R`, an alive row R no longer reports gets `ended_run = R`. A failed
//! source records no facts and ends nothing, and reads of R leave it out, so its rows simply carry
//! on when it recovers. The identity is hashed from the fact itself (see `identity.rs`), so an
//! unchanged fact is never turned into JSON.
//!
//! The stored `data` is the model type as JSON without what changes with every payload: when all
//! of a fact's origins name S and one payload of S's source run, `origin.source` and
//! `origin.payload` are cut out and the payload's position is kept in `payload_pos`; a read puts
//! back the name and the digest at that position *of the run being read*. A route whose table
//! churned elsewhere therefore keeps its row, yet every run still reads back its own digests.
//! Other facts (a flow from a log that is not stored as a payload) keep their data unchanged.
//!
//! Invariant: R's rows of S were matched against R's own facts, so the payload position of every
//! row visible in R is a position of S's source run in R with the same bytes the fact came from.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::identity::{self, Identity, IdentityHasher};
use super::{Context, Decoder, Result, StoreError, fact_kind};
use crate::model::{
    BgpConfigurationFact, BgpPeerConfig, BgpSession, BlockAffinityFact, Facts, FlowAggregate, IpPoolFact,
    NodeFact, Origin, Route, RuleHit, SharedStr, SourceRun, SourceStatus,
};

/// A model type stored as a fact row.
trait StoredFact: Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn origins(&self) -> &[Origin];
    fn origins_mut(&mut self) -> &mut [Origin];
    fn list(facts: &mut Facts) -> &mut Vec<Self>;
}

macro_rules! stored_fact {
    ($ty:ty, $kind:expr, $list:ident, one $field:ident) => {
        impl StoredFact for $ty {
            const KIND: &'static str = $kind;
            fn origins(&self) -> &[Origin] {
                std::slice::from_ref(&self.$field)
            }
            fn origins_mut(&mut self) -> &mut [Origin] {
                std::slice::from_mut(&mut self.$field)
            }
            fn list(facts: &mut Facts) -> &mut Vec<Self> {
                &mut facts.$list
            }
        }
    };
    ($ty:ty, $kind:expr, $list:ident, many $field:ident) => {
        impl StoredFact for $ty {
            const KIND: &'static str = $kind;
            fn origins(&self) -> &[Origin] {
                &self.$field
            }
            fn origins_mut(&mut self) -> &mut [Origin] {
                &mut self.$field
            }
            fn list(facts: &mut Facts) -> &mut Vec<Self> {
                &mut facts.$list
            }
        }
    };
}

stored_fact!(NodeFact, fact_kind::NODE, nodes, one origin);
stored_fact!(BgpPeerConfig, fact_kind::BGP_PEER, bgp_peers, one origin);
stored_fact!(BgpConfigurationFact, fact_kind::BGP_CONFIGURATION, bgp_configurations, one origin);
stored_fact!(IpPoolFact, fact_kind::IP_POOL, ip_pools, one origin);
stored_fact!(BlockAffinityFact, fact_kind::BLOCK_AFFINITY, block_affinities, one origin);
stored_fact!(BgpSession, fact_kind::SESSION, sessions, one origin);
stored_fact!(Route, fact_kind::ROUTE, routes, one origin);
stored_fact!(FlowAggregate, fact_kind::FLOW, flows, many samples);
stored_fact!(RuleHit, fact_kind::RULE_HIT, rule_hits, one origin);

/// Visits every list of a `Facts`, always in the same order (the order facts are stored in).
trait FactVisitor {
    fn visit<T: StoredFact>(&mut self, items: &[T]) -> Result<()>;
}

fn walk(facts: &Facts, v: &mut impl FactVisitor) -> Result<()> {
    v.visit(&facts.nodes)?;
    v.visit(&facts.bgp_peers)?;
    v.visit(&facts.bgp_configurations)?;
    v.visit(&facts.ip_pools)?;
    v.visit(&facts.block_affinities)?;
    v.visit(&facts.sessions)?;
    v.visit(&facts.routes)?;
    v.visit(&facts.flows)?;
    v.visit(&facts.rule_hits)
}

/// Turns one fact into its identity and stored form, reusing its buffers for every fact.
struct Encoder<'a> {
    path: &'a Path,
    op: &'a str,
    source: &'a str,
    /// Payload digest → first position in the source run.
    positions: HashMap<&'a str, i64>,
    /// Per position: the exact JSON serde writes for `origin.source` and `origin.payload`, which
    /// start every `Origin` object (`{"source":"leaf1","payload":"ab…",`).
    needles: Vec<Vec<u8>>,
    hasher: IdentityHasher,
    json: Vec<u8>,
    /// The JSON of the last encoded fact with its origins' source and payload cut out.
    cut: Vec<u8>,
}

impl<'a> Encoder<'a> {
    fn new(path: &'a Path, op: &'a str, source: &'a SourceRun) -> Result<Self> {
        let name = serde_json::to_string(&source.name).map_err(|e| StoreError::Encode {
            path: path.to_path_buf(),
            op: op.to_string(),
            what: "source name".into(),
            source: e,
        })?;
        let mut positions = HashMap::new();
        let mut needles = Vec::with_capacity(source.payloads.len());
        for (position, payload) in source.payloads.iter().enumerate() {
            positions.entry(payload.sha256.as_str()).or_insert(position as i64);
            let payload_json = serde_json::to_string(&payload.sha256).unwrap_or_default();
            needles.push(format!("{{\"source\":{name},\"payload\":{payload_json},").into_bytes());
        }
        Ok(Encoder {
            path,
            op,
            source: &source.name,
            positions,
            needles,
            hasher: IdentityHasher::default(),
            json: Vec::with_capacity(4096),
            cut: Vec::with_capacity(4096),
        })
    }

    fn encode_error(&self, what: &str, source: serde_json::Error) -> StoreError {
        StoreError::Encode {
            path: self.path.to_path_buf(),
            op: self.op.to_string(),
            what: what.to_string(),
            source,
        }
    }

    /// The payload position shared by all of the fact's origins, if they all name this source.
    fn shared_position(&self, origins: &[Origin]) -> Option<i64> {
        let first = origins.first()?;
        let same = origins.iter().all(|o| *o.source == *self.source && o.payload == first.payload);
        same.then(|| self.positions.get(&*first.payload).copied()).flatten()
    }

    /// The payload position `item` is stored under and its identity, without writing its JSON
    /// (what an unchanged fact costs).
    fn identify<T: StoredFact>(&mut self, item: &T) -> Result<(Option<i64>, Identity)> {
        let hash_error = |e: identity::Error| <serde_json::Error as serde::ser::Error>::custom(e);
        if let Some(position) = self.shared_position(item.origins()) {
            let (id, cut) = self
                .hasher
                .identity(T::KIND, Some(position), item)
                .map_err(|e| self.encode_error(T::KIND, hash_error(e)))?;
            // Every origin must have lost exactly its source and payload, or the fact is whole.
            if cut == item.origins().len() {
                return Ok((Some(position), id));
            }
        }
        let (id, _) = self
            .hasher
            .identity(T::KIND, None, item)
            .map_err(|e| self.encode_error(T::KIND, hash_error(e)))?;
        Ok((None, id))
    }

    /// The stored data of `item` under `position` (as `identify` chose it).
    fn data<T: StoredFact>(&mut self, item: &T, position: Option<i64>) -> Result<&[u8]> {
        self.json.clear();
        if let Err(e) = serde_json::to_writer(&mut self.json, item) {
            return Err(self.encode_error(T::KIND, e));
        }
        let Some(p) = position else { return Ok(&self.json) };
        // A quote after `{` cannot occur inside a JSON string (it would be escaped), so every
        // match is an object that starts with these two keys. Should the JSON not match the
        // origins one to one, the fact is kept whole: a read puts back the same source and
        // payload it holds, so it reads back the same either way.
        if cut_all(&self.json, &self.needles[p as usize], &mut self.cut) == item.origins().len() {
            Ok(&self.cut)
        } else {
            Ok(&self.json)
        }
    }
}

/// Copies `text` into `out` with every `needle` replaced by `{` (its first byte); returns how many.
fn cut_all(text: &[u8], needle: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut cuts = 0;
    let mut rest = text;
    while let Some(at) = find(rest, needle) {
        out.extend_from_slice(&rest[..=at]);
        rest = &rest[at + needle.len()..];
        cuts += 1;
    }
    out.extend_from_slice(rest);
    cuts
}

fn find(text: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = text[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if text[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Pass 1: the identity of every fact, with its index in `walk` order.
struct Identities<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    out: Vec<(Identity, u32)>,
}

impl FactVisitor for Identities<'_, '_> {
    fn visit<T: StoredFact>(&mut self, items: &[T]) -> Result<()> {
        for item in items {
            let (_, id) = self.encoder.identify(item)?;
            let index = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
            self.out.push((id, index));
        }
        Ok(())
    }
}

/// Pass 2: insert the facts at the given (ascending) indices, or all of them (`None`).
struct Inserts<'e, 'a, 's> {
    encoder: &'e mut Encoder<'a>,
    insert: rusqlite::CachedStatement<'s>,
    run_id: i64,
    wanted: Option<std::iter::Peekable<std::vec::IntoIter<u32>>>,
    index: u32,
    inserted: u64,
}

impl FactVisitor for Inserts<'_, '_, '_> {
    fn visit<T: StoredFact>(&mut self, items: &[T]) -> Result<()> {
        for item in items {
            let wanted = match &mut self.wanted {
                None => true,
                Some(w) => w.next_if_eq(&self.index).is_some(),
            };
            if wanted {
                self.inserted += 1;
                let (position, id) = self.encoder.identify(item)?;
                let (path, op, source) = (self.encoder.path, self.encoder.op, self.encoder.source);
                let data = self.encoder.data(item, position)?;
                let data = std::str::from_utf8(data).map_err(|e| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    op: op.to_string(),
                    what: T::KIND.to_string(),
                    detail: e.to_string(),
                })?;
                self.insert
                    .execute(params![source, T::KIND, position, &id[..], data, self.run_id])
                    .at(path, op)?;
            }
            self.index += 1;
        }
        Ok(())
    }
}

/// What recording one source's facts wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Recorded {
    pub inserted: u64,
    pub ended: u64,
    pub unchanged: u64,
}

/// Records the facts of `source` in run `run_id`, inside the caller's transaction.
pub(super) fn record(
    tx: &Transaction<'_>,
    path: &Path,
    op: &str,
    run_id: i64,
    source: &SourceRun,
    facts: &Facts,
) -> Result<Recorded> {
    if source.status == SourceStatus::Failed {
        // Collectors give a failed source no facts; its alive rows wait for it to recover.
        if facts.counts().values().any(|&n| n > 0) {
            tracing::warn!(source = %source.name, "a failed source came with facts; they are not recorded");
        }
        return Ok(Recorded::default());
    }
    let started = std::time::Instant::now();
    let mut encoder = Encoder::new(path, op, source)?;
    let alive = alive_rows(tx, path, op, &source.name)?;
    // Nothing to compare with (a new source, or the first run): every fact is new, one pass.
    let (to_insert, to_end, unchanged) = if alive.is_empty() {
        (None, Vec::new(), 0)
    } else {
        let mut pass = Identities { encoder: &mut encoder, out: Vec::new() };
        walk(facts, &mut pass)?;
        let mut new = pass.out;
        new.sort_unstable();
        let (to_insert, to_end, unchanged) = pair_off(&new, &alive);
        (Some(to_insert), to_end, unchanged)
    };

    let mut end = tx.prepare_cached("UPDATE fact_rows SET ended_run = ?1 WHERE id = ?2").at(path, op)?;
    for id in &to_end {
        end.execute(params![run_id, id]).at(path, op)?;
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO fact_rows (source, kind, payload_pos, hash, data, first_run) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .at(path, op)?;
    let mut pass = Inserts {
        encoder: &mut encoder,
        insert,
        run_id,
        wanted: to_insert.map(|v| v.into_iter().peekable()),
        index: 0,
        inserted: 0,
    };
    walk(facts, &mut pass)?;
    let recorded = Recorded { inserted: pass.inserted, ended: to_end.len() as u64, unchanged };
    tracing::debug!(
        source = %source.name,
        inserted = recorded.inserted,
        ended = recorded.ended,
        unchanged = recorded.unchanged,
        ms = started.elapsed().as_millis() as u64,
        "recorded facts"
    );
    Ok(recorded)
}

/// Merges the new facts' identities with the alive rows' (both sorted): equal identities pair off
/// one to one. Returns the indices of new facts to insert (ascending), the rows to end, and how
/// many facts were unchanged.
fn pair_off(new: &[(Identity, u32)], alive: &[(Identity, i64)]) -> (Vec<u32>, Vec<i64>, u64) {
    let (mut i, mut j) = (0, 0);
    let mut to_insert = Vec::new();
    let mut to_end = Vec::new();
    let mut unchanged = 0u64;
    loop {
        match (new.get(i), alive.get(j)) {
            (Some(n), Some(a)) if n.0 == a.0 => {
                unchanged += 1;
                i += 1;
                j += 1;
            }
            (Some(n), Some(a)) if n.0 < a.0 => {
                to_insert.push(n.1);
                i += 1;
            }
            (Some(n), None) => {
                to_insert.push(n.1);
                i += 1;
            }
            (_, Some(a)) => {
                to_end.push(a.1);
                j += 1;
            }
            (None, None) => break,
        }
    }
    to_insert.sort_unstable();
    (to_insert, to_end, unchanged)
}

/// Identities and ids of the source's alive rows, sorted by identity.
fn alive_rows(tx: &Transaction<'_>, path: &Path, op: &str, source: &str) -> Result<Vec<(Identity, i64)>> {
    let mut stmt = tx
        .prepare_cached("SELECT hash, id FROM fact_rows WHERE source = ?1 AND ended_run IS NULL")
        .at(path, op)?;
    let mut rows = stmt.query([source]).at(path, op)?;
    let mut out = Vec::new();
    let d = Decoder { path, op };
    while let Some(row) = rows.next().at(path, op)? {
        let hash =
            row.get_ref(0).at(path, op)?.as_blob_or_null().map_err(|e| d.corrupt("fact_rows.hash", e))?;
        let id: i64 = row.get(1).at(path, op)?;
        // Rows without an identity (migrated from before fact spans) are never alive; if one were,
        // ending it is the safe answer: the fact is inserted again with its identity.
        let identity = match hash.map(<[u8; 16]>::try_from) {
            Some(Ok(h)) => h,
            _ => [0u8; 16],
        };
        out.push((identity, id));
    }
    out.sort_unstable();
    Ok(out)
}

/// The facts run `run_id` recorded: per source in recording order, each source's facts in the
/// order they were first stored.
pub(super) fn read(conn: &Connection, path: &Path, run_id: i64) -> Result<Facts> {
    let op = format!("read facts of run {run_id}");
    let op = op.as_str();
    let d = Decoder { path, op };
    // The sources that recorded facts in this run, and the digests of their payloads.
    let sources: Vec<(i64, String)> = {
        let mut stmt = conn
            .prepare(
                "SELECT id, name FROM source_runs WHERE run_id = ?1 AND status IN ('ok', 'partial') ORDER BY id",
            )
            .at(path, op)?;
        stmt.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .at(path, op)?
            .collect::<rusqlite::Result<_>>()
            .at(path, op)?
    };
    let index: HashMap<String, usize> =
        sources.iter().enumerate().map(|(i, (_, name))| (name.clone(), i)).collect();
    // One shared copy of each source name and digest for all the facts that carry it.
    let names: Vec<SharedStr> = sources.iter().map(|(_, name)| SharedStr::from(name.as_str())).collect();
    let mut payloads: HashMap<(usize, i64), SharedStr> = HashMap::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT sp.source_run_id, sp.position, sp.sha256 FROM source_payloads sp \
                 JOIN source_runs s ON s.id = sp.source_run_id WHERE s.run_id = ?1",
            )
            .at(path, op)?;
        let by_id: HashMap<i64, usize> = sources.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
        let rows = stmt
            .query_map([run_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
            .at(path, op)?;
        for row in rows {
            let (source_run_id, position, sha256) = row.at(path, op)?;
            if let Some(&i) = by_id.get(&source_run_id) {
                payloads.insert((i, position), SharedStr::from(sha256));
            }
        }
    }

    let mut per_source: Vec<Facts> = vec![Facts::default(); sources.len()];
    // A plain scan in id order: the rows of the run are most of the table, and id order is each
    // source's storing order.
    let mut stmt = conn
        .prepare(
            "SELECT source, kind, payload_pos, data FROM fact_rows \
             WHERE first_run <= ?1 AND (ended_run IS NULL OR ended_run > ?1) ORDER BY id",
        )
        .at(path, op)?;
    let mut rows = stmt.query([run_id]).at(path, op)?;
    while let Some(row) = rows.next().at(path, op)? {
        let source = row.get_ref(0).at(path, op)?.as_str().map_err(|e| d.corrupt("fact_rows.source", e))?;
        let Some(&i) = index.get(source) else { continue };
        let kind = row.get_ref(1).at(path, op)?.as_str().map_err(|e| d.corrupt("fact_rows.kind", e))?;
        let position: Option<i64> = row.get(2).at(path, op)?;
        let data = row.get_ref(3).at(path, op)?.as_str().map_err(|e| d.corrupt("fact_rows.data", e))?;
        let stamp = match position {
            None => None,
            Some(p) => {
                let sha256 = payloads.get(&(i, p)).ok_or_else(|| {
                    d.corrupt(
                        "fact_rows.payload_pos",
                        format!("source {} of run {run_id} has no payload at position {p}", sources[i].1),
                    )
                })?;
                Some((&names[i], sha256))
            }
        };
        let facts = &mut per_source[i];
        match kind {
            fact_kind::NODE => push::<NodeFact>(&d, facts, data, stamp)?,
            fact_kind::BGP_PEER => push::<BgpPeerConfig>(&d, facts, data, stamp)?,
            fact_kind::BGP_CONFIGURATION => push::<BgpConfigurationFact>(&d, facts, data, stamp)?,
            fact_kind::IP_POOL => push::<IpPoolFact>(&d, facts, data, stamp)?,
            fact_kind::BLOCK_AFFINITY => push::<BlockAffinityFact>(&d, facts, data, stamp)?,
            fact_kind::SESSION => push::<BgpSession>(&d, facts, data, stamp)?,
            fact_kind::ROUTE => push::<Route>(&d, facts, data, stamp)?,
            fact_kind::FLOW => push::<FlowAggregate>(&d, facts, data, stamp)?,
            fact_kind::RULE_HIT => push::<RuleHit>(&d, facts, data, stamp)?,
            other => return Err(d.corrupt("fact_rows.kind", format!("unknown fact kind {other:?}"))),
        }
    }
    let mut all = Facts::default();
    for facts in per_source {
        all.extend(facts);
    }
    Ok(all)
}

/// Decodes one stored fact, puts back its source name and payload digest, and appends it.
fn push<T: StoredFact>(
    d: &Decoder<'_>,
    facts: &mut Facts,
    data: &str,
    stamp: Option<(&SharedStr, &SharedStr)>,
) -> Result<()> {
    let mut item: T = d.json(&format!("fact_rows.data ({})", T::KIND), data)?;
    if let Some((source, payload)) = stamp {
        for o in item.origins_mut() {
            o.source = source.clone();
            o.payload = payload.clone();
        }
    }
    T::list(facts).push(item);
    Ok(())
}

/// After retention deleted runs up to `last_pruned`: deletes the fact rows no remaining run reads.
/// Only rows that started in a pruned run can be unseen (every row is seen by its first run).
pub(super) fn sweep_unseen(tx: &Transaction<'_>, path: &Path, op: &str, last_pruned: i64) -> Result<u64> {
    let n = tx
        .execute(
            "DELETE FROM fact_rows WHERE first_run <= ?1 AND NOT EXISTS ( \
                 SELECT 1 FROM source_runs s WHERE s.name = fact_rows.source \
                   AND s.run_id >= fact_rows.first_run \
                   AND (fact_rows.ended_run IS NULL OR s.run_id < fact_rows.ended_run) \
                   AND s.status IN ('ok', 'partial'))",
            [last_pruned],
        )
        .at(path, op)?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeDelta, Utc};
    use rusqlite::Connection;

    use super::super::{RunStatus, Store, schema};
    use crate::model::{
        BgpSession, Facts, FlowAggregate, Origin, PayloadRef, Rejects, Route, SessionType, SourceRun,
        SourceStatus,
    };

    fn t0() -> DateTime<Utc> {
        "2025-03-01T02:00:00Z".parse().unwrap()
    }

    /// Route `i` of a leaf VRF table, as the EOS parser reports it (pointer locator, JSON excerpt).
    fn route(i: u32, payload: &str) -> Route {
        let prefix = format!("10.{}.{}.{}/32", i >> 16, (i >> 8) & 255, i & 255);
        Route {
            observer: "leaf1".into(),
            table: "YELLOW".into(),
            prefix: prefix.parse().unwrap(),
            next_hops: vec!["172.31.255.0".parse().unwrap()],
            protocol: "ebgp".into(),
            learned_from: None,
            as_path: vec![65001, 65000],
            best: true,
            origin: Origin {
                source: "leaf1".into(),
                payload: payload.into(),
                locator: format!("/result/0/vrfs/YELLOW/routes/{}", prefix.replace('/', "~1")),
                excerpt:
                    "{\"kernelProgrammed\":true,\"directlyConnected\":false,\"routeAction\":\"forward\",\
                          \"routeLeaked\":false,\"vias\":[{\"interface\":\"Ethernet49/1.100\",\
                          \"nexthopAddr\":\"172.31.255.0\"}],\"metric\":0,\"hardwareProgrammed\":true,\
                          \"routeType\":\"eBGP\",\"preference\":200}"
                        .into(),
            },
        }
    }

    fn session(peer: &str, payload: &str) -> BgpSession {
        BgpSession {
            observer: "leaf1".into(),
            vrf: Some("YELLOW".into()),
            protocol: None,
            local_addr: None,
            peer_addr: peer.parse().unwrap(),
            peer_asn: Some(65001),
            state: "Established".into(),
            since: None,
            session_type: SessionType::Ebgp,
            prefixes_received: Some(3),
            origin: Origin {
                source: "leaf1".into(),
                payload: payload.into(),
                locator: format!("/vrfs/YELLOW/peers/{peer}"),
                excerpt: "{}".into(),
            },
        }
    }

    /// A flow from a log that is not kept as a payload: its origins name no payload.
    fn flow(count: u64) -> FlowAggregate {
        FlowAggregate {
            firewall: "fw".into(),
            from_fw_zone: "trust-yellow".into(),
            to_fw_zone: "trust-blue".into(),
            src_zone: Some("yellow".into()),
            dst_zone: Some("blue".into()),
            rule: "yellow-to-blue-https".into(),
            action: "allow".into(),
            protocol: "tcp".into(),
            dst_port: 443,
            count,
            bytes: 10 * count,
            first_seen: "2025-03-01 02:00:00".into(),
            last_seen: "2025-03-01 03:00:00".into(),
            samples: vec![Origin {
                source: "leaf1".into(),
                payload: Default::default(),
                locator: "fw.log: line 2".into(),
                excerpt: "TRAFFIC,end".into(),
            }],
        }
    }

    /// The leaf's facts for a night: `routes` (indices) from the route payload, two sessions from
    /// the BGP payload, and `flows` from no payload.
    fn leaf_facts(routes: &[u32], flows: &[u64], route_sha: &str, bgp_sha: &str) -> Facts {
        Facts {
            routes: routes.iter().map(|&i| route(i, route_sha)).collect(),
            sessions: vec![session("172.31.255.0", bgp_sha), session("172.31.255.2", bgp_sha)],
            flows: flows.iter().map(|&c| flow(c)).collect(),
            ..Facts::default()
        }
    }

    fn source(name: &str, status: SourceStatus, payloads: Vec<PayloadRef>, day: i64) -> SourceRun {
        let at = t0() + TimeDelta::days(day);
        SourceRun {
            name: name.into(),
            kind: "eos".into(),
            status,
            error: (status == SourceStatus::Failed).then(|| "connection refused".into()),
            started_at: at,
            finished_at: at,
            counts: BTreeMap::new(),
            payloads,
            rejects: Rejects::default(),
            notes: Vec::new(),
        }
    }

    fn stored(store: &mut Store, name: &str, bytes: &[u8]) -> PayloadRef {
        PayloadRef { name: name.into(), sha256: store.put_payload(bytes).unwrap(), size: bytes.len() as u64 }
    }

    /// One night of the leaf: its route payload differs every night (`night` is in it), the BGP
    /// payload never does. Returns the run and the facts it recorded.
    fn leaf_night(store: &mut Store, day: i64, routes: &[u32], flows: &[u64]) -> (i64, Facts) {
        let run = store.begin_run("c", t0() + TimeDelta::days(day), "cfg", "0.1.0").unwrap();
        let table = stored(store, "routes.json", format!("routes of night {day}").as_bytes());
        let bgp = stored(store, "bgp.json", b"bgp summary");
        let facts = leaf_facts(routes, flows, &table.sha256, &bgp.sha256);
        store.record_source(run, &source("leaf1", SourceStatus::Ok, vec![table, bgp], day), &facts).unwrap();
        store.finish_run(run, t0() + TimeDelta::days(day), RunStatus::Complete, true).unwrap();
        (run, facts)
    }

    /// Facts as a multiset: each fact's JSON, sorted within its kind.
    fn canonical(facts: &Facts) -> Vec<String> {
        fn each<T: serde::Serialize>(kind: &str, items: &[T], out: &mut Vec<String>) {
            let mut v: Vec<String> =
                items.iter().map(|i| format!("{kind} {}", serde_json::to_string(i).unwrap())).collect();
            v.sort();
            out.extend(v);
        }
        let mut out = Vec::new();
        each("node", &facts.nodes, &mut out);
        each("session", &facts.sessions, &mut out);
        each("route", &facts.routes, &mut out);
        each("flow", &facts.flows, &mut out);
        each("ruleHit", &facts.rule_hits, &mut out);
        out
    }

    fn rows(store: &Store) -> i64 {
        store.conn.query_row("SELECT count(*) FROM fact_rows", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn every_run_reads_back_its_own_facts_and_digests_while_unchanged_facts_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let night1: Vec<u32> = (0..200).collect();
        // Night 2 replaces routes 0 and 1; night 3 replaces 2 and brings route 0 back.
        let night2: Vec<u32> = (2..202).collect();
        let night3: Vec<u32> = [0].into_iter().chain(3..202).chain([900]).collect();
        let (r1, f1) = leaf_night(&mut store, 1, &night1, &[5]);
        let (r2, f2) = leaf_night(&mut store, 2, &night2, &[5]);
        let (r3, f3) = leaf_night(&mut store, 3, &night3, &[7]);

        for (run, facts) in [(r1, &f1), (r2, &f2), (r3, &f3)] {
            let read = store.facts(run).unwrap();
            assert_eq!(canonical(&read), canonical(facts), "run {run}");
            // Every route names its own night's table, not the one its row was first stored with.
            let table = &store.source_runs(run).unwrap()[0].payloads[0].sha256;
            assert!(read.routes.iter().all(|r| &r.origin.payload == table && r.origin.source == "leaf1"));
        }
        // The first night reads back in the order it was recorded.
        assert_eq!(store.facts(r1).unwrap(), f1);
        // 200 routes + 2 sessions + 1 flow, then 2 new routes, then 2 new routes and a new flow.
        assert_eq!(rows(&store), 203 + 2 + 3);
        // The stored routes carry neither the source nor a digest: only what stays the same.
        let data: String = store
            .conn
            .query_row(
                "SELECT data FROM fact_rows WHERE kind = 'route' AND payload_pos = 0 LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!data.contains("\"payload\"") && !data.contains("\"source\""), "{data}");
        // A flow from no stored payload is kept as it was.
        let flow: String = store
            .conn
            .query_row(
                "SELECT data FROM fact_rows WHERE kind = 'flow' AND payload_pos IS NULL LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(flow.contains("\"source\":\"leaf1\",\"payload\":\"\""), "{flow}");
    }

    #[test]
    fn a_failed_source_shows_no_facts_and_its_facts_carry_on_when_it_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let routes: Vec<u32> = (0..50).collect();
        let (r1, f1) = leaf_night(&mut store, 1, &routes, &[]);
        let r2 = store.begin_run("c", t0() + TimeDelta::days(2), "cfg", "0.1.0").unwrap();
        store
            .record_source(r2, &source("leaf1", SourceStatus::Failed, vec![], 2), &Facts::default())
            .unwrap();
        store.finish_run(r2, t0() + TimeDelta::days(2), RunStatus::Complete, false).unwrap();
        let before = rows(&store);
        let (r3, f3) = leaf_night(&mut store, 3, &routes, &[]);

        assert_eq!(store.facts(r2).unwrap(), Facts::default());
        assert_eq!(store.facts(r1).unwrap(), f1);
        assert_eq!(store.facts(r3).unwrap(), f3);
        assert_eq!(rows(&store), before, "the recovered source's facts are the rows it had");
        // A run that did not record the source at all shows none of it either.
        let r4 = store.begin_run("c", t0() + TimeDelta::days(4), "cfg", "0.1.0").unwrap();
        store.finish_run(r4, t0() + TimeDelta::days(4), RunStatus::Complete, true).unwrap();
        assert_eq!(store.facts(r4).unwrap(), Facts::default());
    }

    #[test]
    fn identical_facts_are_counted_not_merged() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let (r1, f1) = leaf_night(&mut store, 1, &[1, 1, 2], &[3, 3]);
        let (r2, f2) = leaf_night(&mut store, 2, &[1, 2], &[3, 3, 3]);
        let (r3, f3) = leaf_night(&mut store, 3, &[1, 1, 1, 2], &[]);
        for (run, facts) in [(r1, &f1), (r2, &f2), (r3, &f3)] {
            assert_eq!(canonical(&store.facts(run).unwrap()), canonical(facts), "run {run}");
        }
        assert_eq!(store.facts(r1).unwrap().routes.len(), 3);
        let alive: i64 = store
            .conn
            .query_row("SELECT count(*) FROM fact_rows WHERE kind = 'route' AND ended_run IS NULL", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(alive, 4);
    }

    #[test]
    fn prune_keeps_the_rows_kept_runs_see_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        // Route 0 lives throughout; 1 only on night 1; 2 from night 2 on; 3 on nights 2 and 3.
        leaf_night(&mut store, 1, &[0, 1], &[]);
        // A source that is then removed from the config: its rows stay alive, seen by no one.
        let r2 = store.begin_run("c", t0() + TimeDelta::days(2), "cfg", "0.1.0").unwrap();
        let table = stored(&mut store, "routes.json", b"routes of night 2");
        let bgp = stored(&mut store, "bgp.json", b"bgp summary");
        let facts = leaf_facts(&[0, 2, 3], &[], &table.sha256, &bgp.sha256);
        store.record_source(r2, &source("leaf1", SourceStatus::Ok, vec![table, bgp], 2), &facts).unwrap();
        let gone = Facts { routes: vec![route(7, "")], ..Facts::default() };
        store.record_source(r2, &source("leaf9", SourceStatus::Ok, vec![], 2), &gone).unwrap();
        store.finish_run(r2, t0() + TimeDelta::days(2), RunStatus::Complete, true).unwrap();
        let (r3, f3) = leaf_night(&mut store, 3, &[0, 2, 3], &[]);
        let (r4, f4) = leaf_night(&mut store, 4, &[0, 2], &[]);

        let plan = store.prune_plan(t0() + TimeDelta::days(3)).unwrap();
        assert_eq!(plan.runs.iter().map(|r| r.id).collect::<Vec<_>>(), [1, r2]);
        store.prune(&plan, "sha256:tomb", b"{}").unwrap();
        assert_eq!(canonical(&store.facts(r3).unwrap()), canonical(&f3));
        assert_eq!(canonical(&store.facts(r4).unwrap()), canonical(&f4));
        // Left: routes 0, 2, 3 and the two sessions; route 1 and leaf9's route are gone.
        let routes: Vec<String> = store
            .conn
            .prepare("SELECT json_extract(data, '$.prefix') FROM fact_rows WHERE kind = 'route' ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(routes, ["10.0.0.0/32", "10.0.0.2/32", "10.0.0.3/32"]);
        assert_eq!(rows(&store), 5);
        // The night-1 and night-2 route tables went with their runs; the shared BGP payload stayed.
        assert!(store.payload(&super::super::sha256_hex(b"routes of night 1")).unwrap().is_none());
        assert!(store.payload(&super::super::sha256_hex(b"bgp summary")).unwrap().is_some());
    }

    #[test]
    fn facts_of_a_version_4_database_read_back_after_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.db");
        let payload = "ab".repeat(32);
        let old = leaf_facts(&[4, 5], &[9], &payload, &payload);
        {
            let mut conn = Connection::open(&path).unwrap();
            schema::MIGRATIONS.to_version(&mut conn, 4).unwrap();
            conn.execute_batch(
                "INSERT INTO runs (id, cluster, started_at, status, config_digest, tool_version) \
                 VALUES (1, 'c', '2025-03-01T02:00:00Z', 'complete', 'cfg', '0.1.0'), \
                        (2, 'c', '2025-03-02T02:00:00Z', 'complete', 'cfg', '0.1.0'); \
                 INSERT INTO source_runs (id, run_id, name, kind, status, started_at, finished_at, counts, rejects) \
                 VALUES (1, 1, 'leaf1', 'eos', 'ok', 't', 't', '{}', '{}'), \
                        (2, 2, 'leaf1', 'eos', 'ok', 't', 't', '{}', '{}');",
            )
            .unwrap();
            let mut insert = conn
                .prepare("INSERT INTO facts (run_id, source_run_id, kind, data) VALUES (?1, ?1, ?2, ?3)")
                .unwrap();
            for run in [1, 2] {
                for r in &old.routes {
                    insert
                        .execute(rusqlite::params![run, "route", serde_json::to_string(r).unwrap()])
                        .unwrap();
                }
                for s in &old.sessions {
                    insert
                        .execute(rusqlite::params![run, "session", serde_json::to_string(s).unwrap()])
                        .unwrap();
                }
                for f in &old.flows {
                    insert
                        .execute(rusqlite::params![run, "flow", serde_json::to_string(f).unwrap()])
                        .unwrap();
                }
            }
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::LATEST_VERSION);
        assert_eq!(store.facts(1).unwrap(), old);
        assert_eq!(store.facts(2).unwrap(), old);
        assert_eq!(rows(&store), 10);
        // The next run stores its facts afresh and reads back only its own.
        let (r3, f3) = leaf_night(&mut store, 3, &[4, 5], &[9]);
        assert_eq!(store.facts(r3).unwrap(), f3);
        assert_eq!(store.facts(2).unwrap(), old);
    }

    /// The size of the database file, with the write-ahead log folded in.
    fn file_size(store: &Store) -> u64 {
        store.checkpoint().unwrap();
        std::fs::metadata(store.path()).unwrap().len()
    }

    #[test]
    fn thirty_nights_at_a_tenth_of_a_percent_churn_stay_within_one_and_a_half_times_the_first() {
        // 0.1 % of 2,000: two routes replaced a night (more routes only make the test slower).
        const ROUTES: u32 = 2_000;
        const NIGHTS: i64 = 30;
        let churn = (ROUTES / 1000) as usize;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("z.db")).unwrap();
        let mut table: Vec<u32> = (0..ROUTES).collect();
        let mut next = ROUTES;
        let (_, _) = leaf_night(&mut store, 1, &table, &[]);
        let first = file_size(&store);
        for night in 2..=NIGHTS {
            // Replace `churn` routes spread over the table, each night at other places.
            for k in 0..churn {
                let at = (k * table.len() / churn + night as usize * 7) % table.len();
                table[at] = next;
                next += 1;
            }
            leaf_night(&mut store, night, &table, &[]);
        }
        let last = file_size(&store);
        assert!(
            last as f64 <= 1.5 * first as f64,
            "after {NIGHTS} nights the database is {last} bytes, {:.2}x the {first} after one",
            last as f64 / first as f64
        );
        let latest = store.latest_complete_run().unwrap().unwrap().id;
        let read = store.facts(latest).unwrap();
        assert_eq!(read.routes.len(), ROUTES as usize);
        let mut prefixes: Vec<String> = read.routes.iter().map(|r| r.prefix.to_string()).collect();
        prefixes.sort();
        let mut expected: Vec<String> = table.iter().map(|&i| route(i, "").prefix.to_string()).collect();
        expected.sort();
        assert_eq!(prefixes, expected);
    }
}
