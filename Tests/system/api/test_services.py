"""apictl's dynresolve-compatible services (/v1) against a real dnsd sharing
the store: writes, validation, names, records, TTLs, and how fast and how
consistently DNS follows.
"""
from __future__ import annotations

import threading
import time

import pytest

from api.client import UdpClient, assert_error, wait_dns
from helpers import wait_for


def test_put_then_resolve_authoritatively_with_the_ttl(api):
    r = api.api.put_service("valkey", ["10.0.0.12"], ttl=5)
    assert r.status == 200, r
    assert r.json() == {"name": "valkey", "fqdn": "valkey.service.local", "zone": "service.local",
                        "type": "A", "records": ["10.0.0.12"], "ttl": 5}
    wait_dns(api.dns_port, "valkey.service.local", ["10.0.0.12"])
    out = api.dig("valkey.service.local", "A", "+norec")
    assert out.status == "NOERROR" and "aa" in out.flags, out
    assert out.answer == ["valkey.service.local. 5 IN A 10.0.0.12"]


def test_several_records(api):
    recs = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
    assert api.api.put_service("multi-rec", recs, ttl=30).status == 200
    wait_dns(api.dns_port, "multi-rec.service.local", recs)
    out = api.dig("multi-rec.service.local")
    assert out.values() == recs and out.ttls() == [30, 30, 30]


def test_fallback_for_unknown_names_and_after_delete(api):
    out = api.dig("nothere.service.local", "A")
    assert out.status == "NOERROR" and "aa" in out.flags, out
    assert out.values() == ["10.0.0.1"]
    assert api.api.put_service("gone", ["10.0.2.1"]).status == 200
    wait_dns(api.dns_port, "gone.service.local", ["10.0.2.1"])
    assert api.api.delete("/v1/services/gone").status == 204
    wait_dns(api.dns_port, "gone.service.local", ["10.0.0.1"])


def test_tcp_and_edns0_queries(api):
    assert api.api.put_service("tcpsvc", ["10.0.3.1", "10.0.3.2"]).status == 200
    wait_dns(api.dns_port, "tcpsvc.service.local", ["10.0.3.1", "10.0.3.2"])
    out = api.dig("tcpsvc.service.local", "+tcp")
    assert out.status == "NOERROR" and "aa" in out.flags and out.values() == ["10.0.3.1", "10.0.3.2"], out
    out = api.dig("tcpsvc.service.local", "+edns=0", "+bufsize=1232")
    assert "OPT PSEUDOSECTION" in out.out and "EDNS: version: 0" in out.out, out
    assert out.values() == ["10.0.3.1", "10.0.3.2"]
    out = api.dig("tcpsvc.service.local", "+tcp", "+edns=0")
    assert out.values() == ["10.0.3.1", "10.0.3.2"] and "EDNS: version: 0" in out.out


def test_get_list_put_delete(api):
    a = api.api
    assert_error(a.get("/v1/services/crud"), 404)
    r = a.put_service("crud", ["10.0.4.1"], ttl=9)
    assert r.status == 200, r
    want = {"name": "crud", "fqdn": "crud.service.local", "zone": "service.local", "type": "A",
            "records": ["10.0.4.1"], "ttl": 9}
    assert r.json() == want
    r = a.get("/v1/services/crud")
    assert r.status == 200 and r.json() == want and r.header("content-type").startswith("application/json")
    lst = a.get("/v1/services")
    assert lst.status == 200, lst
    j = lst.json()
    assert j["zone"] == "service.local"
    assert j["services"]["crud"] == {"type": "A", "records": ["10.0.4.1"], "ttl": 9}
    # PUT replaces the whole service.
    r = a.put_service("crud", ["10.0.4.2", "10.0.4.3", "10.0.4.2"], ttl=11)
    assert r.status == 200 and sorted(r.json()["records"]) == ["10.0.4.2", "10.0.4.3"], r
    assert sorted(a.get("/v1/services/crud").json()["records"]) == ["10.0.4.2", "10.0.4.3"]
    wait_dns(api.dns_port, "crud.service.local", ["10.0.4.2", "10.0.4.3"])
    r = a.delete("/v1/services/crud")
    assert r.status == 204 and r.body == b"", r
    assert_error(a.get("/v1/services/crud"), 404)
    assert_error(a.delete("/v1/services/crud"), 404)
    assert "crud" not in a.get("/v1/services").json()["services"]


