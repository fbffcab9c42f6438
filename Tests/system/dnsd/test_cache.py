"""dnsd's cache of forwarded answers (Knot upstreams, dnsd/upstream.py):
answers cached with their TTLs counting down, the cache bounded under a flood
of random names, RD=0 answered from the cache only."""
from __future__ import annotations

import random
import socket
import struct
import time
from pathlib import Path

from dnsd.upstream import UP_ZONE, counters, dig, local_zone, rcode, start_dnsd, udp_ask, wire_query

# ---- passthrough and cache ---------------------------------------------


def test_forwarded_answers_are_cached_and_ttls_count_down(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"])
    q0 = up.queries()

    # Fresh answers: the upstream's AA and sections, RA added.
    r = dig(port, "www.up.test", "A")
    assert r.status == "NOERROR" and {"aa", "ra"} <= r.flags, r
    assert r.answer == ["www.up.test. 300 IN A 192.0.2.1"]
    assert up.queries() == q0 + 1
    r = dig(port, "a1.up.test", "A")
    assert r.status == "NOERROR" and "ra" in r.flags, r
    assert r.data() == ["a1.up.test. IN CNAME a2.up.test.", "a2.up.test. IN CNAME www.up.test.",
                        "www.up.test. IN A 192.0.2.1"]
    assert up.queries() == q0 + 2
    r = dig(port, "nx.up.test", "A")
    assert r.status == "NXDOMAIN" and "ra" in r.flags, r
    assert r.authority == ["up.test. 60 IN SOA ns1.up.test. hostmaster.up.test. 1 3600 600 1209600 60"]
    assert up.queries() == q0 + 3
    t_first = time.monotonic()

    time.sleep(2.0)
    # From the cache: AA=0, RA=1, TTLs counted down by ~2 s, nothing upstream.
    r = dig(port, "www.up.test", "A")
    elapsed = time.monotonic() - t_first
    assert r.status == "NOERROR" and "ra" in r.flags and "aa" not in r.flags, r
    assert r.data() == ["www.up.test. IN A 192.0.2.1"], r
    assert 300 - int(elapsed) - 1 <= r.ttls()[0] <= 300 - 2 + 1, (r.ttls(), elapsed)
    r = dig(port, "a1.up.test", "A")
    assert r.status == "NOERROR" and "aa" not in r.flags and "ra" in r.flags, r
    assert r.data() == ["a1.up.test. IN CNAME a2.up.test.", "a2.up.test. IN CNAME www.up.test.",
                        "www.up.test. IN A 192.0.2.1"], r
    assert all(296 <= t <= 299 for t in r.ttls()), r.ttls()
    r = dig(port, "nx.up.test", "A")
    assert r.status == "NXDOMAIN" and "aa" not in r.flags and "ra" in r.flags, r
    assert len(r.authority) == 1 and r.authority[0].startswith("up.test.") and " IN SOA ns1.up.test. " in r.authority[0]
    assert 56 <= r.ttls("authority")[0] <= 59, r.authority
    # NODATA is cached too.
    r = dig(port, "www.up.test", "MX")
    assert r.status == "NOERROR" and r.answer == [] and " IN SOA " in r.authority[0], r
    assert up.queries() == q0 + 4
    r = dig(port, "www.up.test", "MX")
    assert r.status == "NOERROR" and r.answer == [] and " IN SOA " in r.authority[0] and "aa" not in r.flags, r
    assert up.queries() == q0 + 4, "cache hits must not reach the upstream"

    c = counters(dnsbox)
    assert c["cache_hits"] >= 4 and c["cache_misses"] >= 4, c
    assert c["cache_entries"] >= 4 and c["upstream_queries"] >= 4, c
    assert c["upstream_failures"] == 0 and c["stale_answers"] == 0, c


# ---- a flood of random names ----------------------------------------------


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_cache_is_bounded_under_a_flood_of_random_names(forwarding, dnsbox, knots):
    up = knots({"flood.test": "* 300 IN A 192.0.2.7\n"})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"], main_extra="\toption cache_size '500'\n")
    for i in range(50):  # warm up: the first allocations are not growth
        assert udp_ask(port, wire_query(f"warm{i}.flood.test")) is not None
    rss0 = vm_rss_kb(dnsbox.proc.pid)

    total, window, answered, errors = 20000, 64, 0, 0
    rnd = random.Random(1)
    inflight: dict[int, float] = {}
    deadline = time.monotonic() + 60
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.settimeout(0.5)
        while (sent < total or inflight) and time.monotonic() < deadline:
            while sent < total and len(inflight) < window:
                qid = sent & 0xFFFF
                name = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
                s.sendto(wire_query(f"{name}.flood.test", qid=qid), ("127.0.0.1", port))
                inflight[qid] = time.monotonic()
                sent += 1
            try:
                rep, _ = s.recvfrom(4096)
            except socket.timeout:
                inflight.clear()  # lost ones: go on
                continue
            qid = struct.unpack("!H", rep[:2])[0]
            if inflight.pop(qid, None) is not None:
                answered += 1
                errors += rcode(rep) != 0
    assert sent == total, f"only {sent} sent in 60 s"
    assert answered >= total * 0.95, f"{answered}/{total} answered"
    assert errors == 0, f"{errors} answers were not NOERROR"
    c = counters(dnsbox)
    assert 50 <= c["cache_entries"] <= 500, c
    assert c["upstream_queries"] >= answered, c
    rss1 = vm_rss_kb(dnsbox.proc.pid)
    print(f"flood: {answered}/{total} answered, VmRSS {rss0} -> {rss1} kB, {c}")
    assert rss1 - rss0 < 30 * 1024, f"VmRSS grew from {rss0} kB to {rss1} kB"
    # Still serving, from the upstream and then the cache.
    q0 = up.queries()
    assert dig(port, "after.flood.test").answer == ["after.flood.test. 300 IN A 192.0.2.7"]
    assert dig(port, "after.flood.test").data() == ["after.flood.test. IN A 192.0.2.7"]
    assert up.queries() == q0 + 1


# ---- RD=0 -----------------------------------------------------------------


def test_rd0_is_answered_from_the_cache_only(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"],
                      rest=local_zone("home.lan", [("nas", "A", "192.168.1.10")]))
    q0 = up.queries()
    r = dig(port, "www.up.test", "+norec")
    assert r.status == "REFUSED", r
    assert up.queries() == q0, "an RD=0 query must not be forwarded"
    r = dig(port, "nas.home.lan", "+norec")
    assert r.status == "NOERROR" and "aa" in r.flags, r
    r = dig(port, "www.up.test")
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    r = dig(port, "www.up.test", "+norec")
    assert r.status == "NOERROR" and r.data() == ["www.up.test. IN A 192.0.2.1"] and "aa" not in r.flags, r
    assert up.queries() == q0 + 1
