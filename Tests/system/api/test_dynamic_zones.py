"""Several dynamic zones (the `multi` server pair): fallbacks, zone-qualified
names, no leakage between zones, and bulk state (/v1/state).
"""
from __future__ import annotations

from api.client import UdpClient, assert_error, wait_dns
from helpers import wait_for


def test_delete_gives_nxdomain_without_fallback(multi):
    a = multi.api
    assert a.put_service("nx", ["10.4.0.1"], zone="a.local").status == 200
    wait_dns(multi.dns_port, "nx.a.local", ["10.4.0.1"])
    assert a.delete("/v1/services/nx?zone=a.local").status == 204
    wait_for(lambda: multi.dig("nx.a.local").status == "NXDOMAIN", 3, 0.02, "NXDOMAIN")
    out = multi.dig("nx.a.local")
    assert "aa" in out.flags and out.authority and out.authority[0].split()[3] == "SOA", out


def test_fallback_list_answers_a_and_aaaa(multi):
    out = multi.dig("unknown.b.local", "A")
    assert out.status == "NOERROR" and out.values() == ["10.0.0.2"], out
    out = multi.dig("unknown.b.local", "AAAA")
    assert out.status == "NOERROR" and out.values() == ["fd00::2"], out
    assert multi.dig("unknown.a.local").status == "NXDOMAIN"


def test_short_name_needs_zone_with_several_dynamic_zones(multi):
    a = multi.api
    assert_error(a.put_service("amb", ["10.4.1.1"]), 400, "zone")
    assert_error(a.get("/v1/services/amb"), 400, "zone")
    r = a.put_service("amb.b.local", ["10.4.1.2"])
    assert r.status == 200 and r.json()["zone"] == "b.local", r
    assert a.get("/v1/services/amb?zone=b.local").json()["records"] == ["10.4.1.2"]
    assert a.put_service("amb", ["10.4.1.1"], zone="c.local").status in (400, 404)  # not a dynamic zone


def test_no_leakage_between_dynamic_zones(multi):
    a = multi.api
    assert a.put_service("x", ["10.9.0.1"], zone="a.local").status == 200
    assert a.put_service("x", ["10.9.0.2"], zone="b.local").status == 200
    wait_dns(multi.dns_port, "x.a.local", ["10.9.0.1"])
    wait_dns(multi.dns_port, "x.b.local", ["10.9.0.2"])
    ja = a.get("/v1/services?zone=a.local").json()
    jb = a.get("/v1/services?zone=b.local").json()
    assert ja["zone"] == "a.local" and ja["services"]["x"]["records"] == ["10.9.0.1"]
    assert jb["zone"] == "b.local" and jb["services"]["x"]["records"] == ["10.9.0.2"]
    assert a.get("/v1/services/x.b.local").json()["records"] == ["10.9.0.2"]
    assert a.delete("/v1/services/x?zone=a.local").status == 204
    wait_for(lambda: multi.dig("x.a.local").status == "NXDOMAIN", 3, 0.02, "x.a.local gone")
    assert multi.dig("x.b.local").values() == ["10.9.0.2"]
    assert "x" in a.get("/v1/services?zone=b.local").json()["services"]


def test_bulk_state_replaces_the_zone(multi):
    a = multi.api
    assert a.put_service("keep-b", ["10.5.9.9"], zone="b.local").status == 200
    r = a.put("/v1/state?zone=a.local", {"services": {
        "one": {"type": "A", "records": ["10.5.0.1"], "ttl": 5},
        "two": {"type": "AAAA", "records": ["2001:db8::2"], "ttl": 6}}})
    assert r.status == 200 and r.json() == {"zone": "a.local", "count": 2}, r
    wait_dns(multi.dns_port, "one.a.local", ["10.5.0.1"])
    wait_dns(multi.dns_port, "two.a.local", ["2001:db8::2"], qtype=28)
    r = a.put("/v1/state?zone=a.local", {"services": {"three": {"type": "A", "records": ["10.5.0.3"]}}})
    assert r.status == 200 and r.json() == {"zone": "a.local", "count": 1}, r
    assert set(a.get("/v1/services?zone=a.local").json()["services"]) == {"three"}
    assert_error(a.get("/v1/services/one?zone=a.local"), 404)
    wait_dns(multi.dns_port, "three.a.local", ["10.5.0.3"])
    assert multi.dig("one.a.local").status == "NXDOMAIN" and multi.dig("two.a.local", "AAAA").status == "NXDOMAIN"
    # Another zone is untouched.
    assert a.get("/v1/services/keep-b?zone=b.local").json()["records"] == ["10.5.9.9"]


def test_bulk_state_with_one_bad_entry_changes_nothing(multi):
    a = multi.api
    good = {"type": "A", "records": ["10.5.1.1"]}
    assert a.put("/v1/state?zone=a.local", {"services": {"before": good}}).status == 200
    for bad, field in (({"type": "A", "records": ["10.5.1.300"]}, "records"), ({"type": "MX", "records": ["10.5.1.2"]}, "type"),
                       ({"type": "A", "records": []}, "records")):
        r = a.put("/v1/state?zone=a.local", {"services": {"new1": good, "zz-bad": bad}})
        assert_error(r, 400)
    assert_error(a.put("/v1/state?zone=a.local", {"services": {"bad_name": good}}), 400)
    assert_error(a.put("/v1/state?zone=a.local", "{broken"), 400)
    assert set(a.get("/v1/services?zone=a.local").json()["services"]) == {"before"}
    wait_dns(multi.dns_port, "before.a.local", ["10.5.1.1"])
    assert multi.dig("new1.a.local").status == "NXDOMAIN"


def test_bulk_state_with_short_and_full_names(multi):
    a = multi.api
    r = a.put("/v1/state?zone=a.local", {"services": {
        "short": {"type": "A", "records": ["10.5.2.1"]},
        "Full.A.Local": {"type": "A", "records": ["10.5.2.2"]}}})
    assert r.status == 200 and r.json()["count"] == 2, r
    svcs = a.get("/v1/services?zone=a.local").json()["services"]
    assert set(svcs) == {"short", "full"}, svcs
    assert a.get("/v1/services/full.a.local").json()["zone"] == "a.local"
    wait_dns(multi.dns_port, "full.a.local", ["10.5.2.2"])
    wait_dns(multi.dns_port, "short.a.local", ["10.5.2.1"])


def test_bulk_state_of_200_services(multi):
    a = multi.api
    services = {f"s{i:03d}": {"type": "A", "records": [f"10.6.{i // 200}.{i % 200 + 1}"], "ttl": 30}
                for i in range(200)}
    r = a.put("/v1/state?zone=a.local", {"services": services})
    assert r.status == 200 and r.json() == {"zone": "a.local", "count": 200}, r
    assert len(a.get("/v1/services?zone=a.local").json()["services"]) == 200
    wait_dns(multi.dns_port, "s199.a.local", services["s199"]["records"])
    c = UdpClient(multi.dns_port)
    try:
        answers = {n: c.ask(f"{n}.a.local") for n in services}
        wrong = {n: r for n, r in answers.items() if r != (0, services[n]["records"])}
    finally:
        c.close()
    assert not wrong, list(wrong.items())[:5]
