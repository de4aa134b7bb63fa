#!/usr/bin/env bash
# Peer comparison (issue 8): Suzieq and zoneaudit ingesting the same Arista route table.
#
# The table is a simulated border leaf's `show ip route vrf all` (eAPI JSON-RPC response, about
# 125k routes over the zones' VRFs at scale L) from `zoneaudit simulate --scale SCALE`. Each tool
# parses it, normalises it and writes it to its store, as whole processes, warm page cache:
#   suzieq       sq-poller -i DIR -c sq.yml --run-once update -s routes
#                (Suzieq's recorded-input mode: DIR/routes.output as `--run-once gather` writes
#                it; normalise; write the routes parquet)
#   zoneaudit    zoneaudit --config X collect
#                (snapshot only: parse, store payload and facts in SQLite; no evaluation, no
#                signed report; X has the zone model and one eos source, the route table only)
#   json.load    python3 json.load of the eAPI file zoneaudit reads (the Python parse floor)
# RUNS interleaved rounds (suzieq, zoneaudit, json.load, suzieq, ...); the table shows medians.
# One device per run: `--run-once update` stops after the first device's output, so a file with
# both leaves would store only one of them.
#
# Counts must agree or the script exits 1: Suzieq's parquet rows (all from the leaf) ==
# zoneaudit's stored route facts for the leaf == the routes in the input.
#
# Peak memory: `peak MB` is GNU time's maximum RSS of one process. sq-poller is a controller plus
# a worker, and the controller stops waiting once the worker's pipes close, so GNU time sometimes
# misses the worker entirely (its RSS and its CPU); `tree MB` (summed RSS of the process tree,
# sampled every 50 ms, same sampler for every tool) is the figure to compare, and the one written
# to BENCH_OUT. CPU time (user + sys of the tree) is shown too: on a loaded machine it moves less
# than wall time.
#
# Usage:  bench/suzieq.sh [SCALE]            (SCALE: S, M, L (default) or XL)
# Env:    WORK    (${TMPDIR:-/tmp}/zoneaudit-bench/suzieq; never inside the checkout)
#         SQVENV  (${TMPDIR:-/tmp}/sqvenv; created with pip when missing)
#         PYTHON  (python3; Suzieq 0.25.0 needs Python 3.10 or 3.11)
#         SUZIEQ_VERSION (0.25.0)  LEAF (leaf1)  RUNS (3)
#         EST     (an existing `zoneaudit simulate` output to read the leaf from; default: simulate
#                  into $WORK/est-SCALE, keeping only its eos tables)
#         KEEP=1  keep the per-round stores (parquet, SQLite) and Suzieq's input file
#         BENCH_OUT  append one TSV line per tool: tool, routes, median wall s, peak MB, ratio
#                    (ratio = median wall / zoneaudit's median wall)
# Output: the table on stdout; raw runs appended to $WORK/results.tsv.
set -euo pipefail
SCALE=${1:-L}
RUNS=${RUNS:-3}
LEAF=${LEAF:-leaf1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/zoneaudit-bench/suzieq}
SQVENV=${SQVENV:-${TMPDIR:-/tmp}/sqvenv}
PYTHON=${PYTHON:-python3}
SUZIEQ_VERSION=${SUZIEQ_VERSION:-0.25.0}
BIN=$ROOT/target/release/zoneaudit
HELPER=$ROOT/bench/suzieq-input.py
TIME=/usr/bin/time
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

if [ ! -x "$TIME" ]; then
  echo "GNU time missing: apt-get install time" >&2
  exit 1
fi
command -v sqlite3 > /dev/null || { echo "sqlite3 missing: apt-get install sqlite3" >&2; exit 1; }

echo "== build: cargo build --release --locked" >&2
(cd "$ROOT" && cargo build --release --locked >&2)

# --- Suzieq: a venv of its own, pinned ----------------------------------------------------------
if [ ! -x "$SQVENV/bin/sq-poller" ]; then
  if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 12))'; then
    echo "Suzieq $SUZIEQ_VERSION needs Python 3.10 or 3.11; $PYTHON is $("$PYTHON" -V 2>&1) (set PYTHON=python3.11)" >&2
    exit 1
  fi
  echo "== create $SQVENV: pip install suzieq==$SUZIEQ_VERSION" >&2
  "$PYTHON" -m venv "$SQVENV"
  "$SQVENV/bin/pip" install --quiet "suzieq==$SUZIEQ_VERSION" >&2
