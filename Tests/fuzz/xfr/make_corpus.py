#!/usr/bin/env python3
"""Writes the seed corpus of the `xfr` fuzz target (Tests/fuzz/xfr/corpus/).

Each seed is what FuzzXfr.swift reads: one mode byte (0: AXFR; 1: IXFR from
serial 1; 2: IXFR from 4294967290; +0x80: maxRecords 16), then the response
stream as TCP carries it, every message behind its 2-byte length. Messages
answer the query ID 0x2a2a for example.net. and are built with dnspython;
with knotd on the PATH, a few streams are also captured from a real Knot
primary on loopback (IXFR out of its journal), as
Tests/system/transfer/primaries.py runs it.

    python3 Tests/fuzz/xfr/make_corpus.py          # rewrites corpus/ seeds
"""
from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ORIGIN = "example.net."
ID = 0x2A2A
WRAP = 4294967290          # the harness's mode 2 serial
CORPUS = Path(__file__).resolve().parent / "corpus"

AXFR, IXFR1, IXFRWRAP, SMALL = 0, 1, 2, 0x80


def soa(serial: int) -> str:
    return f"{ORIGIN} 300 IN SOA ns1.{ORIGIN} hostmaster.{ORIGIN} {serial} 3600 600 86400 60"


def zone_v1(serial: int) -> list[str]:
    """The zone FuzzXfr.swift holds before an IXFR (its `heldText`)."""
    o = ORIGIN
    return [soa(serial), f"{o} 300 IN NS ns1.{o}", f"{o} 300 IN MX 10 mail.{o}",
            f"ns1.{o} 300 IN A 192.0.2.53", f"mail.{o} 300 IN A 192.0.2.25",
            f"www.{o} 300 IN A 192.0.2.1", f"www.{o} 300 IN AAAA 2001:db8::1",
            f'txt.{o} 300 IN TXT "hello world"'] + [f"h{i}.{o} 300 IN A 10.0.0.{i}" for i in range(5)]


def zone_text(records: list[str]) -> str:
    return "".join(r + "\n" for r in records)


def rrset(text: str) -> dns.rrset.RRset:
    name, ttl, cls, typ, rdata = text.split(None, 4)
    return dns.rrset.from_text(name, int(ttl), cls, typ, rdata)


def query(ixfr_from: int | None) -> dns.message.Message:
    q = dns.message.make_query(ORIGIN, "IXFR" if ixfr_from is not None else "AXFR", use_edns=False)
    q.id = ID
    if ixfr_from is not None:
        q.authority.append(rrset(soa(ixfr_from)))
    return q


def message(q: dns.message.Message, texts: list[str], question: bool = True, rcode: int = 0,
            msg_id: int | None = None) -> bytes:
    m = dns.message.make_response(q)
    m.flags |= dns.flags.AA
    m.set_rcode(rcode)
    if msg_id is not None:
        m.id = msg_id
    if not question:
        m.question = []
    for t in texts:
        m.answer.append(rrset(t))   # one RRset per record: order kept, SOAs repeated
    return m.to_wire()


def frame(wire: bytes) -> bytes:
    return struct.pack("!H", len(wire)) + wire


def stream(mode: int, messages: list[bytes]) -> bytes:
    return bytes([mode]) + b"".join(frame(m) for m in messages)


def chunks(xs: list, n: int) -> list[list]:
    k = (len(xs) + n - 1) // n
    return [xs[i:i + k] for i in range(0, len(xs), k)]


def diff(old: int, new: int, removed: list[str], added: list[str]) -> list[str]:
    return [soa(old)] + removed + [soa(new)] + added


