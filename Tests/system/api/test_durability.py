"""apictl's state across a restart and a kill -9 right after the 200.
"""
from __future__ import annotations

from api.client import own, wait_dns


def test_restart_keeps_every_kind_of_state(dnsbox):
    srv = own(dnsbox).start()
    a = srv.api
    assert a.put_service("p1", ["10.8.0.1", "10.8.0.2"], ttl=42).status == 200
    assert a.put_service("p2", ["2001:db8::42"], type="AAAA").status == 200
    assert a.post("/v1/services/p3/records", {"records": ["10.8.0.3"]}).status == 200
    assert a.post("/api/v1/zones", {"name": "keep.test", "default_ttl": 90}).status == 201
    assert a.post("/api/v1/zones/keep.test/records", {"name": "www", "type": "A", "data": "192.0.2.90"}).status == 201
    wait_dns(srv.dns_port, "p3.service.local", ["10.8.0.3"])
    before = (a.get("/v1/services").json(), a.get("/api/v1/zones/keep.test/records").json(),
              a.get("/api/v1/zones/keep.test").json())
    dns_before = [srv.dig(*q).data() for q in (("p1.service.local",), ("p2.service.local", "AAAA"),
                                                ("www.keep.test",))]
    srv.stop()
    srv.start()
    after = (a.get("/v1/services").json(), a.get("/api/v1/zones/keep.test/records").json(),
             a.get("/api/v1/zones/keep.test").json())
    assert after == before
    assert [srv.dig(*q).data() for q in (("p1.service.local",), ("p2.service.local", "AAAA"),
                                         ("www.keep.test",))] == dns_before
    assert dns_before[0] == ["p1.service.local. IN A 10.8.0.1", "p1.service.local. IN A 10.8.0.2"]


def test_acknowledged_write_survives_kill_9(dnsbox):
    srv = own(dnsbox).start()
    for i in range(3):
        r = srv.api.put_service("durable", [f"10.8.1.{i + 1}"])
        assert r.status == 200
    r = srv.api.put("/v1/state", {"services": {"durable": {"type": "A", "records": ["10.8.1.9"]},
                                               "other": {"type": "A", "records": ["10.8.1.10"]}}})
    assert r.status == 200
    r = srv.api.post("/v1/services/last/records", {"records": ["10.8.1.11"]})
    assert r.status == 200, r
    srv.apictl.kill()  # right after the 200
    srv.dnsd.kill()
    srv.apictl.wait()
    srv.dnsd.wait()
    srv.start()
    got = srv.api.get("/v1/services").json()["services"]
    assert {k: v["records"] for k, v in got.items()} == {"durable": ["10.8.1.9"], "other": ["10.8.1.10"],
                                                         "last": ["10.8.1.11"]}
    wait_dns(srv.dns_port, "last.service.local", ["10.8.1.11"])
    assert srv.dig("durable.service.local").values() == ["10.8.1.9"]
