#!/usr/bin/env python3
"""Writes the benchmark zone and its query file (stdlib only, deterministic).

Names h<i> cycle through a fixed pattern, so every tenth name is a CNAME:
  every host: A; every other host: AAAA; every 10th: MX; every 5th: TXT;
  i % 10 == 9: c<i> CNAME to the host before it.
The small zone has --names names; the large one grows until it holds
--records records. Queries (dnsperf format "NAME TYPE"): 80 % A of existing
hosts, 10 % AAAA of hosts that have one, 10 % A of names that do not exist
(NXDOMAIN). One zone file is served by dnsbox, NSD and Knot alike.
"""
import argparse
import random


def build(origin: str, names: int | None, records: int | None):
    lines = [
        f"$ORIGIN {origin}.",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster 2024010101 3600 600 1209600 60",
        "@ IN NS ns1",
        "ns1 IN A 192.0.2.53",
    ]
    nrec, a_names, aaaa_names, i = 3, [], [], 0
    while True:
        if names is not None and i >= names:
            break
        if records is not None and nrec >= records:
            break
        n = f"h{i}"
        if i % 10 == 9:
            lines.append(f"c{i} IN CNAME h{i - 1}")
            nrec += 1
        else:
            lines.append(f"{n} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
            a_names.append(n)
            nrec += 1
            if i % 2 == 0:
                lines.append(f"{n} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}")
                aaaa_names.append(n)
                nrec += 1
            if i % 10 == 0:
                lines.append(f"{n} IN MX 10 mail.{n}")
                nrec += 1
            if i % 5 == 1:
                lines.append(f'{n} IN TXT "v=bench1 host {n} some text to make it realistic"')
                nrec += 1
        i += 1
    return "\n".join(lines) + "\n", nrec, i, a_names, aaaa_names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--origin", default="bench.test")
    ap.add_argument("--names", type=int)
    ap.add_argument("--records", type=int)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--queries", help="write a query file here")
    ap.add_argument("--count", type=int, default=100000, help="lines in the query file")
    ap.add_argument("--seed", type=int, default=53)
    a = ap.parse_args()
    text, nrec, nnames, a_names, aaaa_names = build(a.origin, a.names, a.records)
    with open(a.zone, "w") as f:
        f.write(text)
    if a.queries:
        rnd = random.Random(a.seed)
        out = []
        for _ in range(a.count):
            r = rnd.random()
            if r < 0.8:
                out.append(f"{rnd.choice(a_names)}.{a.origin} A")
            elif r < 0.9:
                out.append(f"{rnd.choice(aaaa_names)}.{a.origin} AAAA")
            else:
                out.append(f"nx{rnd.randrange(10**9)}.{a.origin} A")
        with open(a.queries, "w") as f:
            f.write("\n".join(out) + "\n")
    print(f"{a.zone}: {nnames} names, {nrec} records")


if __name__ == "__main__":
    main()
