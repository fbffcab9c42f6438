"""dnsd as a forwarder: real upstreams (Knot, dnsd/upstream.py) on loopback or
in network namespaces; the peer itself, IPv6 forwarders, per-zone forwarders,
allow_recursion, truncated upstream answers, coalescing and the query dnsd sends.
"""
from __future__ import annotations

import threading

import pytest

from dnsd.upstream import (UP_ZONE, Relay, ancount, counters, dig, forward_zone, local_zone, rcode, start_dnsd,
                           udp_ask, wire_query)
from helpers import free_port, need_root

# ---- the peers on their own ----------------------------------------------


def test_knot_peer_serves_and_counts_every_query(knots):
    """The upstream fixture itself: answers authoritatively (aa, no ra), and
    mod-stats counts each UDP and TCP query exactly once."""
    up = knots({"up.test": UP_ZONE})
    q0, t0 = up.queries(), up.tcp_queries()
    r = dig(up.port, "www.up.test", "A")
    assert r.status == "NOERROR" and "aa" in r.flags and "ra" not in r.flags
    assert r.answer == ["www.up.test. 300 IN A 192.0.2.1"]
    assert up.queries() == q0 + 1
    assert dig(up.port, "a1.up.test").answer == ["a1.up.test. 300 IN CNAME a2.up.test.",
                                                 "a2.up.test. 300 IN CNAME www.up.test.",
                                                 "www.up.test. 300 IN A 192.0.2.1"]
    assert dig(up.port, "nx.up.test").status == "NXDOMAIN"
    assert dig(up.port, "www.up.test", "+tcp").answer == ["www.up.test. 300 IN A 192.0.2.1"]
    assert up.queries() == q0 + 4 and up.tcp_queries() == t0 + 1
    relay = Relay(up.port)
    try:
        assert dig(relay.port, "www.up.test", "+bufsize=1232").answer == ["www.up.test. 300 IN A 192.0.2.1"]
        assert relay.seen == [("www.up.test.", 1, 1232)]
    finally:
        relay.close()


# ---- IPv6 --------------------------------------------------------------------


def test_ipv6_forwarder_address(forwarding, dnsbox, knots):
    try:
        free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    up = knots({"up.test": UP_ZONE}, addr="::1")
    port = start_dnsd(dnsbox, forwarders=[f"[::1]:{up.port}"])
    q0 = up.queries()
    r = dig(port, "www.up.test")
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    assert up.queries() == q0 + 1


# ---- per-zone forwarders --------------------------------------------------


def test_forward_zones_longest_suffix_wins_then_the_default_forwarder(forwarding, dnsbox, knots):
    x = knots({"lo": "other 300 IN A 10.1.0.1\nhost.g10 300 IN A 10.1.0.99\n"}, name="x")
    y = knots({"g10.lo": "host 300 IN A 10.2.0.1\n"}, name="y")
    z = knots({"lo": "other 300 IN A 10.9.9.9\n", "g10.lo": "host 300 IN A 10.9.9.9\n",
               "else.test": "www 300 IN A 10.3.0.1\n"}, name="z")
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{z.port}"],
                      rest=forward_zone("lo", [f"127.0.0.1:{x.port}"]) +
                      forward_zone("g10.lo", [f"127.0.0.1:{y.port}"]))

    def counts():
        return x.queries(), y.queries(), z.queries()

    base = counts()
    r = dig(port, "host.g10.lo")
    assert r.status == "NOERROR" and r.answer == ["host.g10.lo. 300 IN A 10.2.0.1"], r
    assert counts() == (base[0], base[1] + 1, base[2])
    r = dig(port, "other.lo")
    assert r.status == "NOERROR" and r.answer == ["other.lo. 300 IN A 10.1.0.1"], r
    assert counts() == (base[0] + 1, base[1] + 1, base[2])
    r = dig(port, "www.else.test")
    assert r.status == "NOERROR" and r.answer == ["www.else.test. 300 IN A 10.3.0.1"], r
    assert counts() == (base[0] + 1, base[1] + 1, base[2] + 1)
    # Cached per answer, whichever server gave it.
    assert dig(port, "host.g10.lo").data() == ["host.g10.lo. IN A 10.2.0.1"]
    assert dig(port, "other.lo").data() == ["other.lo. IN A 10.1.0.1"]
    assert counts() == (base[0] + 1, base[1] + 1, base[2] + 1)


def test_forward_zone_below_a_local_zone_and_refused_without_a_default(forwarding, dnsbox, knots):
    y = knots({"g10.lo": "host 300 IN A 10.2.0.1\n"}, name="y")
    port = start_dnsd(dnsbox, rest=local_zone("lo", [("other", "A", "10.5.5.5")]) +
                      forward_zone("g10.lo", [f"127.0.0.1:{y.port}"]))
    q0 = y.queries()
    r = dig(port, "host.g10.lo")
    assert r.status == "NOERROR" and r.answer == ["host.g10.lo. 300 IN A 10.2.0.1"], r
    assert y.queries() == q0 + 1
    r = dig(port, "other.lo")
    assert r.status == "NOERROR" and "aa" in r.flags and r.data() == ["other.lo. IN A 10.5.5.5"], r
    r = dig(port, "www.else.test")
    assert r.status == "REFUSED", r
    assert y.queries() == q0 + 1


# ---- allow_recursion from a namespace ------------------------------------


