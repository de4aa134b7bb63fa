//! Log files read incrementally: a configured log path is a rotated set of physical files, each
//! read only beyond what earlier runs ingested, streamed and never held whole.
//!
//! ```text
//!  configured  /var/log/fw.log
//!  rotated set /var/log/fw.log.3.gz  fw.log.2.gz  fw.log.1  fw.log      (oldest first)
//!                   │                                 │         │
//!  per file      cursor: device+inode, size, read_to (end of the last complete line ingested),
//!                lines, head digest (first 4 KiB of content), gzip digest (whole compressed file)
//! ```
//!
//! A file is recognised by its *content*, not its name: the digest of its first bytes survives the
//! rename of a rotation (`fw.log` becoming `fw.log.1`) and its compression (`fw.log.1` becoming
//! `fw.log.2.gz`, matched on the decompressed bytes), so it is continued from its cursor and no
//! line is read twice. An unchanged `.gz` is recognised by its whole-file digest without being
//! decompressed. Every physical file whose first bytes match a known cursor continues the furthest
//! of them; a file matching none is new and read whole.
//!
//! What can look wrong is said, never silently absorbed:
//! - *truncated*: a file with the same first bytes, now shorter than what was read: read again
//!   from the start (its earlier lines are in earlier runs; the rest would otherwise be lost);
//! - *replaced*: different first bytes at a path that was read before (a rewritten log, or a
//!   night's export replacing the previous one): read whole as the new file it is.
//!
//! A live file (the configured path, or a file in a configured directory) may be mid-write, so a
//! trailing partial line is left for the next run; a rotated member (`.N`, `.gz`) is sealed and is
//! read to its end. Non-regular files (a FIFO) are streamed whole with no cursor.
//!
//! The caller owns parsing: each ingested range is handed to it as a `BufRead`, hashed (SHA-256 of
//! exactly those bytes) as it streams, and kept in memory only within a retention budget.
//!
//! A long plain range can be parsed on every core ([`read_incremental_chunked`], [`parse_whole`])
//! by a [`ChunkParser`]: the range is cut at line boundaries into chunks, worker threads parse
//! them, each with its own reader (positioned reads, a bounded buffer), and the parts are appended
//! in file order as soon as their predecessors are in. The digest stays one sequential pass over
//! the range, on its own thread beside the workers. gzip streams, FIFOs and short ranges are read
//! as one piece, as are formats whose lines refer to earlier ones ([`ChunkParser::splits`]).
//!
//! ```text
//!  from ─────────────────── range to ingest ───────────────────────── to
//!   │ chunk 0 (lines numbered │ chunk 1 (from 1, shifted │ chunk 2 …  │   cut just after a `\n`
//!   │  from the cursor's)     │  when appended)          │            │
//!   worker A                   worker B                   first free worker
//!   digest thread: SHA-256 of from..to in order, bytes kept within the budget
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::store::FileCursor;

/// How many leading content bytes identify a file.
pub const HEAD_BYTES: usize = 4096;

/// A segment at most this large keeps its bytes as evidence; a larger one keeps only its digest.
pub const MAX_RETAINED_SEGMENT: u64 = 64 * 1024 * 1024;

const READ_BUFFER: usize = 256 * 1024;

/// A plain range shorter than this is parsed as one piece: threads would cost more than they save.
pub const PARALLEL_MIN: u64 = 8 * 1024 * 1024;

/// Bounds on a chunk's length: enough chunks for the workers to share the work evenly (one core
/// also hashes), few enough that per-chunk aggregates and their merges stay negligible.
const CHUNK_MIN: u64 = 1024 * 1024;
const CHUNK_MAX: u64 = 64 * 1024 * 1024;
const CHUNKS_PER_THREAD: u64 = 4;

/// One physical file of a configured log path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub path: PathBuf,
    pub gzip: bool,
    /// A rotated member: no longer written to, so its last line is complete even without a newline.
    pub sealed: bool,
}

/// `fw.log.2.gz` -> (`fw.log`, 2, gzip); the live file has generation 0.
fn rotation(name: &str) -> (&str, u64, bool) {
    let (name, gzip) = match name.strip_suffix(".gz") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    match name.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base, n.parse().unwrap_or(u64::MAX), gzip)
        }
        _ => (name, 0, gzip),
    }
}

fn log_file(path: PathBuf) -> LogFile {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (_, generation, gzip) = rotation(&name);
    LogFile { path, gzip, sealed: gzip || generation > 0 }
}

/// Oldest first: higher generations before lower, the live file last.
fn rotation_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let key = |p: &Path| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (base, generation, gzip) = rotation(&name);
        (base.to_string(), std::cmp::Reverse(generation), gzip)
    };
    key(a).cmp(&key(b))
}

/// Expand configured log paths into their physical files, oldest first: a file `fw.log` brings its
/// rotated siblings `fw.log.N` and `fw.log.N.gz`; a directory brings its regular files (not
/// recursive). A path that yields nothing is an error naming it; the others are still returned.
pub fn rotated_set(configured: &[PathBuf]) -> (Vec<LogFile>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for path in configured {
        match members(path) {
            Ok(found) => {
                files.extend(found.into_iter().filter(|p| seen.insert(p.clone())).map(log_file));
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    (files, errors)
}

fn members(path: &Path) -> io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut inside: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        inside.sort_by(|a, b| rotation_order(a, b));
        return Ok(inside);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut rotated: Vec<PathBuf> = match std::fs::read_dir(parent) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let entry = e.file_name().to_string_lossy().into_owned();
                let (base, generation, _) = rotation(&entry);
                base == name && generation > 0
            })
            .map(|e| path.with_file_name(e.file_name()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    rotated.sort_by(|a, b| rotation_order(a, b));
    match std::fs::metadata(path) {
        Ok(_) => rotated.push(path.to_path_buf()),
        // Between a rotation's rename and the writer reopening, only the rotated files exist.
        Err(e) if e.kind() == io::ErrorKind::NotFound && !rotated.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(rotated)
}

/// A whole log file as a stream of its content lines: decompressed when it is a `.gz`, buffered,
/// never read into memory. For reading a file once (`zoneaudit parse`), with no cursor.
pub fn open_whole(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if rotation(&name).2 {
        let decoder = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, file));
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, decoder)))
    } else {
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, file)))
    }
}

/// Where a segment starts, for the caller's parser: line numbers continue those of the whole file.
#[derive(Debug, Clone)]
pub struct SegmentStart {
    /// The file as shown in evidence (its path).
    pub file: String,
    /// Content byte offset (decompressed for gzip).
    pub from: u64,
    /// The number of the segment's first line in the whole file (1-based).
    pub first_line: u64,
}

/// One ingested byte range of one file and what the caller made of it.
#[derive(Debug)]
pub struct Segment<T> {
    pub file: String,
    pub from: u64,
    pub to: u64,
    pub first_line: u64,
    pub lines: u64,
    /// SHA-256 (hex) of exactly the content bytes `from..to`.
    pub sha256: String,
    /// Those bytes, when within the retention budget.
    pub bytes: Option<Vec<u8>>,
    pub parsed: T,
}

impl<T> Segment<T> {
    /// The payload name evidence uses: `<file> bytes <from>-<to>`.
    pub fn name(&self) -> String {
        format!("{} bytes {}-{}", self.file, self.from, self.to)
    }

