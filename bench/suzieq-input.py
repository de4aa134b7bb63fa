#!/usr/bin/env python3
"""Helpers for bench/suzieq.sh: the same Arista route table for Suzieq and for zoneaudit.

Subcommands (all run on the Suzieq venv's python3, which has PyYAML and pyarrow):

  routes-output LEAF_JSON OUTDIR --hostname H [--namespace NS] [--indent N]
      LEAF_JSON is an eAPI JSON-RPC response ({"result": [out0, ...]}) or a bare command output.
      Writes OUTDIR/routes.output, a recorded `show ip route vrf all` as Suzieq's
      `sq-poller --run-once gather` writes it: a JSON list with one record whose `data` is the
      command output ({"vrfs": ...}) unchanged. Prints the number of routes in it.
  zoneaudit-config SIM_YAML LEAF_JSON DB OUT_YAML --name H
      Writes a zoneaudit config holding the simulated estate's zone model and one eos replay
      source (just the route table), so `zoneaudit collect` reads what Suzieq reads.
  parquet-rows DIR
      Prints "ROWS HOSTS" for Suzieq's routes table under DIR (HOSTS: distinct hostnames, comma
      separated), as the stored-row check.
  tree-peak PID
      Samples PID and its descendants every 50 ms until PID exits; prints "PEAK_KIB CPU_S": the
      peak of their summed RSS, and the CPU time each was last seen with, summed (short by at
      most one interval per process). sq-poller is a controller plus a worker process, and the
      controller does not always reap the worker, so GNU time may miss the worker altogether.
  summary RUNS_TSV ROUTES
      Medians per tool from the raw runs; prints the table, and writes one TSV line per tool to
      $BENCH_OUT when set.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

SUZIEQ_CMD = "show ip route vrf all"
# The simulated leaves answer as EOS 4.x; Suzieq's EOS route normalisation does not depend on it.
EOS_VERSION = "4.28.3M"


def route_table(leaf_json):
    """The `show ip route vrf all` output of an eAPI response: the output whose VRFs hold routes."""
    doc = json.loads(Path(leaf_json).read_bytes())
    outputs = doc["result"] if "result" in doc else [doc]
    for out in outputs:
        vrfs = out.get("vrfs", {})
        if any("routes" in v for v in vrfs.values()):
            return out
    sys.exit(f"{leaf_json}: no `show ip route vrf all` output in it")


def count_routes(table):
    return sum(len(v.get("routes", {})) for v in table["vrfs"].values())


def routes_output(args):
    table = route_table(args.leaf_json)
    stamp = int(os.stat(args.leaf_json).st_mtime * 1000)
    record = {
        "status": 200,
        "timestamp": stamp,
        "cmd": SUZIEQ_CMD,
        "devtype": "eos",
        "namespace": args.namespace,
        "hostname": args.hostname,
        "address": args.hostname,
        "version": EOS_VERSION,
        "data": table,
        "cmd_timestamp": stamp,
    }
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    # Suzieq's gather mode writes indent=4; its reader drops every newline before json.loads.
    indent = args.indent if args.indent > 0 else None
    (out / "routes.output").write_text(json.dumps([record], indent=indent))
    print(count_routes(table))


def zoneaudit_config(args):
    import yaml

    sim = yaml.safe_load(Path(args.sim_yaml).read_text())
    config = {
        "cluster": f"suzieq-bench-{args.name}",
        "database": str(Path(args.db).resolve()),
        "zones": sim["zones"],
        "shared": sim.get("shared", []),
        "sources": [{"name": args.name, "kind": "eos", "files": [str(Path(args.leaf_json).resolve())]}],
    }
    Path(args.out_yaml).write_text(yaml.safe_dump(config, sort_keys=False))


def parquet_rows(args):
    import pyarrow.dataset as ds

    routes = Path(args.dir) / "routes"
    if not routes.is_dir():
        print("0 -")
        return
    data = ds.dataset(str(routes), format="parquet", partitioning="hive")
    hosts = sorted(set(data.to_table(columns=["hostname"]).column("hostname").to_pylist()))
    print(data.count_rows(), ",".join(hosts) or "-")


def tree_peak(args):
    root, peak, cpu = args.pid, 0, {}
    while os.path.exists(f"/proc/{root}"):
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            total += rss_kib(pid)
            cpu[pid] = max(cpu.get(pid, 0.0), cpu_s(pid))
            todo += children(pid)
        peak = max(peak, total)
        time.sleep(0.05)
    print(peak, f"{sum(cpu.values()):.2f}")


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_s(pid):
    """User plus system time of a process, from /proc/PID/stat (fields 14 and 15)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def summary(args):
    """RUNS_TSV rows: tool, round, wall_s, peak_kib, tree_kib, user_s, sys_s, tree_cpu_s."""
    runs = {}
    for row in open(args.runs_tsv):
        tool, _, wall, peak, tree, user, system, tree_cpu = row.rstrip("\n").split("\t")
        # GNU time's CPU is exact when the whole tree was reaped; the sample is never above the truth.
        cpu = max(float(user) + float(system), float(tree_cpu))
        runs.setdefault(tool, []).append((float(wall), int(peak), int(tree), cpu))
    base = statistics.median(r[0] for r in runs["zoneaudit"])
    base_cpu = statistics.median(r[3] for r in runs["zoneaudit"])
    lines = []
    print(f"{args.routes:,} routes (one border leaf); wall = median of {len(runs['zoneaudit'])} interleaved rounds; "
          "MB = 2^20 bytes; cpu = user + sys of the process tree; ratios are to zoneaudit's medians")
    print()
    print(f"| {'tool':<9} | {'wall s (median)':>15} | {'runs s':<20} | {'peak MB':>7} | {'tree MB':>7} | "
          f"{'cpu s':>6} | {'µs/route':>8} | {'wall ratio':>10} | {'cpu ratio':>9} |")
    print(f"|{'-' * 11}|{'-' * 16}:|{'-' * 22}|{'-' * 8}:|{'-' * 8}:|{'-' * 7}:|{'-' * 9}:|{'-' * 11}:|{'-' * 10}:|")
    for tool, rs in runs.items():
        wall = statistics.median(r[0] for r in rs)
        peak = max(r[1] for r in rs) / 1024
        tree = max(r[2] for r in rs) / 1024
        cpu = statistics.median(r[3] for r in rs)
        each = ", ".join(f"{r[0]:.2f}" for r in rs)
        ratio = wall / base
        print(f"| {tool:<9} | {wall:>15.2f} | {each:<20} | {peak:>7.0f} | {tree:>7.0f} | {cpu:>6.2f} | "
              f"{wall * 1e6 / args.routes:>8.1f} | {ratio:>10.2f} | {cpu / base_cpu:>9.2f} |")
        lines.append(f"{tool}\t{args.routes}\t{wall:.3f}\t{max(peak, tree):.0f}\t{ratio:.2f}\n")
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(out, "a") as f:
            f.writelines(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("routes-output")
    s.add_argument("leaf_json")
    s.add_argument("outdir")
    s.add_argument("--hostname", required=True)
    s.add_argument("--namespace", default="bench")
    s.add_argument("--indent", type=int, default=4)
    s.set_defaults(func=routes_output)
    s = sub.add_parser("zoneaudit-config")
    for a in ("sim_yaml", "leaf_json", "db", "out_yaml"):
        s.add_argument(a)
    s.add_argument("--name", required=True)
    s.set_defaults(func=zoneaudit_config)
    s = sub.add_parser("parquet-rows")
    s.add_argument("dir")
    s.set_defaults(func=parquet_rows)
    s = sub.add_parser("tree-peak")
    s.add_argument("pid", type=int)
    s.set_defaults(func=tree_peak)
    s = sub.add_parser("summary")
    s.add_argument("runs_tsv")
    s.add_argument("routes", type=int)
    s.set_defaults(func=summary)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
