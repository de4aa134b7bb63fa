#!/usr/bin/env python3
"""Generate a PAN-OS TRAFFIC syslog file of a given size for the ingest benchmark.

Every line is a PAN-OS 10.x/11.x default-format TRAFFIC entry (115 CSV fields, the positions of
`shared/formats/network/firewall-logs.md` section 1.2) inside an RFC 3164 envelope, as a syslog
server writes it: `<14>Jul 16 10:15:02 fw-core-01 1,2024/07/16 10:15:02,<serial>,TRAFFIC,...`.

The mix follows the demo estate's three zones (firewall zones trust-yellow / trust-blue /
trust-green, addresses from 10.10/16, 10.20/16 and 10.30/16) plus an outside zone:
  - 3,000 inside addresses (1,000 per zone), 500 outside addresses (TEST-NETs)
  - two firewalls (fw-core-01, fw-core-02), 12 security rules incl. interzone-default
  - subtypes end / start / deny / drop with matching actions (allow, deny, drop, `reset both`)
  - tcp and udp services on a dozen well-known ports, random high source ports
  - about 1% of lines carry a quoted field (an LDAP DN as source user, commas inside), and a few
    lines in 1,000 a Link Switches value in braces (`{a,b}`): what a real CSV reader must handle
    and what `awk -F,` miscounts.
Timestamps advance one second every 20 lines from 2024-07-16 00:00:00.

Deterministic: no clock and no hash randomisation; the random stream is Mersenne Twister
`getrandbits` from a fixed seed, stable across Python 3 releases. The same SIZE gives the same
bytes on every machine. The file stops at the last whole line that fits in SIZE.

Usage: gen-panos.py [--size 1G] [--seed 4] [OUT]     (OUT default: $TMPDIR/zoneaudit-bench/panos-SIZE.log)
SIZE accepts a byte count or K/M/G suffixes (powers of 1024).
"""
import argparse
import datetime
import os
import random
import sys

FIREWALLS = [("fw-core-01", "013201028945"), ("fw-core-02", "013201028946")]
# (firewall zone, interface, address prefix): the demo estate's zones.
ZONES = [
    ("trust-yellow", "ethernet1/3.10", "10.10"),
    ("trust-blue", "ethernet1/3.20", "10.20"),
    ("trust-green", "ethernet1/3.30", "10.30"),
]
OUTSIDE = ("untrust", "ethernet1/1")
# (service name, protocol, destination port, app)
SERVICES = [
    ("https", "tcp", 443, "ssl"), ("http", "tcp", 80, "web-browsing"), ("api", "tcp", 8443, "ssl"),
    ("ssh", "tcp", 22, "ssh"), ("pg", "tcp", 5432, "postgres"), ("mysql", "tcp", 3306, "mysql"),
    ("ldap", "tcp", 389, "ldap"), ("kafka", "tcp", 9092, "kafka"), ("redis", "tcp", 6379, "redis"),
    ("dns", "udp", 53, "dns"), ("ntp", "udp", 123, "ntp"), ("syslog", "udp", 514, "syslog"),
]
# (rule name, from zone index or None = any inside, to zone index or -1 = outside, action).
# Index order matches ZONES; the last entries are the catch-alls.
RULES = [
    ("yellow-to-blue-api", 0, 1, "allow"), ("blue-to-green-db", 1, 2, "allow"),
    ("green-to-yellow-ldap", 2, 0, "allow"), ("yellow-intra", 0, 0, "allow"),
    ("blue-intra", 1, 1, "allow"), ("green-intra", 2, 2, "allow"),
    ("inside-dns-ntp", None, None, "allow"), ("inside-egress-https", None, -1, "allow"),
    ("green-to-blue-block", 2, 1, "drop"), ("blue-to-yellow-block", 1, 0, "deny"),
    ("legacy-ssh-reset", 0, 2, "reset both"), ("interzone-default", None, None, "deny"),
]
SUBTYPE = {"allow": ("end", "start"), "deny": ("deny",), "drop": ("drop",), "reset both": ("deny",)}
END_REASON = {"allow": ("tcp-fin", "aged-out", "tcp-rst-from-client"), "deny": ("policy-deny",),
              "drop": ("policy-deny",), "reset both": ("policy-deny",)}
RULE_UUID = [f"6a1e0c2b-3f5d-4c61-9f0e-2d4f7a9b{i:04x}" for i in range(len(RULES))]
QUOTED_USERS = ['"cn=svc-backup,ou=service,dc=corp,dc=example"',
                '"cn=Doe\\, Jane,ou=people,dc=corp,dc=example"',
                '"cn=etl-runner,ou=service,dc=corp,dc=example"']
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
START = datetime.datetime(2024, 7, 16, 0, 0, 0)
LINES_PER_SECOND = 20
# Fields 104-115 (slice fields, app subcategory ... offloaded) per app family; 110 holds spaces.
APP_TAIL = ",,,encrypted-tunnel,networking,browser-based,4,used-by-malware able-to-transfer-file " \
           "has-known-vulnerability tunnel-other-application pervasive-use,,ssl,no,no,0"