    pub fn len(&self) -> u64 {
        self.to - self.from
    }

    pub fn is_empty(&self) -> bool {
        self.to == self.from
    }
}

/// What one incremental read of a source's log files produced.
#[derive(Debug)]
pub struct Incremental<T> {
    pub segments: Vec<Segment<T>>,
    /// The source's new cursor set (to be stored with the source run, never before).
    pub cursors: Vec<FileCursor>,
    /// What a reader of the evidence should know: truncated or replaced files.
    pub notes: Vec<String>,
    /// Files that could not be listed or read, each naming the file.
    pub errors: Vec<String>,
    /// Physical files handled without error (read, or found unchanged).
    pub files_ok: usize,
}

impl<T> Incremental<T> {
    /// The same read with each segment's parsed value turned into another.
    pub fn map_parsed<U>(self, mut f: impl FnMut(T) -> U) -> Incremental<U> {
        let Incremental { segments, cursors, notes, errors, files_ok } = self;
        let segments = segments
            .into_iter()
            .map(|s| Segment {
                file: s.file,
                from: s.from,
                to: s.to,
                first_line: s.first_line,
                lines: s.lines,
                sha256: s.sha256,
                bytes: s.bytes,
                parsed: f(s.parsed),
            })
            .collect();
        Incremental { segments, cursors, notes, errors, files_ok }
    }
}

/// Read the new content of every file of `configured`, given the cursors the previous run left.
/// `ingest` parses one segment from its reader; an error from it (or from reading) costs that file
/// only: its cursor stays where it was, so the next run reads those lines again.
/// `retain_budget` bounds the segment bytes kept in memory as evidence over the whole call.
pub fn read_incremental<T: Send>(
    source: &str,
    configured: &[PathBuf],
    prior: &[FileCursor],
    retain_budget: u64,
    mut ingest: impl FnMut(&SegmentStart, &mut dyn BufRead) -> io::Result<T>,
) -> Incremental<T> {
    read_files(source, configured, prior, retain_budget, &mut ingest, None)
}

/// As [`read_incremental`], parsing with `parser`, which may split a long plain range over
/// threads: the segments, cursors, digests and (per the parser's `append`) the parsed values are
/// those of a single-threaded read.
pub fn read_incremental_chunked<P: ChunkParser>(
    source: &str,
    configured: &[PathBuf],
    prior: &[FileCursor],
    retain_budget: u64,
    parser: &P,
) -> Incremental<P::Parsed> {
    let mut whole = |start: &SegmentStart, reader: &mut dyn BufRead| parser.parse(start, reader);
    read_files(source, configured, prior, retain_budget, &mut whole, Some(parser))
}

/// A parser whose work on a long range may be split at line boundaries: each chunk is parsed on
/// its own (possibly on another thread), then the parts are appended in file order.
pub trait ChunkParser: Sync {
    type Parsed: Send;

    /// Whether a line can be parsed without the lines before it (no state carried across lines
    /// beyond what `append` combines). When not, every range is parsed as one piece.
    fn splits(&self) -> bool {
        true
    }

    /// Parse the lines of `reader`, numbering the first one `start.first_line`. A chunk after
    /// the first is parsed with `first_line` 1: its true numbers are known only once the chunks
    /// before it are counted, and are given to `append`.
    fn parse(&self, start: &SegmentStart, reader: &mut dyn BufRead) -> io::Result<Self::Parsed>;

    /// The lines `parsed` was made of, an unterminated last one included (they number the next
    /// chunk's lines; the parser counts them anyway, a second count would cost a pass).
    fn lines(&self, parsed: &Self::Parsed) -> u64;

    /// Append `later`, the chunk right after what `earlier` holds, whose lines were numbered from
    /// 1 and are really lines `first_line..` of the file. The result must be what parsing both
    /// as one piece would have given.
    fn append(&self, earlier: &mut Self::Parsed, later: Self::Parsed, first_line: u64);
}

/// Parse a whole log file once, with no cursor and no digest (`zoneaudit parse`): decompressed
/// when it is a `.gz`, split over threads when it is a long plain file, never read into memory.
pub fn parse_whole<P: ChunkParser>(path: &Path, parser: &P) -> io::Result<P::Parsed> {
    let display = path.display().to_string();
    let file = File::open(path)?;
    let meta = file.metadata()?;
    let gzip = log_file(path.to_path_buf()).gzip;
    if meta.is_file() && !gzip && meta.len() >= PARALLEL_MIN && parser.splits() {
        return parse_in_chunks(&display, &file, 0, meta.len(), 1, parser, Chunking::for_range(meta.len()));
    }
    let start = SegmentStart { file: display, from: 0, first_line: 1 };
    parser.parse(&start, &mut open_whole(path)?)
}

fn read_files<T: Send>(
    source: &str,
    configured: &[PathBuf],
    prior: &[FileCursor],
    retain_budget: u64,
    ingest: &mut dyn FnMut(&SegmentStart, &mut dyn BufRead) -> io::Result<T>,
    chunks: Option<&dyn ChunkParser<Parsed = T>>,
) -> Incremental<T> {
    let (files, mut errors) = rotated_set(configured);
    if files.is_empty() && errors.is_empty() {
        errors.push("no input files found".to_string());
    }
    let mut out =
        Incremental { segments: Vec::new(), cursors: Vec::new(), notes: Vec::new(), errors, files_ok: 0 };
    // Probing every file first lets a rotated file claim its old cursor before the new file at
    // the old path is judged: `fw.log` is only "replaced" if no file carries its content on.
    let mut probes = Vec::new();
    for file in files {
        let display = file.path.display().to_string();
        match probe(&file) {
            Ok(p) => probes.push(p),
            Err(e) => {
                out.errors.push(format!("{display}: {e}"));
                // Unreadable now: its lines are still owed, so its cursor stays.
                out.cursors.extend(prior.iter().filter(|c| c.path == display).cloned());
            }
        }
    }
    let carried_on: Vec<bool> = prior.iter().map(|c| probes.iter().any(|p| p.continues(c))).collect();
    let mut budget = retain_budget;
    let mut known: Vec<FileCursor> = prior.to_vec();
    for p in probes {
        let display = p.display.clone();
        let plan = plan(source, &p, prior, &carried_on, &known, &mut out.notes);
        match execute(&p, plan, &mut budget, ingest, chunks) {
            Ok((cursor, segment)) => {
                out.files_ok += 1;
                out.segments.extend(segment);
                if let Some(cursor) = cursor {
                    known.push(cursor.clone());
                    out.cursors.push(cursor);
                }
            }
            Err(e) => {
                out.errors.push(format!("{display}: {e}"));
                out.cursors.extend(
                    prior.iter().filter(|c| c.path == display || p.continues(c) || p.same_file(c)).cloned(),
                );
            }
        }
    }
    // The same old cursor may be kept for two reasons; once is enough.
    let mut unique: Vec<FileCursor> = Vec::new();
    for c in out.cursors.drain(..) {
        if !unique.contains(&c) {
            unique.push(c);
        }
    }
    out.cursors = unique;
    out
}

