"""Zones and records over REST (/api/v1/zones): every record type served by
dnsd, conflicts, PTR, pagination, record CRUD, SOA serials, read-only config
zones, deletion."""
from __future__ import annotations

from api.client import assert_error
from helpers import wait_for

EVERY_TYPE = [
    # (record body, dig name, dig type, what dig shows without TTL)
    ({"name": "www", "type": "A", "ttl": 300, "data": "192.0.2.1"}, "www.example.com", "A",
     "www.example.com. IN A 192.0.2.1"),
    ({"name": "www", "type": "AAAA", "ttl": 300, "data": "2001:db8::1"}, "www.example.com", "AAAA",
     "www.example.com. IN AAAA 2001:db8::1"),
    ({"name": "alias", "type": "CNAME", "ttl": 300, "data": "www.example.com."}, "alias.example.com", "CNAME",
     "alias.example.com. IN CNAME www.example.com."),
    ({"name": "mx", "type": "MX", "ttl": 300, "data": {"preference": 10, "exchange": "mail.example.com."}},
     "mx.example.com", "MX", "mx.example.com. IN MX 10 mail.example.com."),
    ({"name": "ptr", "type": "PTR", "ttl": 300, "data": "target.example.com."}, "ptr.example.com", "PTR",
     "ptr.example.com. IN PTR target.example.com."),
    ({"name": "txt", "type": "TXT", "ttl": 300, "data": "hello world"}, "txt.example.com", "TXT",
     'txt.example.com. IN TXT "hello world"'),
    ({"name": "_sip._tcp", "type": "SRV", "ttl": 300,
      "data": {"priority": 10, "weight": 20, "port": 5060, "target": "sip.example.com."}},
     "_sip._tcp.example.com", "SRV", "_sip._tcp.example.com. IN SRV 10 20 5060 sip.example.com."),
    ({"name": "caa", "type": "CAA", "ttl": 300, "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}},
     "caa.example.com", "CAA", 'caa.example.com. IN CAA 0 issue "letsencrypt.org"'),
]


def undot(v):
    """Data with names compared with or without their final dot."""
    if isinstance(v, dict):
        return {k: undot(x) for k, x in v.items()}
    return v.rstrip(".") if isinstance(v, str) else v


def test_zone_with_records_of_every_type(api):
    a = api.api
    r = a.post("/api/v1/zones", {"name": "example.com", "default_ttl": 300,
                                 "soa": {"mname": "ns1.example.com", "rname": "admin.example.com"}})
    assert r.status == 201, r
    z = r.json()
    assert z["id"] == "example.com" and z["name"] == "example.com" and z["source"] == "api"
    assert z["dynamic"] is False and z["default_ttl"] == 300
    assert z["soa"]["mname"] == "ns1.example.com" and z["soa"]["rname"] == "admin.example.com"
    assert isinstance(z["soa"]["serial"], int)
    for body, *_ in EVERY_TYPE:
        r = a.post("/api/v1/zones/example.com/records", body)
        assert r.status == 201, (body, r)
        rec = r.json()
        assert isinstance(rec["id"], int) and rec["zone"] == "example.com" and rec["type"] == body["type"]
        assert rec["name"] == body["name"] and rec["fqdn"] == f"{body['name']}.example.com" and rec["ttl"] == 300
        assert undot(rec["data"]) == undot(body["data"]), rec
    # An NS below the apex delegates: the referral carries it.
    r = a.post("/api/v1/zones/example.com/records", {"name": "sub", "type": "NS", "ttl": 300,
                                                     "data": "ns1.other.net."})
    assert r.status == 201, r
    wait_for(lambda: api.dig("caa.example.com", "CAA").data() == [EVERY_TYPE[-1][3]], 3, 0.05, "the zone in DNS")
    for _, qname, qtype, want in EVERY_TYPE:
        out = api.dig(qname, qtype, "+norec")
        assert out.status == "NOERROR" and "aa" in out.flags, out
        assert out.data() == [want] and out.ttls() == [300], out
    out = api.dig("sub.example.com", "NS", "+norec")
    assert "sub.example.com. IN NS ns1.other.net." in out.data("answer") + out.data("authority"), out
    out = api.dig("example.com", "SOA")
    soa = out.answer[0].split()
    assert soa[3] == "SOA" and soa[4:6] == ["ns1.example.com.", "admin.example.com."], out
    assert api.dig("nope.example.com").status == "NXDOMAIN"


def test_create_twice_zone_409_record_200_same_id(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "twice.test"}).status == 201
    assert_error(a.post("/api/v1/zones", {"name": "twice.test"}), 409)
    body = {"name": "www", "type": "A", "ttl": 60, "data": "192.0.2.40"}
    r1 = a.post("/api/v1/zones/twice.test/records", body)
    assert r1.status == 201, r1
    r2 = a.post("/api/v1/zones/twice.test/records", body)
    assert r2.status == 200 and r2.json()["id"] == r1.json()["id"], r2
    recs = a.get("/api/v1/zones/twice.test/records?type=A&name=www").json()["records"]
    assert [r["id"] for r in recs] == [r1.json()["id"]]
    assert_error(a.post("/api/v1/zones/twice.test/records", {"name": "x", "type": "A", "data": "1.2.3"}), 400)
    assert_error(a.post("/api/v1/zones/twice.test/records", {"name": "x", "type": "BOGUS", "data": "1.2.3.4"}), 400)
    assert_error(a.post("/api/v1/zones/none.test/records", body), 404)
    assert_error(a.post("/api/v1/zones", {"name": "bad_zone!"}), 400)


