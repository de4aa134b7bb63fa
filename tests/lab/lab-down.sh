#!/usr/bin/env bash
# lab-down.sh -- tear the BGP lab down. Idempotent: safe when nothing (or half a lab) is up.
#
# 1. stop each daemon by the pid in its pid file under $ZAT_LAB_DIR (only if /proc/PID/comm says it
#    is a lab daemon, so a recycled pid is never hit): SIGTERM, SIGKILL after 0.5 s (BIRD's
#    graceful BGP shutdown takes 1.5 s, and a lab has nothing worth a graceful exit);
# 2. stop lab daemons still running inside a zat-* namespace (a lab whose state directory is gone,
#    e.g. after a test process was killed);
# 3. delete every zat-* network namespace (links and the bridge go with them);
# 4. remove the lab's files from $ZAT_LAB_DIR (and the directory when that leaves it empty).
# Exit 0 only when no zat-* namespace and no lab daemon is left.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lab-common.sh"
T0=$(now_ms)

is_lab_daemon() { case $(cat "/proc/$1/comm" 2>/dev/null) in bird | zebra | bgpd | staticd | mgmtd) return 0 ;; esac; return 1; }
# A killed daemon may linger as a zombie until whatever reaps orphans gets to it: that is gone.
running() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }

pids=()
for f in "$LAB"/*/*.pid; do
  [ -f "$f" ] || continue
  pid=$(tr -dc 0-9 < "$f")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
  if is_lab_daemon "$pid"; then pids+=("$pid")
  else echo "lab-down: $f names pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)), not a lab daemon: left alone" >&2
  fi
done
lab_ns() { ip netns list 2>/dev/null | awk '$1 ~ /^zat-/ {print $1}'; }
for n in $(lab_ns); do
  for pid in $(ip netns pids "$n" 2>/dev/null); do
    if is_lab_daemon "$pid"; then pids+=("$pid")
    else echo "lab-down: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) runs in $n: left alone" >&2
    fi
  done
done

mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un | grep .)   # a daemon is in a pid file and a namespace
stop_all() {  # $1 = signal
  local p
  for p in "${pids[@]}"; do [ -d "/proc/$p" ] && kill "-$1" "$p" 2>/dev/null; done
  return 0
}
alive() { local p; for p in "${pids[@]}"; do running "$p" && is_lab_daemon "$p" && return 0; done; return 1; }
if [ ${#pids[@]} -gt 0 ]; then
  stop_all TERM
  for _ in $(seq 5); do alive || break; sleep 0.1; done
  alive && stop_all KILL
  for _ in $(seq 20); do alive || break; sleep 0.1; done
fi

for n in $(lab_ns); do ip netns del "$n" || echo "lab-down: cannot delete namespace $n" >&2; done

if [ -d "$LAB" ]; then
  for n in $BIRD_NS leaf; do rm -rf "${LAB:?}/$n"; done
  rm -rf "$LAB/leaf-impl" "$LAB/namespaces" "$LAB/last-wait" "$LAB/faults"
  rmdir "$LAB" 2>/dev/null || true
fi

left_ns=$(lab_ns | wc -l)
left_daemons=0; alive && left_daemons=1
echo "lab-down: stopped ${#pids[@]} daemon(s) in $(($(now_ms) - T0)) ms; namespaces left: $left_ns"
[ "$left_ns" = 0 ] && [ "$left_daemons" = 0 ]
