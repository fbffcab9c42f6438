"""Service writes reach a big dynamic zone through its layer (no zone
compile per write), and the zone still answers, transfers (AXFR) and
differs (IXFR) as one compiled afresh; once the writes pause, dnsd compiles
it again and nothing changes for a client. dig is the peer."""
from __future__ import annotations

import subprocess
import time

from api.client import own, wait_dns
from helpers import wait_for

ZONE = ("config zone\n\toption name 'lay.local'\n\toption dynamic '1'\n\toption service_ttl '9'\n"
        "\tlist allow_transfer '127.0.0.1'\n\tlist fallback '10.0.0.99'\n")


def dig_lines(port, *args):
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tcp", "+time=3", "+tries=1", "+nocmd",
                        "+nostats", "+nocomments", *args], capture_output=True, text=True, timeout=30)
    return [l for l in r.stdout.splitlines() if l.strip() and not l.startswith(";")]


def records(lines, types=("A", "AAAA")):
    """(owner, type, value) of the address records, as a sorted list (duplicates kept)."""
    out = []
    for l in lines:
        w = l.split()
        if len(w) >= 5 and w[3] in types:
            out.append((w[0].lower(), w[3], w[4]))
    return sorted(out)


def soa_serials(lines):
    return [int(l.split()[6]) for l in lines if len(l.split()) > 6 and l.split()[3] == "SOA"]


def counters(d):
    s = d.status("dnsd")["dnsd"]
    return int(s["layered_changes"]), int(s["snapshot_builds"])


def expected(api):
    svcs = api.get("/v1/services?zone=lay.local").json()["services"]
    return sorted((f"{n}.lay.local.", v["type"], a) for n, v in svcs.items() for a in v["records"])


def test_writes_are_layered_and_transfer_and_ixfr_as_a_compiled_zone(dnsbox):
    srv = own(dnsbox, api_options="\toption rate_limit '0'\n", zones=ZONE)
    srv.start()
    try:
        a = srv.api
        bulk = {f"s{i}": {"type": "A", "records": [f"10.1.{i // 256}.{i % 256}"]} for i in range(2000)}
        assert a.put("/v1/state?zone=lay.local", {"services": bulk}).status == 200
        wait_dns(srv.dns_port, "s1999.lay.local", ["10.1.7.207"])
        serial0 = soa_serials(dig_lines(srv.dns_port, "lay.local", "SOA"))[0]
        layered0, builds0 = counters(dnsbox)

        # One of each: addresses changed, a new AAAA service, a deletion, a type change.
        assert a.put_service("s1", ["10.2.0.1", "10.2.0.2"], zone="lay.local").status == 200
        assert a.put_service("new6", ["2001:db8::6"], type="AAAA", ttl=30, zone="lay.local").status == 200
        assert a.delete("/v1/services/s2?zone=lay.local").status == 204
        assert a.put_service("s3", ["2001:db8::3"], type="AAAA", zone="lay.local").status == 200
        wait_dns(srv.dns_port, "s1.lay.local", ["10.2.0.1", "10.2.0.2"])
        wait_dns(srv.dns_port, "new6.lay.local", ["2001:db8::6"], qtype=28)
        wait_dns(srv.dns_port, "s3.lay.local", ["2001:db8::3"], qtype=28)
        # A deleted name falls back to the wildcard, as in a compiled zone.
        wait_dns(srv.dns_port, "s2.lay.local", ["10.0.0.99"])
        r = srv.dig("s3.lay.local", "A")
        assert r.status == "NOERROR" and not r.answer and r.authority[0].split()[3] == "SOA", r
        assert srv.dig("x.s1.lay.local").status == "NXDOMAIN"
        assert srv.dig("new6.lay.local", "AAAA").ttls() == [30]

        layered1, builds1 = counters(dnsbox)
        assert layered1 >= layered0 + 1 and builds1 == builds0, (layered0, layered1, builds0, builds1)

        # AXFR: the merged zone, exactly the services the API holds (+ the fallback).
        axfr = dig_lines(srv.dns_port, "lay.local", "AXFR")
        want = expected(a) + [("*.lay.local.", "A", "10.0.0.99")]
        assert records(axfr) == sorted(want), set(records(axfr)) ^ set(want)
        serial1 = soa_serials(axfr)[0]
        assert serial1 != serial0 and soa_serials(axfr)[-1] == serial1

        # IXFR from before the writes: only what changed, not 2,000 records.
        ixfr = dig_lines(srv.dns_port, "lay.local", f"IXFR={serial0}")
        serials = soa_serials(ixfr)
        assert serials[0] == serial1 and serials[1] == serial0 and serials[-1] == serial1, ixfr
        changed = records(ixfr)
        assert len(changed) < 20, ixfr
        assert ("s2.lay.local.", "A", "10.1.0.2") in changed and ("new6.lay.local.", "AAAA", "2001:db8::6") in changed

        # The writes pause: dnsd compiles the zone again; answers and data stay.
        wait_for(lambda: counters(dnsbox)[1] > builds1, 15, 0.2, "the layered zone to be compiled again")
        assert records(dig_lines(srv.dns_port, "lay.local", "AXFR")) == sorted(want)
        wait_dns(srv.dns_port, "s1.lay.local", ["10.2.0.1", "10.2.0.2"])
        wait_dns(srv.dns_port, "s2.lay.local", ["10.0.0.99"])
        # ...and layers again from the compiled zone.
        assert a.put_service("s4", ["10.3.0.4"], zone="lay.local").status == 200
        wait_dns(srv.dns_port, "s4.lay.local", ["10.3.0.4"])
        assert counters(dnsbox)[0] > layered1
        # A write undone: the zone is as compiled again, and is compiled once
        # more (the layer goes), then left alone.
        builds = counters(dnsbox)[1]
        wait_for(lambda: counters(dnsbox)[1] > builds, 15, 0.2, "s4's layer to be compiled")
        builds = counters(dnsbox)[1]
        assert a.put_service("undo", ["10.3.0.5"], zone="lay.local").status == 200
        wait_dns(srv.dns_port, "undo.lay.local", ["10.3.0.5"])
        assert a.delete("/v1/services/undo?zone=lay.local").status == 204
        wait_dns(srv.dns_port, "undo.lay.local", ["10.0.0.99"])
        wait_for(lambda: counters(dnsbox)[1] > builds, 15, 0.2, "the undone layer to be compiled")
        settled = counters(dnsbox)[1]
        time.sleep(3)
        assert counters(dnsbox)[1] == settled, "a zone without a layer is compiled again and again"
    except BaseException:
        print(srv.logs())
        raise
    finally:
        srv.stop()
