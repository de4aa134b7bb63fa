//! Schema migrations. The schema version is SQLite's `user_version`; append new `M::up` steps,
//! never edit a released one (a database that already ran it would not see the change).
//!
//! Conventions: tables are `STRICT`; timestamps are RFC 3339 UTC text; JSON columns are text checked
//! with `json_valid` (except `fact_rows.data`, see M5); children of a run cascade on delete so that retention removes a run in one
//! statement, while payloads are only ever referenced (never cascaded) and so cannot disappear under
//! a source run or an evidence item that points at them.

use rusqlite_migration::{M, Migrations};

const MIGRATION_STEPS: &[M<'static>] = &[
    // 1: runs, sources, payloads, facts, results, findings, evidence, reports.
    M::up(
        r#"
CREATE TABLE runs (
    -- AUTOINCREMENT: run ids appear in signed reports, so a pruned id must never be handed out again.
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster           TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    status            TEXT NOT NULL CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),
    config_digest     TEXT NOT NULL,
    tool_version      TEXT NOT NULL,
    evidence_complete INTEGER CHECK (evidence_complete IN (0, 1))
) STRICT;
CREATE INDEX runs_status ON runs (status);

CREATE TABLE source_runs (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'failed')),
    error       TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    counts      TEXT NOT NULL CHECK (json_valid(counts)),
    rejects     TEXT NOT NULL CHECK (json_valid(rejects)),
    notes       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(notes)),
    UNIQUE (run_id, name)
) STRICT;

