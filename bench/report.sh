#!/usr/bin/env bash
# Period report benchmark (issue 5, point 8): `zoneaudit report --since 30d` over 30 nightly runs of
# the demo estate, in every format, target < 1 s each on the 2-core reference machine.
#
# Baselines, timed in the same run on the same database:
#   sqlite3 floor   reading every stored run report envelope once (`SELECT envelope FROM reports`)
#                   with the sqlite3 shell: the I/O floor of anything that reads the evidence back
#   runs list       `zoneaudit runs list`: process start, config and database open, no verification
# Every report run verifies all 30 signatures and the chain before it renders.
#
# Usage:  bench/report.sh            Env: RUNS (5), NIGHTS (30), WORK (${TMPDIR:-/tmp}/zoneaudit-bench-report)
# Output: one table on stdout (median wall time and peak RSS per command).
set -euo pipefail
RUNS=${RUNS:-5}
NIGHTS=${NIGHTS:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/zoneaudit-bench-report}
BIN=$ROOT/target/release/zoneaudit
TIME=/usr/bin/time
for tool in "$TIME" sqlite3; do
  command -v "$tool" > /dev/null || { echo "$tool missing: apt-get install time sqlite3" >&2; exit 1; }
done

echo "== build: cargo build --release --locked" >&2
(cd "$ROOT" && cargo build --release --locked >&2)

rm -rf "$WORK"
mkdir -p "$WORK"
DEMO=$WORK/demo
echo "== demo --nights $NIGHTS" >&2
t0=$(date +%s%N)
"$BIN" demo --nights "$NIGHTS" --dir "$DEMO" > "$WORK/demo.log"
t1=$(date +%s%N)
DEMO_S=$(awk -v ns=$((t1 - t0)) 'BEGIN{printf "%.2f", ns/1e9}')
RUN_COUNT=$(sqlite3 "$DEMO/zoneaudit.db" 'SELECT count(*) FROM reports')
DB_KB=$(( $(stat -c %s "$DEMO/zoneaudit.db") / 1024 ))
ZA=("$BIN" --config "$DEMO/zoneaudit.yaml" --db "$DEMO/zoneaudit.db")

declare -A CMDS=(
  [sqlite3-floor]="sqlite3 $DEMO/zoneaudit.db 'SELECT envelope FROM reports'"
  [runs-list]="${ZA[*]} runs list"
)
ORDER=(sqlite3-floor runs-list)
for f in html md json csv oscal policyreport; do
  CMDS[report-$f]="${ZA[*]} report --since 30d --format $f -o $WORK/period.$f"
  ORDER+=("report-$f")
done

: > "$WORK/runs.tsv"
for i in $(seq "$RUNS"); do
  for name in "${ORDER[@]}"; do
    t0=$(date +%s%N)
    # report exits 1 only when a run report does not verify: that would be a failed benchmark.
    "$TIME" -f '%M' -o "$WORK/time" bash -c "${CMDS[$name]}" > /dev/null
    t1=$(date +%s%N)
    echo -e "$name\t$i\t$(( (t1 - t0) / 1000 ))\t$(tail -1 "$WORK/time")" >> "$WORK/runs.tsv"
  done
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "estate: demo, $NIGHTS nights in ${DEMO_S} s; $RUN_COUNT signed run reports; database ${DB_KB} KB"
printf '%-22s %12s %12s %10s\n' command "median ms" "max ms" "peak MB"
for name in "${ORDER[@]}"; do
  awk -F'\t' -v n="$name" '$1==n {print $3/1000, $4}' "$WORK/runs.tsv" | sort -n | awk -v n="$name" '
    { ms[NR]=$1; kb[NR]=$2; if ($2>peak) peak=$2 }
    END { printf "%-22s %12.1f %12.1f %10.1f\n", n, ms[int((NR+1)/2)], ms[NR], peak/1024 }'
done
echo "target: every report-* median < 1000 ms"