def test_ptr_true_creates_the_reverse_record(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "ptr.test"}).status == 201
    assert a.post("/api/v1/zones", {"name": "2.0.192.in-addr.arpa"}).status == 201
    r = a.post("/api/v1/zones/ptr.test/records", {"name": "host", "type": "A", "ttl": 300,
                                                  "data": "192.0.2.55", "ptr": True})
    assert r.status == 201, r
    wait_for(lambda: api.dig("-x", "192.0.2.55").data() == ["55.2.0.192.in-addr.arpa. IN PTR host.ptr.test."],
             3, 0.05, "the PTR")
    assert api.dig("host.ptr.test").values() == ["192.0.2.55"]
    recs = a.get("/api/v1/zones/2.0.192.in-addr.arpa/records?type=PTR").json()["records"]
    assert [x["name"] for x in recs] == ["55"], recs
    assert_error(a.post("/api/v1/zones/ptr.test/records", {"name": "far", "type": "A", "ttl": 300,
                                                           "data": "198.51.100.7", "ptr": True}), 400, "ptr")
    assert a.get("/api/v1/zones/ptr.test/records?name=far").json()["records"] == []


def test_pagination(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "pag.test"}).status == 201
    for i in range(5):
        assert a.post("/api/v1/zones/pag.test/records",
                      {"name": f"h{i}", "type": "A", "ttl": 60, "data": f"192.0.2.{100 + i}"}).status == 201
    full = a.get("/api/v1/zones/pag.test/records").json()
    assert full["offset"] == 0 and full["limit"] == 100 and full["total"] >= 5
    assert len(full["records"]) == full["total"]
    page = a.get("/api/v1/zones/pag.test/records?offset=1&limit=2").json()
    assert page["offset"] == 1 and page["limit"] == 2 and page["total"] == full["total"]
    assert page["records"] == full["records"][1:3]
    assert a.get(f"/api/v1/zones/pag.test/records?offset={full['total']}").json()["records"] == []
    only = a.get("/api/v1/zones/pag.test/records?name=h3").json()
    assert [r["data"] for r in only["records"]] == ["192.0.2.103"] and only["total"] == 1
    assert a.get("/api/v1/zones/pag.test/records?limit=1000").status == 200
    assert_error(a.get("/api/v1/zones/pag.test/records?limit=1001"), 400, "limit")
    zones = a.get("/api/v1/zones?limit=1").json()
    assert len(zones["zones"]) == 1 and zones["total"] >= 2 and zones["limit"] == 1
    all_z = a.get("/api/v1/zones").json()
    assert all_z["total"] == len(all_z["zones"]) and all_z["offset"] == 0
    cfg = [z for z in all_z["zones"] if z["name"] == "service.local"]
    assert cfg and cfg[0]["source"] == "config", all_z