/// A physical file as found before reading: identity, size and first bytes.
struct Probe {
    file: LogFile,
    display: String,
    device: u64,
    inode: u64,
    size: u64,
    regular: bool,
    /// The first `HEAD_BYTES` content bytes (fewer for a small file; decompressed for gzip).
    head: Vec<u8>,
    gzip_sha256: Option<String>,
    /// Decompressed size of the last gzip member (its trailer, modulo 4 GiB): a lower bound of the
    /// content's size, so a large file is not buffered as evidence only to be dropped.
    gzip_last_member: u64,
    /// Kept open for a non-regular file, which cannot be opened twice for the same data.
    stream: Option<File>,
}

impl Probe {
    /// This file's content begins with the bytes `c` was read from.
    fn continues(&self, c: &FileCursor) -> bool {
        if self.gzip_sha256.is_some() && self.gzip_sha256 == c.gzip_sha256 {
            return true;
        }
        let n = usize::try_from(c.head_len).unwrap_or(usize::MAX);
        n > 0 && n <= self.head.len() && hex::encode(Sha256::digest(&self.head[..n])) == c.head_sha256
    }

    fn same_file(&self, c: &FileCursor) -> bool {
        self.device == c.device && self.inode == c.inode
    }

    fn cursor(&self, read_to: u64, lines: u64) -> FileCursor {
        FileCursor {
            path: self.display.clone(),
            device: self.device,
            inode: self.inode,
            size: self.size,
            read_to,
            lines,
            head_len: self.head.len() as u64,
            head_sha256: hex::encode(Sha256::digest(&self.head)),
            gzip_sha256: self.gzip_sha256.clone(),
        }
    }
}

fn probe(file: &LogFile) -> io::Result<Probe> {
    let handle = File::open(&file.path)?;
    let meta = handle.metadata()?;
    let mut p = Probe {
        file: file.clone(),
        display: file.path.display().to_string(),
        device: meta.dev(),
        inode: meta.ino(),
        size: meta.len(),
        regular: meta.is_file(),
        head: Vec::new(),
        gzip_sha256: None,
        gzip_last_member: 0,
        stream: None,
    };
    if !p.regular {
        p.stream = Some(handle);
        return Ok(p);
    }
    if file.gzip {
        let mut digest = Sha256::new();
        let mut reader = BufReader::with_capacity(READ_BUFFER, &handle);
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            digest.update(chunk);
            let n = chunk.len();
            reader.consume(n);
        }
        p.gzip_sha256 = Some(hex::encode(digest.finalize()));
        let mut trailer = [0u8; 4];
        if p.size >= 18 && handle.read_exact_at(&mut trailer, p.size - 4).is_ok() {
            p.gzip_last_member = u64::from(u32::from_le_bytes(trailer));
        }
        let mut decoder = MultiGzDecoder::new(BufReader::new(File::open(&file.path)?));
        decoder.by_ref().take(HEAD_BYTES as u64).read_to_end(&mut p.head)?;
    } else {
        let want = p.size.min(HEAD_BYTES as u64) as usize;
        p.head = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match handle.read_at(&mut p.head[filled..], filled as u64)? {
                0 => break,
                n => filled += n,
            }
        }
        p.head.truncate(filled);
    }
    Ok(p)
}

/// Where to start reading a file.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Stream it all, keep no cursor (a FIFO).
    Stream,
    /// Nothing new: the same compressed file was read before.
    Unchanged { read_to: u64, lines: u64 },
    /// Already read as part of a longer file with the same first bytes.
    Covered,
    /// From this content offset; the lines before it are counted in `lines`.
    From { read_to: u64, lines: u64 },
}

fn plan(
    source: &str,
    p: &Probe,
    prior: &[FileCursor],
    carried_on: &[bool],
    known: &[FileCursor],
    notes: &mut Vec<String>,
) -> Plan {
    if !p.regular {
        return Plan::Stream;
    }
    if let Some(c) = known.iter().find(|c| c.gzip_sha256.is_some() && c.gzip_sha256 == p.gzip_sha256) {
        return Plan::Unchanged { read_to: c.read_to, lines: c.lines };
    }
    let matches: Vec<&FileCursor> = known.iter().filter(|c| p.continues(c)).collect();
    let furthest = matches.iter().copied().max_by_key(|c| c.read_to);
    if let Some(best) = furthest {
        let shrank = |c: &&&FileCursor| (c.path == p.display || p.same_file(c)) && c.read_to > p.size;
        if !p.file.gzip && best.read_to > p.size {
            if let Some(own) = matches.iter().find(shrank) {
                say_truncated(source, p, own.read_to, notes);
                return Plan::From { read_to: 0, lines: 0 };
            }
            // A shorter copy of content read further elsewhere: nothing in it is new.
            return Plan::Covered;
        }
        return Plan::From { read_to: best.read_to, lines: best.lines };
    }
    // New content. Only a path read before, whose content no file carries on, is worth a word.
    let replaced = prior
        .iter()
        .zip(carried_on)
        .find(|(c, carried)| c.path == p.display && !**carried && c.read_to > 0)
        .map(|(c, _)| c);
    if let Some(old) = replaced {
        if (p.head.len() as u64) < old.head_len && p.size < old.read_to {
            // Too short now to compare the first bytes: it shrank below what was read.
            say_truncated(source, p, old.read_to, notes);
        } else {
            let shorter = if p.size < old.read_to {
                format!(" (now {} bytes, {} were read before)", p.size, old.read_to)
            } else {
                String::new()
            };
            notes.push(format!(
                "{}: replaced since the last run (its first bytes differ){shorter}; read whole as a new file",
                p.display
            ));
            tracing::info!(source, file = %p.display, "log file replaced since the last run; read whole");
        }
    }
    Plan::From { read_to: 0, lines: 0 }
}

fn say_truncated(source: &str, p: &Probe, read_to: u64, notes: &mut Vec<String>) {
    notes.push(format!(
        "{}: truncated since the last run ({} bytes now, {read_to} were read before); read again from the start",
        p.display, p.size
    ));
    tracing::warn!(source, file = %p.display, size = p.size, read_to, "log file truncated; reading it again from the start");
}

type Executed<T> = (Option<FileCursor>, Option<Segment<T>>);

fn execute<T: Send>(
    p: &Probe,
    plan: Plan,
    budget: &mut u64,
    ingest: &mut dyn FnMut(&SegmentStart, &mut dyn BufRead) -> io::Result<T>,
    chunks: Option<&dyn ChunkParser<Parsed = T>>,
) -> io::Result<Executed<T>> {
    match plan {
        Plan::Unchanged { read_to, lines } => Ok((Some(p.cursor(read_to, lines)), None)),
        Plan::Stream => {
            let handle = p.stream.as_ref().ok_or_else(|| io::Error::other("not open"))?;
            let segment = read_segment(p, handle, 0, 0, Extent::AtLeast(0), budget, ingest)?;
            Ok((None, segment))
        }
        Plan::From { read_to, lines } if p.file.gzip => read_gzip(p, read_to, lines, budget, ingest),
        Plan::Covered => {
            let handle = reopen(p)?;
            let end = if p.file.sealed { p.size } else { last_line_end(&handle, 0, p.size)? };
            let mut counted = Tap::new((&handle).take(end), None);
            io::copy(&mut counted, &mut io::sink())?;
            let lines = counted.newlines + u64::from(counted.last.is_some_and(|b| b != b'\n'));
            Ok((Some(p.cursor(counted.bytes, lines)), None))
        }
        Plan::From { read_to, lines } => {
            let mut handle = reopen(p)?;
            let end = if p.file.sealed { p.size } else { last_line_end(&handle, read_to, p.size)? };
            if end <= read_to {
                return Ok((Some(p.cursor(read_to, lines)), None));
            }
            let segment = match chunks {
                Some(parser) if end - read_to >= PARALLEL_MIN && parser.splits() => {
                    let chunking = Chunking::for_range(end - read_to);
                    read_segment_chunked(p, &handle, read_to..end, lines, budget, parser, chunking)?
                }
                _ => {
                    handle.seek(SeekFrom::Start(read_to))?;
                    let extent = Extent::Exactly(end - read_to);
                    read_segment(p, &mut handle, read_to, lines, extent, budget, ingest)?
                }
            };
            let cursor = match &segment {
                Some(s) => p.cursor(s.to, lines + s.lines),
                None => p.cursor(read_to, lines),
            };
            Ok((Some(cursor), segment))
        }
    }
}