-- Raw bytes as fetched, keyed by their SHA-256: an unchanged source adds no bytes night after night.
CREATE TABLE payloads (
    sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size       INTEGER NOT NULL CHECK (size >= 0),   -- uncompressed
    zlib       BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE source_payloads (
    source_run_id INTEGER NOT NULL REFERENCES source_runs (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    name          TEXT NOT NULL,
    sha256        TEXT NOT NULL REFERENCES payloads (sha256),
    PRIMARY KEY (source_run_id, position)
) STRICT;
CREATE INDEX source_payloads_sha256 ON source_payloads (sha256);

-- One row per normalised fact; `data` is the model type as JSON, `kind` says which.
CREATE TABLE facts (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    source_run_id INTEGER NOT NULL REFERENCES source_runs (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    data          TEXT NOT NULL CHECK (json_valid(data))
) STRICT;
CREATE INDEX facts_run ON facts (run_id);
CREATE INDEX facts_source_run ON facts (source_run_id);

CREATE TABLE rule_results (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rule_id  TEXT NOT NULL,
    title    TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    status   TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error', 'skip')),
    checked  TEXT NOT NULL,
    controls TEXT NOT NULL CHECK (json_valid(controls)),
    UNIQUE (run_id, rule_id)
) STRICT;

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    zone        TEXT,
    subject     TEXT NOT NULL,
    message     TEXT NOT NULL
) STRICT;
CREATE INDEX findings_run ON findings (run_id);
CREATE INDEX findings_fingerprint ON findings (fingerprint);

-- `payload` is NULL for evidence that quotes no stored payload (e.g. the zone model itself);
-- otherwise the referenced bytes must be stored, which is what `verify` re-derives evidence from.
CREATE TABLE evidence (
    id         INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    source     TEXT NOT NULL,
    payload    TEXT REFERENCES payloads (sha256),
    locator    TEXT NOT NULL,
    excerpt    TEXT NOT NULL
) STRICT;
CREATE INDEX evidence_finding ON evidence (finding_id);
CREATE INDEX evidence_payload ON evidence (payload);

CREATE TABLE reports (
    run_id     INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    envelope   BLOB NOT NULL,
    markdown   TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
"#,
    ),
    // 2: incremental reading of firewall logs (see `cursor.rs`).
    M::up(
        r#"
-- Where each log file of a source has been read up to. Replaced as a whole, in the transaction
-- that records the source run whose lines they account for: a run that dies before its source is
-- recorded leaves the cursors where they were, so those lines are read again, never lost or doubled.
CREATE TABLE log_cursors (
    source      TEXT NOT NULL,
    path        TEXT NOT NULL,
    device      INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    read_to     INTEGER NOT NULL CHECK (read_to >= 0),      -- content bytes ingested (decompressed for gzip)
    lines       INTEGER NOT NULL CHECK (lines >= 0),        -- complete lines in those bytes
    head_len    INTEGER NOT NULL CHECK (head_len BETWEEN 0 AND 4096),
    head_sha256 TEXT NOT NULL CHECK (length(head_sha256) = 64),
    gzip_sha256 TEXT CHECK (gzip_sha256 IS NULL OR length(gzip_sha256) = 64),
    -- The run that advanced the cursor; kept (as NULL) when retention removes that run.
    run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL
) STRICT;
-- No key on the path: a file that could not be read keeps its old cursor while a new file at the
-- same path has its own.
CREATE INDEX log_cursors_source ON log_cursors (source);
"#,
    ),
    // 3: drift alerts (see `outbox.rs`).
    M::up(
        r#"
-- Notifications, written in the transaction that records the run's findings; never deleted by a
-- delivery, only marked. The message is the alert as JSON (no secrets: no URLs, no credentials).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    channel         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    message         TEXT NOT NULL CHECK (json_valid(message)),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    last_attempt_at TEXT,
    delivered_at    TEXT
) STRICT;
CREATE INDEX outbox_state ON outbox (state);

-- When each channel last heard of each finding or topology item: the repeat interval counts from it.
CREATE TABLE notified (
    channel     TEXT NOT NULL,
    key         TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (channel, key)
) STRICT;

-- The accepted topology baseline (one row): what drift is measured against.
CREATE TABLE baseline (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    accepted_at TEXT NOT NULL,
    items       TEXT NOT NULL CHECK (json_valid(items))
) STRICT;
"#,
    ),
    // 4: retention (see `prune.rs`).
    M::up(
        r#"
-- What `runs prune` deleted, as the signed tombstone (DSSE envelope) it left. Not linked to runs by
-- a foreign key: the runs it names are gone. `last_report` is the digest of the newest pruned
-- report, which the first report still stored names as its `previousReport`.
CREATE TABLE tombstones (
    id          INTEGER PRIMARY KEY,
    first_run   INTEGER NOT NULL,
    last_run    INTEGER NOT NULL CHECK (last_run >= first_run),
    runs        INTEGER NOT NULL CHECK (runs > 0),
    last_report TEXT,
    digest      TEXT NOT NULL UNIQUE,
    envelope    BLOB NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
"#,
    ),
    // 5: facts live over a span of runs instead of one copy per run (see `facts.rs`).
    M::up(
        r#"
-- A fact row is seen by run R when first_run <= R < ended_run (NULL: still alive) and R recorded
-- its source with facts. No foreign key to runs: a row outlives the run that first stored it.
-- `data` is the model type as JSON, without origin.source / origin.payload when `payload_pos`
-- says which payload of the reading run's source run they are; `hash` identifies the row when
-- the next run of its source is compared with it (NULL for rows carried over from `facts`).
-- Unlike other JSON columns, `data` is not checked with json_valid: only the store writes it, from
-- serde, a read parses it anyway, and the check parsed every fact of a night again (about a tenth
-- of storing a route table). (Changed before M5 was released.)
CREATE TABLE fact_rows (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload_pos INTEGER CHECK (payload_pos IS NULL OR payload_pos >= 0),
    hash        BLOB CHECK (hash IS NULL OR length(hash) = 16),
    data        TEXT NOT NULL,
    first_run   INTEGER NOT NULL,
    ended_run   INTEGER CHECK (ended_run IS NULL OR ended_run > first_run)
) STRICT;
-- Covers what recording a source reads: the identities of its alive rows.
CREATE INDEX fact_rows_alive ON fact_rows (source, hash) WHERE ended_run IS NULL;
-- Retention asks, per fact row, whether a kept run recorded its source within its span.
CREATE INDEX source_runs_name ON source_runs (name, run_id);

-- Every stored fact was seen by its own run only.
INSERT INTO fact_rows (source, kind, payload_pos, hash, data, first_run, ended_run)
    SELECT s.name, f.kind, NULL, NULL, f.data, f.run_id, f.run_id + 1
    FROM facts f JOIN source_runs s ON s.id = f.source_run_id ORDER BY f.id;
DROP TABLE facts;
"#,
    ),
];

pub(super) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_STEPS);

/// The `user_version` a fully migrated database has.
#[cfg(test)]
pub(super) const LATEST_VERSION: i64 = MIGRATION_STEPS.len() as i64;

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::MIGRATIONS.validate().expect("migrations apply to an empty database");
    }
}
