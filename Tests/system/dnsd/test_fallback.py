"""dnsd when upstreams fail (Knot upstreams, dnsd/upstream.py): serve-stale or
SERVFAIL with local zones unharmed, dead and silent forwarders skipped, and
forward zones that fall back to the local copy."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from dnsd.upstream import (UP_ZONE, Relay, ancount, counters, dig, forward_zone, local_zone, rcode, start_dnsd,
                           timed_dig, udp_ask, wire_query)
from helpers import free_port, wait_for

# ---- dead upstream: serve-stale, SERVFAIL, local zones unharmed ----------


@pytest.mark.parametrize("serve_stale", ["1d", "0"])
def test_dead_upstream_serves_stale_or_servfail_and_local_zones_stay_fast(forwarding, dnsbox, knots, serve_stale):
    up = knots({"up.test": UP_ZONE})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"],
                      main_extra=f"\toption serve_stale '{serve_stale}'\n",
                      rest=local_zone("home.lan", [("nas", "A", "192.168.1.10")]))
    assert dig(port, "short.up.test").answer == ["short.up.test. 2 IN A 192.0.2.2"]
    t_cached = time.monotonic()
    assert dig(port, "www.up.test").answer == ["www.up.test. 300 IN A 192.0.2.1"]

    up.stop()  # port closed: ICMP port unreachable on loopback
    time.sleep(max(0.0, t_cached + 3.2 - time.monotonic()))  # short.up.test has expired

    r, took = timed_dig(port, "short.up.test", wait=5)
    if serve_stale == "0":
        assert r.status == "SERVFAIL" and r.answer == [], r
    else:
        assert r.status == "NOERROR" and r.answer == ["short.up.test. 30 IN A 192.0.2.2"], r
    assert took < 3, f"took {took:.2f}s"
    # Still fresh in the cache: answered as usual.
    r = dig(port, "www.up.test")
    assert r.status == "NOERROR" and r.data() == ["www.up.test. IN A 192.0.2.1"] and 290 <= r.ttls()[0] < 300, r
    # Never cached: SERVFAIL, quickly.
    r, took = timed_dig(port, "a1.up.test", wait=5)
    assert r.status == "SERVFAIL", r
    assert took < 3, f"SERVFAIL took {took:.2f}s"

    c = counters(dnsbox)
    assert c["upstream_failures"] >= 1, c
    if serve_stale == "0":
        assert c["stale_answers"] == 0, c
        return
    assert c["stale_answers"] >= 1, c

    # ~200 uncached questions against the dead upstream in the background; the
    # local zone keeps answering every one of 500 queries promptly meanwhile.
    results: list[int | None] = []
    lock = threading.Lock()

    def flood(k: int):
        for i in range(50):
            r = udp_ask(port, wire_query(f"u{k}-{i}.up.test", qid=(k * 1000 + i) & 0xFFFF), timeout=4)
            with lock:
                results.append(None if r is None else rcode(r))

    threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    local_ok, slow = 0, []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for i in range(500):
            q = wire_query("nas.home.lan", qid=i)
            t0 = time.monotonic()
            s.sendto(q, ("127.0.0.1", port))
            try:
                while True:
                    rep, _ = s.recvfrom(4096)
                    if rep[:2] == q[:2]:
                        break
            except socket.timeout:
                continue
            dt = time.monotonic() - t0
            if dt > 0.2:
                slow.append(dt)
            if rcode(rep) == 0 and ancount(rep) == 1 and bytes([192, 168, 1, 10]) in rep:
                local_ok += 1
    for t in threads:
        t.join()
    assert local_ok == 500, f"{local_ok}/500 local answers"
    assert len(slow) <= 25, f"{len(slow)} local answers took over 200 ms: {sorted(slow)[-5:]}"
    assert len(results) == 200 and all(rc == 2 for rc in results), \
        f"uncached names with a dead upstream: {[rc for rc in results if rc != 2][:10]} (None = no answer)"

    # The upstream comes back on the same port: probed back within the backoff
    # (at most 8 s), and new names are forwarded again.
    up.start()
    probes = iter(range(1000))  # a new name each time: a failure may be cached for a while (RFC 9520)
    wait_for(lambda: dig(port, f"p{next(probes)}.wild.up.test").status == "NOERROR", 15, 0.3,
             "the upstream to be used again")
    r = dig(port, "a2.up.test")
    assert r.status == "NOERROR" and r.data() == ["a2.up.test. IN CNAME www.up.test.",
                                                  "www.up.test. IN A 192.0.2.1"], r


@pytest.mark.parametrize("dead", ["silent", "closed"])
def test_a_dead_first_server_is_skipped_and_the_next_one_answers(forwarding, dnsbox, knots, dead):
    """The first forwarder times out (silent) or refuses (closed port); the
    second answers. The failure is paid once at most: the dead server is then
    marked down (1 s back-off) and the next names go straight to Knot."""
    up = knots({"up.test": UP_ZONE})
    silent = Relay(None, silent=True)
    bad_port = silent.port if dead == "silent" else free_port()
    try:
        port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{bad_port}", f"127.0.0.1:{up.port}"],
                          main_extra="\toption upstream_timeout '500ms'\n")
        took = []
        for name in ("www.up.test", "a2.up.test", "x.wild.up.test", "y.wild.up.test", "z.wild.up.test"):
            r, t = timed_dig(port, name, wait=5)
            assert r.status == "NOERROR" and r.answer, r
            took.append(t)
        assert max(took) < (2.5 if dead == "silent" else 1.0), took
        assert sum(t >= 0.5 for t in took) <= 1, took
        assert len(silent.seen) <= 1, silent.seen
        assert counters(dnsbox)["upstream_failures"] == 0  # no question went unanswered
    finally:
        silent.close()


def test_only_a_silent_upstream_gives_servfail_within_the_timeout(forwarding, dnsbox):
    silent = Relay(None, silent=True)
    try:
        port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{silent.port}"],
                          main_extra="\toption upstream_timeout '500ms'\n")
        r, took = timed_dig(port, "www.up.test", wait=5)
        assert r.status == "SERVFAIL", r
        assert took < 3, f"took {took:.2f}s"
        assert silent.count("www.up.test") >= 1
    finally:
        silent.close()


# ---- forward with fallback to the local copy ------------------------------


def fallback_setup(dnsbox, knots, fallback: bool | None):
    peer = knots({"g10.lo": "host 300 IN A 10.0.0.1\n"}, name="peer")
    port = start_dnsd(dnsbox, rest=local_zone("g10.lo", [("host", "A", "10.0.0.2")]) +
                      forward_zone("g10.lo", [f"127.0.0.1:{peer.port}"], fallback_local=fallback),
                      main_extra="\toption upstream_timeout '1000ms'\n")
    return peer, port


def test_forward_with_fallback_prefers_the_peer_and_falls_back_to_the_local_copy(forwarding, dnsbox, knots):
    peer, port = fallback_setup(dnsbox, knots, True)
    q0 = peer.queries()
    for i in range(2):  # forwarded each time: not cached
        r = dig(port, "host.g10.lo")
        assert r.status == "NOERROR" and r.answer == ["host.g10.lo. 300 IN A 10.0.0.1"], r
        assert "aa" in r.flags, r  # the peer's answer as it is
        assert peer.queries() == q0 + i + 1, "a fallback zone's answers must not be cached"

    peer.stop()
    r, took = timed_dig(port, "host.g10.lo", wait=5)
    assert r.status == "NOERROR" and r.data() == ["host.g10.lo. IN A 10.0.0.2"], r
    assert "aa" not in r.flags, r
    assert took < 3, f"fallback took {took:.2f}s"
    r = dig(port, "host.g10.lo")
    assert r.data() == ["host.g10.lo. IN A 10.0.0.2"] and "aa" not in r.flags, r
    assert counters(dnsbox)["fallback_answers"] >= 2

    peer.start()  # same port
    wait_for(lambda: dig(port, "host.g10.lo").answer == ["host.g10.lo. 300 IN A 10.0.0.1"], 20, 0.3,
             "the peer's answer again")
    r = dig(port, "host.g10.lo")
    assert r.answer == ["host.g10.lo. 300 IN A 10.0.0.1"] and "aa" in r.flags, r


@pytest.mark.parametrize("fallback", [None, False])
def test_local_zone_wins_over_a_forward_zone_without_fallback(forwarding, dnsbox, knots, fallback):
    peer, port = fallback_setup(dnsbox, knots, fallback)
    q0 = peer.queries()
    for _ in range(3):
        r = dig(port, "host.g10.lo")
        assert r.status == "NOERROR" and r.data() == ["host.g10.lo. IN A 10.0.0.2"], r
        assert "aa" in r.flags, r
    assert peer.queries() == q0, "a local zone without fallback_local must never be forwarded"
    peer.stop()
    r = dig(port, "host.g10.lo")
    assert r.data() == ["host.g10.lo. IN A 10.0.0.2"] and "aa" in r.flags, r