/// The probed file again, refusing another file renamed into its place since.
fn reopen(p: &Probe) -> io::Result<File> {
    let file = File::open(&p.file.path)?;
    let meta = file.metadata()?;
    if meta.dev() != p.device || meta.ino() != p.inode {
        return Err(io::Error::other("replaced while being read (a rotation?); read next run"));
    }
    Ok(file)
}

/// The end of the last complete line in `from..size`, or `from` when there is none yet.
fn last_line_end(file: &File, from: u64, size: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = size;
    while end > from {
        let start = end.saturating_sub(buf.len() as u64).max(from);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

fn read_gzip<T>(
    p: &Probe,
    read_to: u64,
    lines: u64,
    budget: &mut u64,
    ingest: &mut dyn FnMut(&SegmentStart, &mut dyn BufRead) -> io::Result<T>,
) -> io::Result<Executed<T>> {
    let mut decoder = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, reopen(p)?));
    // Skip what was ingested before, counting its lines, without holding it.
    let mut skipped = Tap::new(decoder.by_ref().take(read_to), None);
    io::copy(&mut skipped, &mut io::sink())?;
    if skipped.bytes < read_to {
        // Shorter than the cursor it continues: a shorter twin of a longer file (nothing new).
        let n = skipped.bytes;
        let counted = skipped.newlines + u64::from(skipped.last.is_some_and(|b| b != b'\n'));
        return Ok((Some(p.cursor(n, counted)), None));
    }
    let extent = Extent::AtLeast(p.gzip_last_member.saturating_sub(read_to));
    let segment = read_segment(p, &mut decoder, read_to, lines, extent, budget, ingest)?;
    let cursor = match &segment {
        Some(s) => p.cursor(s.to, lines + s.lines),
        None => p.cursor(read_to, lines),
    };
    Ok((Some(cursor), segment))
}

/// How much of a reader a segment is.
#[derive(Debug, Clone, Copy)]
enum Extent {
    /// This many bytes (a plain file: known from its size).
    Exactly(u64),
    /// All of it, at least this many bytes (gzip: known only once read).
    AtLeast(u64),
}

/// Stream `extent` of `reader` through `ingest`, hashing it.
fn read_segment<T, R: Read>(
    p: &Probe,
    reader: R,
    from: u64,
    lines_before: u64,
    extent: Extent,
    budget: &mut u64,
    ingest: &mut dyn FnMut(&SegmentStart, &mut dyn BufRead) -> io::Result<T>,
) -> io::Result<Option<Segment<T>>> {
    let keep_limit = (*budget).min(MAX_RETAINED_SEGMENT);
    let keep = match extent {
        Extent::Exactly(n) if n > keep_limit => None,
        Extent::Exactly(n) => Some(Vec::with_capacity(n as usize)),
        // Kept until it proves too long, unless known to be from the start.
        Extent::AtLeast(n) if n > keep_limit => None,
        Extent::AtLeast(_) => Some(Vec::new()),
    };
    let len = match extent {
        Extent::Exactly(n) => Some(n),
        Extent::AtLeast(_) => None,
    };
    let limited = reader.take(len.unwrap_or(u64::MAX));
    let mut tap = BufReader::with_capacity(READ_BUFFER, Tap::new(limited, keep.map(|k| (k, keep_limit))));
    let start = SegmentStart { file: p.display.clone(), from, first_line: lines_before + 1 };
    let parsed = ingest(&start, &mut tap)?;
    // Whatever the parser did not consume is still part of the range the digest stands for.
    io::copy(&mut tap, &mut io::sink())?;
    let tap = tap.into_inner();
    if let Some(n) = len
        && tap.bytes != n
    {
        return Err(io::Error::other(format!(
            "changed while being read ({} of {n} bytes from byte {from}); read next run",
            tap.bytes
        )));
    }
    Ok(segment_of(p, from, lines_before, tap, parsed, budget))
}

/// The segment a read range makes, from its tap; none when the range was empty.
fn segment_of<T, R>(
    p: &Probe,
    from: u64,
    lines_before: u64,
    tap: Tap<R>,
    parsed: T,
    budget: &mut u64,
) -> Option<Segment<T>> {
    if tap.bytes == 0 {
        return None;
    }
    let partial_last = p.file.sealed || !p.regular;
    let lines = tap.newlines + u64::from(partial_last && tap.last.is_some_and(|b| b != b'\n'));
    let bytes = tap.keep.map(|(k, _)| k);
    if let Some(b) = &bytes {
        *budget -= b.len() as u64;
    }
    Some(Segment {
        file: p.display.clone(),
        from,
        to: from + tap.bytes,
        first_line: lines_before + 1,
        lines,
        sha256: hex::encode(tap.digest.finalize()),
        bytes,
        parsed,
    })
}

/// As [`read_segment`] for the plain range `range` of `file`, parsed in chunks by `parser` while
/// this thread's helper hashes (and keeps, within the budget) the same bytes in order.
fn read_segment_chunked<T: Send>(
    p: &Probe,
    file: &File,
    range: std::ops::Range<u64>,
    lines_before: u64,
    budget: &mut u64,
    parser: &dyn ChunkParser<Parsed = T>,
    chunking: Chunking,
) -> io::Result<Option<Segment<T>>> {
    let (from, len) = (range.start, range.end - range.start);
    let keep_limit = (*budget).min(MAX_RETAINED_SEGMENT);
    let keep = (len <= keep_limit).then(|| (Vec::with_capacity(len as usize), keep_limit));
    let (tap, parsed) = std::thread::scope(|scope| {
        let digest = scope.spawn(|| {
            let mut tap = Tap::new(Positioned::new(file, range.clone()), keep);
            drain(&mut tap).map(|()| tap)
        });
        let parsed = parse_in_chunks(&p.display, file, from, range.end, lines_before + 1, parser, chunking);
        let tap = digest.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (tap, parsed)
    });
    let (tap, parsed) = (tap?, parsed?);
    if tap.bytes != len {
        return Err(io::Error::other(format!(
            "changed while being read ({} of {len} bytes from byte {from}); read next run",
            tap.bytes
        )));
    }
    Ok(segment_of(p, from, lines_before, tap, parsed, budget))
}

