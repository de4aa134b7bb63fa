#!/usr/bin/env bash
# Issue 8: large estates, every benchmark in one run, printed as one table with its named baseline
# and target. Everything it writes goes under WORK, never into the checkout.
#
#   vrf       criterion (benches/vrf.rs): Arista VRF route tables parse + attribute + store against
#             serde_json parse-only of the same documents (floor); target <= 2x the floor
#   L / XL    `zoneaudit simulate --scale L|XL` then a full nightly `run` from files, fresh database
#             each round; targets L <= 30 s and <= 512 MB peak RSS, XL <= 150 s and <= 1 GB; the run
#             must find exactly the anomalies in expected.json (the script fails otherwise)
#   nights    30 nights of L at 0.1 % churn, generated, run and deleted night by night
#             (`simulate --nights 30 --night K`); target: database after night 30 <= 1.5x after night 1
#   report    `report --since 30d` over those 30 nights (html, json); target <= 2 s
#   suzieq    bench/suzieq.sh: Suzieq 0.25 replaying the same leaf route table (the peer a network
#             team would pick), against zoneaudit collecting it; the ratio is recorded
#
# Usage: bench/large.sh
# Env:   WORK (${TMPDIR:-/tmp}/zoneaudit-bench-large), ROUNDS (3), NIGHTS (30),
#        SKIP="xl suzieq ..." to leave parts out (vrf L xl nights report suzieq)
# Needs: GNU time, sqlite3, jq; python3 with venv for Suzieq. About 30 minutes with everything.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/zoneaudit-bench-large}
ROUNDS=${ROUNDS:-3}
NIGHTS=${NIGHTS:-30}
SKIP=" ${SKIP:-} "
BIN=$ROOT/target/release/zoneaudit
TIME=/usr/bin/time
for tool in "$TIME" sqlite3 jq; do
  command -v "$tool" > /dev/null || { echo "$tool missing: apt-get install time sqlite3 jq" >&2; exit 1; }
done
skipped() { [[ $SKIP == *" $1 "* ]]; }

mkdir -p "$WORK"
TABLE=$WORK/table.tsv
: > "$TABLE"
# One table row: measurement, value, baseline (named), ratio or target check, verdict.
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$TABLE"; }
median() { sort -g | awk '{v[NR]=$1} END{ if (NR) print v[int((NR+1)/2)] }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN{ print (v <= t) ? "met" : "MISSED" }'; }

echo "== build: cargo build --release --locked" >&2
(cd "$ROOT" && cargo build --release --locked >&2)

# `run` on CONFIG with database DB; appends "wall_s peak_mb" to OUT. Exit 1 (findings) is expected.
timed_run() {
  local config=$1 db=$2 out=$3 t0 t1 rc=0
  t0=$(date +%s%N)
  "$TIME" -f '%M' -o "$WORK/time" "$BIN" --config "$config" --db "$db" run > "$WORK/run.log" 2>&1 || rc=$?
  t1=$(date +%s%N)
  if (( rc != 0 && rc != 1 )); then echo "run failed (exit $rc):" >&2; tail -20 "$WORK/run.log" >&2; exit 1; fi
  echo "$(( (t1 - t0) / 1000000 )) $(tail -1 "$WORK/time")" | awk '{printf "%.2f %.0f\n", $1/1000, $2/1024}' >> "$out"
}

# The findings of the latest run in DB equal expected.json (rule and subject), nothing else.
check_exact() {
  local db=$1 expected=$2 id found want
  id=$("$BIN" --db "$db" runs list -o json | jq 'map(.id) | max')
  found=$("$BIN" --db "$db" runs show "$id" -o json | jq -c '[.findings[] | [.rule_id, .subject]] | sort')
  want=$(jq -c '[.[] | [.ruleId, .subject]] | sort' "$expected")
  if [[ $found != "$want" ]]; then
    echo "run $id of $db: findings differ from $expected" >&2
    echo "found:    $found" >&2; echo "expected: $want" >&2; exit 1
  fi
  jq length "$expected"
}

scale_run() {
  local scale=$1 max_s=$2 max_mb=$3 dir=$WORK/$1 found
  rm -rf "$dir"
  echo "== simulate --scale $scale" >&2
  "$BIN" simulate --scale "$scale" --out "$dir" >&2
  : > "$WORK/$scale.runs"
  for i in $(seq "$ROUNDS"); do
    echo "== run $scale, round $i" >&2
    rm -f "$dir"/round.db*
    timed_run "$dir/zoneaudit.yaml" "$dir/round.db" "$WORK/$scale.runs"
    found=$(check_exact "$dir/round.db" "$dir/expected.json")
  done
  local wall mb
  wall=$(cut -d' ' -f1 "$WORK/$scale.runs" | median)
  mb=$(cut -d' ' -f2 "$WORK/$scale.runs" | median)
  row "run $scale: wall s (median of $ROUNDS)" "$wall" "target" "<= $max_s s" "$(verdict "$wall" "$max_s")"
  row "run $scale: peak RSS MB" "$mb" "target" "<= $max_mb MB" "$(verdict "$mb" "$max_mb")"
  row "run $scale: findings" "$found of $found expected" "expected.json" "nothing else" "met"
  # The firewall log is most of the bytes; the leaf tables are kept for bench/suzieq.sh.
  rm -rf "$dir/inputs/panos"
}