def test_record_get_put_delete(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "crud.test", "default_ttl": 120}).status == 201
    r = a.post("/api/v1/zones/crud.test/records", {"name": "www", "type": "A", "data": "192.0.2.10"})
    assert r.status == 201 and r.json()["ttl"] == 120, r
    rid = r.json()["id"]
    g = a.get(f"/api/v1/zones/crud.test/records/{rid}")
    assert g.status == 200 and g.json() == r.json(), g
    wait_for(lambda: api.dig("www.crud.test").values() == ["192.0.2.10"], 3, 0.05, "www in DNS")
    p = a.put(f"/api/v1/zones/crud.test/records/{rid}", {"name": "www", "type": "A", "ttl": 600, "data": "192.0.2.11"})
    assert p.status == 200, p
    assert p.json()["id"] == rid and p.json()["data"] == "192.0.2.11" and p.json()["ttl"] == 600
    assert a.get(f"/api/v1/zones/crud.test/records/{rid}").json()["data"] == "192.0.2.11"
    wait_for(lambda: api.dig("www.crud.test").answer == ["www.crud.test. 600 IN A 192.0.2.11"], 3, 0.05,
             "the update in DNS")
    assert_error(a.put(f"/api/v1/zones/crud.test/records/{rid}", {"name": "www", "type": "A", "data": "x"}), 400)
    d = a.delete(f"/api/v1/zones/crud.test/records/{rid}")
    assert d.status == 204, d
    assert_error(a.get(f"/api/v1/zones/crud.test/records/{rid}"), 404)
    assert_error(a.delete(f"/api/v1/zones/crud.test/records/{rid}"), 404)
    assert_error(a.get("/api/v1/zones/crud.test/records/999999"), 404)
    wait_for(lambda: api.dig("www.crud.test").status == "NXDOMAIN", 3, 0.05, "www gone from DNS")


def test_soa_serial_grows_with_every_change(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "soa.test"}).status == 201

    def serial():
        out = api.dig("soa.test", "SOA")
        return int(out.answer[0].split()[6]) if out.answer else None

    s0 = wait_for(serial, 3, 0.05, "soa.test in DNS")
    r = a.post("/api/v1/zones/soa.test/records", {"name": "a", "type": "A", "data": "192.0.2.1"})
    assert r.status == 201
    rid = r.json()["id"]
    s1 = wait_for(lambda: (serial() or 0) > s0 and serial(), 3, 0.05, "serial > s0")
    assert a.put(f"/api/v1/zones/soa.test/records/{rid}",
                 {"name": "a", "type": "A", "data": "192.0.2.2"}).status == 200
    s2 = wait_for(lambda: (serial() or 0) > s1 and serial(), 3, 0.05, "serial > s1")
    assert a.delete(f"/api/v1/zones/soa.test/records/{rid}").status == 204
    s3 = wait_for(lambda: (serial() or 0) > s2 and serial(), 3, 0.05, "serial > s2")
    assert a.get("/api/v1/zones/soa.test").json()["soa"]["serial"] == s3


def test_config_zone_is_read_only(api):
    a = api.api
    r = a.get("/api/v1/zones/service.local")
    assert r.status == 200 and r.json()["source"] == "config" and r.json()["dynamic"] is True, r
    assert_error(a.post("/api/v1/zones/service.local/records", {"name": "x", "type": "A", "data": "192.0.2.1"}), 409)
    assert_error(a.delete("/api/v1/zones/service.local"), 409)
    assert_error(a.post("/api/v1/zones", {"name": "service.local"}), 409)
    assert a.get("/api/v1/zones/service.local").status == 200


def test_delete_zone(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "del.test"}).status == 201
    assert a.post("/api/v1/zones/del.test/records", {"name": "x", "type": "A", "data": "192.0.2.5"}).status == 201
    wait_for(lambda: api.dig("x.del.test").values() == ["192.0.2.5"], 3, 0.05, "x.del.test in DNS")
    assert a.delete("/api/v1/zones/del.test").status == 204
    assert_error(a.get("/api/v1/zones/del.test"), 404)
    assert_error(a.get("/api/v1/zones/del.test/records"), 404)
    assert_error(a.delete("/api/v1/zones/del.test"), 404)
    wait_for(lambda: api.dig("x.del.test").status in ("REFUSED", "NXDOMAIN"), 3, 0.05, "the zone gone from DNS")
    assert all(z["name"] != "del.test" for z in a.get("/api/v1/zones").json()["zones"])