/// Read `reader` to its end, in large blocks (`io::copy` would use 8 KiB reads).
fn drain(reader: &mut impl Read) -> io::Result<()> {
    let mut block = vec![0u8; READ_BUFFER];
    loop {
        match reader.read(&mut block) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// How a long range is cut and shared.
#[derive(Debug, Clone, Copy)]
struct Chunking {
    threads: usize,
    chunk_len: u64,
}

impl Chunking {
    fn for_range(len: u64) -> Chunking {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = len / (threads as u64 * CHUNKS_PER_THREAD);
        Chunking { threads, chunk_len: share.clamp(CHUNK_MIN, CHUNK_MAX) }
    }
}

/// Parse `from..to` of `file` in chunks cut at line boundaries, on `chunking.threads` workers,
/// appending each part in file order as soon as the parts before it are in (so at most a few
/// parts wait, whatever the file's length). The first line is numbered `first_line`.
fn parse_in_chunks<T: Send>(
    display: &str,
    file: &File,
    from: u64,
    to: u64,
    first_line: u64,
    parser: &dyn ChunkParser<Parsed = T>,
    chunking: Chunking,
) -> io::Result<T> {
    let chunks = line_chunks(file, from, to, chunking.chunk_len)?;
    let start = |k: usize, at: u64| SegmentStart {
        file: display.to_string(),
        from: at,
        first_line: if k == 0 { first_line } else { 1 },
    };
    if chunks.len() == 1 || chunking.threads < 2 {
        return parse_chunk(file, from..to, &start(0, from), parser).map(|(parsed, _)| parsed);
    }
    let next = AtomicUsize::new(0);
    let merge = Mutex::new(InOrder::new(first_line));
    std::thread::scope(|scope| {
        for _ in 0..chunking.threads.min(chunks.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(range) = chunks.get(k) else { break };
                    if merge.lock().map_or(true, |m| m.failed.is_some()) {
                        break;
                    }
                    let part = parse_chunk(file, range.clone(), &start(k, range.start), parser);
                    match merge.lock() {
                        Ok(mut m) => m.offer(k, part, parser),
                        Err(_) => break,
                    }
                }
            });
        }
    });
    let merged = merge.into_inner().map_err(|_| io::Error::other("a parser thread panicked"))?;
    merged.finish(chunks.len())
}

/// Parse one chunk with its own positioned reader; returns what was parsed and its lines.
fn parse_chunk<T: Send>(
    file: &File,
    range: std::ops::Range<u64>,
    start: &SegmentStart,
    parser: &dyn ChunkParser<Parsed = T>,
) -> io::Result<(T, u64)> {
    let len = range.end - range.start;
    let mut reader = BufReader::with_capacity(READ_BUFFER, Positioned::new(file, range));
    let parsed = parser.parse(start, &mut reader)?;
    let positioned = reader.into_inner();
    if positioned.cut_short {
        return Err(io::Error::other(format!(
            "changed while being read ({} of {len} bytes from byte {}); read next run",
            positioned.pos - start.from,
            start.from
        )));
    }
    let lines = parser.lines(&parsed);
    Ok((parsed, lines))
}

/// Parsed chunks appended strictly in file order, whatever order the workers finish in.
struct InOrder<T> {
    /// The chunk to append next, and the number of its first line.
    next: usize,
    next_line: u64,
    done: Option<T>,
    waiting: BTreeMap<usize, (T, u64)>,
    /// The error of the earliest failed chunk, the one a single-threaded read would have met.
    failed: Option<(usize, io::Error)>,
}

impl<T: Send> InOrder<T> {
    fn new(first_line: u64) -> Self {
        InOrder { next: 0, next_line: first_line, done: None, waiting: BTreeMap::new(), failed: None }
    }

    fn offer(&mut self, k: usize, part: io::Result<(T, u64)>, parser: &dyn ChunkParser<Parsed = T>) {
        match part {
            Ok(part) => {
                self.waiting.insert(k, part);
            }
            Err(e) => {
                if self.failed.as_ref().is_none_or(|(at, _)| k < *at) {
                    self.failed = Some((k, e));
                }
                self.waiting.clear();
                return;
            }
        }
        if self.failed.is_some() {
            self.waiting.clear();
            return;
        }
        while let Some((parsed, lines)) = self.waiting.remove(&self.next) {
            match self.done.as_mut() {
                None => self.done = Some(parsed),
                Some(done) => parser.append(done, parsed, self.next_line),
            }
            self.next += 1;
            self.next_line += lines;
        }
    }

    fn finish(self, chunks: usize) -> io::Result<T> {
        if let Some((_, e)) = self.failed {
            return Err(e);
        }
        match self.done {
            Some(done) if self.next == chunks => Ok(done),
            _ => Err(io::Error::other("a chunk of the file was not parsed")),
        }
    }
}

/// `from..to` cut into ranges of about `chunk_len` bytes, each but the last ending just after a
/// newline: a line longer than a chunk stays whole in the chunk where it starts.
fn line_chunks(file: &File, from: u64, to: u64, chunk_len: u64) -> io::Result<Vec<std::ops::Range<u64>>> {
    let chunk_len = chunk_len.max(1);
    let mut chunks = Vec::new();
    let mut start = from;
    while to - start > chunk_len {
        match line_start_after(file, start + chunk_len, to)? {
            Some(cut) if cut < to => {
                chunks.push(start..cut);
                start = cut;
            }
            _ => break,
        }
    }
    chunks.push(start..to);
    Ok(chunks)
}

/// The first line start at or after `at` (`at` itself when a newline precedes it), if any
/// before `to`.
fn line_start_after(file: &File, at: u64, to: u64) -> io::Result<Option<u64>> {
    let mut block = vec![0u8; 64 * 1024];
    let mut pos = at.saturating_sub(1);
    while pos < to {
        let want = block.len().min((to - pos) as usize);
        let n = file.read_at(&mut block[..want], pos)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = block[..n].iter().position(|b| *b == b'\n') {
            return Ok(Some(pos + i as u64 + 1));
        }
        pos += n as u64;
    }
    Ok(None)
}

/// A byte range of a file read with positioned reads: any number of them share one handle
/// without sharing a file offset.
struct Positioned<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
    /// The file ended before the range did (truncated since its size was taken).
    cut_short: bool,
}

impl<'f> Positioned<'f> {
    fn new(file: &'f File, range: std::ops::Range<u64>) -> Self {
        Positioned { file, pos: range.start, end: range.end, cut_short: false }
    }
}

impl Read for Positioned<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        self.cut_short |= n == 0;
        Ok(n)
    }
}

/// The newlines in `b`, eight bytes at a time (the byte-wise count costs half a second a GiB).
fn count_newlines(b: &[u8]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = b.chunks_exact(8);
    let mut total = 0u64;
    // Per-byte tallies in one word, summed before any byte lane can pass 255.
    let (mut lanes, mut in_lanes) = (0u64, 0u32);
    for word in words.by_ref() {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ NEWLINES;
        // High bit of each byte set exactly where x is zero (no carry crosses a byte).
        let zero = !((((x & LOW7).wrapping_add(LOW7)) | x) | LOW7);
        lanes += zero >> 7;
        in_lanes += 1;
        if in_lanes == 255 {
            total += sum_lanes(lanes);
            (lanes, in_lanes) = (0, 0);
        }
    }
    total += sum_lanes(lanes);
    total + words.remainder().iter().filter(|c| **c == b'\n').count() as u64
}