def seeds() -> dict[str, bytes]:
    o = ORIGIN
    out: dict[str, bytes] = {}
    qa, qi, qw = query(None), query(1), query(WRAP)
    v1 = zone_v1(1)

    # AXFR.
    out["axfr-one-message"] = stream(AXFR, [message(qa, v1 + [soa(1)])])
    out["axfr-three-messages"] = stream(AXFR, [message(qa, c) for c in chunks(v1 + [soa(1)], 3)])
    out["axfr-question-first-only"] = stream(AXFR, [message(qa, c, question=(k == 0))
                                                    for k, c in enumerate(chunks(v1 + [soa(1)], 2))])
    out["axfr-empty-zone"] = stream(AXFR, [message(qa, [soa(7), soa(7)])])
    out["axfr-cname-and-more"] = stream(AXFR, [message(qa, v1[:4] + [
        f"alias.{o} 300 IN CNAME www.{o}", f"*.wild.{o} 300 IN TXT \"any\"",
        f"sub.{o} 300 IN NS ns.sub.{o}", f"ns.sub.{o} 300 IN A 192.0.2.99",
        f"_sip._tcp.{o} 300 IN SRV 0 5 5060 www.{o}", f"{o} 300 IN CAA 0 issue \"ca.example\"",
        f"1.2.0.192.in-addr.{o} 300 IN PTR www.{o}", soa(1)])])
    out["axfr-cname-conflict"] = stream(AXFR, [message(qa, v1[:3] + [
        f"www.{o} 300 IN CNAME mail.{o}", f"www.{o} 300 IN A 192.0.2.1", soa(1)])])
    out["axfr-big-ttl"] = stream(AXFR, [message(qa, [soa(1), f"www.{o} 2147483647 IN A 192.0.2.1", soa(1)])])
    out["axfr-too-many-records"] = stream(AXFR | SMALL, [message(qa, c) for c in chunks(
        [soa(3)] + [f"h{i}.{o} 300 IN A 10.9.0.{i}" for i in range(30)] + [soa(3)], 2)])
    # AXFR failures.
    out["axfr-truncated-frame"] = stream(AXFR, [message(qa, v1[:7]), message(qa, v1[7:] + [soa(1)])])[:-17]
    out["axfr-no-closing-soa"] = stream(AXFR, [message(qa, v1)])
    out["axfr-wrong-id"] = stream(AXFR, [message(qa, v1 + [soa(1)], msg_id=ID ^ 1)])
    out["axfr-second-message-wrong-id"] = stream(AXFR, [message(qa, v1[:6]),
                                                        message(qa, v1[6:] + [soa(1)], msg_id=0x1234)])
    out["axfr-refused"] = stream(AXFR, [message(qa, [], rcode=dns.rcode.REFUSED)])
    out["axfr-out-of-zone"] = stream(AXFR, [message(qa, v1 + ["www.example.com. 300 IN A 192.0.2.7", soa(1)])])
    out["axfr-other-serial-at-end"] = stream(AXFR, [message(qa, v1 + [soa(2)])])
    out["axfr-soa-below-apex"] = stream(AXFR, [message(qa, v1 + [soa(1).replace(o, "www." + o, 1), soa(1)])])
    out["axfr-data-after-end"] = stream(AXFR, [message(qa, v1 + [soa(1)]), message(qa, [soa(1)])])
    out["axfr-not-soa-first"] = stream(AXFR, [message(qa, v1[1:] + [soa(1)])])

    # IXFR from serial 1 (the harness holds zone_v1(1)).
    d12 = diff(1, 2, [f"www.{o} 300 IN A 192.0.2.1"],
               [f"www.{o} 300 IN A 192.0.2.2", f"new.{o} 300 IN A 192.0.2.40"])
    d23 = diff(2, 3, [f'txt.{o} 300 IN TXT "hello world"', f"h4.{o} 300 IN A 10.0.0.4"],
               [f'txt.{o} 300 IN TXT "goodbye"', f"www.{o} 300 IN AAAA 2001:db8::2"])
    out["ixfr-one-difference"] = stream(IXFR1, [message(qi, [soa(2)] + d12 + [soa(2)])])
    out["ixfr-two-differences"] = stream(IXFR1, [message(qi, [soa(3)] + d12 + d23 + [soa(3)])])
    out["ixfr-two-differences-three-messages"] = stream(IXFR1, [message(qi, c, question=(k == 0)) for k, c in
                                                                enumerate(chunks([soa(3)] + d12 + d23 + [soa(3)], 3))])
    out["ixfr-up-to-date"] = stream(IXFR1, [message(qi, [soa(1)])])
    out["ixfr-older-serial"] = stream(IXFRWRAP, [message(qw, [soa(WRAP - 5)])])
    out["ixfr-axfr-style"] = stream(IXFR1, [message(qi, zone_v1(5) + [soa(5)])])
    out["ixfr-removes-unknown-record"] = stream(IXFR1, [message(qi, [soa(2)] + diff(
        1, 2, [f"nothere.{o} 300 IN A 192.0.2.9"], []) + [soa(2)])])
    out["ixfr-broken-chain"] = stream(IXFR1, [message(qi, [soa(4)] + d12 + diff(3, 4, [], []) + [soa(4)])])
    out["ixfr-wrong-start"] = stream(IXFR1, [message(qi, [soa(3)] + d23 + [soa(3)])])
    out["ixfr-notimp"] = stream(IXFR1, [message(qi, [], rcode=dns.rcode.NOTIMP)])
    out["ixfr-truncated"] = stream(IXFR1, [message(qi, [soa(3)] + d12), message(qi, d23 + [soa(3)])])[:-30]
    # IXFR across the serial wrap: 4294967290 → 4294967293 → 2.
    w1, w2 = (WRAP + 3) % 2**32, (WRAP + 8) % 2**32
    dw1 = diff(WRAP, w1, [f"h0.{o} 300 IN A 10.0.0.0"], [f"h0.{o} 300 IN A 10.0.1.0"])
    dw2 = diff(w1, w2, [f"{o} 300 IN MX 10 mail.{o}"], [f"{o} 300 IN MX 20 www.{o}"])
    out["ixfr-serial-wraps"] = stream(IXFRWRAP, [message(qw, [soa(w2)] + dw1), message(qw, dw2 + [soa(w2)])])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture(port: int, q: dns.message.Message, idle: float = 1.0) -> bytes:
    """The raw TCP stream a primary sends for `q`, until it goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(frame(q.to_wire()))
        c.settimeout(idle)
        data = b""
        while True:
            try:
                got = c.recv(65536)
            except socket.timeout:
                break
            if not got:
                break
            data += got
        return data


KNOT_CONF = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{dir}"
control:
    listen: "{dir}/knot.sock"
acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {origin}
    file: "{dir}/zone"
    acl: xfr
"""