@pytest.mark.parametrize("path,body,field", [
    ("/v1/services/v1", {"type": "MX", "records": ["10.0.0.5"]}, "type"),
    ("/v1/services/v1", {"type": "CNAME", "records": ["10.0.0.5"]}, "type"),
    ("/v1/services/v1", {"type": "A", "records": ["10.0.0.256"]}, "records"),
    ("/v1/services/v1", {"type": "A", "records": ["not-an-ip"]}, "records"),
    ("/v1/services/v1", {"type": "A", "records": ["2001:db8::1"]}, "records"),
    ("/v1/services/v1", {"type": "AAAA", "records": ["10.0.0.5"]}, "records"),
    ("/v1/services/v1", {"type": "A", "records": []}, "records"),
    ("/v1/services/v1", {"type": "A"}, "records"),
    ("/v1/services/v1", {"type": "A", "records": [f"10.1.0.{i}" for i in range(1, 66)]}, None),
    ("/v1/services/bad_name", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/-lead", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/trail-", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/" + "x" * 64, {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/" + ".".join(["abcdefghi"] * 25), {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/valkey.example.org", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/v1", "{not json", None),
    ("/v1/services/v1", "[1, 2]", None),
], ids=["type-MX", "type-CNAME", "ip-256", "ip-text", "ipv6-in-A", "ipv4-in-AAAA", "no-records",
        "records-absent", "65-records", "underscore", "leading-hyphen", "trailing-hyphen", "label-64",
        "name-over-253", "outside-zone", "invalid-json", "json-not-object"])
def test_validation_errors(api, path, body, field):
    r = api.api.put(path, body)
    assert_error(r, 400, field)
    assert api.api.get("/v1/services/v1").status == 404


def test_a_bad_put_leaves_the_service_as_it_was(api):
    a = api.api
    assert a.put_service("keep", ["10.0.5.1"]).status == 200
    assert_error(a.put_service("keep", ["10.0.5.999"]), 400, "records")
    assert_error(a.put_service("keep", ["10.0.5.2"], type="TXT"), 400, "type")
    assert a.get("/v1/services/keep").json()["records"] == ["10.0.5.1"]
    wait_dns(api.dns_port, "keep.service.local", ["10.0.5.1"])


def test_short_and_full_names_are_one_service(api):
    a = api.api
    r = a.put_service("web.service.local", ["10.0.6.1"])
    assert r.status == 200, r
    assert r.json()["name"] == "web" and r.json()["fqdn"] == "web.service.local" and r.json()["zone"] == "service.local"
    for path in ("/v1/services/web", "/v1/services/web.service.local", "/v1/services/WEB.Service.Local",
                 "/v1/services/web.service.local."):
        r = a.get(path)
        assert r.status == 200 and r.json()["records"] == ["10.0.6.1"], (path, r)
    r = a.put_service("web", ["10.0.6.2"])
    assert r.status == 200 and r.json()["fqdn"] == "web.service.local"
    assert a.get("/v1/services/web.service.local").json()["records"] == ["10.0.6.2"]
    assert list(a.get("/v1/services").json()["services"]).count("web") == 1
    wait_dns(api.dns_port, "web.service.local", ["10.0.6.2"])
    assert a.delete("/v1/services/web.service.local").status == 204
    assert a.get("/v1/services/web").status == 404


def test_case_insensitive_names(api):
    r = api.api.put_service("Valkey2", ["10.0.7.1"])
    assert r.status == 200 and r.json()["name"] == "valkey2" and r.json()["fqdn"] == "valkey2.service.local", r
    assert "valkey2" in api.api.get("/v1/services").json()["services"]
    assert api.api.get("/v1/services/VALKEY2").status == 200
    wait_dns(api.dns_port, "VALKEY2.SERVICE.LOCAL", ["10.0.7.1"])
    out = api.dig("VALKEY2.SERVICE.LOCAL")
    assert out.status == "NOERROR" and out.values() == ["10.0.7.1"], out


def test_record_add_dedupe_and_partial_remove(api):
    a = api.api
    p = "/v1/services/adds/records"
    r = a.post(p, {"records": ["10.0.8.1"], "ttl": 12})
    assert r.status == 200, r
    assert r.json() == {"name": "adds", "fqdn": "adds.service.local", "zone": "service.local", "type": "A",
                        "records": ["10.0.8.1"], "ttl": 12}
    r = a.post(p, {"records": ["10.0.8.2", "10.0.8.1", "10.0.8.3", "10.0.8.3"]})
    assert r.status == 200 and sorted(r.json()["records"]) == ["10.0.8.1", "10.0.8.2", "10.0.8.3"], r
    wait_dns(api.dns_port, "adds.service.local", ["10.0.8.1", "10.0.8.2", "10.0.8.3"])
    r = a.delete(p, {"records": ["10.0.8.2"]})
    assert r.status == 200 and sorted(r.json()["records"]) == ["10.0.8.1", "10.0.8.3"], r
    wait_dns(api.dns_port, "adds.service.local", ["10.0.8.1", "10.0.8.3"])
    r = a.delete(p, {"records": ["10.0.8.1", "10.0.8.3"]})
    assert r.status == 204, r
    assert_error(a.get("/v1/services/adds"), 404)
    wait_dns(api.dns_port, "adds.service.local", ["10.0.0.1"])  # the fallback again


def test_record_add_infers_aaaa(api):
    r = api.api.post("/v1/services/adds6/records", {"records": ["2001:db8::8"]})
    assert r.status == 200 and r.json()["type"] == "AAAA" and r.json()["records"] == ["2001:db8::8"], r
    wait_dns(api.dns_port, "adds6.service.local", ["2001:db8::8"], qtype=28)


def test_record_remove_and_add_errors(api):
    a = api.api
    assert_error(a.delete("/v1/services/never-was/records", {"records": ["10.0.9.1"]}), 404)
    assert_error(a.post("/v1/services/radd/records", {"records": ["10.0.9.300"]}), 400, "records")
    assert_error(a.post("/v1/services/radd/records", {"records": []}), 400, "records")
    assert a.get("/v1/services/radd").status == 404
    assert a.put_service("radd", ["10.0.9.1"]).status == 200
    assert a.get("/v1/services/radd").json()["records"] == ["10.0.9.1"]


def test_unsupported_query_type_is_nodata(api):
    assert api.api.put_service("mxq", ["10.0.10.1"]).status == 200
    wait_dns(api.dns_port, "mxq.service.local", ["10.0.10.1"])
    for qtype in ("MX", "TXT"):
        out = api.dig("mxq.service.local", qtype)
        assert out.status == "NOERROR" and "aa" in out.flags and out.answer == [], out
        assert out.authority and out.authority[0].split()[3] == "SOA", out
        assert out.authority[0].startswith("service.local. ")


def test_default_ttl_is_the_zones_service_ttl(api):
    r = api.api.put_service("ttl0", ["10.0.11.1"], ttl=0)
    assert r.status == 200 and r.json()["ttl"] == 7, r
    r = api.api.put_service("ttlnone", ["10.0.11.2"])
    assert r.status == 200 and r.json()["ttl"] == 7, r
    assert api.api.get("/v1/services").json()["services"]["ttl0"]["ttl"] == 7
    wait_dns(api.dns_port, "ttl0.service.local", ["10.0.11.1"])
    assert api.dig("ttl0.service.local").ttls() == [7]
    assert api.dig("ttlnone.service.local").ttls() == [7]


def test_aaaa_service(api):
    r = api.api.put_service("v6", ["2001:db8::5", "2001:db8::6"], type="AAAA", ttl=20)
    assert r.status == 200 and r.json()["type"] == "AAAA", r
    wait_dns(api.dns_port, "v6.service.local", ["2001:db8::5", "2001:db8::6"], qtype=28)
    out = api.dig("v6.service.local", "AAAA")
    assert "aa" in out.flags and out.data() == ["v6.service.local. IN AAAA 2001:db8::5",
                                                 "v6.service.local. IN AAAA 2001:db8::6"], out
    assert out.ttls() == [20, 20]


def test_write_is_visible_in_dns_quickly(api):
    c = UdpClient(api.dns_port, 0.5)
    delays = []
    try:
        for i in range(20):
            addr = f"10.0.12.{i + 1}"
            r = api.api.put_service("fast", [addr])
            assert r.status == 200, r
            t0 = time.monotonic()
            while (c.ask("fast.service.local") or (None, None))[1] != [addr]:
                assert time.monotonic() - t0 < 1.0, f"{addr} not in DNS 1 s after the 200"
            delays.append(time.monotonic() - t0)
    finally:
        c.close()
    print(f"write -> DNS: median {sorted(delays)[len(delays) // 2] * 1000:.2f} ms, max {max(delays) * 1000:.2f} ms")


def test_parallel_queries_while_the_api_writes(api):
    """8 clients query one service while 100 PUTs change its address: every
    query answered, each answer one address that was written (never the
    fallback, an empty or a mixed answer)."""
    assert api.api.put_service("par", ["10.2.0.0"]).status == 200
    wait_dns(api.dns_port, "par.service.local", ["10.2.0.0"])
    written = {"10.2.0.0"}
    stop = threading.Event()
    bad, seen, counts = [], set(), []

    def client():
        c = UdpClient(api.dns_port, 2.0)
        n = 0
        try:
            while not stop.is_set():
                r = c.ask("par.service.local")
                n += 1
                if r is None or r[0] != 0 or len(r[1]) != 1:
                    bad.append(r)
                else:
                    seen.add(r[1][0])
        finally:
            c.close()
            counts.append(n)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    statuses = []
    try:
        for i in range(1, 101):
            addr = f"10.2.{i // 250}.{i % 250 + 1}"
            written.add(addr)
            statuses.append(api.api.put_service("par", [addr]).status)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses == [200] * 100
    assert not bad, bad[:5]
    assert seen <= written, seen - written
    assert len(seen) > 1 and sum(counts) > 100


def test_fifty_records_over_tcp(api):
    recs = [f"10.3.0.{i}" for i in range(1, 51)]
    r = api.api.put_service("fifty", recs)
    assert r.status == 200 and len(r.json()["records"]) == 50, r
    wait_for(lambda: len(api.dig("fifty.service.local", "+tcp").answer) == 50, 3, 0.05, "50 answers")
    out = api.dig("fifty.service.local", "+tcp")
    assert out.values() == sorted(recs)
    r = api.api.put_service("sixtyfour", [f"10.3.1.{i}" for i in range(1, 65)])
    assert r.status == 200 and len(r.json()["records"]) == 64, r