/// The sum of a word's eight byte lanes (each up to 255), via four 16-bit lanes.
fn sum_lanes(lanes: u64) -> u64 {
    const EVEN: u64 = 0x00ff_00ff_00ff_00ff;
    let pairs = (lanes & EVEN) + ((lanes >> 8) & EVEN);
    pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48
}

/// Passes bytes through while hashing them, counting lines and (up to a limit) keeping them.
struct Tap<R> {
    inner: R,
    digest: Sha256,
    bytes: u64,
    newlines: u64,
    last: Option<u8>,
    /// The bytes so far and the most that may be kept; dropped once over it.
    keep: Option<(Vec<u8>, u64)>,
}

impl<R: Read> Tap<R> {
    fn new(inner: R, keep: Option<(Vec<u8>, u64)>) -> Self {
        Tap { inner, digest: Sha256::new(), bytes: 0, newlines: 0, last: None, keep }
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        if let Some(&b) = chunk.last() {
            self.digest.update(chunk);
            self.bytes += n as u64;
            self.newlines += count_newlines(chunk);
            self.last = Some(b);
            if let Some((kept, limit)) = &mut self.keep {
                if (kept.len() + n) as u64 > *limit {
                    self.keep = None;
                } else {
                    kept.extend_from_slice(chunk);
                }
            }
        }
        Ok(n)
    }
}