fi
HAVE=$("$SQVENV/bin/python" -c 'import importlib.metadata as m; print(m.version("suzieq"))')
if [ "$HAVE" != "$SUZIEQ_VERSION" ]; then
  echo "$SQVENV has suzieq $HAVE, not $SUZIEQ_VERSION (remove it or set SUZIEQ_VERSION)" >&2
  exit 1
fi
# sq-poller starts its worker as `sq_worker.py` through `#!/usr/bin/env python3`: without the venv
# first on PATH the worker dies on a missing module while sq-poller still exits 0.
export PATH=$SQVENV/bin:$PATH
PY=$SQVENV/bin/python3

# --- the estate: only a border leaf's route table is compared -----------------------------------
if [ -n "${EST:-}" ]; then
  EST=$(cd "$EST" && pwd)
else
  EST=$WORK/est-$SCALE
  LEAF_JSON=$EST/inputs/eos/$LEAF-routes.json
  # Regenerated when the binary changed: the simulator may have changed with it.
  if [ ! -s "$LEAF_JSON" ] || [ "$BIN" -nt "$LEAF_JSON" ]; then
    echo "== zoneaudit simulate --scale $SCALE --out $EST" >&2
    rm -rf "$EST"
    "$BIN" simulate --scale "$SCALE" --out "$EST" >&2
    # The firewall logs (about a GB at L) and the other sources play no part here.
    find "$EST/inputs" -mindepth 1 -maxdepth 1 ! -name eos -exec rm -rf {} +
  fi
fi
LEAF_JSON=$EST/inputs/eos/$LEAF-routes.json
[ -s "$LEAF_JSON" ] || { echo "$LEAF_JSON: missing (LEAF=$LEAF, EST=$EST)" >&2; exit 1; }

SQIN=$WORK/sq-input
ROUTES=$("$PY" "$HELPER" routes-output "$LEAF_JSON" "$SQIN" --hostname "$LEAF")
cat > "$WORK/sq.yml" <<EOF
data-directory: $WORK/sq-parquet
temp-directory: $WORK/sq-tmp
logging-level: WARNING
poller:
  logfile: $WORK/sq-poller.log
  logging-level: WARNING
analyzer:
  timezone: GMT
EOF
ZDB=$WORK/zoneaudit.db
ZCONF=$WORK/zoneaudit.yaml
"$PY" "$HELPER" zoneaudit-config "$EST/zoneaudit.yaml" "$LEAF_JSON" "$ZDB" "$ZCONF" --name "$LEAF"

echo "== warm the page cache (caches cannot be dropped here)" >&2
cat "$LEAF_JSON" "$SQIN/routes.output" "$BIN" > /dev/null

# run TOOL ROUND LOG CMD...: one timed run, appending "tool round wall_s peak_kib tree_kib user_s
# sys_s tree_cpu_s" to $RUNS_TSV. Wall, peak and CPU come from GNU time (wall to 10 ms), which ends
# with the process; the sampler may outlive a short one by its own start-up.
run() {
  local tool=$1 round=$2 log=$3; shift 3
  local pid tree tree_cpu wall peak user sys rc=0
  "$TIME" -f '%e %M %U %S' -o "$WORK/time.$$" "$@" > "$log" 2>&1 &
  pid=$!
  read -r tree tree_cpu < <("$PY" "$HELPER" tree-peak "$pid")
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "$tool failed (exit $rc); see $log" >&2
    tail -5 "$log" >&2
    exit 1
  fi
  read -r wall peak user sys < <(tail -1 "$WORK/time.$$")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$round" "$wall" "$peak" "$tree" "$user" "$sys" \
    "$tree_cpu" \
    >> "$RUNS_TSV"
}