PLAIN_TAIL = ",,,,,,,,,,,,0"


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def addresses(rng):
    inside = []
    for z, (_, _, prefix) in enumerate(ZONES):
        seen = set()
        while len(seen) < 1000:
            seen.add(f"{prefix}.{rng.getrandbits(5)}.{1 + rng.getrandbits(8) % 254}")
        inside.append(sorted(seen))
    outside = [f"{net}.{1 + i % 254}" for i, net in
               zip(range(500), ["192.0.2", "198.51.100", "203.0.113"] * 500)]
    return inside, outside


def generate(out, size, seed):
    rng = random.Random(seed)
    inside, outside = addresses(rng)
    bits = rng.getrandbits
    written = 0
    n = 0
    session = 384000
    seqno = 7253419119627000000
    stamp = None
    while True:
        if n % LINES_PER_SECOND == 0:
            t = START + datetime.timedelta(seconds=n // LINES_PER_SECOND)
            hdr = f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"
            stamp = t.strftime("%Y/%m/%d %H:%M:%S")
            iso = t.strftime("%Y-%m-%dT%H:%M:%S")
        r = bits(64)
        fw, serial = FIREWALLS[r & 1]
        rule_i = (r >> 1) % len(RULES)
        rule, from_i, to_i, action = RULES[rule_i]
        if from_i is None:
            from_i = (r >> 5) % 3
        if to_i is None:
            to_i = (r >> 7) % 3
        svc, proto, dport, app = SERVICES[(r >> 9) % len(SERVICES)]
        if rule == "inside-dns-ntp":
            svc, proto, dport, app = SERVICES[9 + (r >> 9) % 2]
        src = inside[from_i][(r >> 13) % 1000]
        from_zone, in_if, _ = ZONES[from_i]
        if to_i == -1:
            dst = outside[(r >> 23) % 500]
            to_zone, out_if = OUTSIDE
            nat_src, nat_sport = "198.51.100.7", str(1024 + (r >> 33) % 60000)
        else:
            dst = inside[to_i][(r >> 23) % 1000]
            to_zone, out_if, _ = ZONES[to_i]
            nat_src, nat_sport = "0.0.0.0", "0"
        subtypes = SUBTYPE[action]
        subtype = subtypes[(r >> 33) % len(subtypes)]
        reasons = END_REASON[action]
        end_reason = reasons[(r >> 35) % len(reasons)]
        if subtype == "start":
            end_reason = "n/a"
        elif proto == "udp" and action == "allow":
            end_reason = "aged-out"
        sport = 1024 + (r >> 37) % 64000
        if action == "allow":
            sent = 74 + (r >> 40) % 20000
            recv = (r >> 50) % 60000
            pkts_s, pkts_r = 1 + sent // 600, recv // 600
            elapsed = (r >> 44) % 300
            tail = APP_TAIL if app == "ssl" else PLAIN_TAIL
            log_app = app
        else:
            sent, recv, pkts_s, pkts_r, elapsed = 74, 0, 1, 0, 0
            tail = PLAIN_TAIL
            log_app = "incomplete" if action == "deny" else "not-applicable"
        user = ""
        link_switches = "0"
        q = (r >> 54) & 1023
        if q < 10:
            user = QUOTED_USERS[q % 3]
        elif q < 13:
            link_switches = "{ethernet1/5,ethernet1/6}"
        session += 1
        seqno += 1 + (r & 3)
        ms = (n * 37) % 1000
        line = (
            f"<14>{hdr} {fw} 1,{stamp},{serial},TRAFFIC,{subtype},2561,{stamp},{src},{dst},"
            f"{nat_src},0.0.0.0,{rule},{user},,{log_app},vsys1,{from_zone},{to_zone},{in_if},{out_if},"
            f"fwd-to-siem,{stamp},{session},1,{sport},{dport},{nat_sport},0,0x400019,{proto},{action},"
            f"{sent + recv},{sent},{recv},{pkts_s + pkts_r},{stamp},{elapsed},any,,{seqno},"
            f"0x8000000000000000,10.0.0.0-10.255.255.255,10.0.0.0-10.255.255.255,,{pkts_s},{pkts_r},"
            f"{end_reason},0,0,0,0,,{fw},from-policy,,,0,,0,,N/A,0,0,0,0,{RULE_UUID[rule_i]},0,0,,"
            f"{link_switches},,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,{iso}.{ms:03d}+00:00{tail}\n"
        )
        data = line.encode()
        if written + len(data) > size:
            return n, written
        out.write(data)
        written += len(data)
        n += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", help="output file (default $TMPDIR/zoneaudit-bench/panos-SIZE.log)")
    ap.add_argument("--size", default="1G", help="bytes, or with K/M/G suffix (default 1G)")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    size = parse_size(args.size)
    path = args.out or os.path.join(os.environ.get("TMPDIR", "/tmp"), "zoneaudit-bench",
                                    f"panos-{args.size}.log")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".part"
    with open(tmp, "wb", buffering=1 << 20) as out:
        lines, written = generate(out, size, args.seed)
    os.replace(tmp, path)
    print(f"{path}: {lines} lines, {written} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