/// [`parse_in_chunks`] over `range` of the file at `path` with a given cut, for tests that compare
/// it with one pass at chunk sizes far below the ones used in earnest.
#[cfg(test)]
pub(crate) fn parse_range_in_chunks<P: ChunkParser>(
    path: &Path,
    range: std::ops::Range<u64>,
    first_line: u64,
    parser: &P,
    threads: usize,
    chunk_len: u64,
) -> io::Result<P::Parsed> {
    let file = File::open(path)?;
    let display = path.display().to_string();
    parse_in_chunks(
        &display,
        &file,
        range.start,
        range.end,
        first_line,
        parser,
        Chunking { threads, chunk_len },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// What a test parser saw: every line with the number it was given.
    type Seen = Vec<(u64, String)>;

    fn read(log: &Path, prior: &[FileCursor]) -> Incremental<Seen> {
        read_within(log, prior, u64::MAX)
    }

    fn read_within(log: &Path, prior: &[FileCursor], budget: u64) -> Incremental<Seen> {
        read_incremental("fw", &[log.to_path_buf()], prior, budget, |start, reader| {
            let mut seen = Vec::new();
            for (n, line) in (start.first_line..).zip(reader.lines()) {
                seen.push((n, line?));
            }
            Ok(seen)
        })
    }

    /// Every line ingested, in order, as `file:line text`.
    fn lines(read: &Incremental<Seen>) -> Vec<String> {
        let mut out = Vec::new();
        for s in &read.segments {
            let name = Path::new(&s.file).file_name().unwrap().to_string_lossy().into_owned();
            out.extend(s.parsed.iter().map(|(n, l)| format!("{name}:{n} {l}")));
        }
        out
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn gzip(path: &Path, to: &Path) {
        let bytes = std::fs::read(path).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&bytes).unwrap();
        std::fs::write(to, enc.finish().unwrap()).unwrap();
        std::fs::remove_file(path).unwrap();
    }

    /// Line `i` of a test log: 80 bytes with its newline.
    fn line(tag: &str, i: u32) -> String {
        format!("{tag} {i:05} {}", "x".repeat(72 - tag.len()))
    }

    /// Numbered lines of 80 bytes, so that a few dozen exceed the 4 KiB head.
    fn numbered(tag: &str, range: std::ops::Range<u32>) -> String {
        range.map(|i| line(tag, i) + "\n").collect()
    }

    #[test]
    fn a_rotated_set_is_listed_oldest_first_without_strangers() {
        let dir = tempfile::tempdir().unwrap();
        for name in
            ["fw.log", "fw.log.1", "fw.log.2.gz", "fw.log.10", "fw.log.old", "fw.log-x", "other.log.1"]
        {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let (files, errors) = rotated_set(&[dir.path().join("fw.log")]);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<String> =
            files.iter().map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["fw.log.10", "fw.log.2.gz", "fw.log.1", "fw.log"]);
        let sealed: Vec<bool> = files.iter().map(|f| f.sealed).collect();
        assert_eq!(sealed, [true, true, true, false], "only the live file may be mid-line");
        assert!(files[1].gzip && !files[0].gzip);

        // A directory: every regular file, rotated members before their live file.
        let (files, _) = rotated_set(&[dir.path().to_path_buf()]);
        let names: Vec<String> =
            files.iter().map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            ["fw.log.10", "fw.log.2.gz", "fw.log.1", "fw.log", "fw.log-x", "fw.log.old", "other.log.1"]
        );

        let (files, errors) = rotated_set(&[dir.path().join("missing.log")]);
        assert!(files.is_empty());
        assert!(errors[0].contains("missing.log") && errors[0].contains("No such file"), "{errors:?}");
    }

    #[test]
    fn appended_lines_are_read_once_and_numbered_as_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, "a1\na2\n").unwrap();
        let first = read(&log, &[]);
        assert_eq!(lines(&first), ["fw.log:1 a1", "fw.log:2 a2"]);
        assert_eq!(first.segments[0].name(), format!("{} bytes 0-6", log.display()));
        assert!(first.notes.is_empty() && first.errors.is_empty());

        append(&log, "a3\na4\n");
        let second = read(&log, &first.cursors);
        assert_eq!(lines(&second), ["fw.log:3 a3", "fw.log:4 a4"]);
        let s = &second.segments[0];
        assert_eq!((s.from, s.to, s.lines), (6, 12, 2));
        assert_eq!(
            s.sha256,
            hex::encode(Sha256::digest(b"a3\na4\n")),
            "the digest is of exactly the new bytes"
        );
        assert_eq!(s.bytes.as_deref(), Some(&b"a3\na4\n"[..]));
        assert_eq!(second.cursors[0].lines, 4);

        let third = read(&log, &second.cursors);
        assert!(third.segments.is_empty(), "nothing new, nothing read");
        assert_eq!(third.cursors, second.cursors);
        assert_eq!(third.files_ok, 1);
    }

    #[test]
    fn a_partial_last_line_waits_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, "a1\na2\npart").unwrap();
        let first = read(&log, &[]);
        assert_eq!(lines(&first), ["fw.log:1 a1", "fw.log:2 a2"]);
        assert_eq!(first.cursors[0].read_to, 6);

        append(&log, "ial\n");
        let second = read(&log, &first.cursors);
        assert_eq!(lines(&second), ["fw.log:3 partial"]);

        // Once rotated, a file is sealed: its unterminated last line is read too.
        append(&log, "last");
        std::fs::rename(&log, dir.path().join("fw.log.1")).unwrap();
        let third = read(&log, &second.cursors);
        assert_eq!(lines(&third), ["fw.log.1:4 last"]);
    }

    #[test]
    fn rotation_counts_nothing_twice_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        let at = |name: &str| dir.path().join(name);
        std::fs::write(&log, numbered("a", 0..60)).unwrap();
        let mut all = Vec::new();
        let run = read(&log, &[]);
        all.extend(lines(&run));

        // Written after the run, then rotated away before the next one: still read, from fw.log.1.
        append(&log, &numbered("a", 60..62));
        std::fs::rename(&log, at("fw.log.1")).unwrap();
        std::fs::write(&log, numbered("b", 0..3)).unwrap();
        let run = read(&log, &run.cursors);
        assert_eq!(
            lines(&run)[..2],
            [format!("fw.log.1:61 {}", line("a", 60)), format!("fw.log.1:62 {}", line("a", 61))]
        );
        assert!(run.notes.is_empty(), "a rotation is normal, not news: {:?}", run.notes);
        all.extend(lines(&run));

        // The next rotation compresses: fw.log.1 -> fw.log.2.gz (recognised by its decompressed
        // first bytes), fw.log -> fw.log.1 with one line it gained meanwhile.
        gzip(&at("fw.log.1"), &at("fw.log.2.gz"));
        append(&log, &numbered("b", 3..4));
        std::fs::rename(&log, at("fw.log.1")).unwrap();
        std::fs::write(&log, numbered("c", 0..1)).unwrap();
        let run = read(&log, &run.cursors);
        assert_eq!(
            lines(&run),
            [format!("fw.log.1:4 {}", line("b", 3)), format!("fw.log:1 {}", line("c", 0))]
        );
        all.extend(lines(&run));

        // Unchanged: the .gz is known by its whole-file digest.
        let again = read(&log, &run.cursors);
        assert!(again.segments.is_empty());
        assert_eq!(again.files_ok, 3);

        let texts: Vec<String> = all.iter().map(|l| l.split_once(' ').unwrap().1.to_string()).collect();
        let expected: Vec<String> = numbered("a", 0..62)
            .lines()
            .chain(numbered("b", 0..4).lines())
            .chain(numbered("c", 0..1).lines())
            .map(str::to_string)
            .collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "every line exactly once");
    }

    #[test]
    fn a_file_rotated_straight_into_gzip_is_continued_where_it_was_left() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, numbered("a", 0..10)).unwrap();
        let first = read(&log, &[]);
        append(&log, &numbered("a", 10..12));
        gzip(&log, &dir.path().join("fw.log.1.gz"));
        std::fs::write(&log, "new 1\n").unwrap();
        let second = read(&log, &first.cursors);
        assert_eq!(
            lines(&second),
            [
                format!("fw.log.1.gz:11 {}", line("a", 10)),
                format!("fw.log.1.gz:12 {}", line("a", 11)),
                "fw.log:1 new 1".to_string()
            ]
        );
        // The segment of a .gz is a range of its decompressed content.
        assert_eq!((second.segments[0].from, second.segments[0].to), (800, 960));
        assert!(second.cursors.iter().any(|c| c.gzip_sha256.is_some() && c.read_to == 960));
    }

    #[test]
    fn an_uncompressed_twin_of_a_gzip_is_not_read_twice() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(dir.path().join("fw.log.1"), numbered("a", 0..5)).unwrap();
        std::fs::write(dir.path().join("twin"), numbered("a", 0..5)).unwrap();
        gzip(&dir.path().join("twin"), &dir.path().join("fw.log.1.gz"));
        std::fs::write(&log, "b\n").unwrap();
        let run = read(&log, &[]);
        assert_eq!(lines(&run).len(), 6, "{:?}", lines(&run));
    }

    #[test]
    fn truncation_is_said_and_the_file_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, numbered("a", 0..100)).unwrap();
        let first = read(&log, &[]);
        // Same first bytes, fewer of them than were read.
        std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(60 * 80).unwrap();
        let second = read(&log, &first.cursors);
        assert_eq!(lines(&second).len(), 60);
        assert!(lines(&second)[0].starts_with("fw.log:1 a 00000"));
        assert_eq!(
            second.notes,
            [format!(
                "{}: truncated since the last run (4800 bytes now, 8000 were read before); read again from the start",
                log.display()
            )]
        );

        // Emptied and written again: too short to compare, shorter than what was read: truncated.
        std::fs::write(&log, "fresh\n").unwrap();
        let third = read(&log, &second.cursors);
        assert_eq!(lines(&third), ["fw.log:1 fresh"]);
        assert!(third.notes[0].contains("truncated since the last run (6 bytes now, 4800 were read before)"));
    }

    #[test]
    fn a_replaced_file_is_said_and_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, numbered("night1", 0..80)).unwrap();
        let first = read(&log, &[]);
        // A night's export rewritten in place: other first bytes, here even a shorter file.
        std::fs::write(&log, numbered("night2", 0..70)).unwrap();
        let second = read(&log, &first.cursors);
        assert_eq!(lines(&second).len(), 70);
        assert!(lines(&second)[0].starts_with("fw.log:1 night2 00000"));
        assert_eq!(second.notes.len(), 1);
        assert!(
            second.notes[0].ends_with(
                "fw.log: replaced since the last run (its first bytes differ) (now 5600 bytes, 6400 were read before); \
                 read whole as a new file"
            ),
            "{:?}",
            second.notes
        );
    }

    #[test]
    fn a_file_that_fails_to_parse_keeps_its_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, "a1\n").unwrap();
        let first = read(&log, &[]);
        append(&log, "a2\n");
        let failed = read_incremental("fw", std::slice::from_ref(&log), &first.cursors, u64::MAX, |_, _| {
            Err::<(), _>(io::Error::other("disk on fire"))
        });
        assert_eq!(failed.errors, [format!("{}: disk on fire", log.display())]);
        assert_eq!(failed.cursors, first.cursors, "the cursor did not advance");
        assert_eq!(failed.files_ok, 0);
        let retry = read(&log, &failed.cursors);
        assert_eq!(lines(&retry), ["fw.log:2 a2"]);
    }

    #[test]
    fn segments_beyond_the_retention_budget_keep_only_their_digest() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(dir.path().join("fw.log.1"), "old 1\nold 2\n").unwrap();
        std::fs::write(&log, "new 1\n").unwrap();
        let run = read_within(&log, &[], 8);
        assert_eq!(run.segments.len(), 2);
        assert_eq!(run.segments[0].bytes, None, "12 bytes are over the 8 byte budget");
        assert_eq!(run.segments[0].sha256, hex::encode(Sha256::digest(b"old 1\nold 2\n")));
        assert_eq!(run.segments[1].bytes.as_deref(), Some(&b"new 1\n"[..]));

        // A .gz's size is known from its trailer: one over the budget is not buffered at all.
        gzip(&dir.path().join("fw.log.1"), &dir.path().join("fw.log.2.gz"));
        let run = read_within(&log, &[], 8);
        assert_eq!(run.segments[0].bytes, None);
        assert_eq!(run.segments[0].sha256, hex::encode(Sha256::digest(b"old 1\nold 2\n")));
        assert_eq!(
            run.segments[0].name(),
            format!("{} bytes 0-12", dir.path().join("fw.log.2.gz").display())
        );
    }

    #[test]
    fn open_whole_reads_plain_and_gzip_alike() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), "l1\nl2\n").unwrap();
        gzip(&dir.path().join("x"), &dir.path().join("fw.log.3.gz"));
        let text: Vec<String> =
            open_whole(&dir.path().join("fw.log.3.gz")).unwrap().lines().map(Result::unwrap).collect();
        assert_eq!(text, ["l1", "l2"]);
    }

    /// The test parser as a [`ChunkParser`]: the parts' lines concatenated, renumbered.
    struct SeenLines;

    impl ChunkParser for SeenLines {
        type Parsed = Seen;

        fn parse(&self, start: &SegmentStart, reader: &mut dyn BufRead) -> io::Result<Seen> {
            let mut seen = Vec::new();
            for (n, line) in (start.first_line..).zip(reader.lines()) {
                seen.push((n, line?));
            }
            Ok(seen)
        }

        fn lines(&self, parsed: &Seen) -> u64 {
            parsed.len() as u64
        }

        fn append(&self, earlier: &mut Seen, later: Seen, first_line: u64) {
            earlier.extend(later.into_iter().map(|(n, l)| (n + first_line - 1, l)));
        }
    }

    /// Lines of uneven length, some far longer than a small chunk.
    fn uneven(n: u32) -> String {
        (0..n)
            .map(|i| {
                format!("l{i} {}\n", "y".repeat(((i * 37) % 23 + if i % 50 == 7 { 900 } else { 0 }) as usize))
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn newlines_are_counted_as_one_byte_at_a_time_would(b in proptest::collection::vec(proptest::sample::select(vec![b'\n', b'a', 0x8a, 0x0b, 0x09, 0xff, 0]), 0..3000)) {
            proptest::prop_assert_eq!(count_newlines(&b), b.iter().filter(|c| **c == b'\n').count() as u64);
        }
    }

    #[test]
    fn chunks_are_cut_after_newlines_and_cover_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        let text = uneven(300) + "tail";
        std::fs::write(&log, &text).unwrap();
        let file = File::open(&log).unwrap();
        let len = text.len() as u64;
        for chunk_len in [1, 2, 5, 64, 1000, len - 1, len, len + 1] {
            let chunks = line_chunks(&file, 0, len, chunk_len).unwrap();
            assert_eq!(chunks.first().map(|c| c.start), Some(0));
            assert_eq!(chunks.last().map(|c| c.end), Some(len));
            for pair in chunks.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{chunk_len}: contiguous");
                assert!(pair[0].end > pair[0].start, "{chunk_len}: never empty");
                assert_eq!(
                    text.as_bytes()[pair[0].end as usize - 1],
                    b'\n',
                    "{chunk_len}: cut after a newline"
                );
            }
        }
        // A line longer than the chunk stays whole in the chunk where it starts.
        let one = line_chunks(&file, 0, 3000, 10).unwrap();
        assert!(one.iter().any(|c| c.end - c.start > 900), "{one:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn chunked_parsing_numbers_every_line_as_one_pass_does(
            chunk_len in 1u64..3000,
            threads in 1usize..4,
            skip in 0usize..40,
            tail in proptest::prelude::any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("fw.log");
            let mut text = uneven(200).replace("l13 ", "l13\r\n ");
            if tail {
                text.push_str("unterminated");
            }
            std::fs::write(&log, &text).unwrap();
            // From a cursor: the range starts after `skip` lines, numbered on from there.
            let from: usize = text.split_inclusive('\n').take(skip).map(str::len).sum();
            let start = SegmentStart { file: String::new(), from: from as u64, first_line: skip as u64 + 1 };
            let one = SeenLines.parse(&start, &mut &text.as_bytes()[from..]).unwrap();
            let range = from as u64..text.len() as u64;
            let chunked = parse_range_in_chunks(&log, range, skip as u64 + 1, &SeenLines, threads, chunk_len).unwrap();
            proptest::prop_assert_eq!(chunked, one);
        }
    }

    #[test]
    fn a_long_file_read_in_chunks_gives_the_segments_and_cursors_of_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        // Over the parallel threshold, ending mid-line: the live file's partial line waits.
        let body = uneven(240_000);
        assert!(body.len() as u64 > PARALLEL_MIN);
        std::fs::write(&log, format!("{body}partial")).unwrap();
        let chunked = |prior: &[FileCursor]| {
            read_incremental_chunked("fw", std::slice::from_ref(&log), prior, u64::MAX, &SeenLines)
        };
        let summary = |r: &Incremental<Seen>| {
            r.segments
                .iter()
                .map(|s| {
                    (s.from, s.to, s.first_line, s.lines, s.sha256.clone(), s.bytes.as_ref().map(Vec::len))
                })
                .collect::<Vec<_>>()
        };
        let (one, many) = (read(&log, &[]), chunked(&[]));
        assert_eq!(lines(&many), lines(&one));
        assert_eq!(summary(&many), summary(&one));
        assert_eq!(many.cursors, one.cursors);
        assert_eq!(many.cursors[0].read_to, body.len() as u64, "the partial line is left for later");
        assert!(many.segments[0].bytes.is_some(), "within the retention budget the bytes are kept");

        // The next run continues from the cursor, numbering on, and the partial line completes.
        append(&log, &format!("_done\n{}", uneven(100_000)));
        let (one, many) = (read(&log, &one.cursors), chunked(&many.cursors));
        assert_eq!(lines(&many), lines(&one));
        assert_eq!(summary(&many), summary(&one));
        assert_eq!(many.cursors, one.cursors);
        assert_eq!(many.segments[0].parsed[0], (240_001, "partial_done".to_string()));

        // Over the retention budget: the digest only, as one pass keeps it.
        let (one, many) = (
            read_within(&log, &[], 1000),
            read_incremental_chunked("fw", std::slice::from_ref(&log), &[], 1000, &SeenLines),
        );
        assert_eq!(summary(&many), summary(&one));
        assert_eq!(many.segments[0].bytes, None);
    }

    #[test]
    fn parse_whole_reads_a_long_plain_file_in_chunks_and_a_gzip_in_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("big.log");
        let text = uneven(240_000) + "sealed tail";
        std::fs::write(&log, &text).unwrap();
        let whole = parse_whole(&log, &SeenLines).unwrap();
        assert_eq!(whole.len(), 240_001, "the unterminated last line is read too");
        assert_eq!(whole.last(), Some(&(240_001, "sealed tail".to_string())));
        assert!(whole.iter().enumerate().all(|(i, (n, _))| *n == i as u64 + 1));
        gzip(&log, &dir.path().join("big.log.1.gz"));
        assert_eq!(parse_whole(&dir.path().join("big.log.1.gz"), &SeenLines).unwrap(), whole);
    }

    #[test]
    fn a_chunk_that_fails_fails_the_file_and_keeps_its_cursor() {
        struct Fails;
        impl ChunkParser for Fails {
            type Parsed = ();
            fn parse(&self, start: &SegmentStart, _: &mut dyn BufRead) -> io::Result<()> {
                if start.from > 0 { Err(io::Error::other("disk on fire")) } else { Ok(()) }
            }
            fn lines(&self, _: &()) -> u64 {
                0
            }
            fn append(&self, _: &mut (), _: (), _: u64) {}
        }
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fw.log");
        std::fs::write(&log, uneven(240_000)).unwrap();
        let failed = read_incremental_chunked("fw", std::slice::from_ref(&log), &[], u64::MAX, &Fails);
        assert_eq!(failed.errors, [format!("{}: disk on fire", log.display())]);
        assert!(failed.cursors.is_empty() && failed.segments.is_empty());
    }
}