# Suzieq exits 0 even when its worker crashed: the stored rows are the check.
suzieq_round() {
  rm -rf "$WORK/sq-parquet" "$WORK/sq-tmp"
  run suzieq "$1" "$WORK/sq-poll.log" sq-poller -i "$SQIN" -c "$WORK/sq.yml" --run-once update -s routes
  read -r SQ_ROWS SQ_HOSTS < <("$PY" "$HELPER" parquet-rows "$WORK/sq-parquet")
  if [ "$SQ_ROWS" != "$ROUTES" ] || [ "$SQ_HOSTS" != "$LEAF" ]; then
    echo "suzieq stored $SQ_ROWS routes of hosts $SQ_HOSTS, expected $ROUTES of $LEAF; see $WORK/sq-poll.log" >&2
    COUNTS_OK=0
  fi
}

# A fresh database per round: a second run on the same database stores only what changed.
zoneaudit_round() {
  rm -f "$ZDB" "$ZDB-wal" "$ZDB-shm" "$ZDB.lock"
  run zoneaudit "$1" "$WORK/zoneaudit.out" "$BIN" --config "$ZCONF" collect
  ZA_CLI=$(sed -n "s/^ *source $LEAF .* \([0-9][0-9]*\) routes.*/\1/p" "$WORK/zoneaudit.out")
  ZA_STORED=$(stored_routes)
  if [ "$ZA_STORED" != "$ROUTES" ] || [ "$ZA_CLI" != "$ROUTES" ]; then
    echo "zoneaudit stored $ZA_STORED routes (collect printed ${ZA_CLI:-none}), expected $ROUTES; see $WORK/zoneaudit.out" >&2
    COUNTS_OK=0
  fi
}

# The leaf's route facts in the store. Facts are kept per run (`facts`) or over a span of runs
# (`fact_rows`) depending on the schema version; the database holds exactly one run.
stored_routes() {
  if [ -n "$(sqlite3 "$ZDB" "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'fact_rows'")" ]; then
    sqlite3 "$ZDB" "SELECT count(*) FROM fact_rows WHERE kind = 'route' AND source = '$LEAF'"
  else
    sqlite3 "$ZDB" "SELECT count(*) FROM facts f JOIN source_runs s ON s.id = f.source_run_id
                    WHERE f.kind = 'route' AND s.name = '$LEAF'"
  fi
}

floor_round() {
  run json.load "$1" "$WORK/floor.out" "$PY" -c 'import json, sys; json.load(open(sys.argv[1], "rb"))' "$LEAF_JSON"
}

RUNS_TSV=$WORK/runs.$$
: > "$RUNS_TSV"
COUNTS_OK=1
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$RUNS"); do
  echo "== round $i/$RUNS" >&2
  suzieq_round "$i"
  zoneaudit_round "$i"
  floor_round "$i"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

STAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[ -s "$WORK/results.tsv" ] || printf 'when\tscale\tleaf\troutes\ttool\tround\twall_s\tpeak_kib\ttree_kib\tuser_s\tsys_s\ttree_cpu_s\n' > "$WORK/results.tsv"
sed "s/^/$STAMP\t$SCALE\t$LEAF\t$ROUTES\t/" "$RUNS_TSV" >> "$WORK/results.tsv"

echo "scale $SCALE, $LEAF: $LEAF_JSON ($(stat -c %s "$LEAF_JSON") bytes, sha256 $(sha256sum "$LEAF_JSON" | cut -c1-16)…);" \
  "Suzieq input $(stat -c %s "$SQIN/routes.output") bytes (indent 4, as gather writes it)"
"$PY" "$HELPER" summary "$RUNS_TSV" "$ROUTES"
echo
echo "counts: input $ROUTES routes; suzieq parquet rows $SQ_ROWS ($SQ_HOSTS); zoneaudit stored route facts $ZA_STORED (collect printed $ZA_CLI)"
echo "suzieq $HAVE on $("$PY" -V 2>&1); zoneaudit $("$BIN" --version | cut -d' ' -f2-); $(nproc) cores;" \
  "load average before $LOAD_BEFORE, after $LOAD_AFTER"
rm -f "$RUNS_TSV" "$WORK/time.$$"
if [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$WORK/sq-parquet" "$WORK/sq-tmp" "$SQIN" "$ZDB" "$ZDB-wal" "$ZDB-shm" "$ZDB.lock"
fi
if [ "$COUNTS_OK" != 1 ]; then
  echo "counts disagree" >&2
  exit 1
fi