if ! skipped vrf; then
  echo "== cargo bench --bench vrf" >&2
  : > "$WORK/vrf.tsv"
  (cd "$ROOT" && BENCH_OUT=$WORK/vrf.tsv cargo bench --locked --bench vrf >&2)
  # name, routes, median_s, ratio_to_floor (benches/vrf.rs)
  while IFS=$'\t' read -r name routes secs ratio; do
    target="-"; v="-"
    case $name in *store*) target="<= 2x floor"; v=$(verdict "$ratio" 2) ;; esac
    row "vrf $name ($routes routes): s" "$secs" "serde_json Value parse" "${ratio}x $target" "$v"
  done < "$WORK/vrf.tsv"
fi

skipped L || scale_run L 30 512

if ! skipped suzieq; then
  echo "== bench/suzieq.sh" >&2
  : > "$WORK/suzieq.tsv"
  est=()
  [[ -d $WORK/L/inputs/eos ]] && est=(EST="$WORK/L")
  env "${est[@]}" BENCH_OUT="$WORK/suzieq.tsv" WORK="$WORK/suzieq" "$ROOT/bench/suzieq.sh" L >&2
  # tool, routes, median wall s, peak MB, ratio to zoneaudit (bench/suzieq.sh)
  while IFS=$'\t' read -r tool routes secs mb ratio; do
    row "$tool, one leaf's table ($routes routes): wall s / peak MB" "$secs / $mb" \
      "zoneaudit collect" "${ratio}x zoneaudit's wall" "-"
  done < "$WORK/suzieq.tsv"
fi
rm -rf "$WORK/L"

skipped xl || scale_run XL 150 1024
rm -rf "$WORK/XL"

if ! skipped nights; then
  dir=$WORK/nights
  rm -rf "$dir"
  : > "$WORK/nights.runs"
  for k in $(seq "$NIGHTS"); do
    echo "== night $k of $NIGHTS (L, churn 0.1 %)" >&2
    "$BIN" simulate --scale L --out "$dir" --nights "$NIGHTS" --night "$k" --churn 0.001 >&2
    timed_run "$dir/nights/$k/zoneaudit.yaml" "$dir/zoneaudit.db" "$WORK/nights.runs"
    check_exact "$dir/zoneaudit.db" "$dir/expected.json" > /dev/null
    rm -rf "$dir/nights/$k/inputs"
    # The run closed the database, which checkpoints the WAL into the main file.
    size=$(stat -c %s "$dir/zoneaudit.db")
    [[ $k == 1 ]] && first=$size
    echo "night $k: database $size bytes" >&2
  done
  ratio=$(awk -v a="$size" -v b="$first" 'BEGIN{printf "%.2f", a/b}')
  row "database after night 1: MB" "$(awk -v b="$first" 'BEGIN{printf "%.1f", b/1048576}')" "-" "-" "-"
  row "database after night $NIGHTS: MB" "$(awk -v b="$size" 'BEGIN{printf "%.1f", b/1048576}')" \
    "after night 1" "${ratio}x, target <= 1.5x" "$(verdict "$ratio" 1.5)"
  row "nightly run, L with history: wall s (median)" "$(cut -d' ' -f1 "$WORK/nights.runs" | median)" "-" "-" "-"
  row "nightly run, L with history: peak MB (max)" "$(cut -d' ' -f2 "$WORK/nights.runs" | sort -g | tail -1)" \
    "target" "<= 512 MB" "$(verdict "$(cut -d' ' -f2 "$WORK/nights.runs" | sort -g | tail -1)" 512)"
fi

if ! skipped report && [[ -f $WORK/nights/zoneaudit.db ]]; then
  dir=$WORK/nights
  for f in html json; do
    : > "$WORK/report-$f.runs"
    for i in $(seq "$ROUNDS"); do
      t0=$(date +%s%N)
      "$BIN" --config "$dir/zoneaudit.yaml" --db "$dir/zoneaudit.db" report --since 30d --format "$f" \
        -o "$WORK/period.$f" > /dev/null
      t1=$(date +%s%N)
      echo "$(( (t1 - t0) / 1000000 ))" | awk '{printf "%.3f\n", $1/1000}' >> "$WORK/report-$f.runs"
    done
    s=$(median < "$WORK/report-$f.runs")
    row "report --since 30d --format $f over $NIGHTS L nights: s" "$s" "target" "<= 2 s" "$(verdict "$s" 2)"
  done
fi

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg); $("$BIN" --version)"
{
  printf 'measurement\tvalue\tbaseline\tratio / target\tverdict\n'
  cat "$TABLE"
} | column -t -s $'\t'