def recursion_setup(netns, dnsbox, knots, allow: list[str] | None):
    need_root()
    srv = netns.add("srv")
    cli = netns.add("cli")
    netns.link(srv, "veth-srv", "10.99.0.1/24", cli, "veth-cli", "10.99.0.2/24")
    # A client address outside the router's subnets, routed back through cli.
    netns.exec(cli, "ip", "addr", "add", "198.51.100.2/32", "dev", "veth-cli")
    netns.exec(srv, "ip", "route", "add", "198.51.100.2/32", "via", "10.99.0.2")
    up = knots({"up.test": UP_ZONE}, ns=srv, port=5300)
    main_extra = "".join(f"\tlist allow_recursion '{a}'\n" for a in (allow or []))
    start_dnsd(dnsbox, listen=["10.99.0.1:53", "127.0.0.1:53"], port=53, forwarders=[f"127.0.0.1:{up.port}"],
               main_extra=main_extra, rest=local_zone("home.lan", [("nas", "A", "192.168.1.10")]),
               wrap=["ip", "netns", "exec", srv])
    return srv, cli, up


def test_allow_recursion_refuses_forwarding_to_other_clients(forwarding, netns, dnsbox, knots):
    srv, cli, up = recursion_setup(netns, dnsbox, knots, ["127.0.0.0/8"])
    q0 = up.queries()
    r = dig(53, "www.up.test", server="10.99.0.1", ns=cli)
    assert r.status == "REFUSED", r
    r = dig(53, "nas.home.lan", server="10.99.0.1", ns=cli)
    assert r.status == "NOERROR" and "aa" in r.flags and r.answer == ["nas.home.lan. 3600 IN A 192.168.1.10"], r
    assert up.queries() == q0
    r = dig(53, "www.up.test", server="127.0.0.1", ns=srv)
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    assert up.queries() == q0 + 1
    # Cached now, but the cache is not for outsiders either (RD=0 as well).
    assert dig(53, "www.up.test", server="10.99.0.1", ns=cli).status == "REFUSED"
    assert dig(53, "www.up.test", "+norec", server="10.99.0.1", ns=cli).status == "REFUSED"
    assert counters(dnsbox)["recursion_refused"] >= 2


def test_allow_recursion_defaults_to_the_routers_own_subnets(forwarding, netns, dnsbox, knots):
    srv, cli, up = recursion_setup(netns, dnsbox, knots, None)
    r = dig(53, "www.up.test", server="10.99.0.1", ns=cli)
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    r = dig(53, "a1.up.test", server="127.0.0.1", ns=srv)
    assert r.status == "NOERROR" and len(r.answer) == 3, r
    # A source outside every subnet of the router: refused, local zones still answer.
    r = dig(53, "www.up.test", "-b", "198.51.100.2", server="10.99.0.1", ns=cli)
    assert r.status == "REFUSED", r
    r = dig(53, "nas.home.lan", "-b", "198.51.100.2", server="10.99.0.1", ns=cli)
    assert r.status == "NOERROR" and "aa" in r.flags, r


# ---- truncation -------------------------------------------------------------

BIG_STRINGS = [f"s{i}-" + chr(97 + i) * 196 for i in range(10)]  # 10 strings of 200 characters
BIG_ZONE = "".join(f'big 300 IN TXT "{s}"\n' for s in BIG_STRINGS)


def test_truncated_upstream_answer_is_retried_over_tcp(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE + BIG_ZONE})
    # The peer truncates at 1232 itself.
    assert "tc" in dig(up.port, "big.up.test", "TXT", "+notcp", "+ignore", "+bufsize=1232").flags
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"])
    t0 = up.tcp_queries()
    r = dig(port, "big.up.test", "TXT", "+tcp")
    assert r.status == "NOERROR", r
    assert sorted(rr.split(" TXT ", 1)[1].strip('"') for rr in r.answer) == sorted(BIG_STRINGS), r
    assert up.tcp_queries() >= t0 + 1, "dnsd did not retry the truncated answer over TCP"
    r = dig(port, "big.up.test", "TXT", "+notcp", "+ignore", "+bufsize=1232")
    assert "tc" in r.flags and r.status == "NOERROR", r
    r = dig(port, "big.up.test", "TXT", "+notcp", "+ignore", "+noedns")
    assert "tc" in r.flags, r
    # Fresh over UDP first (a new dnsd cache): TC too, and TCP then gets it all.
    dnsbox.stop_all()
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"])
    r = dig(port, "big.up.test", "TXT", "+notcp", "+ignore", "+bufsize=512")
    assert "tc" in r.flags, r
    r = dig(port, "big.up.test", "TXT")  # dig retries over TCP on TC
    assert len(r.answer) == 10, r


# ---- coalescing and the query dnsd sends ------------------------------------


def test_identical_concurrent_questions_are_coalesced_and_sent_with_edns_1232(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE})
    relay = Relay(up.port, delay=0.4)
    try:
        port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{relay.port}"])
        replies: list[bytes | None] = [None] * 20

        def ask(i: int):
            replies[i] = udp_ask(port, wire_query("www.up.test", qid=0x1000 + i), timeout=3)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r is not None and rcode(r) == 0 and ancount(r) == 1 for r in replies), replies
        assert relay.count("www.up.test") == 1, relay.seen
        assert relay.seen[0] == ("www.up.test.", 1, 1232), relay.seen
        # Different questions are not merged.
        r = dig(port, "www.up.test", "AAAA")
        assert r.status == "NOERROR" and r.answer == [], r
        assert [q for q in relay.seen if q[0] == "www.up.test."] == [("www.up.test.", 1, 1232),
                                                                    ("www.up.test.", 28, 1232)]
    finally:
        relay.close()