def knot_seeds() -> dict[str, bytes]:
    if not shutil.which("knotd") or not shutil.which("knotc"):
        print("make_corpus.py: no knotd; Knot captures skipped", file=sys.stderr)
        return {}
    out: dict[str, bytes] = {}
    o = ORIGIN
    v1 = zone_v1(1)
    v2 = [soa(2)] + [r for r in v1[1:] if "192.0.2.1" not in r] + [f"www.{o} 300 IN A 192.0.2.2",
                                                                   f"new.{o} 300 IN A 192.0.2.40"]
    v3 = [soa(3)] + [r for r in v2[1:] if "hello world" not in r] + [f'txt.{o} 300 IN TXT "goodbye"']
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        conf = Path(d) / "knot.conf"
        conf.write_text(KNOT_CONF.format(dir=d, port=port, origin=ORIGIN))
        (Path(d) / "zone").write_text(zone_text(v1))
        proc = subprocess.Popen(["knotd", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def serving(serial: int) -> bool:
                for _ in range(100):
                    try:
                        data = capture(port, query(serial), idle=0.3)
                        n = struct.unpack("!H", data[:2])[0]
                        m = dns.message.from_wire(data[2:2 + n])
                        if m.answer and m.answer[0][0].serial == serial:
                            return True
                    except (OSError, ValueError, struct.error, dns.exception.DNSException):
                        pass
                    time.sleep(0.1)
                return False

            def reload(records: list[str], serial: int) -> None:
                (Path(d) / "zone").write_text(zone_text(records))
                subprocess.run(["knotc", "-c", str(conf), "zone-reload", ORIGIN], check=True,
                               capture_output=True, timeout=20)
                if not serving(serial):
                    raise RuntimeError(f"knot does not serve serial {serial}")

            if not serving(1):
                raise RuntimeError("knot does not start")
            out["knot-ixfr-up-to-date"] = bytes([IXFR1]) + capture(port, query(1))
            reload(v2, 2)
            out["knot-ixfr-one-difference"] = bytes([IXFR1]) + capture(port, query(1))
            reload(v3, 3)
            out["knot-axfr"] = bytes([AXFR]) + capture(port, query(None))
            out["knot-ixfr-two-differences"] = bytes([IXFR1]) + capture(port, query(1))
        except Exception as e:   # the captures are a bonus: dnspython's seeds stand alone
            print(f"make_corpus.py: Knot captures skipped: {e}", file=sys.stderr)
            out = {}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return out


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    all_seeds = seeds() | knot_seeds()
    for name, data in sorted(all_seeds.items()):
        (CORPUS / name).write_bytes(data)
    print(f"make_corpus.py: {len(all_seeds)} seeds in {CORPUS}")


if __name__ == "__main__":
    main()
