#!/usr/bin/env bash
# Whole-process ingest benchmark for PAN-OS TRAFFIC logs (issue 4, point 6).
#
# Times, side by side in one run and on the same generated file:
#   wc -l                      the I/O floor (read every byte, count newlines)
#   awk -F, per zone pair      the shell one-liner a reviewer would write instead
#   zoneaudit parse --kind panos FILE -o json
# each RUNS times, interleaved (wc, awk, zoneaudit, wc, ...) so background load hits all three
# alike; the table shows medians. Peak RSS comes from GNU time. The page cache cannot be dropped
# here (no root on /proc/sys/vm), so the file is read once with `cat > /dev/null` first: every
# figure is a warm-cache figure.
#
# A/B: BEFORE=path/to/an/older/zoneaudit adds it as a fourth tool ("before"), interleaved with the
# others in every round, so a change is measured against the same load as its baseline.
#
# Usage:  bench/ingest.sh                 (SIZE=1G)
#         SIZE=64M bench/ingest.sh        (quick run)
#         BEFORE=$HOME/zoneaudit-old BIN=target/release/zoneaudit bench/ingest.sh
# Env:    SIZE (1G)  RUNS (3)  WORK (${TMPDIR:-/tmp}/zoneaudit-bench; never inside the checkout)
#         BIN (the checkout's release build, built first; when set, used as is)  BEFORE (none)
# Output: the table on stdout; every raw run appended to $WORK/results.tsv.
set -euo pipefail
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/zoneaudit-bench}
FILE=$WORK/panos-$SIZE.log
BEFORE=${BEFORE:-}
TIME=/usr/bin/time
mkdir -p "$WORK"

if [ ! -x "$TIME" ]; then
  echo "GNU time missing: apt-get install time" >&2
  exit 1
fi

if [ -z "${BIN:-}" ]; then
  BIN=$ROOT/target/release/zoneaudit
  echo "== build: cargo build --release --locked" >&2
  (cd "$ROOT" && cargo build --release --locked >&2)
fi
for b in "$BIN" ${BEFORE:+"$BEFORE"}; do
  [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 1; }
done

# The file is cached per SIZE; regenerated when the generator changed after it was written.
if [ ! -s "$FILE" ] || [ "$ROOT/bench/gen-panos.py" -nt "$FILE" ]; then
  echo "== generate $FILE" >&2
  python3 "$ROOT/bench/gen-panos.py" --size "$SIZE" "$FILE"
fi
BYTES=$(stat -c %s "$FILE")

echo "== warm the page cache: cat FILE > /dev/null (caches cannot be dropped here)" >&2
cat "$FILE" > /dev/null
cat "$FILE" > /dev/null

AWK_PROG='{c[$17">"$18]++} END{for (k in c) print c[k], k}'
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# run TOOL OUT I CMD...: one timed run; appends "tool run wall_us peak_kb user_s sys_s exit" to
# $WORK/runs.$$. Wall time is taken here in ns (GNU time rounds to 10 ms); CPU time and peak RSS
# come from GNU time.
run() {
  local tool=$1 out=$2 i=$3; shift 3
  local t0 t1 rc=0
  t0=$(date +%s%N)
  "$TIME" -f '%M %U %S' -o "$WORK/time.$$" "$@" > "$out" || rc=$?
  t1=$(date +%s%N)
  # zoneaudit parse exits 2 when lines were rejected: that is an answer, not a failure.
  case "$tool:$rc" in
    *:0 | zoneaudit:2 | before:2) ;;
    *) echo "$tool failed (exit $rc)" >&2; exit 1 ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$i" "$(( (t1 - t0) / 1000 ))" "$(tail -1 "$WORK/time.$$" | tr ' ' '\t')" "$rc" \
    >> "$WORK/runs.$$"
}

: > "$WORK/runs.$$"
for i in $(seq 1 "$RUNS"); do
  echo "== round $i/$RUNS" >&2
  run "wc -l" "$WORK/wc.out" "$i" wc -l "$FILE"
  run "awk" "$WORK/awk.out" "$i" awk -F, "$AWK_PROG" "$FILE"
  run "zoneaudit" "$WORK/zoneaudit.json" "$i" "$BIN" parse --kind panos "$FILE" -o json
  if [ -n "$BEFORE" ]; then
    run "before" "$WORK/before.json" "$i" "$BEFORE" parse --kind panos "$FILE" -o json
  fi
done
if [ -n "$BEFORE" ] && ! cmp -s "$WORK/before.json" "$WORK/zoneaudit.json"; then
  echo "WARNING: before and zoneaudit disagree (diff $WORK/before.json $WORK/zoneaudit.json)" >&2
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
LINES=$(cut -d' ' -f1 "$WORK/wc.out")

STAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[ -s "$WORK/results.tsv" ] || printf 'when\tsize\tbytes\tlines\ttool\trun\twall_us\tpeak_kb\tuser_s\tsys_s\texit\n' > "$WORK/results.tsv"
sed "s/^/$STAMP\t$SIZE\t$BYTES\t$LINES\t/" "$WORK/runs.$$" >> "$WORK/results.tsv"

python3 - "$WORK/runs.$$" "$BYTES" "$LINES" "$WORK/awk.out" "$WORK/zoneaudit.json" <<'PY'
import json, statistics, sys
runs_file, size, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
for row in open(runs_file):
    tool, _, wall_us, peak_kb, user, system, _ = row.rstrip("\n").split("\t")
    runs.setdefault(tool, []).append((int(wall_us) / 1e6, int(peak_kb), float(user) + float(system)))
MB = 1 << 20
med = {t: statistics.median(w for w, _, _ in r) for t, r in runs.items()}
cpu = {t: statistics.median(c for _, _, c in r) for t, r in runs.items()}
peak = {t: max(k for _, k, _ in r) / 1024 for t, r in runs.items()}
floor = med["wc -l"]
print(f"file: {size / MB:,.0f} MB, {lines:,} lines ({size / lines:.0f} B/line); "
      f"MB = 2^20 bytes; wall = median of {len(runs['wc -l'])} runs, warm page cache")
print()
print(f"| {'tool':<10} | {'wall s (median)':>15} | {'runs s':<22} | {'lines/s':>12} | {'MB/s':>7} | "
      f"{'peak RSS MB':>11} | {'x wc -l':>7} | {'cpu s (median)':>14} |")
print(f"|{'-' * 12}|{'-' * 16}:|{'-' * 24}|{'-' * 13}:|{'-' * 8}:|{'-' * 12}:|{'-' * 8}:|{'-' * 15}:|")
for tool in [t for t in ("wc -l", "awk", "before", "zoneaudit") if t in runs]:
    w = med[tool]
    each = ", ".join(f"{x:.2f}" for x, _, _ in runs[tool])
    print(f"| {tool:<10} | {w:>15.2f} | {each:<22} | {lines / w:>12,.0f} | {size / MB / w:>7.0f} | "
          f"{peak[tool]:>11.0f} | {w / floor:>7.2f} | {cpu[tool]:>14.2f} |")
za = med["zoneaudit"]
speedup = med["awk"] / za
print()
print(f"zoneaudit speed-up over awk: {speedup:.2f}x")
if "before" in med:
    print(f"zoneaudit speed-up over before: {med['before'] / za:.2f}x wall, "
          f"cpu {cpu['zoneaudit']:.2f} s vs {cpu['before']:.2f} s")
print()

def target(name, ok, got, gap):
    print(f"- {name}: {'met' if ok else 'MISSED'} ({got}{'' if ok else '; ' + gap})")

lps = lines / za
target(">= 1,000,000 lines/s", lps >= 1e6, f"{lps:,.0f} lines/s",
       f"{1e6 / lps:.2f}x too slow, {(1e6 - lps):,.0f} lines/s short")
ratio = za / floor
target("<= 4x wc -l", ratio <= 4, f"{ratio:.2f}x", f"{ratio / 4:.2f}x over the bound")
target(">= 3x faster than awk", speedup >= 3, f"{speedup:.2f}x", f"needs {3 / speedup:.2f}x more speed")
p = peak["zoneaudit"]
target("< 100 MB peak", p < 100, f"{p:.0f} MB", f"{p / 100:.1f}x the bound")

# Cross-check: both tools saw the same zone pairs (awk miscounts the lines whose quoted or braced
# fields hold commas, so its pairs are expected to differ by about that share).
try:
    docs = json.load(open(sys.argv[5]))
    flows = docs[0]["facts"].get("flows", [])
    pairs = {}
    for f in flows:
        k = f"{f['from_fw_zone']}>{f['to_fw_zone']}"
        pairs[k] = pairs.get(k, 0) + f["count"]
    rejected = sum(docs[0]["rejects"].get("counts", {}).values())
    awk = {}
    for row in open(sys.argv[4]):
        n, k = row.rstrip("\n").split(" ", 1)
        awk[k] = int(n)
    same = sum(min(awk.get(k, 0), v) for k, v in pairs.items())
    print()
    print(f"check: zoneaudit {sum(pairs.values()):,} events in {len(flows)} flows, {rejected} rejected; "
          f"{len(pairs)} zone pairs; awk agrees on {same:,} lines "
          f"({100 * same / lines:.2f}%), the rest are lines whose quoted/braced fields hold commas")
except (OSError, ValueError, KeyError, IndexError) as e:
    print(f"check skipped: {e}")
PY
echo
echo "awk: $(readlink -f "$(command -v awk)") ($(awk -W version 2>&1 | head -1)); $(nproc) cores; load average before $LOAD_BEFORE, after $LOAD_AFTER"
rm -f "$WORK/runs.$$" "$WORK/time.$$"
